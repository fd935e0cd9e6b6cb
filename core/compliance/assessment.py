"""The staff assessment (考核, 优胜劣汰): per staff member and period, the
indicators registered with ``register_assessment_indicators`` computed from
the cases, combined by the region's weights (rule set ``assessment:``).

The core's indicators, for a period ``[start, end]`` (dates, inclusive);
a case is *held* by its owner and by its assignee:

``taken``       cases the person filed (owner) created in the period;
``finished``    held cases finished (``finished_on``) in the period;
``on_time``     of those, finished on or before their due day (or without one);
``overdue``     held cases whose due day fell in the period, before today,
                and that were finished after it or are still not finished
                (declined and stopped cases left out) — lower is better;
``escalated``   escalations (督办) opened in the period on held cases —
                lower is better;
``mean_rating`` the mean rating (1–5) of held cases finished in the period
                and rated; none rated counts 0;
``home_visits`` home visits (上门服务, :mod:`core.hall`) the person was
                assigned and closed as done (a case filed or a consultation
                recorded) on a day of the period (the visit day, else the
                day it was closed).

Score: each indicator is normalised over the people assessed together
(the scoped staff of the county's assessed ``roles``): ``higher`` ones
as ``value / max``, ``lower`` ones as ``1 - value / max`` (all equal to 0:
1 for ``lower``, 0 for ``higher``); the score is ``100 × Σ w·n / Σ w`` over
the weighted indicators that are installed, rounded to 0.1. Rank: by
score, highest first, equal scores sharing a rank (1, 2, 2, 4). Bottom
(优胜劣汰): among those with at least ``min_cases`` (default 1) taken or
finished cases, when at least 2 are ranked, the lowest ``bottom_n`` or
``ceil(bottom_share × n)``.
"""
from __future__ import annotations

import datetime
import math

from flask_babel import lazy_gettext as _l
from peewee import fn

from ..models import Staff
from . import common

DROPPED = ("declined", "stopped")


def _bounds(period):
    start, end = period
    return (datetime.datetime.combine(start, datetime.time.min),
            datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min))


def _ids(staff_query):
    return [s.id for s in staff_query.select(Staff.id)]


def _counties(staff_query):
    """The counties of the people of ``staff_query``: their cases are read
    there only (core.sharding)."""
    return sorted({s.county_code for s in staff_query.select(Staff.county_code)})


def _held_counts(staff_query, where):
    """``{staff_id: number of held cases matching where}`` (owner or assignee,
    once per case and person)."""
    from ..cases.models import Case

    ids, counties = _ids(staff_query), _counties(staff_query)
    out = {}
    for column in (Case.owner, Case.assignee):
        for case_id, person in Case.select(Case.id, column).where(
                Case.county_code.in_(counties) & where & column.in_(ids)).tuples():
            out.setdefault(person, set()).add(case_id)
    return out


def taken(staff_query, period):
    from ..cases.models import Case

    since, until = _bounds(period)
    rows = (Case.select(Case.owner, fn.COUNT(Case.id)).where(
        Case.county_code.in_(_counties(staff_query)) & Case.owner.in_(_ids(staff_query))
        & (Case.created_at >= since) & (Case.created_at < until))
        .group_by(Case.owner).tuples())
    return {owner: n for owner, n in rows}


def finished(staff_query, period):
    from ..cases.models import Case

    held = _held_counts(staff_query, Case.finished_on.between(*period))
    return {k: len(v) for k, v in held.items()}


def on_time(staff_query, period):
    from ..cases.models import Case

    held = _held_counts(staff_query, Case.finished_on.between(*period)
                        & (Case.due_day.is_null() | (Case.finished_on <= Case.due_day)))
    return {k: len(v) for k, v in held.items()}


def overdue(staff_query, period):
    from ..cases.models import Case
    from ..cases.service import today

    last = min(period[1], today() - datetime.timedelta(days=1))
    late = Case.finished_on.is_null() | (Case.finished_on > Case.due_day)
    held = _held_counts(staff_query, Case.due_day.between(period[0], last) & late
                        & Case.state.not_in(DROPPED))
    return {k: len(v) for k, v in held.items()}


def escalated(staff_query, period):
    from ..cases.models import Case, Escalation

    since, until = _bounds(period)
    opened = Case.id.in_(Escalation.select(Escalation.case).where(
        (Escalation.county_code == Case.county_code) & (Escalation.opened_at >= since)
        & (Escalation.opened_at < until)))
    held = _held_counts(staff_query, opened)
    return {k: len(v) for k, v in held.items()}


def mean_rating(staff_query, period):
    from ..cases.models import Case

    ids, counties = _ids(staff_query), _counties(staff_query)
    ratings = {}
    for column in (Case.owner, Case.assignee):
        rows = Case.select(Case.id, column, Case.rating).where(
            Case.county_code.in_(counties) & column.in_(ids) & Case.finished_on.between(*period)
            & Case.rating.is_null(False)).tuples()
        for case_id, person, rating in rows:
            ratings.setdefault(person, {})[case_id] = rating
    return {k: round(sum(v.values()) / len(v), 2) for k, v in ratings.items()}


