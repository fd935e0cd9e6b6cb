"""The public hall (no account): the site directory, a site's page with its
hours, items and staff board, booking, cancelling, and home-visit requests;
and the staff workbench (``/work``, core.workbench): cases waiting on the
person, due soon, overdue and escalated, today's and tomorrow's appointments,
the open home visits, bad ratings and online requests, all in their scope.

The public blueprint is rate limited per address (``HALL_RATE_LIMIT`` for
every request, ``HALL_POST_RATE_LIMIT`` for the forms); every form carries
a CSRF token; bad input answers 400/404/409 with the reason, never 500."""
from __future__ import annotations

import datetime

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import catalog, registry, scope
from ..cases.models import Case
from ..i18n import localized
from ..models import Region, Site, Staff
from ..permissions import can, require
from . import photos, service
from .models import Appointment, HomeVisit

bp = Blueprint("hall", __name__)
work_bp = Blueprint("work", __name__)


def _site_or_404(code):
    site = Site.get_or_none(Site.code == code)
    if site is None:
        abort(404)
    return site


def special_groups(county_code):
    return [r.content for r in catalog.all_current("special_groups", county=county_code)]


def _kind_label(kind):
    entry = registry.get("site_kinds").get(kind)
    from ..i18n import label

    return str(entry["label"]) if entry else label("site_kind", kind)


@bp.app_template_global()
def site_kind_label(kind):
    return _kind_label(kind)


@bp.app_template_global()
def green_channel_name(code, county_code):
    """The special group's name of a green-channel case (绿色通道), or ""."""
    if not code:
        return ""
    record = catalog.current("special_groups", code, county=county_code)
    return localized(record.content["name"]) if record else code


@bp.app_template_global()
def weekday_label(day):
    """A weekday's name in the page's language, from ``mon`` … or 0–6."""
    from ..i18n import current_language

    index = service.WEEKDAYS.index(day) if isinstance(day, str) else int(day)
    names = current_language().get("weekday_names") or service.WEEKDAYS
    return names[index]


# --- directory and site page ------------------------------------------------------

@bp.route("/sites")
def directory():
    q = (request.args.get("q") or "").strip()
    kind = request.args.get("kind") or ""
    query = Site.select().order_by(Site.county_code, Site.region, Site.code)
    if kind:
        query = query.where(Site.kind == kind)
    sites = list(query)
    regions = {r.code: r for r in Region.select().where(Region.code.in_({s.region[:n] for s in sites for n in (6, 9, 12)}))}

    def place(site):
        return " · ".join(localized(regions[site.region[:n]].name) for n in (6, 9, 12)
                          if n <= len(site.region) and site.region[:n] in regions)

    rows = [{"site": s, "place": place(s)} for s in sites]
    if q:
        needle = q.lower()
        rows = [r for r in rows if needle in (localized(r["site"].name) + " " + r["place"] + " "
                                              + localized((r["site"].profile or {}).get("address") or "")).lower()]
    kinds = {k: str(v["label"]) for k, v in registry.get("site_kinds").items()}
    return render_template("hall/directory.html", rows=rows[:300], total=len(rows), q=q, kind=kind, kinds=kinds)


def board(site):
    """The staff board (挂牌公示): the active staff posted to the site's region."""
    from .. import personal

    out = []
    for staff in Staff.select().where((Staff.region == site.region) & Staff.active
                                      & (Staff.county_code == site.county_code)).order_by(Staff.id):
        from ..permissions import administrator_kind

        if administrator_kind(staff.role, staff.county_code):
            continue  # administrators are not on a counter
        profile = staff.profile or {}
        phone = personal.decrypt(staff.phone_enc, "staff.phone") if staff.phone_enc else ""
        out.append({"staff": staff, "phone": phone, "hours": profile.get("hours"), "posts": profile.get("posts", []),
                    "photo": url_for("hall.staff_photo", staff_id=staff.id, v=profile["photo_file"][:8])
                    if profile.get("photo_file") else None})
    return out


@bp.route("/sites/<code>")
def site_page(code):
    site = _site_or_404(code)
    profile = site.profile or {}
    return render_template("hall/site.html", site=site, profile=profile, items=service.site_items(site),
                           board=board(site), bookable=bool(service.bookable_days(site)))


@bp.route("/staff-photos/<int:staff_id>.jpg")
def staff_photo(staff_id):
    """A board photo: public, because the board is (no other upload is)."""
    staff = Staff.get_or_none((Staff.id == staff_id) & Staff.active)
    name = ((staff.profile or {}).get("photo_file") if staff else None) or ""
    path = photos.path_of(name) if name else None
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=3600)


# --- booking ----------------------------------------------------------------------

def _day_arg(value):
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return None


@bp.route("/sites/<code>/book", methods=["GET", "POST"])
def book(code):
    site = _site_or_404(code)
    days = service.bookable_days(site)
    if not days:
        return render_template("hall/book.html", site=site, days=[], day=None, free=[], items=[], values={},
                               error=_("This site takes no appointments.")), 404
    source = request.form if request.method == "POST" else request.args
    day = _day_arg(source.get("day")) or days[0]
    values = {k: (source.get(k) or "").strip() for k in ("start", "name", "phone", "item")}
    items = service.site_items(site)
    error, status = None, 200
    if request.method == "POST":
        if day not in days:
            error, status = _("Appointments can be booked only on the days listed."), 400
        else:
            try:
                # an agent booking on a citizen's behalf is recorded as the booker
                actor = current_user if can(current_user, "appointment.manage") else None
                appointment = service.book(site, day, values["start"], values["name"], values["phone"],
                                           item_code=values["item"] or None, actor=actor)
            except service.HallError as exc:
                error, status = str(exc), 409 if isinstance(exc, service.SlotTaken) else 400
            else:
                return redirect(url_for("hall.appointment", token=appointment.cancel_token))
    if day not in days:
        day = days[0]
    return render_template("hall/book.html", site=site, days=days, day=day, free=service.free_slots(site, day),
                           items=items, values=values, error=error), status


