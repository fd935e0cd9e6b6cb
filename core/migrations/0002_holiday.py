"""The editable holiday calendar (official holidays and make-up workdays)."""
from peewee import *


def up(migrator, db):
    class Holiday(Model):
        day = DateField(unique=True)
        kind = CharField(max_length=10)
        name = CharField(max_length=80, default="")
        confirmed = BooleanField(default=True)
        source = CharField(max_length=20, default="package")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "holiday"

    db.create_tables([Holiday])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("holiday"))
