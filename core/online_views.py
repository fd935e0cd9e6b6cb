"""Pages of online requests: the citizen's form (no account; the phone
verified by a one-time code) and the agents' list, call-back and filing."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from . import catalog, online, personal, scope
from .cases import service
from .cases import workflow as wf
from .db import transaction
from .forms.validators import SNIFF_BYTES, clean_text, sniff_file_type, valid_mobile
from .i18n import localized
from .models import Region
from .permissions import require

bp = Blueprint("online", __name__)
MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = ("jpeg", "png", "pdf")


def _ip():
    return (request.remote_addr or "")[:64]


def _choices(county):
    items = [r.content for r in catalog.all_current("items", county=county)]
    items = [i for i in items if "village" in i.get("levels", []) or not i.get("levels")]
    villages = list(Region.select().where((Region.county_code == county) & (Region.level == "village"))
                    .order_by(Region.code))
    return items, villages


def _photos():
    """The uploaded photos, checked by content; ``(photos, error)``."""
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    if len(files) > MAX_PHOTOS:
        return None, _("At most %(n)d photos.", n=MAX_PHOTOS)
    photos = {}
    for i, upload in enumerate(files):
        content = upload.stream.read()
        kind = sniff_file_type(content[:SNIFF_BYTES])
        if kind not in PHOTO_TYPES or not content:
            return None, _("Only photos (JPEG, PNG) or PDF files are accepted.")
        if len(content) > MAX_PHOTO_BYTES:
            return None, _("A photo is larger than %(mb)s MB.", mb=MAX_PHOTO_BYTES // 2**20)
        upload.stream.seek(0)
        photos[f"photo_{i}"] = {"file": upload, "type": kind}
    uploads = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
    stored = service.store_uploads(photos, uploads)
    return [stored[k] for k in sorted(stored)], None


@bp.route("/apply/<county>", methods=["GET", "POST"])
def apply(county):
    """掌上申请: no account needed."""
    if not Region.select().where((Region.code == county) & (Region.level == "county")).exists():
        abort(404)
    items, villages = _choices(county)
    values = {k: clean_text(v) for k, v in request.form.items() if k != "csrf_token"}
    errors, notice, status = {}, None, 200
    if request.method == "POST":
        phone = values.get("phone", "")
        if not valid_mobile(phone):
            errors["phone"] = _("Enter an 11-digit mobile number.")
        try:
            if request.form.get("action") == "send_code":
                if not errors:
                    online.send_code(county, phone, _ip())
                    notice = _("A code was sent to your phone. Enter it below.")
            else:
                name, note = values.get("name", ""), values.get("note", "")
                if not name or len(name) > 40:
                    errors["name"] = _("Enter your name.")
                if values.get("item") not in {i["code"] for i in items}:
                    errors["item"] = _("Choose what you need done.")
                if values.get("village") not in {v.code for v in villages}:
                    errors["village"] = _("Choose your village.")
                if len(note) > 500:
                    errors["note"] = _("At most 500 characters.")
                photos, photo_error = _photos() if not errors else ([], None)
                if photo_error:
                    errors["photos"] = photo_error
                if not errors:
                    row = online.create(county, name=name, phone=phone, item_code=values["item"],
                                        village_code=values["village"], note=note, photos=photos,
                                        code=values.get("code", ""), ip=_ip())
                    return render_template("online/received.html", row=row), 201
        except online.Refused as exc:
            errors["code" if exc.status == 400 else "_form"] = str(exc)
            status = exc.status
        if errors and status == 200:
            status = 400
    return render_template("online/apply.html", county=county, items=items, villages=villages, values=values,
                           errors=errors, notice=notice), status


def _scoped():
    return scope.scoped(current_user, online.OnlineRequest.select(), online.OnlineRequest)


@bp.route("/requests")
@login_required
def list_requests():
    require("online_request.handle")
    rows = list(_scoped().order_by(online.OnlineRequest.id.desc()).limit(200))
    items = {r.key: r.content for r in catalog.all_current("items", county=current_user.county_code)}
    villages = {r.code: localized(r.name) for r in scope.scoped(current_user, Region.select(), Region)}
    return render_template("online/list.html", rows=rows, items=items, villages=villages)


def _request_or_404(request_id):
    require("online_request.handle")
    return scope.get_or_404(current_user, online.OnlineRequest, request_id)


@bp.route("/requests/<int:request_id>/called", methods=["POST"])
@login_required
def called(request_id):
    row = _request_or_404(request_id)
    online.mark_called(row, current_user)
    return redirect(url_for("online.list_requests"))


@bp.route("/requests/<int:request_id>/file", methods=["GET", "POST"])
@login_required
def file_case(request_id):
    """Take the commission: the item's form, filled from the request."""
    from .cases.views import _lang, compiled_form, current_item
    from .forms import validate_form

    row = _request_or_404(request_id)
    require("case.create")
    if row.state == "filed":
        flash(_("A case has already been filed from this request."), "error")
        return redirect(url_for("online.list_requests"))
    record = current_item(row.item_code, current_user)
    if record is None:
        abort(404)
    spec, schema, divisions, form_key = compiled_form(record, current_user, _lang())
    values = {"applicant_name": row.name, "applicant_phone": row.phone(), "applicant_division": row.village_code}
    errors = {}
    if request.method == "POST":
        values = {k: v if len(v) > 1 else v[0] for k, v in request.form.to_dict(flat=False).items()}
        data, errors = validate_form(spec, request.form, request.files, schema=schema)
        if not errors:
            try:
                uploads = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
                with transaction():
                    case = service.create_case(record, service.store_uploads(data, uploads), current_user)
                    online.mark_filed(row, case, current_user)
            except wf.TransitionError as exc:
                errors = {"_form": [str(exc)]}
            else:
                return redirect(url_for("cases.receipt", case_id=case.id))
    return render_template("cases/form.html", spec=spec, item=record.content, version=record.version,
                           values=values, errors=errors, divisions=divisions, form_key=form_key), 400 if errors else 200


def shown_note(row):
    return personal.masked_text(row.note, "online_request.note")


bp.add_app_template_filter(shown_note, "online_note")
