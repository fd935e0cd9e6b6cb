"""Pages of 好差评: the citizen's rating page (by the case's tracking
token, no account), staff's paper entry, the ratings and their handling,
the invitation list, the 评价表 ledger (A4, Excel) and the export in the
好差评 system's terms (Excel, JSON). Every list goes through scope: ratings
are seen through the cases a person may read."""
from __future__ import annotations

import datetime
import io

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from .. import audit, catalog, personal, scope, sharding
from ..cases.models import Case
from ..cases.track import TOKEN, mask_name
from ..db import transaction
from ..hardening import BadInput
from ..i18n import label, localized
from ..models import Staff
from ..permissions import can, require
from . import service
from .models import Rating, Rectification

public = Blueprint("rate", __name__)
bp = Blueprint("ratings", __name__)


def _form_rating(case, channel, actor=None):
    form = request.form
    service.record(case, form.get("stage", ""), form.get("level"), channel=channel,
                   rater=form.get("rater", ""), comment=form.get("comment"), actor=actor)


# --- the citizen --------------------------------------------------------------------

@public.route("/track/t/<token>/rate", methods=["GET", "POST"])
def rate(token):
    """The citizen rates from the receipt's QR code (``?via=track``: from
    the tracking page); one rating per stage, changeable until handled."""
    case = Case.get_or_none(Case.track_token == token) if TOKEN.fullmatch(token) else None
    if case is None:
        return render_template("track.html", case=None, number="",
                               error=_("This tracking link is not valid. Use the receipt number instead.")), 404
    channel = "track" if request.values.get("via") == "track" else "qr"
    status, error, done = 200, None, False
    if request.method == "POST":
        try:
            _form_rating(case, channel)
            done = True
        except service.RatingError as exc:
            status, error = 400, str(exc)
        case = Case.get((Case.id == case.id) & (Case.county_code == case.county_code))
    ratings = {r.stage: r for r in Rating.select().where(sharding.of(Rating.case, case))}
    return render_template("ratings/rate.html", case=case, item=case.item_record.content, token=token,
                           applicant=mask_name(case.applicant_name), stages=service.open_stages(case),
                           ratings=ratings, channel=channel, error=error, done=done,
                           levels=service.LEVELS), status


# --- staff: entering a paper form ----------------------------------------------------

def _case(case_id, permission):
    """A case the person may read (404 otherwise), and the permission (403)."""
    if not can(current_user, "case.read"):
        abort(404)
    require(permission)
    return scope.case_or_404(current_user, case_id)


@bp.route("/cases/<int:case_id>/rating", methods=["GET", "POST"])
@login_required
def paper(case_id):
    """Staff enter the applicant's paper rating form (channel ``paper``)."""
    case = _case(case_id, "rating.record")
    status, error = 200, None
    if request.method == "POST":
        try:
            _form_rating(case, "paper", current_user)
            flash(_("The rating is recorded."), "ok")
            return redirect(url_for("ratings.paper", case_id=case.id))
        except service.RatingError as exc:
            status, error = 400, str(exc)
    ratings = {r.stage: r for r in Rating.select().where(sharding.of(Rating.case, case))}
    return render_template("ratings/paper.html", case=case, item=case.item_record.content, error=error,
                           stages=service.open_stages(case), ratings=ratings, levels=service.LEVELS), status


# --- staff: lists ------------------------------------------------------------------------

def _scoped_ratings(query=None):
    """Ratings of the cases the person may read."""
    query = query if query is not None else Rating.select()
    return query.where((Rating.county_code == current_user.county_code)
                       & Rating.case.in_(scope.cases_for(current_user, Case.select(Case.id))))


def _rect_or_404(rect_id, permission):
    if not can(current_user, "case.read"):
        abort(404)
    require(permission)
    rect = (Rectification.select().where((Rectification.id == rect_id)
                                         & (Rectification.county_code == current_user.county_code)
                                         & Rectification.case.in_(
        scope.cases_for(current_user, Case.select(Case.id)))).first())
    if rect is None:
        abort(404)
    return rect


