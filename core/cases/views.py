"""Staff pages for cases: pick an item, fill the commission, move the case."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, make_response, jsonify, redirect, render_template, request, url_for
from flask import send_file
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit, catalog, item_search, personal, scope, sharding
from .. import db
from ..db import transaction
from ..permissions import can, require
from ..hardening import int_arg
from ..forms import prepare_form_spec, schema_for, validate_form
from ..forms.render import render_form
from ..i18n import label, localized
from ..models import MetadataRecord, Region, Staff
from . import service
from . import workflow as wf
from .answers import FILE_TYPES, answers as case_answers, find_file
from .models import Case, CaseEvent, Escalation, Subtask

bp = Blueprint("cases", __name__)
bp.add_app_template_global(render_form, "commission_form")
#: supervision actions and the permission each needs
SUPERVISION = {"urge": "case.remind", "extend": "case.extend", "reassign_owner": "case.reassign",
               "reassign_assignee": "case.reassign"}
bp.add_app_template_filter(personal.shown, "personal")


def _lang():
    return str(get_locale() or "zh").split("_")[0]


def current_item(code, user) -> MetadataRecord | None:
    """The item of the user's county (or a national one), never another
    county's."""
    return catalog.current("items", code, county=user.county_code)


def _level_of(user):
    region = user.region or ""
    return {6: "county", 9: "township", 12: "village", 15: "village"}.get(len(region), "village")


def is_offered(item, user):
    level = _level_of(user)
    return level == "county" or level in item.get("levels", [])


#: the small kinds every commission form reads for its county (core.catalog.prefetch)
FORM_KINDS = ("rulesets", "guide_fields", "special_groups")


def compiled_form(record, user, locale, *, schema=True):
    """Form spec and validation schema of one item version for a county
    (immutable, so cached until the catalog changes): built once, used for
    the page, the JSON and the POST. ``schema=False`` (a GET of the page):
    the schema is not built (None)."""
    # what a form reads of the county's metadata besides its item (the guide fields its rule set names,
    # the special groups of the green channel's question): one statement after a sync, not one per kind
    catalog.prefetch(FORM_KINDS, user.county_code)
    guide = catalog.guide_fields_for(user.county_code)
    divisions = divisions_for(user)
    key = (record.id, guide.id if guide else None, user.county_code, locale, tuple(sorted(divisions)))
    spec = catalog.cached("form", key, lambda: prepare_form_spec(
        record.content, guide.content if guide else guide_field_set(), user.county_code, locale=locale))
    if schema:
        schema = catalog.cached("form_schema", key, lambda: schema_for(spec, divisions=frozenset(key[4])))
    return spec, schema or None, divisions, key


def guide_field_set(county_code=None):
    record = catalog.guide_fields_for(county_code)
    return record.content if record else {"code": "none", "name": "-", "elements": [], "applicant_fields": []}


def divisions_for(user):
    """{code: "township · village"} of the places in the user's scope that
    they may file cases for."""
    key = (user.county_code, user.role, user.region or "", str(get_locale()))
    return dict(catalog.cached("divisions", key, lambda: _divisions(user)))


def _region_rows(key, build):
    """``(code, name)`` of the regions ``build()`` selects, its SQL compiled
    once per ``key`` (core.db.prepared: compiling a peewee query costs more
    than running it, and the statement depends only on the key)."""
    return list(db.run_prepared(("regions", key), lambda: build().tuples()))


def _divisions(user):
    if not scope._signed_in(user):
        return ()
    regions = dict(_region_rows(("scoped", scope.region_key(user)), lambda: scope.scoped(
        user, Region.select(Region.code, Region.name), Region).where(
        Region.level.in_(["township", "village", "group"])).order_by(Region.code)))
    # the township and village above each one: read only those, not the county's every place
    above = sorted({code[:n] for code in regions for n in (9, 12) if n < len(code)} - set(regions))
    every = dict(regions)
    if above:
        every.update(_region_rows(("above", tuple(above)), lambda: Region.select(Region.code, Region.name).where(
            Region.code.in_(above))))
    names = {}
    for code, name in regions.items():
        parts = [every[code[:n]] for n in (9, 12) if n < len(code) and code[:n] in every]
        names[code] = " · ".join(localized(p) for p in [*parts, name])
    return tuple(names.items())


def departments(county_code=None):
    county_code = county_code or current_user.county_code
    return {r.key: r.content for r in catalog.all_current("departments", county=county_code)}


# --- item picker and form -------------------------------------------------------

PAGE_SIZE = 20


