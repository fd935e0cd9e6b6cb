"""Sharding by county (issue 13, "Ready to outgrow one machine").

Every table is one of three kinds, so that a national deployment can run on
Citus with ``county_code`` as the distribution column:

``TENANT``
    One county's rows: distributed by ``county_code`` and colocated with
    ``cases``. Every row carries a county; on PostgreSQL the primary key and
    every unique index begin with ``county_code`` (migration 0025) and a
    foreign key to another tenant table is ``(county_code, x_id) ->
    (county_code, id)``. Every query the application makes on one filters by
    ``county_code`` (tests/test_sharding.py records the statements).
``REFERENCE``
    National or slow-changing data every node needs, copied to every node
    (``create_reference_table``): the metadata and what is projected from it
    (regions, sites, item search), the holidays, the settings, and the
    accounts (see ``staff`` below). A tenant table may point to one.
``LOCAL``
    Kept on the coordinator (the node that serves the web requests) and not
    distributed: short-lived security state (sessions, sign-in attempts,
    phone codes: rate limits by IP and phone that cross counties), the
    operations' own bookkeeping, and the audit chain, which is one
    hash-chained sequence (every entry names its predecessor) and so cannot
    be split by county without breaking its proof.

Reasons, table by table, are in :data:`REASONS`.
"""
from __future__ import annotations

TENANT = "tenant"
REFERENCE = "reference"
LOCAL = "local"

#: table -> (kind, reason)
TABLES = {
    # --- tenant: a county's cases and what hangs off them -------------------
    "cases": (TENANT, "the distribution root: every other tenant table is colocated with it"),
    "commission": (TENANT, "a case's power of attorney (case_id -> cases)"),
    "case_event": (TENANT, "a case's history (case_id -> cases)"),
    "subtask": (TENANT, "a department's part of a case (case_id -> cases)"),
    "escalation": (TENANT, "an overdue case's 督办 (case_id -> cases)"),
    "handover": (TENANT, "cases handed from one staffer to another in a county"),
    "case_counter": (TENANT, "the receipt number sequence of a county and day"),
    "rating": (TENANT, "a case's 好差评 (case_id -> cases)"),
    "rectification": (TENANT, "a bad rating's handling (rating_id -> rating, case_id -> cases)"),
    "appointment": (TENANT, "a booked seat at a site of the county"),
    "home_visit": (TENANT, "a home visit request in a village of the county (case_id -> cases)"),
    "online_request": (TENANT, "an online request for a village of the county"),
    "site_assessment": (TENANT, "a site's self-assessment"),
    "assessment_answer": (TENANT, "an answer of a self-assessment (assessment_id -> site_assessment)"),
    "assessment_note": (TENANT, "a supervisor's note on a staffer of the county"),
    "work_log": (TENANT, "a station's work log"),
    "outbox_message": (TENANT, "a message about a county's case to a partner system; the delivery worker "
                               "claims across counties as a distributed query"),
    # --- reference: national, or read before the county is known ------------
    "staff": (REFERENCE, "accounts: read by username at sign-in and by id for every session before the "
                         "county is known; national accounts (translators, system) have no county; every "
                         "tenant table points to it (owner, assignee, author …). Small, rarely written"),
    "api_token": (REFERENCE, "credentials of staff: looked up by the token's hash before the county is known"),
    "metadata_sync": (REFERENCE, "metadata: national and county packs"),
    "metadata_record": (REFERENCE, "metadata: national and county packs (county_code '' is national)"),
    "metadata_file": (REFERENCE, "metadata: what a pack file produced at the last sync"),
    "item_search": (REFERENCE, "projected from metadata_record by metadata sync"),
    "item_gram": (REFERENCE, "projected from metadata_record by metadata sync"),
    "item_prefix": (REFERENCE, "projected from metadata_record by metadata sync"),
    "region": (REFERENCE, "the division tree, projected from metadata"),
    "site": (REFERENCE, "the sites, projected from metadata (public pages read them by code)"),
    "holiday": (REFERENCE, "national holidays and make-up workdays"),
    "plugin_setting": (REFERENCE, "settings at root, county, township, village and site scope"),
    "translation_correction": (REFERENCE, "national translations of the interface and metadata"),
    # --- local: the coordinator's own ----------------------------------------
    "user_session": (LOCAL, "server-side sessions, found by the cookie's hash before the county is known"),
    "sign_in_attempt": (LOCAL, "lockout counters by username and IP"),
    "phone_code": (LOCAL, "one-time codes and their rate limits by phone and IP, across counties"),
    "audit_entry": (LOCAL, "one hash chain: each entry names its predecessor, so it is one sequence"),
    "audit_checkpoint": (LOCAL, "where the audit chain is verified from"),
    "audit_purge_window": (LOCAL, "the audit purge's open window (SQL only, migration 0005)"),
    "job_run": (LOCAL, "the periodic jobs' runs of this deployment"),
    "ops_state": (LOCAL, "progress of resumable operations of this deployment"),
    "schema_migration": (LOCAL, "the migration runner's ledger"),
}

