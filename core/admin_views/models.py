"""Back-office views over tables: staff accounts, the holiday calendar and
the audit log. Cases, the ledger and the audit log can never be deleted
here, and nothing cascades into them (foreign keys are RESTRICT)."""
from __future__ import annotations

import datetime
import json

from markupsafe import Markup

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee import ModelView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import fields as wtf
from wtforms import validators

from .. import audit, catalog, workdays
from ..db import transaction
from ..i18n import form_translations, label, localized
from ..models import AuditEntry, Holiday, Region, Staff
from ..permissions import can


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
        field = getattr(self.model, "county_code", None)
        return query.where(field == current_user.county_code) if field is not None else query

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

    def after_model_change(self, form, model, is_created):
        with transaction():
            audit.record(f"admin.{self.model._meta.table_name}.{'create' if is_created else 'update'}",
                         f"{self.model._meta.table_name}:{model._pk}", actor=current_user.username,
                         role=current_user.role, county_code=current_user.county_code,
                         payload={k: str(v) for k, v in (form.data or {}).items()
                                  if k not in ("csrf_token", "password", "password_hash", "totp_secret")})


def role_choices():
    return [(r.key, localized(r.content["name"])) for r in catalog.all_current("roles")]


def department_choices():
    return [("", "—")] + [(r.key, localized(r.content["name"])) for r in catalog.all_current("departments")]


def region_choices():
    regions = Region.select().where(Region.county_code == current_user.county_code).order_by(Region.code)
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


class StaffView(SecureModelView):
    permission = "staff.manage"
    column_list = ("username", "name", "role", "region", "department", "covers", "active")
    column_searchable_list = ("username", "name")
    column_filters = ("role", "active")
    column_labels = {"username": _l("Username"), "name": _l("Name"), "role": _l("Role"), "region": _l("Region"),
                     "department": _l("Department"), "active": _l("Active"), "covers": _l("B post for")}
    column_formatters = {
        "role": lambda v, c, m, n: localized((catalog.current("roles", m.role) or _Empty).content.get("name", m.role)),
        "region": lambda v, c, m, n: _region_name(m.region),
        "department": lambda v, c, m, n: localized((catalog.current("departments", m.department) or _Empty)
                                                   .content.get("name", m.department or "")),
        "covers": lambda v, c, m, n: m.covers.name if m.covers_id else "",
    }
    form = StaffForm

    def is_accessible(self):
        return can(current_user, "staff.manage") or can(current_user, "account.manage")

    def create_form(self, obj=None):
        return self._choices(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self._choices(super().edit_form(obj))
        form.password.data = ""
        return form

    def _choices(self, form):
        form.role.choices = role_choices()
        form.region.choices = region_choices()
        form.department.choices = department_choices()
        form.covers.choices = [("", "—")] + [(s.id, f"{s.name} · {s.username}") for s in Staff.select().where(
            (Staff.county_code == current_user.county_code) & Staff.active).order_by(Staff.username)]
        return form

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        from ..auth import hash_password

        model.department = model.department or None
        if model.covers_id and (model.covers_id == model.id or Staff.get_or_none(
                (Staff.id == model.covers_id) & (Staff.county_code == current_user.county_code)) is None):
            raise ValueError(_("A B post covers another staff member of this county."))
        if form.password.data:
            from .. import passwords

            problems = passwords.check_policy(form.password.data, current_app.config["BANGBAN"]["PASSWORD_PROFILE"],
                                              username=model.username)
            if problems:
                raise ValueError(" ".join(str(p) for p in problems))
            model.password_hash = hash_password(form.password.data)
            # set by an administrator: the staff member chooses their own at the next sign-in
            model.password_changed_at = datetime.datetime(2000, 1, 1)
        elif is_created:
            raise ValueError(_("A new account needs a password."))

    @action("reset_second_factor", _l("Reset the second factor"),
            _l("The selected administrators will enrol a new authenticator at their next sign-in. Continue?"))
    def action_reset_second_factor(self, ids):
        with transaction():
            count = (Staff.update(totp_secret=None, totp_last_step=None)
                     .where(Staff.id.in_([int(i) for i in ids]) & (Staff.county_code == current_user.county_code))
                     .execute())
            audit.record("admin.staff.reset_second_factor", "staff", actor=current_user.username,
                         role=current_user.role, county_code=current_user.county_code,
                         payload={"ids": sorted(int(i) for i in ids)})
        flash(_("%(n)d second factor(s) reset.", n=count), "success")

    @action("deactivate", _l("Deactivate"), _l("Deactivate the selected accounts?"))
    def action_deactivate(self, ids):
        with transaction():
            query = Staff.update(active=False).where(Staff.id.in_([int(i) for i in ids])
                                                     & (Staff.county_code == current_user.county_code))
            count = query.execute()
            audit.record("admin.staff.deactivate", "staff", actor=current_user.username, role=current_user.role,
                         county_code=current_user.county_code, payload={"ids": sorted(int(i) for i in ids)})
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
        "payload": lambda v, c, m, n: Markup("<code>%s</code>") % json.dumps(m.payload, ensure_ascii=False),
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
