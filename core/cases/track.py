"""Citizens follow their case by its receipt number (no sign-in; nothing
personal is shown)."""
from __future__ import annotations

from flask import Blueprint, render_template

from . import workflow as wf
from .models import Case, CaseEvent

bp = Blueprint("track", __name__)


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


@bp.route("/track/<number>")
def track(number):
    case = Case.get_or_none(Case.number == number)
    if case is None:
        return render_template("track.html", case=None, number=number), 404
    flow = wf.load(case.workflow)
    events = list(CaseEvent.select(CaseEvent.at, CaseEvent.action, CaseEvent.to_state)
                  .where(CaseEvent.case == case).order_by(CaseEvent.id))
    return render_template("track.html", case=case, flow=flow, events=events, item=case.item_record.content,
                           applicant=mask_name(case.applicant_name), number=number)
