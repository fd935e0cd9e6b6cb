"""好差评 (ratings) and the handling of 差评 (see :mod:`core.ratings.service`):
its pages, metrics (``rectification_rate``, ``callback_rate`` of real-name
差评), staff assessment indicators (``bad_ratings``, ``rectified``,
``callbacks_done``), its round of the SLA scan, the ratings entered through
the workflow's ``evaluate`` step, and demo data. Its permissions are the
core's (``core.permissions.CORE_PERMISSIONS``): the plugin is always there."""
from __future__ import annotations

import datetime

from flask_babel import lazy_gettext as _l

from .. import sharding
from ..hookspecs import hookimpl


@hookimpl
def register_blueprints(register):
    from ..ratings.views import bp, public

    register(public)
    register(bp)


@hookimpl
def startup(app):
    """The citizen's rating page is rate limited like the tracking page."""
    from ..auth import TRACK_RATE_LIMIT
    from ..ratings.views import public

    limiter = app.extensions.get("bangban_limiter")
    if limiter is not None:
        limiter.limit(app.config.get("BANGBAN", {}).get("TRACK_RATE_LIMIT") or TRACK_RATE_LIMIT)(public)


@hookimpl
def menu_links(request):
    from ..permissions import menu_links_for

    return menu_links_for([("rating.read", "ratings.index", _l("Ratings"))])


@hookimpl
def rating_recorded(case, rating, comment, channel, actor):
    """The workflow's ``evaluate`` step (staff recording the applicant's
    rating, channel ``staff``) is a paper form entered at completion."""
    if channel != "staff":
        return
    from ..ratings import service
    from ..ratings.models import Rating

    existing = Rating.get_or_none((Rating.case == case.id) & (Rating.county_code == case.county_code)
                                  & (Rating.stage == "completion"))
    if existing is not None and existing.level == rating and existing.comment == comment:
        return
    try:
        service.record(case, "completion", rating, channel="paper", rater="real_name", comment=comment, actor=actor,
                       notify=False, check_stage=False)
    except service.RatingError as exc:  # shown to the person like any refused step
        from ..cases.workflow import TransitionError

        raise TransitionError(str(exc)) from None


@hookimpl
def sla_scan(day):
    from ..ratings import service

    return service.scan_overdue(day)


# --- metrics and indicators --------------------------------------------------------------

def _bad_by(cases, scope, by):
    """``{key: (real-name 差评, rectified, called back)}`` of the cases
    grouped by the case fields ``by``, in one query (the cases joined to
    their ratings and rectifications); both metrics of one report share it
    (``scope["memo"]``)."""
    from peewee import JOIN, fn

    from ..cases.models import Case
    from ..ratings import service
    from ..ratings.models import Rating, Rectification

    def load():
        query = (cases.select(*by, fn.COUNT(Rating.id), fn.COUNT(Rectification.rectified_on),
                              fn.COUNT(Rectification.callback_on))
                 .join(Rating, on=sharding.join_on(Rating.case))
                 .join(Rectification, JOIN.LEFT_OUTER, on=sharding.join_on(Rectification.rating))
                 .where(Rating.level.in_(service.BAD) & (Rating.rater == "real_name")
                        & (Rectification.appeal_outcome.is_null() | (Rectification.appeal_outcome != "upheld"))))
        if by:
            query = query.group_by(*by)
        return {tuple(row[:len(by)]): tuple(int(n or 0) for n in row[len(by):]) for row in query.tuples()}

    memo = (scope or {}).get("memo")
    if memo is None:
        return load()
    key = ("ratings_bad_by", tuple(str(getattr(f, "column_name", f)) for f in by))
    if key not in memo:
        memo[key] = load()
    return memo[key]


def rectification_rate_by(cases, period=None, scope=None, by=()):
    """Real-name 差评 rectified / real-name 差评 (upheld appeals left out)."""
    return {key: (rectified, total) for key, (total, rectified, _called) in _bad_by(cases, scope, by).items()}


def callback_rate_by(cases, period=None, scope=None, by=()):
    """Real-name 差评 called back / real-name 差评 (upheld appeals left out)."""
    return {key: (called, total) for key, (total, _rectified, called) in _bad_by(cases, scope, by).items()}


@hookimpl
def register_metrics(register):
    register("rectification_rate", label=_l("Rectification rate of real-name bad ratings"),
             compute_by=rectification_rate_by, additive=True, unit="rate")
    register("callback_rate", label=_l("Callback rate of real-name bad ratings"), compute_by=callback_rate_by,
             additive=True, unit="rate")


def _days(period):
    start, end = period
    return (datetime.datetime.combine(start, datetime.time.min),
            datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min))


def _grouped(query, key):
    from peewee import fn

    return {row[0]: row[1] for row in query.select(key, fn.COUNT(1)).group_by(key).tuples()}


def _counties(staff):
    """The counties of the people of ``staff`` (a query): their ratings are
    read there only (core.sharding)."""
    return sorted({c for (c,) in staff.select(staff.model.county_code).tuples()})


def bad_ratings(staff, period):
    """差评 given in the period to cases each person owns (is responsible for)."""
    from ..cases.models import Case
    from ..ratings import service
    from ..ratings.models import Rating

    since, until = _days(period)
    counties = _counties(staff)
    query = (Rating.select().join(Case, on=sharding.join_on(Rating.case)).where(
        Rating.county_code.in_(counties) & Rating.level.in_(service.BAD) & (Rating.created_at >= since)
                                              & (Rating.created_at < until) & Case.owner.in_(staff.select(
                                                  staff.model.id))))
    return _grouped(query, Case.owner)


def rectified(staff, period):
    """Rectifications each person completed in the period."""
    from ..ratings.models import Rectification

    start, end = period
    query = Rectification.select().where(Rectification.county_code.in_(_counties(staff))
                                         & Rectification.rectified_on.between(start, end)
                                         & Rectification.rectified_by.in_(staff.select(staff.model.id)))
    return _grouped(query, Rectification.rectified_by)


def callbacks_done(staff, period):
    """Callbacks each person made in the period."""
    from ..ratings.models import Rectification

    start, end = period
    query = Rectification.select().where(Rectification.county_code.in_(_counties(staff))
                                         & Rectification.callback_on.between(start, end)
                                         & Rectification.callback_by.in_(staff.select(staff.model.id)))
    return _grouped(query, Rectification.callback_by)


@hookimpl
def register_assessment_indicators(register):
    register("bad_ratings", label=_l("Bad ratings of one's cases"), compute=bad_ratings, better="lower")
    register("rectified", label=_l("Bad ratings rectified"), compute=rectified, better="higher")
    register("callbacks_done", label=_l("Callbacks made"), compute=callbacks_done, better="higher")


# --- demo --------------------------------------------------------------------------------

@hookimpl
def demo_cases_loaded(county):
    from ..ratings.demo import load_demo_ratings

    load_demo_ratings(county)
