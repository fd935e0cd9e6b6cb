"""Accounts and sessions: password age, TOTP secret, encrypted phone,
sign-in attempts (lockout) and server-side sessions; case columns for the
keyed hashes of ID numbers and phones (exact-match lookup of encrypted
values)."""
import datetime

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("staff", "password_changed_at", DateTimeField(default=datetime.datetime(2026, 1, 1))),
        migrator.add_column("staff", "totp_secret", CharField(max_length=200, null=True)),
        migrator.add_column("staff", "phone_enc", CharField(max_length=200, null=True)),
        migrator.add_column("cases", "applicant_id_hash", CharField(max_length=64, null=True)),
        migrator.add_column("cases", "applicant_phone_hash", CharField(max_length=64, null=True)),
        migrator.add_index("cases", ("applicant_id_hash",), False),
    )

    class Staff(Model):
        class Meta:
            database = db
            table_name = "staff"

    class SignInAttempt(Model):
        username = CharField(max_length=80, index=True)
        at = DateTimeField(index=True)
        ok = BooleanField()
        ip = CharField(max_length=64, default="")

        class Meta:
            database = db
            table_name = "sign_in_attempt"

    class UserSession(Model):
        token_hash = CharField(max_length=64, unique=True)
        staff = ForeignKeyField(Staff, on_delete="RESTRICT")
        created_at = DateTimeField()
        last_seen = DateTimeField()
        ended_at = DateTimeField(null=True)
        ended_why = CharField(max_length=20, null=True)
        ip = CharField(max_length=64, default="")
        user_agent = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "user_session"

    db.create_tables([SignInAttempt, UserSession])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("user_session"),
        migrator.drop_table("sign_in_attempt"),
        migrator.drop_index("cases", "cases_applicant_id_hash"),
        migrator.drop_column("cases", "applicant_phone_hash"),
        migrator.drop_column("cases", "applicant_id_hash"),
        migrator.drop_column("staff", "phone_enc"),
        migrator.drop_column("staff", "totp_secret"),
        migrator.drop_column("staff", "password_changed_at"),
    )
