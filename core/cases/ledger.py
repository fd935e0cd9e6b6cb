"""The ledger (台账): the scoped list of cases as JSON, CSV and Excel.
Personal data is always masked here; what a user cannot open in the list
they cannot export or count either (everything goes through scope)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit, catalog, db, personal, scope
from ..permissions import require
from ..db import transaction
from ..hardening import int_arg
from ..i18n import localized
from ..models import Region, Staff
from . import export, service
from . import workflow as wf
from .models import Case

bp = Blueprint("ledger", __name__)


#: what :func:`row` reads: the list selects only these (no JSON answers to
#: parse per row); the ciphertexts only for cases stored before their masks
ROW_FIELDS = (Case.id, Case.county_code, Case.number, Case.created_at, Case.applicant_name,
              Case.applicant_id_masked, Case.applicant_phone_masked, Case.applicant_id_number, Case.applicant_phone,
              Case.village_code, Case.township_code, Case.item_code, Case.item_version, Case.workflow, Case.state,
              Case.due_day, Case.finished_on, Case.owner, Case.rating, Case.rating_comment)


class Listed:
    """A case as a list reads it (:data:`ROW_FIELDS`), without building a
    model instance per row; masks and decrypts like :class:`Case`."""

    id_number, phone = Case.id_number, Case.phone
    masked_id_number, masked_phone = Case.masked_id_number, Case.masked_phone

    def __init__(self, values):
        self.__dict__.update(values)
        self.owner_id = values["owner"]


def _query():
    require("ledger.read")
    query = scope.cases_for(current_user, Case.select(*ROW_FIELDS)).order_by(Case.id)
    if request.args.get("state"):
        query = query.where(Case.state == request.args["state"])
    return query


def _listed(query):
    """The cases of ``query`` (selecting :data:`ROW_FIELDS`) as :class:`Listed`."""
    return map(Listed, query.dicts())


def _memo(names, key, compute):
    """A value computed once per list: ``names`` (from :func:`_names`)
    carries the list's memo under tuple keys of their own."""
    try:
        return names[key]
    except KeyError:
        value = names[key] = compute()
        return value


def row(case, names):
    item_name = _memo(names, ("item", case.county_code, case.item_code), lambda: _item_name(case))
    state_name = _memo(names, ("state", case.workflow, case.state),
                       lambda: localized(wf.load(case.workflow).state_name(case.state)))
    today = _memo(names, ("today",), service.today)
    return {
        "id": case.id,
        "number": case.number,
        "date": case.created_at.date().isoformat(),
        "applicant": case.applicant_name,
        "id_number": case.masked_id_number(),
        "phone": case.masked_phone(),
        "village": names.get(case.village_code or case.township_code, ""),
        "item": item_name,
        "item_version": case.item_version,  # the version the case was created under
        "state": state_name,
        "state_code": case.state,
        "due": case.due_day.isoformat() if case.due_day else "",
        "overdue": bool(case.due_day and not case.finished_on and case.due_day < today),
        "finished": case.finished_on.isoformat() if case.finished_on else "",
        "agent": names.get(("staff", case.owner_id), ""),
        "rating": case.rating,
        "rating_comment": personal.masked_text(case.rating_comment or "", "cases.rating_comment"),
    }


def _item_name(case):
    item = catalog.current("items", case.item_code, county=case.county_code)
    return localized(item.content["name"]) if item else case.item_code


def item_names(cases, names):
    """Read the item names of a page of ``cases`` in one statement per
    county and keep them in the list's memo ``names`` (see :func:`row`)."""
    by_county = {}
    for case in cases:
        by_county.setdefault(case.county_code, set()).add(case.item_code)
    for county, codes in by_county.items():
        for code, item in catalog.current_many("items", sorted(codes), county).items():
            names[("item", county, code)] = localized(item.content["name"]) if item else code
    return cases


def _names(case=None):
    """Region and staff names of the user's area, by code and ("staff", id);
    for one ``case``, just the ones its row shows."""
    regions = scope.scoped(current_user, Region.select(Region.code, Region.name), Region)
    staff = scope.scoped(current_user, Staff.select(Staff.id, Staff.name), Staff)
    if case is not None:
        regions = regions.where(Region.code.in_([c for c in (case.village_code, case.township_code) if c]))
        staff = staff.where(Staff.id == case.owner_id)
    names = {code: localized(name) for code, name in regions.tuples()}
    names.update({("staff", i): name for i, name in staff.tuples()})
    return names


@bp.route("/api/cases")
@login_required
def api_cases():
    """Paged: ``?offset=&limit=`` (at most 1000); the total is in X-Total-Count."""
    names = _names()
    offset = int_arg("offset", 0, low=0)
    limit = int_arg("limit", 1000, low=1, high=1000)
    cases = item_names(list(_listed(_query().offset(offset).limit(limit))), names)
    response = jsonify([row(c, names) for c in cases])
    response.headers["X-Total-Count"] = str(scope.count_cases(current_user, *_conditions()))
    return response


def _conditions():
    return [Case.state == request.args["state"]] if request.args.get("state") else []


@bp.route("/api/cases/<int:case_id>")
@login_required
def api_case(case_id):
    require("ledger.read")
    # one statement: the case's row with its village's, township's and
    # owner's names (each as the user's scope shows them)
    def name_of(model, query, where):
        return scope.scoped(current_user, query, model).where(where)

    def build():  # compiled once per scope (core.db.prepared)
        return scope.cases_for(current_user, Case.select(
            *ROW_FIELDS,
            name_of(Region, Region.select(Region.name), Region.code == Case.village_code).alias("village_name"),
            name_of(Region, Region.select(Region.name), Region.code == Case.township_code).alias("township_name"),
            name_of(Staff, Staff.select(Staff.name), Staff.id == Case.owner).alias("owner_name"))
        ).where(Case.id == db.param("case_id")).limit(1).objects()

    case = next(iter(db.run_prepared(("ledger.case", scope.case_key(current_user)), build, case_id=case_id)), None)
    if case is None:
        scope.case_or_404(current_user, case_id)  # 404, the refusal recorded as for any case out of reach
    names = {("staff", case.owner_id): case.owner_name or ""}
    for code, name in ((case.village_code, case.village_name), (case.township_code, case.township_name)):
        if code and name:
            names[code] = localized(json.loads(name) if isinstance(name, str) else name)
    return jsonify(row(case, names))


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
