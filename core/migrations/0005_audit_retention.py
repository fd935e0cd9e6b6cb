"""Audit retention: the append-only guard lets a DELETE through only for
entries older than an open purge window (written by ``bangban audit purge``
inside the same transaction), and a checkpoint keeps the chain verifiable
from the first entry that remains."""
from peewee import *

SQLITE = [
    "CREATE TABLE audit_purge_window (before VARCHAR(32) NOT NULL)",
    "DROP TRIGGER audit_entry_no_delete",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_purge_window w WHERE OLD.created_at < w.before) "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
]
POSTGRES = [
    "CREATE TABLE audit_purge_window (before VARCHAR(32) NOT NULL)",
    "CREATE OR REPLACE FUNCTION bangban_append_only() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_window w WHERE OLD.created_at < w.before) "
    "THEN RETURN OLD; END IF; "
    "RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
]
# down(): the guards as migration 0001 made them.
SQLITE_DOWN = [
    "DROP TRIGGER audit_entry_no_delete",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
    "DROP TABLE audit_purge_window",
]
POSTGRES_DOWN = [
    "CREATE OR REPLACE FUNCTION bangban_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
    "DROP TABLE audit_purge_window",
]


def up(migrator, db):
    class AuditCheckpoint(Model):
        seq = BigIntegerField(unique=True)
        mac = CharField(max_length=64)
        created_at = CharField(max_length=32)

        class Meta:
            database = db
            table_name = "audit_checkpoint"

    db.create_tables([AuditCheckpoint])
    for sql in POSTGRES if isinstance(db, PostgresqlDatabase) else SQLITE:
        db.execute_sql(sql)


def down(migrator, db):
    for sql in POSTGRES_DOWN if isinstance(db, PostgresqlDatabase) else SQLITE_DOWN:
        db.execute_sql(sql)
    migrator.migrate(migrator.drop_table("audit_checkpoint"))
