"""好差评 as the national system defines it (GB/T 39734-2020), and the
handling of a 差评.

* A rating: one per case and stage (``acceptance`` once the case is
  accepted, ``completion`` once it is finished: 一次一评 / 一事一评), level 5
  非常满意 … 1 非常不满意; 1 and 2 are 差评. The rater is the applicant
  (``real_name``) or ``anonymous``. It comes from the receipt's QR code or
  the tracking page (no account: the case's tracking token) or from a paper
  form staff enter on the applicant's behalf (channel ``paper``). It can be
  changed until it is ``handled`` (staff have verified the 差评).
  ``Case.rating`` / ``Case.rating_comment`` always hold the case's latest
  rating, so the core's satisfaction and coverage metrics keep counting.
* A 差评 opens a :class:`~core.ratings.models.Rectification` in ``verify``
  (核实). Verifying sends it to ``rectify`` (整改: due in the region's
  ``rating_rectification_days`` working days, assigned to the narrowest
  staff member allowed ``rectification.manage`` on the case) or to
  ``appeal`` (申诉 for a mistaken or malicious rating; the county decides:
  ``upheld`` closes it, ``rejected`` sends it to ``rectify``). A rectified
  one waits for the ``callback`` (回访: date, way, the applicant's
  satisfaction afterwards), which closes it.
* Real-name 差评 whose appeal was upheld are not counted by the
  rectification and callback rates.

Every change is one transaction with its audit entry.
"""
from __future__ import annotations

import datetime

from flask_babel import lazy_gettext as _l

from .. import audit, catalog, personal, sharding, workdays
from ..db import is_postgres, transaction
from ..models import Staff, utcnow
from .models import Rating, Rectification

LEVELS = (5, 4, 3, 2, 1)
BAD = (1, 2)
STAGES = ("acceptance", "completion")
CHANNELS = ("qr", "track", "paper")
RATERS = ("real_name", "anonymous")
WAYS = ("phone", "visit", "sms", "other")
STATES = ("verify", "rectify", "appeal", "callback", "closed")
OUTCOMES = ("upheld", "rejected")
NOT_SERVED = ("declined", "stopped")  # finished without a result: no invitation
#: used when a county's rule set names no rectification deadline / invitation delay
DEFAULT_RECTIFICATION_DAYS = 5
DEFAULT_INVITE_AFTER_DAYS = 3


class RatingError(Exception):
    """A rating or a step of its handling that cannot be taken; the message
    is for the person (lazy, translated)."""


def today():
    return datetime.date.today()


# --- the region's rules ----------------------------------------------------------

def rules(county: str) -> dict:
    """The ``rules`` of the county's own rule sets, merged by key."""
    merged = {}
    for ruleset in catalog.all_current("rulesets", county=county):
        if ruleset.county_code == county:
            merged.update(ruleset.content.get("rules") or {})
    return merged


def rectification_days(county: str) -> int:
    return int(rules(county).get("rating_rectification_days", DEFAULT_RECTIFICATION_DAYS))


def invite_after_days(county: str) -> int:
    return int(rules(county).get("rating_invite_after_days", DEFAULT_INVITE_AFTER_DAYS))


# --- rating ------------------------------------------------------------------------

def open_stages(case) -> list[str]:
    """The stages of ``case`` that can be rated now."""
    out = []
    if case.accepted_on is not None:
        out.append("acceptance")
    if case.finished_on is not None:
        out.append("completion")
    return out


def _locked(case):
    from ..cases.models import Case

    query = Case.select().where((Case.id == case.id) & (Case.county_code == case.county_code))
    return (query.for_update() if is_postgres() else query).get()


def _actor_name(actor):
    return getattr(actor, "username", None) or "applicant"


def _actor_role(actor):
    return getattr(actor, "role", None) or "applicant"


def _audit(action, case, actor, payload):
    audit.record(action, f"case:{case.number}", actor=_actor_name(actor), role=_actor_role(actor),
                 county_code=case.county_code, payload=payload)