@bp.route("/appointments/<token>", methods=["GET", "POST"])
def appointment(token):
    """The citizen's own appointment (the link is its secret); a POST cancels it."""
    found = Appointment.get_or_none(Appointment.cancel_token == token) if 16 <= len(token) <= 32 else None
    if found is None:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            found = service.set_state(found, "cancel")
        except service.HallError as exc:
            error = str(exc)
    site = Site.get_or_none(Site.code == found.site_code)
    item = catalog.current("items", found.item_code, county=found.county_code) if found.item_code else None
    return render_template("hall/appointment.html", appointment=found, site=site, item=item.content if item else None,
                           name=_mask(found.name()), error=error), 409 if error else 200


def _mask(name):
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


# --- home visits ------------------------------------------------------------------

def _villages():
    """(code, "township · village [· group]") of every village and group."""
    regions = list(Region.select().where(Region.level.in_(["township", "village", "group"])).order_by(Region.code))
    names = {r.code: localized(r.name) for r in regions}
    return [(r.code, " · ".join(names[r.code[:n]] for n in (9, 12, 15) if n <= len(r.code) and r.code[:n] in names))
            for r in regions if r.level in ("village", "group")]


@bp.route("/home-visit", methods=["GET", "POST"])
def home_visit():
    values = {k: (request.form.get(k) or request.args.get(k) or "").strip()
              for k in ("region", "name", "phone", "address", "reason", "special_group")}
    error, status = None, 200
    if request.method == "POST":
        try:
            visit = service.request_visit(values["region"], values["name"], values["phone"], values["address"],
                                          values["reason"], values["special_group"] or None)
        except service.HallError as exc:
            error, status = str(exc), 400
        else:
            return render_template("hall/home_visit_done.html", visit=visit,
                                   region=Region.get_by_id(visit.region_code)), 201
    county = values["region"][:6] if values["region"] else None
    return render_template("hall/home_visit.html", villages=_villages(), values=values, error=error,
                           groups=special_groups(county)), status


# --- the staff work list ----------------------------------------------------------

@work_bp.route("/work")
@login_required
def work_list():
    return _work_page()


def _reveal(record, kind):
    """The audited reveal of one person's phone on the work list, so the
    agent can call them; the page is answered at once and not cached."""
    from .. import audit
    from ..db import transaction

    require("personal_data.reveal", record)
    with transaction():
        audit.record("personal_data.reveal", f"{kind}:{record.id}", actor=current_user.username,
                     role=current_user.role, county_code=record.county_code, payload={"view": "work", "field": "phone"})
    response = _work_page({(kind, record.id): record.phone()})
    response.headers["Cache-Control"] = "no-store"
    return response


def _work_page(revealed=None):
    """The workbench (core.workbench): every block the person may see."""
    from flask import make_response

    from .. import workbench
    from ..workbench import may_use

    if not may_use(current_user):
        require("case.read")  # refused: nothing on a workbench for this person
    today = service.now().date()
    blocks = workbench.blocks(current_user, today)
    sites = {s.code: s for s in Site.select().where(Site.county_code == current_user.county_code)}
    staff = {s.id: s for s in Staff.select().where(Staff.county_code == current_user.county_code)}
    groups = {g["code"]: g for g in special_groups(current_user.county_code)}
    items = {r.key: r.content for r in catalog.all_current("items", county=current_user.county_code)}
    return make_response(render_template(
        "hall/work.html", blocks=blocks, sites=sites, staff=staff, today=today, items=items,
        groups=groups, revealed=revealed or {}, may_reveal=can(current_user, "personal_data.reveal")))


@work_bp.route("/work/appointments/<int:appointment_id>", methods=["POST"])
@login_required
def appointment_action(appointment_id):
    require("appointment.manage")
    found = scope.get_or_404(current_user, Appointment, appointment_id)
    require("appointment.manage", found)
    action = request.form.get("action") or ""
    if action == "reveal":
        return _reveal(found, "appointment")
    if action not in service.TRANSITIONS:
        abort(400)
    try:
        service.set_state(found, action, actor=current_user)
    except service.HallError as exc:
        from flask import flash

        flash(str(exc), "error")
    return redirect(url_for("work.work_list"))


@work_bp.route("/work/home-visits/<int:visit_id>", methods=["POST"])
@login_required
def home_visit_action(visit_id):
    from flask import flash

    require("home_visit.handle")
    visit = scope.get_or_404(current_user, HomeVisit, visit_id)
    require("home_visit.handle", visit)
    action = request.form.get("action") or ""
    if action == "reveal":
        return _reveal(visit, "home_visit")
    try:
        if action == "schedule":
            day = _day_arg(request.form.get("visit_day"))
            if day is None:
                raise service.HallError(_("Choose the visit date."))
            service.record_visit(visit, current_user, visit_day=day)
        elif action == "case":
            number = (request.form.get("case_number") or "").strip()
            case = scope.cases_for(current_user).where(Case.number == number).first() if number else None
            if case is None:
                raise service.HallError(_("No case in your scope has this receipt number."))
            service.record_visit(visit, current_user, case=case)
        elif action in ("consult", "cancel"):
            service.record_visit(visit, current_user, note=request.form.get("note") or "", cancel=action == "cancel")
        else:
            abort(400)
    except service.HallError as exc:
        flash(str(exc), "error")
    return redirect(url_for("work.work_list"))