def home_visits(staff_query, period):
    ids = set(_ids(staff_query))
    out = {}
    for county in {s.county_code for s in staff_query.select(Staff.county_code)}:
        for assignee, _region, _day, _case in common.home_visits_done(county, *period):
            if assignee in ids:
                out[assignee] = out.get(assignee, 0) + 1
    return out


INDICATORS = {  # code -> (label, compute, better)
    "taken": (_l("Cases taken"), taken, "higher"),
    "finished": (_l("Cases finished"), finished, "higher"),
    "on_time": (_l("Finished on time"), on_time, "higher"),
    "overdue": (_l("Overdue"), overdue, "lower"),
    "escalated": (_l("Escalated"), escalated, "lower"),
    "mean_rating": (_l("Mean rating"), mean_rating, "higher"),
    "home_visits": (_l("Home visits"), home_visits, "higher"),
}


def rules(county: str) -> dict:
    """The county's ``assessment:`` rules (the first rule set that has them)."""
    for ruleset in common.rulesets(county):
        if ruleset.get("assessment"):
            return ruleset["assessment"]
    return {}


def _normalised(value, top, better):
    if top <= 0:
        return 1.0 if better == "lower" else 0.0
    share = value / top
    return 1.0 - share if better == "lower" else share


def assess(county: str, period, staff_query=None, area: str = "") -> dict:
    """``{"indicators": [codes], "weights": {…}, "rows": […], "missing": [codes]}``;
    a row per assessed person, best first: ``staff_id``, ``username``,
    ``name``, ``role``, ``region``, each indicator's value, ``score``,
    ``rank``, ``bottom``, ``note`` (the latest supervisor's note)."""
    from .. import registry
    from .models import AssessmentNote

    rule = rules(county)
    weights = {k: float(v) for k, v in (rule.get("weights") or {}).items()}
    installed = registry.assessment_indicators()
    codes = [c for c in installed if c in weights]  # in the order the indicators were registered
    missing = [c for c in weights if c not in installed]
    query = staff_query if staff_query is not None else Staff.select()
    query = query.where((Staff.county_code == county) & Staff.active)
    if rule.get("roles"):
        query = query.where(Staff.role.in_(rule["roles"]))
    people = [s for s in query.order_by(Staff.username) if s.region.startswith(area)]
    subject = Staff.select().where(Staff.id.in_([s.id for s in people]))
    values = {c: installed[c]["compute"](subject, period) for c in codes}
    names = common.region_names(county)
    rows = []
    for s in people:
        row = {"staff_id": s.id, "username": s.username, "name": s.name, "role": s.role, "region": s.region,
               "place": common.place_name(names, s.region), "bottom": False, "rank": None}
        for c in codes:
            row[c] = values[c].get(s.id, 0)
        rows.append(row)
    total = sum(weights[c] for c in codes)
    for c in codes:
        top = max((r[c] for r in rows), default=0)
        for r in rows:
            r.setdefault("_n", 0.0)
            r["_n"] += weights[c] * _normalised(r[c], top, installed[c]["better"])
    for r in rows:
        r["score"] = round(100 * r.pop("_n", 0.0) / total, 1) if total else 0.0
    rows.sort(key=lambda r: (-r["score"], r["username"]))
    for i, r in enumerate(rows):
        r["rank"] = rows[i - 1]["rank"] if i and rows[i - 1]["score"] == r["score"] else i + 1
    least = rule.get("min_cases", 1)
    activity = {c: values[c] if c in values else INDICATORS[c][1](subject, period) for c in ("taken", "finished")}
    ranked = [r for r in rows if activity["taken"].get(r["staff_id"], 0) + activity["finished"].get(r["staff_id"], 0)
              >= least]
    if len(ranked) >= 2:
        n = rule["bottom_n"] if "bottom_n" in rule else math.ceil(len(ranked) * rule.get("bottom_share", 0))
        for r in sorted(ranked, key=lambda r: (r["score"], r["username"]))[:n]:
            r["bottom"] = True
    notes = {}
    for note in AssessmentNote.select().where(
            (AssessmentNote.county_code == county) & AssessmentNote.staff.in_([r["staff_id"] for r in rows])
            & (AssessmentNote.period_start == period[0])
            & (AssessmentNote.period_end == period[1])).order_by(AssessmentNote.id):
        notes[note.staff_id] = note
    from .. import personal

    for r in rows:
        note = notes.get(r["staff_id"])
        r["note"] = personal.masked_text(note.note, "assessment_note.note") if note else ""
    return {"indicators": codes, "weights": weights, "rows": rows, "missing": missing,
            "period": [period[0].isoformat(), period[1].isoformat()]}


def indicator_label(code):
    from .. import registry

    entry = registry.assessment_indicators().get(code)
    return str(entry["label"]) if entry else code
