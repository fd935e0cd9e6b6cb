"""The operations tables (migration 0016)."""
from __future__ import annotations

import peewee

from ..models import BaseModel, JSONField, utcnow


class JobRun(BaseModel):
    """One run of a periodic job (``bangban jobs run``): ``ok`` is None
    while it runs, then True or False; ``summary`` is what the job returned
    (counts, never personal data) or the error's first line."""

    class Meta:
        table_name = "job_run"

    code = peewee.CharField(max_length=80, index=True)
    county_code = peewee.CharField(max_length=6, default="", index=True)
    started_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)
    ok = peewee.BooleanField(null=True)
    summary = JSONField(null=True)
    host = peewee.CharField(max_length=120, default="")


class OpsState(BaseModel):
    """Progress of a resumable operation (the data-key rotation), by name."""

    class Meta:
        table_name = "ops_state"

    name = peewee.CharField(max_length=80, unique=True)
    county_code = peewee.CharField(max_length=6, default="", index=True)
    value = JSONField()
    updated_at = peewee.DateTimeField(default=utcnow)
