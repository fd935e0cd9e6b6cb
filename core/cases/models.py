"""Cases and what hangs off them. Every table carries ``county_code``."""
from __future__ import annotations

import secrets

import peewee

from ..models import BaseModel, JSONField, MetadataRecord, Staff, TenantForeignKeyField, TenantMixin, utcnow


def new_track_token() -> str:
    """A case's tracking token: 128 random bits, 22 URL-safe characters."""
    return secrets.token_urlsafe(16)


#: indexes covering the case lists' filters and counts (migration 0024):
#: county, then the scope's area, then the state, in id order
LIST_INDEXES = (
    (("county_code", "state", "id"), False),
    (("county_code", "township_code", "state", "id"), False),
    (("county_code", "village_code", "state", "id"), False),
    (("county_code", "due_day", "finished_on"), False),
    (("county_code", "site_code", "state"), False),
    (("county_code", "department", "state"), False),
)

#: the columns of the index that covers the KPI aggregates (migration 0014;
#: the green channel's column added by migration 0026)
KPI_INDEX = ("county_code", "created_at", "township_code", "site_code", "intake_channel", "accepted_on",
             "finished_on", "due_day", "rating", "item_record", "green_channel")


class Case(TenantMixin, BaseModel):
    class Meta:
        table_name = "cases"  # CASE is an SQL keyword
        # covers the KPI report's one grouped scan (core.kpi): a county's
        # cases of a period, grouped by township and site, every column a
        # metric's condition reads (migration 0014)
        indexes = ((KPI_INDEX, False), *LIST_INDEXES)

    county_code = peewee.CharField(max_length=6, index=True)
    number = peewee.CharField(max_length=32, unique=True)  # the receipt number
    # the public tracking link's secret (the receipt's QR code): see core.cases.track
    track_token = peewee.CharField(max_length=32, unique=True, default=new_track_token)
    item_code = peewee.CharField(max_length=120, index=True)
    item_record = peewee.ForeignKeyField(MetadataRecord, on_delete="RESTRICT")  # the item version
    item_version = peewee.IntegerField()
    kind = peewee.CharField(max_length=10)
    workflow = peewee.CharField(max_length=80)
    state = peewee.CharField(max_length=40, index=True)
    township_code = peewee.CharField(max_length=9, index=True)
    village_code = peewee.CharField(max_length=12, null=True, index=True)
    group_code = peewee.CharField(max_length=15, null=True)
    site_code = peewee.CharField(max_length=80, null=True)
    # where the case came in (an intake channel of the registry: window,
    # comprehensive_window, bank, online …), set at filing (migration 0014)
    intake_channel = peewee.CharField(max_length=40, null=True)
    owner = peewee.ForeignKeyField(Staff, backref="owned_cases", on_delete="RESTRICT")
    assignee = peewee.ForeignKeyField(Staff, null=True, backref="assigned_cases", on_delete="RESTRICT")
    department = peewee.CharField(max_length=40, null=True, index=True)
    applicant_name = peewee.CharField(max_length=80)
    applicant_id_number = peewee.CharField(max_length=200)
    applicant_phone = peewee.CharField(max_length=200)
    applicant_id_hash = peewee.CharField(max_length=64, null=True, index=True)
    applicant_phone_hash = peewee.CharField(max_length=64, null=True)
    # what lists show by default, stored so that a list decrypts nothing
    # (migration 0024; NULL for older cases: masked from the decrypted value)
    applicant_id_masked = peewee.CharField(max_length=32, null=True)
    applicant_phone_masked = peewee.CharField(max_length=32, null=True)
    data = JSONField()
    accepted_on = peewee.DateField(null=True)
    due_day = peewee.DateField(null=True, index=True)
    due_part = peewee.CharField(max_length=5, null=True)
    due_confirmed = peewee.BooleanField(default=True)
    extended_days = peewee.FloatField(default=0)
    pauses = JSONField(default=list)  # [[start, end|null], …] ISO dates
    tolerance = JSONField(null=True)  # {"material": …, "due": ISO date, "met": bool}
    delivery = JSONField(null=True)
    rating = peewee.IntegerField(null=True)
    rating_comment = peewee.TextField(null=True)  # free text: personal numbers as tokens
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    finished_on = peewee.DateField(null=True)
    green_channel = peewee.CharField(max_length=40, null=True)  # 绿色通道: the special group (metadata), or None

    # personal data: stored encrypted, shown masked, revealed on purpose
    def id_number(self):
        from ..personal import decrypt

        return decrypt(self.applicant_id_number, "cases.applicant_id_number")

    def phone(self):
        from ..personal import decrypt

        return decrypt(self.applicant_phone, "cases.applicant_phone")

    def masked_id_number(self):
        if self.applicant_id_masked:
            return self.applicant_id_masked
        from ..personal import mask_id_number

        return mask_id_number(self.id_number())

    def masked_phone(self):
        if self.applicant_phone_masked:
            return self.applicant_phone_masked
        from ..personal import mask_phone

        return mask_phone(self.phone())


