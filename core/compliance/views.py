"""Pages of the accounts: site compliance, staffing coverage, the staff
assessment and the work log; each printable and exportable to Excel with
the same columns, each scoped to the reader's area."""
from __future__ import annotations

import datetime
import io
from pathlib import Path

from flask_babel import lazy_gettext as _l
from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit, personal, scope
from ..db import transaction
from ..i18n import label
from ..models import Staff
from ..permissions import menu_links_for, can, require
from . import assessment as assessment_mod
from . import common, site as site_mod, staffing as staffing_mod, worklog as worklog_mod
from .models import AssessmentNote, SiteAssessment

bp = Blueprint("accounts", __name__)
FILE_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}


def xlsx_response(filename, title, headers, rows, what, count):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    data = io.BytesIO()
    book.save(data)
    with transaction():
        audit.record("accounts.export", what, actor=current_user.username, role=current_user.role,
                     county_code=current_user.county_code, payload={"format": "xlsx", "rows": count})
    return Response(data.getvalue(), headers={"Content-Disposition": f"attachment; filename={filename}"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _period():
    try:
        return common.period(request.args.get("from"), request.args.get("to"))
    except common.ReportError as exc:
        abort(Response(str(exc), status=400, mimetype="text/plain"))


def _area():
    return scope.area(current_user)


# --- site compliance -------------------------------------------------------------

SUMMARY_COLUMNS = [("site_name", _l("Site")), ("standard_name", _l("Standard")), ("met", _l("Met")),
                   ("pending", _l("Awaiting review")), ("not_met", _l("Not met")), ("rejected", _l("Rejected")),
                   ("unanswered", _l("Unanswered")), ("gaps", _l("Gaps")), ("period", _l("Period")),
                   ("state", _l("State"))]
GAP_COLUMNS = [("site_name", _l("Site")), ("standard_name", _l("Standard")), ("category", _l("Heading")),
               ("requirement", _l("Requirement")), ("status", _l("Status")), ("evidence", _l("Evidence"))]


def _summary_cell(key, value):
    if key == "state":
        return label("assessment_state", value)
    if key == "status":
        return label("compliance_status", value)
    return value


@bp.route("/compliance")
@login_required
def compliance():
    require("compliance.read")
    rows, gaps = site_mod.county_report(current_user.county_code, _area())
    return render_template("accounts/compliance.html", rows=rows, columns=SUMMARY_COLUMNS, gaps=gaps)


@bp.route("/compliance/export.xlsx")
@login_required
def compliance_export():
    require("compliance.read")
    rows, gaps = site_mod.county_report(current_user.county_code, _area())
    if request.args.get("site"):  # one site's gap report
        rows = [r for r in rows if r["site"] == request.args["site"]]
        gaps = [r for r in gaps if r["site"] == request.args["site"]]
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _("Summary")[:31]
    sheet.append([str(h) for _k, h in SUMMARY_COLUMNS])
    for r in rows:
        sheet.append([_summary_cell(k, r[k]) for k, _h in SUMMARY_COLUMNS])
    second = book.create_sheet(_("Gaps")[:31])
    second.append([str(h) for _k, h in GAP_COLUMNS])
    for r in gaps:
        second.append([_summary_cell(k, r[k]) for k, _h in GAP_COLUMNS])
    data = io.BytesIO()
    book.save(data)
    with transaction():
        audit.record("accounts.export", "compliance", actor=current_user.username, role=current_user.role,
                     county_code=current_user.county_code, payload={"format": "xlsx", "rows": len(rows)})
    return Response(data.getvalue(), headers={"Content-Disposition": "attachment; filename=compliance.xlsx"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/compliance/sites/<code>")
@login_required
def compliance_site(code):
    require("compliance.read")
    return _site_page(scope.site_or_404(current_user, code))


def _site_page(site):
    history = list(SiteAssessment.select().where((SiteAssessment.county_code == site.county_code)
                                                 & (SiteAssessment.site_code == site.code))
                   .order_by(SiteAssessment.period.desc(), SiteAssessment.id.desc()))
    return render_template("accounts/compliance_site.html", site=site, parts=site_mod.gap_report(site),
                           history=history, this_year=str(datetime.date.today().year))


def _assessment_or_404(assessment_id):
    assessment = scope.get_or_404(current_user, SiteAssessment, assessment_id)
    return assessment, scope.site_or_404(current_user, assessment.site_code)


def _back(site, exc=None):
    """After an action: back to the site's page; a refused one shows the
    page again with the reason (400)."""
    if exc is not None:
        flash(str(exc), "error")
        return _site_page(site), 400
    return redirect(url_for("accounts.compliance_site", code=site.code))


@bp.route("/compliance/sites/<code>/assessments", methods=["POST"])
@login_required
def compliance_start(code):
    require("compliance.assess")
    site = scope.site_or_404(current_user, code)
    try:
        site_mod.start(site, request.form.get("standard", ""), request.form.get("period", ""), current_user)
    except site_mod.ComplianceError as exc:
        return _back(site, exc)
    return _back(site)


@bp.route("/compliance/assessments/<int:assessment_id>/answer", methods=["POST"])
@login_required
def compliance_answer(assessment_id):
    require("compliance.assess")
    assessment, site = _assessment_or_404(assessment_id)
    try:
        folder = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
        evidence = site_mod.store_evidence(request.files.get("evidence"), folder)
        site_mod.answer(site, assessment, request.form.get("requirement", ""), request.form.get("status", ""),
                        request.form.get("note", ""), evidence, current_user)
    except site_mod.ComplianceError as exc:
        return _back(site, exc)
    return _back(site)


@bp.route("/compliance/assessments/<int:assessment_id>/submit", methods=["POST"])
@login_required
def compliance_submit(assessment_id):
    require("compliance.assess")
    assessment, site = _assessment_or_404(assessment_id)
    try:
        site_mod.submit(site, assessment, current_user)
    except site_mod.ComplianceError as exc:
        return _back(site, exc)
    return _back(site)


@bp.route("/compliance/assessments/<int:assessment_id>/review", methods=["POST"])
@login_required
def compliance_review(assessment_id):
    require("compliance.review")
    assessment, site = _assessment_or_404(assessment_id)
    decisions = {}
    for key, value in request.form.items():
        if key.startswith("verdict_") and value:
            code = key[len("verdict_"):]
            decisions[code] = (value, request.form.get(f"review_note_{code}", ""))
    try:
        site_mod.review(assessment, decisions, request.form.get("note", ""), current_user)
    except site_mod.ComplianceError as exc:
        return _back(site, exc)
    return _back(site)


@bp.route("/compliance/assessments/<int:assessment_id>/files/<sha256>")
@login_required
def compliance_file(assessment_id, sha256):
    require("compliance.read")
    assessment, _site = _assessment_or_404(assessment_id)
    entry = next((a.evidence for a in assessment.answers if a.evidence and a.evidence.get("sha256") == sha256), None)
    if entry is None:
        abort(404)
    path = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads" / f"{sha256}.{entry['type']}"
    if not path.is_file():
        abort(404)
    with transaction():
        audit.record("compliance.file_download", f"site_assessment:{assessment.id}", actor=current_user.username,
                     role=current_user.role, county_code=assessment.county_code, payload={"sha256": sha256})
    name = personal.masked_text(entry.get("name"), "assessment_answer.file_name") or path.name
    response = send_file(path, mimetype=FILE_TYPES[entry["type"]], as_attachment=True, download_name=name,
                         max_age=0, conditional=False, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- staffing --------------------------------------------------------------------

@bp.route("/staffing")
@login_required
def staffing():
    require("staffing.read")
    rows = staffing_mod.report(current_user.county_code, _area())
    return render_template("accounts/staffing.html", rows=rows, columns=staffing_mod.COLUMNS)


@bp.route("/staffing/export.xlsx")
@login_required
def staffing_export():
    require("staffing.read")
    rows = staffing_mod.report(current_user.county_code, _area())
    return xlsx_response("staffing.xlsx", _("Staffing gaps"), [str(h) for _k, h in staffing_mod.COLUMNS],
                         [[r[k] for k, _h in staffing_mod.COLUMNS] for r in rows], "staffing", len(rows))


# --- staff assessment ------------------------------------------------------------

def _assessment_table(period):
    return assessment_mod.assess(current_user.county_code, period,
                                 scope.scoped(current_user, Staff.select(), Staff), _area())


def assessment_columns(result):
    cols = [("rank", _("Rank")), ("name", _("Name")), ("role", _("Role")), ("place", _("Place"))]
    cols += [(c, assessment_mod.indicator_label(c)) for c in result["indicators"]]
    cols += [("score", _("Score")), ("bottom", _("Bottom (survival of the fittest)")), ("note", _("Supervisor's note"))]
    return cols


def assessment_cell(key, value):
    if key == "role":
        return label("role", value)
    if key == "bottom":
        return _("Yes") if value else ""
    return value


@bp.route("/assessment")
@login_required
def assessment():
    require("assessment.read")
    period = _period()
    result = _assessment_table(period)
    return render_template("accounts/assessment.html", result=result, columns=assessment_columns(result),
                           cell=assessment_cell, start=period[0], end=period[1])


@bp.route("/assessment/export.xlsx")
@login_required
def assessment_export():
    require("assessment.read")
    period = _period()
    result = _assessment_table(period)
    cols = assessment_columns(result)
    return xlsx_response("assessment.xlsx", _("Staff assessment"), [h for _k, h in cols],
                         [[assessment_cell(k, r[k]) for k, _h in cols] for r in result["rows"]], "assessment",
                         len(result["rows"]))


def _person(staff_id):
    staff = scope.get_or_404(current_user, Staff, staff_id)
    if not staff.region.startswith(_area()):
        abort(404)
    return staff


@bp.route("/assessment/<int:staff_id>")
@login_required
def assessment_person(staff_id):
    require("assessment.read")
    staff = _person(staff_id)
    period = _period()
    result = _assessment_table(period)
    row = next((r for r in result["rows"] if r["staff_id"] == staff.id), None)
    if row is None:
        abort(404)
    notes = list(AssessmentNote.select().where((AssessmentNote.county_code == staff.county_code)
                                               & (AssessmentNote.staff == staff.id)
                                               & (AssessmentNote.period_start == period[0])
                                               & (AssessmentNote.period_end == period[1]))
                 .order_by(AssessmentNote.id.desc()))
    return render_template("accounts/assessment_person.html", staff=staff, row=row, result=result,
                           ranked=len(result["rows"]), start=period[0], end=period[1], notes=notes,
                           masked=lambda t: personal.masked_text(t, "assessment_note.note"),
                           label_of=assessment_mod.indicator_label)


@bp.route("/assessment/<int:staff_id>/note", methods=["POST"])
@login_required
def assessment_note(staff_id):
    require("assessment.note")
    staff = _person(staff_id)
    try:
        start, end = common.period(request.form.get("from"), request.form.get("to"))
    except common.ReportError as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    text = (request.form.get("note") or "").strip()
    if not text or len(text) > 2000:
        return Response(_("Write a note of at most 2000 characters."), status=400, mimetype="text/plain")
    with transaction():
        note = AssessmentNote.create(county_code=staff.county_code, staff=staff, period_start=start, period_end=end,
                                     note=personal.protect_text(text, "assessment_note.note"), author=current_user.id)
        audit.record("assessment.note", f"staff:{staff.username}", actor=current_user.username,
                     role=current_user.role, county_code=staff.county_code,
                     payload={"note": note.id, "from": start.isoformat(), "to": end.isoformat()})
    return redirect(url_for("accounts.assessment_person", staff_id=staff.id,
                            **{"from": start.isoformat(), "to": end.isoformat()}))


# --- work log --------------------------------------------------------------------

def _worklog_rows():
    today = datetime.date.today()
    try:
        start, end = common.period(request.args.get("from") or (today - datetime.timedelta(days=6)).isoformat(),
                                   request.args.get("to"))
    except common.ReportError as exc:
        abort(Response(str(exc), status=400, mimetype="text/plain"))
    sites = worklog_mod.sites_of(scope.sites_for(current_user))
    if request.args.get("site"):
        sites = [s for s in sites if s.code == request.args["site"]]
    from ..cases.models import Case

    try:
        rows = worklog_mod.rows(sites, start, end, scope.condition(current_user, Case))
    except worklog_mod.WorkLogError as exc:
        abort(Response(str(exc), status=400, mimetype="text/plain"))
    return rows, sites, start, end


@bp.route("/worklog")
@login_required
def worklog():
    require("worklog.read")
    rows, sites, start, end = _worklog_rows()
    return render_template("accounts/worklog.html", rows=rows, columns=worklog_mod.COLUMNS, start=start, end=end,
                           sites=worklog_mod.sites_of(scope.sites_for(current_user)), site=request.args.get("site"),
                           today=datetime.date.today())


@bp.route("/worklog/export.xlsx")
@login_required
def worklog_export():
    require("worklog.read")
    rows, _sites, _start, _end = _worklog_rows()
    return xlsx_response("worklog.xlsx", _("Work log"), [str(h) for _k, h in worklog_mod.COLUMNS],
                         [[r[k] for k, _h in worklog_mod.COLUMNS] for r in rows], "work_log", len(rows))


@bp.route("/worklog/<code>", methods=["POST"])
@login_required
def worklog_write(code):
    require("worklog.write")
    site = scope.site_or_404(current_user, code)
    if site.kind not in worklog_mod.KINDS:
        abort(404)
    try:
        day = common.parse_day(request.form.get("day"), datetime.date.today())
        worklog_mod.write(site, day, request.form.get("on_duty"), request.form.get("problems"),
                          request.form.get("coordination"), current_user)
    except (common.ReportError, worklog_mod.WorkLogError) as exc:
        flash(str(exc), "error")
        return worklog(), 400
    return redirect(url_for("accounts.worklog", site=site.code, **{"from": day.isoformat(), "to": day.isoformat()}))


def menu(request_):
    return menu_links_for([("compliance.read", "accounts.compliance", _l("Site compliance")),
                           ("staffing.read", "accounts.staffing", _l("Staffing")),
                           ("assessment.read", "accounts.assessment", _l("Staff assessment")),
                           ("worklog.read", "accounts.worklog", _l("Work log"))])
