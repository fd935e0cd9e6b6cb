"""Back-office views over tables: staff accounts, the holiday calendar and
the audit log. Cases, the ledger and the audit log can never be deleted
here, and nothing cascades into them (foreign keys are RESTRICT)."""
from __future__ import annotations

import datetime

from markupsafe import Markup

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee import ModelView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import fields as wtf
from wtforms import validators

from .. import audit, catalog, scope, workdays
from ..db import transaction
from ..i18n import form_translations, label, localized
from ..models import AuditEntry, Holiday, Region, Staff
from ..permissions import administrator_kind, can
from ..personal import masked_payload


class AdminForm(FlaskForm):
    """Flask-WTF's form (CSRF) with WTForms' messages in the user's language."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return form_translations


def refused_is_400(response):
    """Flask-Admin answers a refused save with the form again and 200: a
    POST that did not redirect was refused, so answer 400."""
    if request.method == "POST" and isinstance(response, str):
        return response, 400
    return response


class SecureModelView(ModelView):
    """Permission from role metadata; CSRF through Flask-WTF; every change
    audited inside its own transaction; scoped to the user's county. A
    refused save answers 400 (with the form and its messages)."""

    permission = ""
    form_base_class = AdminForm

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return refused_is_400(super().create_view())

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return refused_is_400(super().edit_view())
    can_delete = False
    page_size = 50

    def is_accessible(self):
        return can(current_user, self.permission)

    def scoped(self, query):
        return scope.scoped(current_user, query, self.model)

    def get_query(self):
        return self.scoped(super().get_query())

    def get_count_query(self):
        return self.scoped(super().get_count_query())

    def get_one(self, id):
        """Detail, edit and actions load through the scope too (404 outside)."""
        return self.scoped(self.model.select()).where(self.model._meta.primary_key == id).first()

    def on_model_change(self, form, model, is_created):
        if hasattr(model, "county_code") and not model.county_code:
            model.county_code = current_user.county_code

    def handle_view_exception(self, exc):
        """A refusal (403/404) is answered as such, never as a flash on a 200."""
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            raise exc
        return super().handle_view_exception(exc)

    def after_model_change(self, form, model, is_created):
        with transaction():
            audit.record(f"admin.{self.model._meta.table_name}.{'create' if is_created else 'update'}",
                         f"{self.model._meta.table_name}:{model._pk}", actor=current_user.username,
                         role=current_user.role, county_code=current_user.county_code,
                         payload={k: str(v) for k, v in (form.data or {}).items()
                                  if k not in ("csrf_token", "password", "password_hash", "totp_secret")})


def role_choices():
    """The roles the current user may grant (see :func:`may_grant`)."""
    return [(r.key, localized(r.content["name"])) for r in catalog.all_current("roles", county=current_user.county_code)
            if may_grant(current_user, r.key)]


def may_grant(actor, role) -> bool:
    """三员分立: administrator roles are granted (or taken away) only by a
    holder of ``permission.manage`` (the security administrator); other
    roles by whoever manages staff or accounts."""
    if administrator_kind(role, actor.county_code):
        return can(actor, "permission.manage")
    return can(actor, "staff.manage") or can(actor, "account.manage") or can(actor, "permission.manage")


def may_edit(actor, staff) -> bool:
    """An administrator's account is kept by the account or permission
    managers, not by a county administrator who manages case-work staff."""
    if administrator_kind(staff.role, staff.county_code):
        return can(actor, "account.manage") or can(actor, "permission.manage")
    return can(actor, "staff.manage") or can(actor, "account.manage") or can(actor, "permission.manage")


def department_choices():
    return [("", "—")] + [(r.key, localized(r.content["name"]))
                          for r in catalog.all_current("departments", county=current_user.county_code)]


def region_choices():
    regions = scope.scoped(current_user, Region.select(), Region).order_by(Region.code)
    return [(r.code, f"{r.code} {localized(r.name)}") for r in regions]


class StaffForm(AdminForm):
    username = wtf.StringField(_l("Username"), [validators.DataRequired(), validators.Regexp(r"^[a-z][a-z0-9_.\-]{2,}$")])
    name = wtf.StringField(_l("Name"), [validators.DataRequired()])
    role = wtf.SelectField(_l("Role"), [validators.DataRequired()])
    region = wtf.SelectField(_l("Region"), [validators.DataRequired()])
    department = wtf.SelectField(_l("Department"))
    active = wtf.BooleanField(_l("Active"), default=True)
    covers = wtf.SelectField(_l("B post: covers the window of"), coerce=lambda v: int(v) if v else None,
                             validate_choice=False)  # checked in on_model_change (same county)
    password = wtf.PasswordField(_l("New password (leave empty to keep)"))
    photo = wtf.FileField(_l("Photo for the staff board (JPEG, PNG or WebP; scaled, metadata removed)"))

    def populate_obj(self, obj):
        photo = self._fields.pop("photo", None)  # not a column: stored by StaffView._store_photo
        try:
            super().populate_obj(obj)
        finally:
            if photo is not None:
                self._fields["photo"] = photo


class StaffView(SecureModelView):
    permission = "staff.manage"
    column_list = ("username", "name", "role", "region", "department", "covers", "active")
    column_searchable_list = ("username", "name")

    def search_placeholder(self):
        return str(_l("Username or name"))
    column_filters = ("role", "active")
    column_labels = {"username": _l("Username"), "name": _l("Name"), "role": _l("Role"), "region": _l("Region"),
                     "department": _l("Department"), "active": _l("Active"), "covers": _l("B post for")}
    column_formatters = {
        "role": lambda v, c, m, n: localized((catalog.current("roles", m.role, county=m.county_code) or _Empty).content.get("name", m.role)),
        "region": lambda v, c, m, n: _region_name(m.region),
        "department": lambda v, c, m, n: localized((catalog.current("departments", m.department, county=m.county_code) or _Empty)
                                                   .content.get("name", m.department or "")),
        "covers": lambda v, c, m, n: m.covers.name if m.covers_id else "",
    }
    form = StaffForm

    def is_accessible(self):
        return (can(current_user, "staff.manage") or can(current_user, "account.manage")
                or can(current_user, "permission.manage"))

    @property
    def can_create(self):
        return can(current_user, "staff.manage") or can(current_user, "account.manage")

    def create_form(self, obj=None):
        return self._choices(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self._choices(super().edit_form(obj))
        if obj is not None and obj.role not in dict(form.role.choices):
            form.role.choices = [*form.role.choices, (obj.role, localized(
                (catalog.current("roles", obj.role, county=obj.county_code) or _Empty).content.get("name", obj.role)))]
        if request.method == "GET":
            form.password.data = ""  # never shown; a POST keeps what was typed
        return form

    def _choices(self, form):
        # the page offers what the user may grant; a POST of any other role
        # reaches the grant check and is refused there (403, audited)
        form.role.choices = role_choices() if request.method == "GET" else [
            (r.key, r.key) for r in catalog.all_current("roles", county=current_user.county_code)]
        form.region.choices = region_choices()
        form.department.choices = department_choices()
        form.covers.choices = [("", "—")] + [(s.id, f"{s.name} · {s.username}") for s in Staff.select().where(
            (Staff.county_code == current_user.county_code) & Staff.active).order_by(Staff.username)]
        return form

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        from ..auth import hash_password

        self._check_grant(model, is_created)
        model.department = model.department or None
        if model.covers_id and (model.covers_id == model.id or Staff.get_or_none(
                (Staff.id == model.covers_id) & (Staff.county_code == current_user.county_code)) is None):
            raise ValueError(_("A B post covers another staff member of this county."))
        self._store_photo(form, model)
        if form.password.data:
            from .. import passwords
            from ..passwords import MUST_CHANGE

            problems = passwords.check_policy(form.password.data, current_app.config["BANGBAN"]["PASSWORD_PROFILE"],
                                              username=model.username)
            if problems:
                raise ValueError(" ".join(str(p) for p in problems))
            model.password_hash = hash_password(form.password.data)
            # set by an administrator: the staff member chooses their own at the next sign-in
            model.password_changed_at = MUST_CHANGE
        elif is_created:
            raise ValueError(_("A new account needs a password."))

    def _store_photo(self, form, model):
        """A photo uploaded for the public staff board (挂牌公示): decoded,
        scaled and re-encoded without metadata (core.hall.photos)."""
        upload = getattr(form, "photo", None) and form.photo.data
        if not upload or not getattr(upload, "filename", ""):
            return
        from ..hall import photos

        try:
            name = photos.store(upload.read())
        except photos.PhotoError as exc:
            raise ValueError(str(exc)) from None
        model.profile = {**(model.profile or {}), "photo_file": name}

    def _check_grant(self, model, is_created):
        """Refuse (403) what 三员分立 forbids; remember the old role for the audit."""
        old = None if is_created else Staff.get_by_id(model.id)
        g._bangban_old_role = old.role if old else None
        if old is not None and not may_edit(current_user, old):
            abort(403)
        if old is not None and old.id == current_user.id and (model.role != old.role or not model.active):
            abort(403)  # nobody changes their own role or disables themselves
        if (is_created or model.role != old.role) and not (may_grant(current_user, model.role)
                                                          and (old is None or may_grant(current_user, old.role))):
            abort(403)
        if is_created and not self.can_create:
            abort(403)

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        old = g.pop("_bangban_old_role", None)
        if is_created or old != model.role:
            with transaction():
                audit.record("staff.role_grant", f"staff:{model.username}", actor=current_user.username,
                             role=current_user.role, county_code=model.county_code,
                             payload={"from": old, "to": model.role, "created": is_created,
                                      "administrator": administrator_kind(model.role, model.county_code)})

    @expose("/one-time", methods=["GET", "POST"])
    def one_time_view(self):
        """Open an account with a one-time password (a county's first
        administrator, for example): only roles the user may grant."""
        from ..accounts import AccountError, create_account

        roles = role_choices()
        if not (self.can_create or can(current_user, "permission.manage")) or not roles:
            abort(403)
        created, error, form = None, None, request.form if request.method == "POST" else {}
        if request.method == "POST":
            role = form.get("role", "")
            if role not in dict(roles):
                abort(403)
            try:
                password = create_account(current_user.county_code, form.get("username", "").strip(),
                                          form.get("name", "").strip(), role, form.get("region") or None,
                                          actor=current_user.username, actor_role=current_user.role)
            except AccountError as exc:
                error = str(exc)
            else:
                created = {"username": form["username"].strip(), "password": password}
        response = current_app.make_response((self.render(
            "admin/bangban/one_time_account.html", roles=roles, regions=region_choices(), created=created,
            error=error, form=form), 400 if error else 200))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _targets(self, ids):
        """The selected accounts the user may act on (never themselves)."""
        wanted = [int(i) for i in ids if str(i).isdigit()]
        return [s for s in self.scoped(Staff.select()).where(Staff.id.in_(wanted))
                if s.id != current_user.id and may_edit(current_user, s)]

    @action("reset_second_factor", _l("Reset the second factor"),
            _l("The selected administrators will enrol a new authenticator at their next sign-in. Continue?"))
    def action_reset_second_factor(self, ids):
        if not can(current_user, "security.manage"):
            abort(403)
        targets = [s.id for s in self.scoped(Staff.select()).where(Staff.id.in_([int(i) for i in ids if str(i).isdigit()]))
                   if s.id != current_user.id]
        with transaction():
            count = Staff.update(totp_secret=None, totp_last_step=None).where(Staff.id.in_(targets)).execute() \
                if targets else 0
            audit.record("admin.staff.reset_second_factor", "staff", actor=current_user.username,
                         role=current_user.role, county_code=current_user.county_code,
                         payload={"ids": sorted(targets)})
        flash(_("%(n)d second factor(s) reset.", n=count), "success")

    @action("deactivate", _l("Deactivate"), _l("Deactivate the selected accounts?"))
    def action_deactivate(self, ids):
        targets = [s.id for s in self._targets(ids)]
        with transaction():
            count = Staff.update(active=False).where(Staff.id.in_(targets)).execute() if targets else 0
            audit.record("admin.staff.deactivate", "staff", actor=current_user.username, role=current_user.role,
                         county_code=current_user.county_code, payload={"ids": sorted(targets)})
        flash(_("%(n)d account(s) deactivated. Hand their cases over from the handover page.", n=count), "success")


class _Empty:
    content = {}


def _region_name(code):
    region = Region.get_or_none(Region.code == code)
    return f"{localized(region.name)}" if region else code


class HolidayView(SecureModelView):
    permission = "calendar.manage"
    column_list = ("day", "kind", "name", "confirmed", "source")
    column_default_sort = ("day", False)
    column_filters = ("kind", "confirmed", "source")
    form_choices = {"kind": [("holiday", _l("Holiday (day off)")), ("workday", _l("Make-up workday"))]}
    form_columns = ("day", "kind", "name", "confirmed")
    column_labels = {"day": _l("Date"), "kind": _l("Kind"), "name": _l("Name"), "confirmed": _l("Confirmed"),
                     "source": _l("Source")}
    form_args = {name: {"label": text} for name, text in column_labels.items()}
    column_formatters = {"kind": lambda v, c, m, n: label("holiday_kind", m.kind),
                         "source": lambda v, c, m, n: label("holiday_source", m.source)}

    def is_accessible(self):
        return can(current_user, "calendar.manage")

    def scoped(self, query):
        return query  # the calendar is national

    def on_model_change(self, form, model, is_created):
        model.source = "admin"
        model.updated_at = datetime.datetime.utcnow()

    @expose("/confirm", methods=["POST"])
    def confirm_view(self):
        year = int(request.form.get("year") or 0)
        if year < 2000:
            flash(_("Give a year."), "error")
        else:
            workdays.confirm_year(year, current_user.username, current_user.role)
            flash(_("The calendar of %(year)d is confirmed.", year=year), "success")
        return redirect(url_for(".index_view"))

    @expose("/seed", methods=["POST"])
    def seed_view(self):
        year = int(request.form.get("year") or 0)
        written = workdays.seed_holidays([year], actor=current_user.username) if year >= 2000 else 0
        flash(_("%(n)d day(s) added from the official calendar.", n=written), "success")
        return redirect(url_for(".index_view"))

    list_template = "admin/bangban/holiday_list.html"


class AuditView(SecureModelView):
    """Read-only: the audit administrator reads; nobody writes here."""

    permission = "audit.read"
    can_create = can_edit = can_delete = False
    can_view_details = True
    column_list = ("seq", "created_at", "actor", "role", "action", "entity")
    column_details_list = ("seq", "created_at", "county_code", "actor", "role", "action", "entity", "payload",
                           "prev_hash", "mac")
    column_default_sort = ("seq", True)
    column_searchable_list = ("actor", "action", "entity")

    def search_placeholder(self):
        return str(_l("Actor, action or record"))
    column_filters = ("action", "role")
    column_labels = {"seq": "#", "created_at": _l("Time"), "actor": _l("By"), "role": _l("Role"),
                     "action": _l("Action"), "entity": _l("Entity"), "county_code": _l("County"),
                     "payload": _l("Details"), "prev_hash": _l("Previous hash"), "mac": _l("Seal (HMAC)")}
    # actions and entities are identifiers (searchable as written): shown as code
    column_formatters = {
        "actor": lambda v, c, m, n: _("system") if m.actor == "system" else m.actor,
        "role": lambda v, c, m, n: _("system") if m.role == "system" else label("role", m.role),
        "action": lambda v, c, m, n: Markup("<code>%s</code>") % m.action,
        "entity": lambda v, c, m, n: Markup("<code>%s</code>") % m.entity,
        # personal numbers in payloads are tokens; the audit administrator sees them masked
        "payload": lambda v, c, m, n: Markup("<code>%s</code>") % masked_payload(m.payload),
    }
    column_formatters_detail = column_formatters

    def scoped(self, query):
        return query.where(AuditEntry.county_code.in_(["", current_user.county_code]))


def views():
    return [
        StaffView(Staff, name=_l("Staff"), category=_l("Staff"), endpoint="staff_admin"),
        HolidayView(Holiday, name=_l("Holiday calendar"), category=_l("Settings"), endpoint="holiday_admin"),
        AuditView(AuditEntry, name=_l("Audit log"), endpoint="audit_admin"),
    ]