@bp.route("/ratings")
@login_required
def index():
    """Ratings in scope, newest first; ``?state=`` narrows to 差评 whose
    handling is in that state (``open``: not closed; ``escalated``: overdue
    and escalated)."""
    require("rating.read")
    state = request.args.get("state", "")
    if state and state not in (*service.STATES, "open", "escalated"):
        raise BadInput(_("Unknown state."))
    query = _scoped_ratings(Rating.select(Rating, Case).join(Case, on=sharding.join_on(Rating.case)))
    if state:
        rects = Rectification.select(Rectification.rating).where(Rectification.county_code == current_user.county_code)
        if state == "open":
            rects = rects.where(Rectification.state != "closed")
        elif state == "escalated":  # overdue, escalated by the SLA scan, not rectified yet
            rects = rects.where(Rectification.escalated_at.is_null(False) & (Rectification.state == "rectify"))
        else:
            rects = rects.where(Rectification.state == state)
        query = query.where(Rating.id.in_(rects))
    ratings = list(query.order_by(Rating.updated_at.desc(), Rating.id.desc()).limit(500))
    rects = {r.rating_id: r for r in Rectification.select().where(
        (Rectification.county_code == current_user.county_code) & Rectification.rating.in_([r.id for r in ratings]))}
    return render_template("ratings/index.html", ratings=ratings, rects=rects, state=state, today=service.today(),
                           states=service.STATES)


@bp.route("/ratings/rectifications/<int:rectification_id>")
@login_required
def rectification(rectification_id):
    rect = _rect_or_404(rectification_id, "rating.read")
    names = {s.id: s.name for s in Staff.select(Staff.id, Staff.name).where(Staff.id.in_(
        [i for i in (rect.assignee_id, rect.rectified_by_id, rect.callback_by_id) if i]))}
    return render_template("ratings/rectification.html", rect=rect, rating=rect.rating, case=rect.case,
                           item=rect.case.item_record.content, names=names, today=service.today(),
                           ways=service.WAYS, levels=service.LEVELS,
                           comment=personal.masked_text(rect.rating.comment or "", "rating.comment"),
                           text=lambda t: personal.masked_text(t or "", "rectification.note"))


def _step(rectification_id, permission, run):
    rect = _rect_or_404(rectification_id, permission)
    try:
        run(rect)
        flash(_("Saved."), "ok")
    except service.RatingError as exc:
        raise BadInput(str(exc)) from None
    return redirect(url_for("ratings.rectification", rectification_id=rect.id))


@bp.route("/ratings/rectifications/<int:rectification_id>/verify", methods=["POST"])
@login_required
def verify(rectification_id):
    return _step(rectification_id, "rectification.manage", lambda rect: service.verify(
        rect, current_user, request.form.get("outcome", ""), request.form.get("note")))


@bp.route("/ratings/rectifications/<int:rectification_id>/rectify", methods=["POST"])
@login_required
def rectify(rectification_id):
    return _step(rectification_id, "rectification.manage", lambda rect: service.rectify(
        rect, current_user, request.form.get("note")))


@bp.route("/ratings/rectifications/<int:rectification_id>/appeal", methods=["POST"])
@login_required
def decide_appeal(rectification_id):
    return _step(rectification_id, "rectification.appeal_decide", lambda rect: service.decide_appeal(
        rect, current_user, request.form.get("outcome", ""), request.form.get("reason")))


@bp.route("/ratings/rectifications/<int:rectification_id>/callback", methods=["POST"])
@login_required
def callback(rectification_id):
    return _step(rectification_id, "rectification.manage", lambda rect: service.callback(
        rect, current_user, request.form.get("on", ""), request.form.get("way", ""), request.form.get("level")))


@bp.route("/ratings/invitations")
@login_required
def invitations():
    """Finished cases still unrated after the region's delay: to invite."""
    require("rating.read")
    county = current_user.county_code
    cases = list(service.invitations(scope.cases_for(current_user), county).limit(500))
    return render_template("ratings/invitations.html", cases=cases, days=service.invite_after_days(county),
                           today=service.today())


# --- the 评价表 ledger and the export ------------------------------------------------------

def _period():
    """``?from=&to=`` (ISO dates, both optional) on the rating's time."""
    out = []
    for key in ("from", "to"):
        value = request.args.get(key, "")
        try:
            out.append(datetime.date.fromisoformat(value) if value else None)
        except ValueError:
            raise BadInput(_("Dates are written YYYY-MM-DD."))
    return out


def _rows():
    start, end = _period()
    query = _scoped_ratings(Rating.select(Rating, Case).join(Case, on=sharding.join_on(Rating.case)))
    if start:
        query = query.where(Rating.created_at >= datetime.datetime.combine(start, datetime.time.min))
    if end:
        query = query.where(Rating.created_at < datetime.datetime.combine(end + datetime.timedelta(days=1),
                                                                           datetime.time.min))
    ratings = list(query.order_by(Rating.created_at, Rating.id))
    rects = {r.rating_id: r for r in Rectification.select().where(
        (Rectification.county_code == current_user.county_code) & Rectification.rating.in_([r.id for r in ratings]))}
    return [(r, rects.get(r.id)) for r in ratings]