def find_items(user, args, limit=PAGE_SIZE):
    """One page of the items offered to ``user`` matching ``args["q"]``
    (server-side: core.item_search), their frequent items first."""
    from .. import registry

    q = (args.get("q") or "").strip()[:100]
    level = _level_of(user)
    # a role an intake channel names (the bank channel's partner_staff) files only that channel's items
    channel = next((c["code"] for c in registry.intake_channels().values() if user.role in c["roles"]), None)
    return q, item_search.search(q, county=user.county_code, level=None if level == "county" else level,
                                 channel=channel,
                                 departments=departments(user.county_code),
                                 frequent=item_search.frequent_codes(user),
                                 offset=int_arg("offset", 0, high=1_000_000, source=args),
                                 limit=int_arg("limit", limit, low=1, high=50, source=args))


@bp.route("/cases/new")
@login_required
def pick_item():
    require("case.create")
    q, page = find_items(current_user, request.args)
    return render_template("cases/pick.html", items=page.items, page=page, q=q, departments=departments())


@bp.route("/api/items")
@login_required
def api_items():
    """The picker's type-ahead: ``q``, ``offset``, ``limit`` (at most 50);
    the total in ``X-Total-Count``."""
    require("case.create")
    _q, page = find_items(current_user, request.args)
    lang = _lang()
    depts = departments()
    response = jsonify([{"code": i["code"], "name": localized(i["name"], lang), "kind": i["kind"],
                         "department": i["department"],
                         "department_name": localized((depts.get(i["department"]) or {}).get("name"), lang),
                         "high_frequency": bool(i.get("high_frequency")), "frequent": i["code"] in page.frequent,
                         "url": url_for("cases.new_case", code=i["code"])} for i in page.items])
    response.headers["X-Total-Count"] = str(page.total)
    return response


@bp.route("/api/items/<code>/form")
@login_required
def api_item_form(code):
    require("case.create")
    record = current_item(code, current_user)
    if record is None or not is_offered(record.content, current_user):
        abort(404)
    require("case.create", record)
    spec, _schema, _divisions, _key = compiled_form(record, current_user, _lang(), schema=False)
    return jsonify({**spec, "version": record.version})


@bp.route("/cases/new/<code>", methods=["GET", "POST"])
@login_required
def new_case(code):
    user = current_user._get_current_object()  # the signed-in staff member, not the proxy (read often below)
    # what the page reads of the metadata (the role for the permission check, the item, the county's
    # kinds a form reads): one statement after a sync, not one each
    catalog.prefetch(FORM_KINDS, user.county_code, entries=[("roles", user.role), ("items", code)])
    require("case.create")
    record = current_item(code, user)
    if record is None or not is_offered(record.content, user):
        abort(404)
    require("case.create", record)
    spec, schema, divisions, form_key = compiled_form(record, user, _lang(),
                                                      schema=request.method == "POST")
    values, errors = {}, {}
    if len(user.region or "") >= 12:
        values["applicant_division"] = user.region
    if request.method == "POST":
        values = request.form.to_dict(flat=False)
        values = {k: v if len(v) > 1 else v[0] for k, v in values.items()}
        data, errors = validate_form(spec, request.form, request.files, schema=schema)
        if not errors:
            try:
                uploads = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
                case = service.create_case(record, service.store_uploads(data, uploads), user)
            except wf.TransitionError as exc:
                errors = {"_form": [str(exc)]}
            else:
                return redirect(url_for("cases.receipt", case_id=case.id))
    status = 400 if errors else 200
    return render_template("cases/form.html", spec=spec, item=record.content, version=record.version,
                           values=values, errors=errors, divisions=divisions, form_key=form_key), status


# --- lists and detail -----------------------------------------------------------

#: what the case list shows (cases/list.html), and nothing else: a page
#: is 200 rows, and each column read is a Python value set per row
LIST_COLUMNS = (Case.id, Case.number, Case.green_channel, Case.item_code, Case.item_version, Case.applicant_name,
                Case.state, Case.workflow, Case.due_day, Case.due_confirmed, Case.finished_on)


