"""Tables of the site self-assessment, the supervisor's notes on the staff
assessment and the work log (migration 0015). Every table carries
``county_code``."""
from __future__ import annotations

import peewee

from ..models import BaseModel, JSONField, Staff, TenantForeignKeyField, TenantMixin, utcnow

ASSESSMENT_STATES = ("draft", "submitted", "reviewed")


class SiteAssessment(TenantMixin, BaseModel):
    """One site's self-assessment against one site standard for a period
    (``2026`` or ``2026-12``); all of them are kept (history). ``measured``
    is what the computed criteria said when it was submitted."""

    county_code = peewee.CharField(max_length=6, index=True)
    site_code = peewee.CharField(max_length=80, index=True)
    standard = peewee.CharField(max_length=80)
    period = peewee.CharField(max_length=20)
    state = peewee.CharField(max_length=10, default="draft")
    created_by = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="+")
    created_at = peewee.DateTimeField(default=utcnow)
    submitted_at = peewee.DateTimeField(null=True)
    reviewed_by = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="+")
    reviewed_at = peewee.DateTimeField(null=True)
    review_note = peewee.TextField(default="")
    measured = JSONField(null=True)

    class Meta:
        table_name = "site_assessment"
        indexes = ((("site_code", "standard", "period"), True),)


class AssessmentAnswer(TenantMixin, BaseModel):
    """The site's answer to one requirement without a computed measure:
    met or not, a note, an evidence file; the county's review of it."""

    county_code = peewee.CharField(max_length=6, index=True)
    assessment = TenantForeignKeyField(SiteAssessment, backref="answers", on_delete="RESTRICT")
    requirement = peewee.CharField(max_length=80)
    status = peewee.CharField(max_length=10)  # met | not_met
    note = peewee.TextField(default="")  # free text: personal numbers as tokens
    evidence = JSONField(null=True)  # {"name", "type", "size", "sha256"}
    answered_by = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="+")
    updated_at = peewee.DateTimeField(default=utcnow)
    review = peewee.CharField(max_length=10, null=True)  # accepted | rejected
    review_note = peewee.TextField(default="")

    class Meta:
        table_name = "assessment_answer"
        indexes = ((("assessment", "requirement"), True),)


class AssessmentNote(TenantMixin, BaseModel):
    """The supervisor's note on a staff member's assessment for a period
    (each note is kept; the latest is shown)."""

    county_code = peewee.CharField(max_length=6, index=True)
    staff = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="assessment_notes")
    period_start = peewee.DateField()
    period_end = peewee.DateField()
    note = peewee.TextField()
    author = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="+")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "assessment_note"


class WorkLog(TenantMixin, BaseModel):
    """What a station's work log (工作日志) says by hand for one day: who
    was on duty, the problems met and the coordination asked for; the
    counts come from the cases."""

    county_code = peewee.CharField(max_length=6, index=True)
    site_code = peewee.CharField(max_length=80)
    day = peewee.DateField()
    on_duty = peewee.CharField(max_length=80, default="")
    problems = peewee.TextField(default="")
    coordination = peewee.TextField(default="")
    author = peewee.ForeignKeyField(Staff, on_delete="RESTRICT", backref="+")
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "work_log"
        indexes = ((("site_code", "day"), True),)


COMPLIANCE_MODELS = [SiteAssessment, AssessmentAnswer, AssessmentNote, WorkLog]
