"""API tokens for devices (core.tokens), the transactional outbox
(core.outbox), online requests and their one-time phone codes
(core.online)."""
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

    class OnlineRequest(Model):
        county_code = CharField(max_length=6, index=True)
        township_code = CharField(max_length=9, index=True)
        village_code = CharField(max_length=12, index=True)
        item_code = CharField(max_length=120)
        name = CharField(max_length=80)
        phone_enc = CharField(max_length=200)
        phone_hash = CharField(max_length=64, index=True)
        note = TextField(default="")
        photos = TextField()
        state = CharField(max_length=10, default="new")
        ip = CharField(max_length=64, default="")
        created_at = DateTimeField()
        called_at = DateTimeField(null=True)
        called_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="+")
        filed_case = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "online_request"

    class PhoneCode(Model):
        county_code = CharField(max_length=6, index=True)
        phone_hash = CharField(max_length=64, index=True)
        code_mac = CharField(max_length=64)
        ip = CharField(max_length=64, default="", index=True)
        created_at = DateTimeField()
        expires_at = DateTimeField()
        tries = IntegerField(default=0)
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "phone_code"

    db.create_tables([ApiToken, OutboxMessage, OnlineRequest, PhoneCode])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("phone_code"),
        migrator.drop_table("online_request"),
        migrator.drop_table("outbox_message"),
        migrator.drop_table("api_token"),
    )
