"""Operations (issue 14): the periodic jobs' runs (``job_run``: what ran,
when, how it ended, for ``/-/health``), a small key/value table for
resumable operations (``ops_state``: the data-key rotation's progress) and
the audit key epoch of each chain entry and checkpoint (``key_epoch``; NULL
is epoch 0, the key the chain began with). The two columns are nullable, so
adding them updates no audit row (the table refuses UPDATE)."""
from peewee import *

JSONField = TextField  # frozen: JSON is stored as text


def up(migrator, db):
    class JobRun(Model):
        code = CharField(max_length=80, index=True)
        county_code = CharField(max_length=6, default="", index=True)
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        ok = BooleanField(null=True)
        summary = JSONField(null=True)
        host = CharField(max_length=120, default="")

        class Meta:
            database = db
            table_name = "job_run"

    class OpsState(Model):
        name = CharField(max_length=80, unique=True)
        county_code = CharField(max_length=6, default="", index=True)
        value = JSONField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "ops_state"

    db.create_tables([JobRun, OpsState])
    migrator.migrate(
        migrator.add_column("audit_entry", "key_epoch", IntegerField(null=True)),
        migrator.add_column("audit_checkpoint", "key_epoch", IntegerField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("audit_checkpoint", "key_epoch"),
        migrator.drop_column("audit_entry", "key_epoch"),
    )
    db.execute_sql('DROP TABLE "ops_state"')
    db.execute_sql('DROP TABLE "job_run"')