@bp.route("/cases")
@login_required
def list_cases():
    require("case.read")
    query = scope.cases_for(current_user, Case.select(*LIST_COLUMNS))
    state = request.args.get("state") or ""
    due = request.args.get("due") or ""
    today = service.today()
    if state:
        query = query.where(Case.state == state)
    if due in ("overdue", "soon", "escalated", "mine"):  # the workbench's blocks (core.workbench)
        from ..workbench import case_filter

        query = query.where(case_filter(due, today, current_user))
    drilled = None
    if request.args.get("metric"):  # the cases behind a dashboard number (core.kpi)
        from .. import kpi

        try:
            query = kpi.drill_args(query, request.args)
        except kpi.ReportError:
            abort(400, description=_("This list of cases behind a number has a bad link."))
        drilled = {k: request.args.get(k) for k in ("metric", "part", "township", "site", "from", "to")}
    if request.args.get("mine"):
        query = query.where((Case.owner == current_user.id) | (Case.assignee == current_user.id) | Case.id.in_(
            Subtask.select(Subtask.case).where((Subtask.county_code == current_user.county_code)
                                               & (Subtask.helper == current_user.id))))
    # the green channel (绿色通道) first, then the newest
    cases = list(query.order_by(Case.green_channel.is_null(), Case.id.desc()).limit(200))
    total = scope.count_cases(current_user)
    if drilled:
        total = query.count()
    # each item's name and each state's label once per page, not once per row
    records = catalog.current_many("items", [case.item_code for case in cases], current_user.county_code)
    items = {code: localized(record.content.get("name")) if record is not None else ""
             for code, record in records.items()}
    states = {}
    for case in cases:
        if (case.workflow, case.state) not in states:
            states[case.workflow, case.state] = label("state", case.state, case.workflow)
    return render_template("cases/list.html", cases=cases, state=state, due=due, total=total, today=today,
                           drilled=drilled, mine=bool(request.args.get("mine")), item_names=items, state_names=states)


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@login_required
def detail(case_id):
    case = scope.case_or_404(current_user, case_id)
    revealed = personal.reveal_requested(case, "detail")
    flow = wf.load(case.workflow)
    events = list(CaseEvent.select().where(sharding.of(CaseEvent.case, case)).order_by(CaseEvent.id))
    staff = {s.id: s for s in Staff.select().where(Staff.county_code == case.county_code)}
    parts = list(Subtask.select().where(sharding.of(Subtask.case, case)).order_by(Subtask.id))
    escalation = Escalation.get_or_none((Escalation.county_code == case.county_code)
                                        & (Escalation.open_case == case.id))
    answers, files = case_answers(case, _lang())
    response = make_response(render_template(
        "cases/detail.html", case=case, flow=flow, events=events, staff=staff, parts=parts,
        available=flow.available(case, current_user), item=case.item_record.content,
        departments=departments(case.county_code), escalation=escalation,
        supervision={a for a, p in SUPERVISION.items() if can(current_user, p, case)},
        may_handover=can(current_user, "case.handover"),
        answers=answers, files=files, revealed=revealed, may_reveal=can(current_user, "personal_data.reveal", case)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cases/<int:case_id>/files/<sha256>")
@login_required
def case_file(case_id, sha256):
    """An uploaded scan of a case the user may read (404 otherwise)."""
    case = scope.case_or_404(current_user, case_id)
    found = find_file(case, sha256)
    if found is None:
        abort(404)
    path, entry, name = found
    with transaction():
        audit.record("case.file_download", f"case:{case.number}", actor=current_user.username,
                     role=current_user.role, county_code=case.county_code, payload={"field": name, "sha256": sha256})
    download = personal.masked_text(entry.get("name"), f"cases.data.{name}.name") or path.name
    response = send_file(path, mimetype=FILE_TYPES[entry["type"]], as_attachment=True, download_name=download,
                         max_age=0, conditional=False, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back(case, exc):
    flash(str(exc), "error")
    return redirect(url_for("cases.detail", case_id=case.id))


def _inputs(form):
    inputs = {k: v.strip() for k, v in form.items() if k not in ("csrf_token", "joint")}
    if form.getlist("joint"):
        inputs["joint"] = form.getlist("joint")
    if form.get("missing_materials") or form.getlist("missing"):
        inputs["missing_materials"] = form.getlist("missing") or [form["missing_materials"]]
    if form.get("delivery_method"):
        inputs["delivery"] = {"method": form["delivery_method"], "received_by": form.get("received_by", "").strip(),
                              "tracking": form.get("tracking", "").strip()}
    return inputs


@bp.route("/cases/<int:case_id>/take/<code>", methods=["POST"])
@login_required
def take(case_id, code):
    case = scope.case_or_404(current_user, case_id)
    transition = wf.load(case.workflow).transitions.get(code)
    if transition is None:
        abort(404)
    require(transition.permission, case)
    try:
        service.take(case, code, current_user, _inputs(request.form))
    except wf.TransitionError as exc:
        return _back(case, exc)
    flow = wf.load(case.workflow)
    notice = flow.transitions[code].notice
    if notice:
        return redirect(url_for("cases.notice", case_id=case.id, kind=notice))
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/cases/<int:case_id>/part", methods=["POST"])
@login_required
def complete_part(case_id):
    case = scope.case_or_404(current_user, case_id)
    require("case.handle", case)
    try:
        service.complete_subtask(case, current_user, request.form.get("note", "").strip())
    except wf.TransitionError as exc:
        return _back(case, exc)
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/cases/<int:case_id>/supply", methods=["POST"])
@login_required
def supply(case_id):
    case = scope.case_or_404(current_user, case_id)
    require("case.accept", case)
    try:
        service.supply_material(case, current_user, request.form.get("note", "").strip())
    except wf.TransitionError as exc:
        return _back(case, exc)
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/cases/<int:case_id>/supervise", methods=["POST"])
@login_required
def supervise(case_id):
    case = scope.case_or_404(current_user, case_id)
    action = request.form.get("action")
    if action not in SUPERVISION:
        abort(400)
    require(SUPERVISION[action], case)
    reason = (request.form.get("reason") or "").strip()
    try:
        if action == "urge":
            if not reason:
                raise wf.TransitionError(_("Write what you urge."))
            service.urge(case, current_user, reason)
        elif action == "extend":
            service.extend(case, current_user, float(request.form.get("days") or 0), reason)
        elif action in ("reassign_owner", "reassign_assignee"):
            staff = scope.scoped(current_user, Staff.select(), Staff).where(
                Staff.id == int_arg("staff", 0, source=request.form)).first()
            if staff is None:
                raise wf.TransitionError(_("Choose a staff member."))
            service.reassign(case, current_user, action.split("_", 1)[1], staff, reason)
    except (wf.TransitionError, ValueError) as exc:
        return _back(case, exc)
    return redirect(url_for("cases.detail", case_id=case.id))


# --- print views ------------------------------------------------------------------

def _qr_svg(text):
    import segno

    return segno.make(text, error="m").svg_inline(scale=3)


@bp.route("/cases/<int:case_id>/receipt")
@login_required
def receipt(case_id):
    case = scope.case_or_404(current_user, case_id)
    track_url = url_for("track.by_token", token=case.track_token, _external=True)
    return render_template("cases/receipt.html", case=case, item=case.item_record.content,
                           qr=_qr_svg(track_url), track_url=track_url, promised=_promised_text(case))


def _promised_text(case):
    return service.case_deadline(case)


@bp.route("/cases/<int:case_id>/commission", methods=["GET", "POST"])
@login_required
def commission(case_id):
    """The commission print view: personal data masked; a POST by a role
    with ``personal_data.reveal`` shows it in full, audited, once."""
    case = scope.case_or_404(current_user, case_id)
    owner = Staff.get_by_id(case.owner_id)
    record = case.commissions.first()
    if record is None:
        abort(404)
    reveal = request.method == "POST"
    if reveal:
        require("personal_data.reveal", case)
        with transaction():
            audit.record("personal_data.reveal", f"case:{case.number}", actor=current_user.username,
                         role=current_user.role, county_code=case.county_code, payload={"view": "commission"})
        principal = personal.reveal_mapping(record.principal, "commission.principal")
        id_number, phone = case.id_number(), case.phone()
    else:
        principal = personal.masked_mapping(record.principal, "commission.principal")
        id_number, phone = case.masked_id_number(), case.masked_phone()
    response = make_response(render_template(
        "cases/commission.html", case=case, item=case.item_record.content, commission=record, owner=owner,
        principal=principal, id_number=id_number, phone=phone, revealed=reveal,
        may_reveal=can(current_user, "personal_data.reveal")))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cases/<int:case_id>/notice/<kind>", methods=["GET", "POST"])
@login_required
def notice(case_id, kind):
    case = scope.case_or_404(current_user, case_id)
    action = {"decline": "decline", "one_time": "one_time_notice"}.get(kind)
    if action is None:
        abort(404)
    event = (CaseEvent.select().where(sharding.of(CaseEvent.case, case) & (CaseEvent.action == action))
             .order_by(CaseEvent.id.desc()).first())
    if event is None:
        abort(404)
    revealed = personal.reveal_requested(case, f"notice.{kind}")
    response = make_response(render_template(
        "cases/notice.html", case=case, item=case.item_record.content, event=event, kind=kind, revealed=revealed,
        may_reveal=can(current_user, "personal_data.reveal")))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- handover -------------------------------------------------------------------

@bp.route("/handover", methods=["GET", "POST"])
@login_required
def handover():
    require("case.handover")
    staff = list(scope.scoped(current_user, Staff.select(), Staff).order_by(Staff.username))
    error = record = None
    if request.method == "POST":
        by_id = {s.id: s for s in staff}
        departing = by_id.get(int_arg("from", 0, source=request.form))
        successor = by_id.get(int_arg("to", 0, source=request.form))
        try:
            if departing is None or successor is None:
                raise wf.TransitionError(_("Choose both staff members."))
            record = service.handover(departing, successor, current_user, request.form.get("note", "").strip(),
                                      disable=bool(request.form.get("disable")))
        except wf.TransitionError as exc:
            error = str(exc)
    return render_template("cases/handover.html", staff=staff, error=error, record=record), 400 if error else 200
