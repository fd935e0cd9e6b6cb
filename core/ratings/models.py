"""A rating per case and stage, and the handling of a 差评. Every table
carries ``county_code``."""
from __future__ import annotations

import peewee

from ..cases.models import Case
from ..models import BaseModel, Staff, TenantForeignKeyField, TenantMixin, utcnow


class Rating(TenantMixin, BaseModel):
    """好差评: one per case and stage (一次一评 / 一事一评). ``level`` 5 非常满意
    … 1 非常不满意; 1 and 2 are 差评. Changeable until ``handled``."""

    class Meta:
        table_name = "rating"
        indexes = ((("case", "stage"), True),)

    county_code = peewee.CharField(max_length=6, index=True)
    case = TenantForeignKeyField(Case, backref="ratings", on_delete="RESTRICT")
    stage = peewee.CharField(max_length=12)        # acceptance | completion
    level = peewee.IntegerField()
    channel = peewee.CharField(max_length=12)      # qr | track | staff (a paper form entered by staff)
    rater = peewee.CharField(max_length=10)        # real_name | anonymous
    comment = peewee.TextField(null=True)          # free text: personal numbers as tokens
    recorded_by = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="ratings_recorded")
    handled = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)


class Rectification(TenantMixin, BaseModel):
    """差评整改: the handling of one bad rating. ``state``: verify → rectify
    (due ``due_day``, ``assignee``) | appeal (the county decides) →
    callback → closed. ``escalated_at`` is set once by the SLA scan when
    the rectification is overdue."""

    county_code = peewee.CharField(max_length=6, index=True)
    rating = TenantForeignKeyField(Rating, backref="rectifications", unique=True, on_delete="RESTRICT")
    case = TenantForeignKeyField(Case, backref="rectifications", on_delete="RESTRICT")
    state = peewee.CharField(max_length=10, index=True)
    assignee = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="rectifications")
    verify_note = peewee.TextField(default="")
    due_day = peewee.DateField(null=True, index=True)
    rectify_note = peewee.TextField(default="")
    rectified_on = peewee.DateField(null=True)
    rectified_by = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="rectified")
    appeal_reason = peewee.TextField(default="")
    appeal_outcome = peewee.CharField(max_length=10, null=True)  # upheld | rejected
    appeal_decision = peewee.TextField(default="")
    callback_on = peewee.DateField(null=True)
    callback_way = peewee.CharField(max_length=10, null=True)    # phone | visit | sms | other
    callback_level = peewee.IntegerField(null=True)              # the applicant's satisfaction afterwards
    callback_by = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="callbacks")
    escalated_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    closed_at = peewee.DateTimeField(null=True)


RATING_MODELS = [Rating, Rectification]