class Commission(TenantMixin, BaseModel):
    county_code = peewee.CharField(max_length=6, index=True)
    case = TenantForeignKeyField(Case, backref="commissions", unique=True, on_delete="RESTRICT")
    principal = JSONField()
    materials = JSONField()
    powers = JSONField()
    created_by = peewee.ForeignKeyField(Staff, on_delete="RESTRICT")
    created_at = peewee.DateTimeField(default=utcnow)


class CaseEvent(TenantMixin, BaseModel):
    county_code = peewee.CharField(max_length=6, index=True)
    case = TenantForeignKeyField(Case, backref="events", on_delete="RESTRICT")
    at = peewee.DateTimeField(default=utcnow)
    actor = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
    role = peewee.CharField(max_length=40)
    action = peewee.CharField(max_length=40)
    from_state = peewee.CharField(max_length=40, null=True)
    to_state = peewee.CharField(max_length=40)
    note = peewee.TextField(default="")
    data = JSONField(null=True)


class Subtask(TenantMixin, BaseModel):
    """One department's part of a major item's joint handling."""

    county_code = peewee.CharField(max_length=6, index=True)
    case = TenantForeignKeyField(Case, backref="subtasks", on_delete="RESTRICT")
    department = peewee.CharField(max_length=40, index=True)
    helper = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
    due_day = peewee.DateField(null=True)
    state = peewee.CharField(max_length=10, default="open")  # open | done
    note = peewee.TextField(default="")
    done_at = peewee.DateTimeField(null=True)


class Escalation(TenantMixin, BaseModel):
    """督办: opened by ``sla scan`` for an overdue case, closed when the case
    moves on. ``open_case`` is set only while open, so one case has at most
    one open escalation (unique; NULLs don't collide)."""

    county_code = peewee.CharField(max_length=6, index=True)
    case = TenantForeignKeyField(Case, backref="escalations", on_delete="RESTRICT")
    open_case = peewee.IntegerField(null=True, unique=True)
    reason = peewee.CharField(max_length=40)
    opened_at = peewee.DateTimeField(default=utcnow)
    closed_at = peewee.DateTimeField(null=True)


class Handover(TenantMixin, BaseModel):
    county_code = peewee.CharField(max_length=6, index=True)
    from_staff = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="handovers_out")
    to_staff = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="handovers_in")
    actor = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="handovers_done")
    at = peewee.DateTimeField(default=utcnow)
    cases = JSONField()  # [{"id", "number", "state", "as"}]
    note = peewee.TextField(default="")


class CaseCounter(TenantMixin, BaseModel):
    """The last receipt sequence number handed out per county and day; see
    ``core.cases.service.next_number``."""

    class Meta:
        table_name = "case_counter"
        indexes = ((("county_code", "day"), True),)

    county_code = peewee.CharField(max_length=6)
    day = peewee.DateField()
    last = peewee.IntegerField()


CASE_MODELS = [Case, Commission, CaseEvent, Subtask, Escalation, Handover, CaseCounter]
