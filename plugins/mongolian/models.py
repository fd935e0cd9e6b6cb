"""Corrections a native reader makes on the translation review page.

One row per version: saving a correction of a text adds version n+1 (the
earlier ones stay readable); the newest version of each text is what the
interface shows at once, and what ``bangban translations export`` writes
back to the catalog (``.po``) and the metadata packs.
"""
import peewee

from core.models import BaseModel, utcnow

SOURCES = ("catalog", "metadata")


class TranslationCorrection(BaseModel):
    county_code = peewee.CharField(max_length=6, default="", index=True)  # the reviewer's county
    locale = peewee.CharField(max_length=20)
    source = peewee.CharField(max_length=20)  # catalog: key is the msgid; metadata: key is the Chinese text
    key = peewee.TextField()
    text = peewee.TextField()
    reviewed = peewee.BooleanField(default=False)
    version = peewee.IntegerField()
    actor = peewee.CharField(max_length=80)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "translation_correction"
        indexes = ((("locale", "source", "key", "version"), True),)
