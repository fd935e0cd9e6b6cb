"""The item catalog's search keys (core.item_search): one row per current
item version, written at sync; filled here from the current items."""
import json

from peewee import *


def up(migrator, db):
    class MetadataRecord(Model):
        county_code = CharField(max_length=6, default="")
        kind = CharField(max_length=40)
        content = TextField()
        current = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "metadata_record"

    class ItemSearch(Model):
        county_code = CharField(max_length=6, index=True)
        key = CharField(max_length=120)
        record = ForeignKeyField(MetadataRecord, on_delete="CASCADE")
        department = CharField(max_length=40, default="")
        at_county = BooleanField(default=False)
        at_township = BooleanField(default=False)
        at_village = BooleanField(default=False)
        priority = SmallIntegerField(default=1)
        keys = TextField(default="")

        class Meta:
            database = db
            table_name = "item_search"
            indexes = ((("county_code", "key"), True), (("county_code", "priority", "key"), False))

    db.create_tables([ItemSearch])
    from core.item_search import search_row

    query = (MetadataRecord.select(MetadataRecord.id, MetadataRecord.county_code, MetadataRecord.content)
             .where((MetadataRecord.kind == "items") & (MetadataRecord.current == True))  # noqa: E712
             .order_by(MetadataRecord.id))
    rows = [search_row(r.id, r.county_code, json.loads(r.content)) for r in query]
    for start in range(0, len(rows), 200):
        ItemSearch.insert_many(rows[start:start + 200]).execute()


def down(migrator, db):
    migrator.migrate(migrator.drop_table("item_search"))
