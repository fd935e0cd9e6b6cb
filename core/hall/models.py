"""Appointments (预约) and home-visit requests (上门服务), migration 0018.

Both are tenant tables (``county_code``) scoped by ``region_code``: the
site's region for an appointment, the village or group for a home visit
(see :func:`core.scope.condition`)."""
from __future__ import annotations

import secrets

import peewee

from ..cases.models import Case
from ..models import BaseModel, Staff, TenantForeignKeyField, TenantMixin, utcnow

APPOINTMENT_STATES = ("booked", "cancelled", "no_show", "served")
HOME_VISIT_STATES = ("requested", "scheduled", "case_created", "consulted", "cancelled")


def new_token() -> str:
    return secrets.token_urlsafe(16)


class Appointment(TenantMixin, BaseModel):
    """One booked seat of one slot. ``seat`` is 1..capacity while the
    appointment holds it and NULL once cancelled (NULLs don't collide), so the
    unique (site, day, start, seat) index enforces the capacity on both
    databases, under concurrent bookings too."""

    scope_by_region = True

    county_code = peewee.CharField(max_length=6, index=True)
    region_code = peewee.CharField(max_length=15, index=True)  # the site's region
    site_code = peewee.CharField(max_length=80)
    item_code = peewee.CharField(max_length=120, null=True)
    day = peewee.DateField(index=True)
    start = peewee.CharField(max_length=5)  # HH:MM
    session_kind = peewee.CharField(max_length=12, default="regular")  # regular | extended | appointment
    seat = peewee.IntegerField(null=True)
    name_enc = peewee.TextField()  # encrypted
    phone_enc = peewee.CharField(max_length=200)  # encrypted
    state = peewee.CharField(max_length=12, default="booked", index=True)
    created_by = peewee.ForeignKeyField(Staff, null=True, backref="appointments_booked", on_delete="RESTRICT")
    cancel_token = peewee.CharField(max_length=32, unique=True, default=new_token)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("site_code", "day", "start", "seat"), True),)

    def name(self):
        from ..personal import decrypt

        return decrypt(self.name_enc, "appointment.name")

    def phone(self):
        from ..personal import decrypt

        return decrypt(self.phone_enc, "appointment.phone")


class HomeVisit(TenantMixin, BaseModel):
    """A request for a visit at home (上门服务) for a person who cannot come;
    assigned to the grid agent of the village or group."""

    scope_by_region = True

    county_code = peewee.CharField(max_length=6, index=True)
    region_code = peewee.CharField(max_length=15, index=True)  # the village or group
    number = peewee.CharField(max_length=32, unique=True, default=new_token)  # the citizen's reference
    name_enc = peewee.TextField()
    phone_enc = peewee.CharField(max_length=200)
    address = peewee.TextField(default="")  # free text: personal numbers as tokens
    reason = peewee.TextField(default="")  # free text: personal numbers as tokens
    special_group = peewee.CharField(max_length=40, null=True)
    assignee = peewee.ForeignKeyField(Staff, null=True, backref="home_visits", on_delete="RESTRICT")
    requested_by = peewee.ForeignKeyField(Staff, null=True, backref="home_visits_requested", on_delete="RESTRICT")
    visit_day = peewee.DateField(null=True)
    state = peewee.CharField(max_length=12, default="requested", index=True)
    case = TenantForeignKeyField(Case, null=True, backref="home_visits", on_delete="RESTRICT")
    note = peewee.TextField(null=True)  # the consultation record
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    def name(self):
        from ..personal import decrypt

        return decrypt(self.name_enc, "home_visit.name")

    def phone(self):
        from ..personal import decrypt

        return decrypt(self.phone_enc, "home_visit.phone")


HALL_MODELS = [Appointment, HomeVisit]