def system_row(rating, rect):
    """One rating in the 好差评 system's terms (codes, not labels)."""
    case = rating.case
    return {
        "case_number": case.number, "item_code": case.item_code,
        "site": case.site_code or case.village_code or case.township_code,
        "level": rating.level, "bad": rating.level in service.BAD, "stage": rating.stage,
        "channel": rating.channel, "rated_at": rating.updated_at.isoformat(timespec="seconds"),
        "rater": rating.rater,
        "rectification": rect.state if rect else None,
        "rectification_due": rect.due_day.isoformat() if rect and rect.due_day else None,
        "rectified_on": rect.rectified_on.isoformat() if rect and rect.rectified_on else None,
        "appeal": rect.appeal_outcome if rect else None,
        "callback_on": rect.callback_on.isoformat() if rect and rect.callback_on else None,
        "callback_way": rect.callback_way if rect else None,
        "callback_level": rect.callback_level if rect else None,
    }


#: the 评价表's columns (key, header msgid), the same on paper and in Excel
LEDGER = [("no", _l("No.")), ("date", _l("Date")), ("case_number", _l("Receipt number")), ("item", _l("Item")),
          ("applicant", _l("Applicant")), ("stage", _l("Stage")), ("level", _l("Rating")),
          ("channel", _l("Channel")), ("rater", _l("Rater")), ("comment", _l("Comment")),
          ("rectification", _l("Rectification")), ("rectified_on", _l("Rectified on")), ("callback", _l("Callback"))]


def ledger_row(n, rating, rect):
    case = rating.case
    item = catalog.current("items", case.item_code, county=case.county_code)
    callback_text = ""
    if rect and rect.callback_on:
        callback_text = f"{rect.callback_on.isoformat()} {label('callback_way', rect.callback_way)} " \
                        f"{label('rating_level', rect.callback_level)}"
    state = ""
    if rect:
        state = label("rectification_state", rect.state)
        if rect.appeal_outcome:
            state += f" ({label('appeal_outcome', rect.appeal_outcome)})"
    return {"no": n, "date": rating.updated_at.date().isoformat(), "case_number": case.number,
            "item": localized(item.content["name"]) if item else case.item_code,
            "applicant": mask_name(case.applicant_name) if rating.rater == "real_name" else label("rater", "anonymous"),
            "stage": label("rating_stage", rating.stage), "level": label("rating_level", rating.level),
            "channel": label("rating_channel", rating.channel), "rater": label("rater", rating.rater),
            "comment": personal.masked_text(rating.comment or "", "rating.comment"), "rectification": state,
            "rectified_on": rect.rectified_on.isoformat() if rect and rect.rectified_on else "",
            "callback": callback_text}


def _audit_export(what, fmt, count):
    with transaction():
        audit.record(what, "ratings", actor=current_user.username, role=current_user.role,
                     county_code=current_user.county_code, payload={"format": fmt, "rows": count})


def _xlsx(title, header, rows, filename):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    data = io.BytesIO()
    book.save(data)
    return Response(data.getvalue(), headers={"Content-Disposition": f"attachment; filename={filename}"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/ratings/ledger")
@login_required
def ledger():
    """评价表, printable on A4."""
    require("rating.read")
    rows = [ledger_row(n, r, x) for n, (r, x) in enumerate(_rows(), 1)]
    start, end = _period()
    return render_template("ratings/ledger.html", rows=rows, columns=LEDGER, start=start, end=end)


@bp.route("/ratings/ledger.xlsx")
@login_required
def ledger_xlsx():
    require("rating.export")
    rows = [ledger_row(n, r, x) for n, (r, x) in enumerate(_rows(), 1)]
    _audit_export("rating.ledger_export", "xlsx", len(rows))
    return _xlsx(_("Rating ledger"), [str(h) for _k, h in LEDGER], [[r[k] for k, _h in LEDGER] for r in rows],
                 "rating-ledger.xlsx")


SYSTEM_FIELDS = ["case_number", "item_code", "site", "level", "bad", "stage", "channel", "rated_at", "rater",
                 "rectification", "rectification_due", "rectified_on", "appeal", "callback_on", "callback_way",
                 "callback_level"]


@bp.route("/ratings/export.json")
@login_required
def export_json():
    """The ratings in the 好差评 system's terms (codes), scoped."""
    require("rating.export")
    rows = [system_row(r, x) for r, x in _rows()]
    _audit_export("rating.export", "json", len(rows))
    return jsonify(rows)


@bp.route("/ratings/export.xlsx")
@login_required
def export_xlsx():
    require("rating.export")
    rows = [system_row(r, x) for r, x in _rows()]
    _audit_export("rating.export", "xlsx", len(rows))
    return _xlsx("ratings", SYSTEM_FIELDS, [[r[k] for k in SYSTEM_FIELDS] for r in rows], "ratings.xlsx")
