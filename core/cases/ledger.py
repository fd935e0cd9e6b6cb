"""The ledger (台账): the scoped list of cases as JSON, CSV and Excel.
Personal data is always masked here; what a user cannot open in the list
they cannot export or count either (everything goes through scope)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit, catalog, personal, scope
from ..permissions import require
from ..db import transaction
from ..hardening import int_arg
from ..i18n import localized
from ..models import Region, Staff
from . import export, service
from . import workflow as wf
from .models import Case

bp = Blueprint("ledger", __name__)


def _query():
    require("ledger.read")
    query = scope.cases_for(current_user).order_by(Case.id)
    if request.args.get("state"):
        query = query.where(Case.state == request.args["state"])
    return query


def row(case, names):
    item = catalog.current("items", case.item_code, county=case.county_code)
    flow = wf.load(case.workflow)
    today = service.today()
    return {
        "id": case.id,
        "number": case.number,
        "date": case.created_at.date().isoformat(),
        "applicant": case.applicant_name,
        "id_number": case.masked_id_number(),
        "phone": case.masked_phone(),
        "village": names.get(case.village_code or case.township_code, ""),
        "item": localized(item.content["name"]) if item else case.item_code,
        "item_version": case.item_version,  # the version the case was created under
        "state": localized(flow.state_name(case.state)),
        "state_code": case.state,
        "due": case.due_day.isoformat() if case.due_day else "",
        "overdue": bool(case.due_day and not case.finished_on and case.due_day < today),
        "finished": case.finished_on.isoformat() if case.finished_on else "",
        "agent": names.get(("staff", case.owner_id), ""),
        "rating": case.rating,
        "rating_comment": personal.masked_text(case.rating_comment or "", "cases.rating_comment"),
    }


def _names():
    names = {r.code: localized(r.name) for r in scope.scoped(current_user, Region.select(), Region)}
    names.update({("staff", s.id): s.name for s in scope.scoped(current_user, Staff.select(Staff.id, Staff.name), Staff)})
    return names


@bp.route("/api/cases")
@login_required
def api_cases():
    """Paged: ``?offset=&limit=`` (at most 1000); the total is in X-Total-Count."""
    names = _names()
    offset = int_arg("offset", 0, low=0)
    limit = int_arg("limit", 1000, low=1, high=1000)
    response = jsonify([row(c, names) for c in _query().offset(offset).limit(limit)])
    response.headers["X-Total-Count"] = str(scope.count_cases(current_user, *_conditions()))
    return response


def _conditions():
    return [Case.state == request.args["state"]] if request.args.get("state") else []


@bp.route("/api/cases/<int:case_id>")
@login_required
def api_case(case_id):
    require("ledger.read")
    return jsonify(row(scope.case_or_404(current_user, case_id), _names()))


@bp.route("/api/cases/count")
@login_required
def api_count():
    require("ledger.read")
    return jsonify({"count": scope.count_cases(current_user, *_conditions())})


#: (key, header); headers are msgids (translated when written)
COLUMNS = [("number", "Receipt number"), ("date", "Date"), ("applicant", "Applicant"), ("id_number", "ID number"),
           ("phone", "Phone"), ("village", "Village"), ("item", "Item"), ("item_version", "Item version"),
           ("state", "State"), ("due", "Finish by"), ("overdue", "Overdue"), ("finished", "Finished on"),
           ("agent", "Owner"), ("rating", "Rating"), ("rating_comment", "Rating comment")]


def _audit_export(fmt, count):
    with transaction():
        audit.record("ledger.export", "cases", actor=current_user.username, role=current_user.role,
                     county_code=current_user.county_code, payload={"format": fmt, "rows": count})


def _export(fmt, pieces, **response):
    """A streamed export of the scoped ledger: counted and audited before
    the first byte leaves, then read, decrypted and written a chunk at a
    time (core.cases.export)."""
    query = _query()
    count, top = export.bounds(query)
    _audit_export(fmt, count)
    return Response(stream_with_context(pieces(query, top, _names(), COLUMNS)), **response)


@bp.route("/cases/export.csv")
@login_required
def export_csv():
    return _export("csv", export.csv_pieces, mimetype="text/csv",
                   headers={"Content-Disposition": "attachment; filename=ledger.csv"})


@bp.route("/cases/export.xlsx")
@login_required
def export_xlsx():
    title = _("Ledger")
    return _export("xlsx", lambda *args: export.xlsx_pieces(*args, title=title),
                   headers={"Content-Disposition": "attachment; filename=ledger.xlsx"},
                   mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
