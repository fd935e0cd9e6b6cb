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

def _bad(cases, county):
    from ..cases.models import Case
    from ..ratings import service

    return service.real_name_bad(cases.select(Case.id), county)


def _share(cases, done, scope):
    """(real-name 差评 with ``done`` set, real-name 差评), in one query."""
    from peewee import fn

    total, part = _bad(cases, (scope or {}).get("county_code")).select(fn.COUNT(1), fn.COUNT(done)).tuples().get()
    return part or 0, total or 0


def rectification_rate(cases, period=None, scope=None):
    """Real-name 差评 rectified / real-name 差评 (upheld appeals left out)."""
    from ..ratings.models import Rectification

    return _share(cases, Rectification.rectified_on, scope)


def callback_rate(cases, period=None, scope=None):
    """Real-name 差评 called back / real-name 差评 (upheld appeals left out)."""
    from ..ratings.models import Rectification

    return _share(cases, Rectification.callback_on, scope)


@hookimpl
def register_metrics(register):
    register("rectification_rate", label=_l("Rectification rate of real-name bad ratings"),
             compute=rectification_rate, unit="rate")
    register("callback_rate", label=_l("Callback rate of real-name bad ratings"), compute=callback_rate, unit="rate")


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
