"""API tokens for devices (core.tokens) and the transactional outbox
(core.outbox)."""
import datetime

from peewee import *


def up(migrator, db):
    class Staff(Model):
        class Meta:
            database = db
            table_name = "staff"

    class ApiToken(Model):
        county_code = CharField(max_length=6, index=True)
        staff = ForeignKeyField(Staff, on_delete="RESTRICT")
        name = CharField(max_length=80)
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        created_by = CharField(max_length=80, default="")
        last_used = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        revoked_by = CharField(max_length=80, null=True)

        class Meta:
            database = db
            table_name = "api_token"

    class OutboxMessage(Model):
        county_code = CharField(max_length=6, index=True)
        target = CharField(max_length=40)
        topic = CharField(max_length=60)
        payload = TextField()
        idempotency_key = CharField(max_length=120, unique=True)
        state = CharField(max_length=10, default="pending")
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        last_error = TextField(default="")
        created_at = DateTimeField()
        delivered_at = DateTimeField(null=True)
        claimed_by = CharField(max_length=40, null=True)
        claimed_until = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "outbox_message"
            indexes = ((("state", "next_attempt_at"), False),)

    db.create_tables([ApiToken, OutboxMessage])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("outbox_message"),
        migrator.drop_table("api_token"),
    )