def record(case, stage, level, *, channel, rater="real_name", comment=None, actor=None, notify=True,
           check_stage=True):
    """Store (or change, while not handled) the rating of ``case`` at
    ``stage``; returns the :class:`Rating`. A 差评 opens its rectification;
    a 差评 changed to a good rating before it was handled drops it.
    ``check_stage=False``: the caller knows the stage is reached (the
    workflow's own rating step)."""
    try:
        level = int(level)
    except (TypeError, ValueError):
        raise RatingError(_l("The rating is from 1 to 5.")) from None
    if level not in LEVELS:
        raise RatingError(_l("The rating is from 1 to 5."))
    if stage not in STAGES or channel not in CHANNELS or rater not in RATERS:
        raise RatingError(_l("This rating is not complete: choose the stage and who rates."))
    comment = (comment or "").strip()[:500] or None
    with transaction():
        case = _locked(case)
        if check_stage and stage not in open_stages(case):
            raise RatingError(_l("This stage of the case cannot be rated yet."))
        rating = Rating.get_or_none((Rating.case == case.id) & (Rating.county_code == case.county_code)
                                    & (Rating.stage == stage))
        before = None
        if rating is not None:
            if rating.handled:
                raise RatingError(_l("This rating has been handled already and can no longer be changed."))
            before = rating.level
            rating.level, rating.channel, rating.rater = level, channel, rater
            rating.comment = personal.protect_text(comment, "rating.comment")
            rating.recorded_by = getattr(actor, "id", None)
            rating.updated_at = utcnow()
            rating.save()
        else:
            rating = Rating.create(county_code=case.county_code, case=case.id, stage=stage, level=level,
                                   channel=channel, rater=rater,
                                   comment=personal.protect_text(comment, "rating.comment"),
                                   recorded_by=getattr(actor, "id", None))
        case.rating, case.rating_comment = level, rating.comment  # the case's latest rating
        case.save()
        open_one = Rectification.get_or_none(sharding.of(Rectification.rating, rating))
        if level in BAD and open_one is None:
            Rectification.create(county_code=case.county_code, rating=rating.id, case=case.id, state="verify")
        elif level not in BAD and open_one is not None:  # not handled yet, so still in verify
            open_one.delete_instance()
        if notify:
            from flask import current_app

            current_app.extensions["bangban"].pm.hook.rating_recorded(
                case=case, rating=level, comment=rating.comment, channel=channel, actor=actor)
        _audit("rating.change" if before is not None else "rating.record", case, actor,
               {"stage": stage, "level": level, "before": before, "channel": channel, "rater": rater})
    return rating


# --- the handling of a 差评 -------------------------------------------------------------

SCOPE_RANK = {"village": 0, "township": 1, "department": 2, "county": 3}


def supervisor_for(case):
    """The staff member a rectification goes to: an active person of the
    case's county allowed ``rectification.manage`` on this case, the one
    whose scope is narrowest (a village's before a township's before the
    county's), then the earliest account."""
    from ..auth import User
    from ..permissions import can
    from ..scope import role_info

    found = []
    for staff in Staff.select().where((Staff.county_code == case.county_code) & Staff.active).order_by(Staff.id):
        user = User(staff)
        # the role first (no query), then the case's scope
        if can(user, "rectification.manage") and can(user, "rectification.manage", case):
            found.append((SCOPE_RANK.get(role_info(user).get("scope"), 9), staff.id, staff))
    if not found:
        raise RatingError(_l("Nobody may handle rectifications for this case: grant the permission to a supervisor."))
    return min(found, key=lambda f: f[:2])[2]


def _rect_locked(rect):
    query = Rectification.select().where((Rectification.id == rect.id)
                                         & (Rectification.county_code == rect.county_code))
    return (query.for_update() if is_postgres() else query).get()


def _expect(rect, *states):
    if rect.state not in states:
        raise RatingError(_l("This rectification has moved on meanwhile; reload the page."))


def _to_rectify(rect):
    county = rect.county_code
    rect.state = "rectify"
    rect.due_day = workdays.from_db().add_workdays(today(), rectification_days(county)).day
    rect.assignee = supervisor_for(rect.case).id


def _note(text, what):
    text = (text or "").strip()
    if not text:
        raise RatingError(what)
    return personal.protect_text(text[:2000], "rectification.note")


def verify(rect, actor, outcome, note):
    """核实: ``outcome`` ``rectify`` (整改, with the region's deadline) or
    ``appeal`` (申诉, ``note`` is the reason)."""
    if outcome not in ("rectify", "appeal"):
        raise RatingError(_l("Choose whether the rating is rectified or appealed."))
    note = _note(note, _l("Say what the verification found."))
    with transaction():
        rect = _rect_locked(rect)
        _expect(rect, "verify")
        rect.verify_note = note
        if outcome == "rectify":
            _to_rectify(rect)
        else:
            rect.state, rect.appeal_reason = "appeal", note
        rect.save()
        Rating.update(handled=True).where((Rating.id == rect.rating_id)
                                          & (Rating.county_code == rect.county_code)).execute()
        _audit("rectification.verify", rect.case, actor, {"rectification": rect.id, "outcome": outcome,
                                                          "due": rect.due_day, "assignee": rect.assignee_id})
    return rect


