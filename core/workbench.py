"""The staff workbench (``/work``): where staff land after signing in.

One block per kind of work — cases waiting on me, due within 3 working
days, overdue, escalated, appointments and home visits, bad ratings to
rectify, online requests to call back — each with its count and its first
rows. Every block is asked of ``core.permissions.can`` (a block the person
may not see is not built) and every query goes through ``core.scope``, so a
count is exactly what the list behind it shows. Whoever may urge cases (the
supervising permission ``case.remind``) sees the overdue and escalated
blocks of their area first.

The case conditions (:func:`case_filter`) are the ones the case list's
filters use (``/cases?due=…``), so the number on the workbench and the list
behind its link agree.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import lazy_gettext as _l

from . import scope, sharding
from .permissions import can

ROWS = 20  # rows shown per block; the count is of all
SOON_WORKDAYS = 3


def soon_until(today: datetime.date) -> datetime.date:
    """The last day of "due within 3 working days" (the holiday calendar)."""
    from . import workdays

    return workdays.from_db().add_workdays(today, SOON_WORKDAYS).day


def case_filter(kind: str, today: datetime.date, user=None):
    """The peewee condition of a case filter: ``overdue``, ``soon``
    (within 3 working days, not yet overdue), ``escalated`` (an open
    escalation) or ``mine`` (waiting on ``user``: theirs, and they may take
    a step from its state)."""
    from .cases.models import Case, Escalation, Subtask

    running = Case.finished_on.is_null()
    if kind == "overdue":
        return (Case.due_day < today) & running
    if kind == "soon":
        return Case.due_day.between(today, soon_until(today)) & running
    if kind == "escalated":
        return Case.id.in_(Escalation.select(Escalation.case).where(
            Escalation.open_case.is_null(False) & (Escalation.county_code == Case.county_code)))
    if kind == "mine":
        return _waiting_on(user) & running
    raise ValueError(kind)


def _waiting_on(user):
    """Cases waiting on ``user``: they may take a step from the case's state
    (the workflows' metadata) and the step is theirs — as the assignee, as
    the owner while no assignee acts (a state an assignee-only step leaves
    from is the assignee's), or as the helper of an open joint part."""
    from .cases import workflow as wf
    from .cases.models import Case, Subtask

    condition = Case.id.in_(Subtask.select(Subtask.case).where(
        (Subtask.county_code == user.county_code) & (Subtask.helper == user.id) & (Subtask.state == "open")))
    for (code,) in Case.select(Case.workflow).where(Case.county_code == user.county_code).distinct().tuples():
        try:
            flow = wf.load(code)
        except wf.TransitionError:
            continue
        mine = sorted({s for t in flow.transitions.values() if can(user, t.permission) for s in t.sources})
        assignees = {s for t in flow.transitions.values() if t.assignee_only for s in t.sources}
        if not mine:
            continue
        in_flow = Case.workflow == code
        condition = condition | (in_flow & (Case.assignee == user.id) & Case.state.in_(mine))
        owned = [s for s in mine if s not in assignees]
        if owned:
            condition = condition | (in_flow & (Case.owner == user.id) & Case.state.in_(owned))
    return condition


@dataclass
class Block:
    key: str
    title: str
    count: int
    rows: list
    link: str | None = None
    first: bool = False  # a supervisor's block, shown first
    extra: dict = field(default_factory=dict)


_TITLES = {
    "mine": _l("Waiting on me"),
    "soon": _l("Due within 3 working days"),
    "overdue": _l("Overdue"),
    "escalated": _l("Escalated"),
    "appointments": _l("Appointments today and tomorrow"),
    "visits": _l("Home visits"),
    "ratings": _l("Bad ratings to rectify"),
    "requests": _l("Online requests to call back"),
}


def _case_block(user, key, today, supervising):
    from .cases.models import Case

    query = scope.cases_for(user).where(case_filter(key, today, user))
    count = query.count()
    order = (Case.green_channel.is_null(), Case.due_day.is_null(), Case.due_day, Case.id)
    rows = list(query.order_by(*order).limit(ROWS))
    link = url_for("cases.list_cases", mine=1) if key == "mine" else url_for("cases.list_cases", due=key)
    return Block(key, str(_TITLES[key]), count, rows, link, first=supervising and key in ("overdue", "escalated"))


def blocks(user, today=None) -> list[Block]:
    """The blocks ``user`` may see, in the order they are shown."""
    from .hall import service as hall
    from .hall.models import Appointment, HomeVisit
    from .online import OnlineRequest
    from .ratings.models import Rectification

    today = today or hall.now().date()
    out = []
    supervising = can(user, "case.remind")
    if can(user, "case.read"):
        for key in ("mine", "soon", "overdue", "escalated"):
            out.append(_case_block(user, key, today, supervising))
    if can(user, "appointment.manage"):
        query = (scope.scoped(user, Appointment.select(), Appointment)
                 .where(Appointment.day.between(today, today + datetime.timedelta(days=1))))
        rows = list(query.order_by(Appointment.day, Appointment.start, Appointment.site_code, Appointment.id))
        out.append(Block("appointments", str(_TITLES["appointments"]), len(rows), rows,
                         extra={"today_count": sum(1 for a in rows if a.day == today and a.state == "booked")}))
    if can(user, "home_visit.handle"):
        query = scope.scoped(user, HomeVisit.select(), HomeVisit).where(HomeVisit.state.in_(["requested", "scheduled"]))
        rows = list(query.order_by(HomeVisit.special_group.is_null(), HomeVisit.visit_day.is_null(),
                                   HomeVisit.visit_day, HomeVisit.id))
        out.append(Block("visits", str(_TITLES["visits"]), len(rows), rows,
                         extra={"today_count": sum(1 for v in rows if v.visit_day == today)}))
    if can(user, "rating.read"):
        from .cases.models import Case

        query = (Rectification.select(Rectification, Case).join(Case, on=sharding.join_on(Rectification.case))
                 .where((Rectification.county_code == user.county_code) & (Rectification.state != "closed")
                        & Rectification.case.in_(scope.cases_for(user, Case.select(Case.id)))))
        rows = list(query.order_by(Rectification.due_day.is_null(), Rectification.due_day, Rectification.id).limit(ROWS))
        out.append(Block("ratings", str(_TITLES["ratings"]), query.count(), rows, url_for("ratings.index", state="open")))
    if can(user, "online_request.handle"):
        query = scope.scoped(user, OnlineRequest.select(), OnlineRequest).where(OnlineRequest.state == "new")
        rows = list(query.order_by(OnlineRequest.id).limit(ROWS))
        out.append(Block("requests", str(_TITLES["requests"]), query.count(), rows, url_for("online.list_requests")))
    return sorted(out, key=lambda b: not b.first)  # stable: the supervisor's blocks first, the rest in order


def may_use(user) -> bool:
    """Whether ``user`` has any block (so they land on the workbench)."""
    return any(can(user, p) for p in ("case.read", "appointment.manage", "home_visit.handle", "rating.read",
                                      "online_request.handle"))
