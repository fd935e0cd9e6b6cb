"""专项考核 (内放办〔2022〕3号 六): the supervisors' assessment of the
agents and helpers, read from the cases, with the weights and the
优胜劣汰 rule of the county's rule set (``rules.assessment``).

Only settled cases count: finished ones, and open ones already past their
deadline (a case still within its time limit says nothing yet). Each
assessed person's score is ``handling`` (share of the settled cases
finished on time) and ``feedback`` (share of their rated cases not rated
差评), weighted; without any rating the score is the handling share alone.
Staff with at least ``min_cases`` settled cases are ranked; when at least
``min_ranked`` are, the lowest ``bottom_share`` of them (rounded up) are
flagged for the ``action`` (通报, then 调整).
"""
from __future__ import annotations

import datetime
import math

from core import catalog

DONE = ("finished", "archived", "evaluated")
DROPPED = ("declined", "stopped")


def rules_of(county: str) -> dict:
    for ruleset in catalog.all_current("rulesets", county=county):
        if ruleset.county_code == county and "assessment" in ruleset.content.get("rules", {}):
            return ruleset.content["rules"]["assessment"]
    raise LookupError(f"county {county} has no assessment rules")


def _cases_of(staff, start, end):
    from core.cases.models import Case, Subtask

    held = (Case.owner == staff.id) | (Case.assignee == staff.id) | Case.id.in_(
        Subtask.select(Subtask.case).where((Subtask.county_code == staff.county_code) & (Subtask.helper == staff.id)))
    since = datetime.datetime.combine(start, datetime.time.min)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min)
    return list(Case.select().where((Case.county_code == staff.county_code) & held
                                    & (Case.created_at >= since) & (Case.created_at < until)
                                    & Case.state.not_in(DROPPED)))


def score(cases, rules, today=None) -> dict:
    """Handling, feedback and the weighted score of one person's cases."""
    today = today or datetime.date.today()
    cases = [c for c in cases if c.state in DONE or (c.due_day is not None and c.due_day < today)]
    on_time = [c for c in cases if c.state in DONE and (c.due_day is None or c.finished_on <= c.due_day)]
    handling = len(on_time) / len(cases) if cases else 0.0
    rated = [c for c in cases if c.rating is not None]
    bad = set(rules.get("bad_ratings", [1, 2]))
    feedback = sum(c.rating not in bad for c in rated) / len(rated) if rated else None
    weights = rules["weights"]
    if feedback is None:
        total = handling
    else:
        total = (weights["handling"] * handling + weights["feedback"] * feedback) / (
            weights["handling"] + weights["feedback"])
    return {"cases": len(cases), "handling": handling, "feedback": feedback, "score": round(total, 4)}


def assess(county: str, start: datetime.date, end: datetime.date) -> list[dict]:
    """Every assessed person of the county for the period, lowest score first;
    ``bottom`` marks those the 优胜劣汰 rule selects."""
    from core.models import Staff

    rules = rules_of(county)
    rows = []
    for staff in Staff.select().where((Staff.county_code == county) & Staff.active
                                      & Staff.role.in_(rules["subjects"])).order_by(Staff.username):
        rows.append({"username": staff.username, "role": staff.role, "region": staff.region,
                     **score(_cases_of(staff, start, end), rules), "bottom": False})
    rule = rules["survival_of_the_fittest"]
    ranked = sorted((r for r in rows if r["cases"] >= rule["min_cases"]), key=lambda r: (r["score"], r["username"]))
    if len(ranked) < rule.get("min_ranked", 2):
        ranked = []
    for row in ranked[:math.ceil(len(ranked) * rule["bottom_share"])]:
        row["bottom"] = True
        row["action"] = rule["action"]
    return sorted(rows, key=lambda r: (r["score"], r["username"]))