def decide_appeal(rect, actor, outcome, reason):
    """The county's decision on an appeal: ``upheld`` (the rating was
    mistaken or malicious: closed) or ``rejected`` (rectify it)."""
    if outcome not in OUTCOMES:
        raise RatingError(_l("Choose whether the appeal is upheld or rejected."))
    reason = _note(reason, _l("Give the reason for the decision."))
    with transaction():
        rect = _rect_locked(rect)
        _expect(rect, "appeal")
        rect.appeal_outcome, rect.appeal_decision = outcome, reason
        if outcome == "upheld":
            rect.state, rect.closed_at = "closed", utcnow()
        else:
            _to_rectify(rect)
        rect.save()
        _audit("rectification.appeal_decide", rect.case, actor, {"rectification": rect.id, "outcome": outcome})
    return rect


def rectify(rect, actor, note):
    """整改 done: what was put right."""
    note = _note(note, _l("Say what was put right."))
    with transaction():
        rect = _rect_locked(rect)
        _expect(rect, "rectify")
        rect.state, rect.rectify_note = "callback", note
        rect.rectified_on, rect.rectified_by = today(), actor.id
        rect.save()
        _audit("rectification.rectify", rect.case, actor, {"rectification": rect.id,
                                                           "late": rect.due_day < rect.rectified_on})
    return rect


def callback(rect, actor, on, way, level):
    """回访: when, how, and the applicant's satisfaction afterwards."""
    try:
        on = on if isinstance(on, datetime.date) else datetime.date.fromisoformat(str(on))
        level = int(level)
    except (TypeError, ValueError):
        raise RatingError(_l("Give the callback's date and the applicant's satisfaction from 1 to 5.")) from None
    if way not in WAYS or level not in LEVELS or on > today():
        raise RatingError(_l("Give the callback's date (not in the future), way and the applicant's satisfaction."))
    with transaction():
        rect = _rect_locked(rect)
        _expect(rect, "callback")
        if on < rect.rectified_on:
            raise RatingError(_l("The callback cannot be before the rectification."))
        rect.callback_on, rect.callback_way, rect.callback_level = on, way, level
        rect.callback_by, rect.state, rect.closed_at = actor.id, "closed", utcnow()
        rect.save()
        _audit("rectification.callback", rect.case, actor, {"rectification": rect.id, "way": way, "level": level})
    return rect


def scan_overdue(day=None):
    """One round of the SLA scan for rectifications: each overdue one is
    escalated once (a case event, an audit entry). Idempotent."""
    from ..cases import service as cases

    day = day or today()
    escalated = 0
    overdue = (rect for county in sharding.counties() for rect in Rectification.select().where(
        (Rectification.county_code == county) & (Rectification.state == "rectify") & (Rectification.due_day < day)
        & Rectification.escalated_at.is_null()).order_by(Rectification.id))
    for rect in overdue:
        with transaction():
            done = (Rectification.update(escalated_at=utcnow())
                    .where((Rectification.id == rect.id) & (Rectification.county_code == rect.county_code)
                           & Rectification.escalated_at.is_null()).execute())
            if not done:
                continue
            case = rect.case
            cases._event(case, None, "escalate", case.state, note="rectification overdue", role="system")
            _audit("rectification.escalate", case, None, {"rectification": rect.id, "due": rect.due_day})
        escalated += 1
    return {"rectifications_escalated": escalated}


# --- what is counted -------------------------------------------------------------

def real_name_bad(case_ids, county=None):
    """Real-name 差评 of the cases in ``case_ids`` (a subquery) of ``county``
    (None: of every county, a distributed query), those whose appeal was
    upheld left out, with their rectification (LEFT JOIN)."""
    from peewee import JOIN

    query = (Rating.select(Rating, Rectification)
             .join(Rectification, JOIN.LEFT_OUTER, on=sharding.join_on(Rectification.rating)))
    if county is not None:
        query = query.where(Rating.county_code == county)
    return (query
            .where(Rating.case.in_(case_ids) & Rating.level.in_(BAD) & (Rating.rater == "real_name")
                   & (Rectification.appeal_outcome.is_null() | (Rectification.appeal_outcome != "upheld"))))


def invitations(cases, county, day=None):
    """Finished cases (declined and stopped ones aside) not rated at completion ``invite_after_days`` or more
    days after they finished (oldest first)."""
    from ..cases.models import Case

    day = day or today()
    limit = day - datetime.timedelta(days=invite_after_days(county))
    rated = Rating.select(Rating.case).where((Rating.county_code == county) & (Rating.stage == "completion"))
    return (cases.where(Case.finished_on.is_null(False) & (Case.finished_on <= limit) & Case.id.not_in(rated)
                        & Case.state.not_in(NOT_SERVED))
            .order_by(Case.finished_on, Case.id))
