"""Audit checkpoints sealed with the audit key and tied to the ``audit.purge``
entry that vouches for them (see ``core/audit.py``).

A checkpoint written before this migration has no seal; only the newest one
was ever read (the chain is verified from it), so superseded ones are
dropped here and the newest stays verifiable through its purge entry."""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("audit_checkpoint", "purge_seq", BigIntegerField(null=True)),
        migrator.add_column("audit_checkpoint", "seal", CharField(max_length=64, null=True)),
    )
    db.execute_sql("DELETE FROM audit_checkpoint WHERE seq < (SELECT MAX(seq) FROM audit_checkpoint)")


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("audit_checkpoint", "seal"),
        migrator.drop_column("audit_checkpoint", "purge_seq"),
    )
