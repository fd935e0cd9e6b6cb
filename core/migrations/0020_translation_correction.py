"""Corrections of translations made on the review page (plugins/mongolian):
one row per version of a text, audited, exported back to the catalogs and
packs by ``bangban translations export``."""
from peewee import *


def up(migrator, db):
    class TranslationCorrection(Model):
        county_code = CharField(max_length=6, default="", index=True)
        locale = CharField(max_length=20)
        source = CharField(max_length=20)
        key = TextField()
        text = TextField()
        reviewed = BooleanField(default=False)
        version = IntegerField()
        actor = CharField(max_length=80)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "translation_correction"
            indexes = ((("locale", "source", "key", "version"), True),)

    db.create_tables([TranslationCorrection])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("translation_correction"))
