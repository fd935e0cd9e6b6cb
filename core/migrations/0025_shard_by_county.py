"""Ready to shard by county (issue 13, core/sharding.py).

Every tenant table already carries ``county_code`` NOT NULL; rows whose
county is empty take their parent's (a case's, a rating's, an assessment's,
a staffer's or a site's), on both databases.

On PostgreSQL, what Citus needs of a table distributed by ``county_code``:
the primary key of every tenant table becomes ``(county_code, id)``, every
unique index of one begins with ``county_code``, and every foreign key from
one tenant table to another becomes ``(county_code, x_id) -> (county_code,
id)``. Constraint and index names stay the same. SQLite keeps simple keys
(it is one county's embedded database).

The lists are frozen here: core.sharding may grow, this migration does not.
"""
import peewee

#: tenant tables, frozen (core.sharding.TENANT_TABLES at this migration)
TENANT = ("cases", "commission", "case_event", "subtask", "escalation", "handover", "case_counter", "rating",
          "rectification", "appointment", "home_visit", "online_request", "site_assessment", "assessment_answer",
          "assessment_note", "work_log", "outbox_message")

#: (table, column, parent table, parent column): where an empty county is taken from
PARENTS = (
    ("commission", "case_id", "cases", "id"),
    ("case_event", "case_id", "cases", "id"),
    ("subtask", "case_id", "cases", "id"),
    ("escalation", "case_id", "cases", "id"),
    ("rating", "case_id", "cases", "id"),
    ("rectification", "case_id", "cases", "id"),
    ("home_visit", "case_id", "cases", "id"),
    ("assessment_answer", "assessment_id", "site_assessment", "id"),
    ("handover", "from_staff_id", "staff", "id"),
    ("assessment_note", "staff_id", "staff", "id"),
    ("site_assessment", "site_code", "site", "code"),
    ("work_log", "site_code", "site", "code"),
    ("appointment", "site_code", "site", "code"),
    ("online_request", "village_code", "region", "code"),
)

#: (name, table, columns) of the unique indexes of tenant tables without county_code
UNIQUES = (
    ("case_number", "cases", ("number",)),
    ("cases_track_token", "cases", ("track_token",)),
    ("commission_case_id", "commission", ("case_id",)),
    ("escalation_open_case", "escalation", ("open_case",)),
    ("rating_case_id_stage", "rating", ("case_id", "stage")),
    ("rectification_rating_id", "rectification", ("rating_id",)),
    ("appointment_cancel_token", "appointment", ("cancel_token",)),
    ("appointment_site_code_day_start_seat", "appointment", ("site_code", "day", "start", "seat")),
    ("homevisit_number", "home_visit", ("number",)),
    ("siteassessment_site_code_standard_period", "site_assessment", ("site_code", "standard", "period")),
    ("assessmentanswer_assessment_id_requirement", "assessment_answer", ("assessment_id", "requirement")),
    ("worklog_site_code_day", "work_log", ("site_code", "day")),
    ("outboxmessage_idempotency_key", "outbox_message", ("idempotency_key",)),
)

#: (table, column, target table): foreign keys between tenant tables (all ON DELETE RESTRICT)
FKS = (
    ("commission", "case_id", "cases"),
    ("case_event", "case_id", "cases"),
    ("subtask", "case_id", "cases"),
    ("escalation", "case_id", "cases"),
    ("rating", "case_id", "cases"),
    ("rectification", "case_id", "cases"),
    ("rectification", "rating_id", "rating"),
    ("home_visit", "case_id", "cases"),
    ("assessment_answer", "assessment_id", "site_assessment"),
)


def _cols(columns):
    return ", ".join(f'"{c}"' for c in columns)


def _fill(db):
    for table, column, parent, key in PARENTS:
        db.execute_sql(  # noqa: S608  # nosec B608 - frozen table names
            f'UPDATE "{table}" SET county_code = (SELECT p.county_code FROM "{parent}" p '  # nosec B608
            f'WHERE p."{key}" = "{table}"."{column}") '
            f'WHERE (county_code = \'\' OR county_code IS NULL) AND "{column}" IS NOT NULL '
            f'AND EXISTS (SELECT 1 FROM "{parent}" p WHERE p."{key}" = "{table}"."{column}" '
            f'AND p.county_code <> \'\')')


def up(migrator, db):
    with db.atomic():
        _fill(db)
        if not isinstance(db, peewee.PostgresqlDatabase):
            return
        for table, column, _target in FKS:
            db.execute_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_fkey"')
        for table in TENANT:
            db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN county_code SET NOT NULL')
            db.execute_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_pkey", '
                           f'ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (county_code, id)')
        for name, table, columns in UNIQUES:
            db.execute_sql(f'DROP INDEX "{name}"')
            db.execute_sql(f'CREATE UNIQUE INDEX "{name}" ON "{table}" ({_cols(("county_code", *columns))})')
        for table, column, target in FKS:
            db.execute_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_fkey" '
                           f'FOREIGN KEY (county_code, "{column}") REFERENCES "{target}" (county_code, id) '
                           'ON DELETE RESTRICT')


def down(migrator, db):
    if not isinstance(db, peewee.PostgresqlDatabase):
        return  # the filled counties stay: they were right
    with db.atomic():
        for table, column, _target in FKS:
            db.execute_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_{column}_fkey"')
        for name, table, columns in UNIQUES:
            db.execute_sql(f'DROP INDEX "{name}"')
            db.execute_sql(f'CREATE UNIQUE INDEX "{name}" ON "{table}" ({_cols(columns)})')
        for table in TENANT:
            db.execute_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_pkey", '
                           f'ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id)')
        for table, column, target in FKS:
            db.execute_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_fkey" '
                           f'FOREIGN KEY ("{column}") REFERENCES "{target}" (id) ON DELETE RESTRICT')