REASONS = {table: reason for table, (_kind, reason) in TABLES.items()}


def kind(table: str) -> str:
    """The kind of ``table``; KeyError for a table nobody classified."""
    return TABLES[table][0]


def tables(of_kind: str) -> list[str]:
    return sorted(t for t, (k, _r) in TABLES.items() if k == of_kind)


TENANT_TABLES = frozenset(tables(TENANT))
REFERENCE_TABLES = frozenset(tables(REFERENCE))
LOCAL_TABLES = frozenset(tables(LOCAL))

#: the order Citus needs: the root first, then the colocated tables
DISTRIBUTION_ROOT = "cases"


def citus_statements() -> list[str]:
    """The statements that distribute a migrated database on Citus (run on
    the coordinator once, after ``bangban migrate``)."""
    # a table a reference table points to is made a reference table first
    first = {"metadata_sync": 0, "metadata_record": 1, "item_search": 2, "item_gram": 3, "item_prefix": 3, "staff": 0, "api_token": 1}
    statements = [f"SELECT create_reference_table('{t}')"
                  for t in sorted(REFERENCE_TABLES, key=lambda t: (first.get(t, 0), t))]
    statements.append(f"SELECT create_distributed_table('{DISTRIBUTION_ROOT}', 'county_code')")
    after = {"assessment_answer": 1, "rectification": 1}  # after site_assessment, rating: they point to them
    statements += [f"SELECT create_distributed_table('{t}', 'county_code', colocate_with => '{DISTRIBUTION_ROOT}')"
                   for t in sorted(TENANT_TABLES - {DISTRIBUTION_ROOT}, key=lambda t: (after.get(t, 0), t))]
    return statements


# --- what migration 0025 makes of a model's keys on PostgreSQL ------------------

def pg_index_columns(table: str, columns: tuple, unique: bool) -> tuple:
    """The columns of a model's index as PostgreSQL has them: a unique index
    of a tenant table begins with ``county_code``."""
    if unique and table in TENANT_TABLES and "county_code" not in columns:
        return ("county_code", *columns)
    return tuple(columns)


def pg_foreign_key(table: str, column: str, target: str, target_column: str) -> tuple:
    """``(columns, target, target columns)`` of a model's foreign key as
    PostgreSQL has it: between tenant tables it includes ``county_code``."""
    if table in TENANT_TABLES and target in TENANT_TABLES:
        return ("county_code", column), target, ("county_code", target_column)
    return (column,), target, (target_column,)


def join_on(foreign_key):
    """The join condition of a foreign key between two tenant tables, with
    the county: ``(child.x_id = parent.id) AND (child.county_code =
    parent.county_code)`` (Citus joins colocated shards on it)."""
    model, target = foreign_key.model, foreign_key.rel_model
    return (foreign_key == foreign_key.rel_field) & (model.county_code == target.county_code)


def of(foreign_key, parent):
    """The rows of a tenant table that hang off ``parent`` (a loaded row of
    another tenant table): ``x_id = parent.id AND county_code = parent's``."""
    return (foreign_key == parent._pk) & (foreign_key.model.county_code == parent.county_code)


def counties() -> list[str]:
    """Every county this deployment serves, read from reference tables (the
    division tree and the accounts), so that a job over all counties runs one
    county's statements at a time instead of one unfiltered scan."""
    from .models import Region, Staff

    found = {c for (c,) in Region.select(Region.county_code).distinct().tuples()}
    found |= {c for (c,) in Staff.select(Staff.county_code).distinct().tuples()}
    return sorted(c for c in found if c)


#: statements on tenant tables that deliberately do not name one county:
#: on Citus they run as distributed (multi-shard) queries. Each is either a
#: job over every county or a lookup by a secret that carries no county yet.
CROSS_COUNTY = {
    "core.outbox.claim / counts": "the delivery worker claims due messages of every county; the back "
                                  "office counts them",
    "core.online (rate limits)": "a phone or an IP is limited across counties (requests per day)",
    "core.cases.track / core.ratings.views.rate": "the public tracking link is found by its token alone",
    "core.hall.views.appointment (cancel link)": "an appointment's cancel link is found by its token alone",
    "core.scope.get_or_404 (refusal log)": "after a miss in scope, whether the id exists anywhere, to log an "
                                           "out-of-scope probe",
    "core.ops backup / restore copy / transfer copy": "a whole-database copy reads every table",
    "core.cases.service.next_number": "an upsert keyed by (county_code, day): an INSERT, routed",
}
