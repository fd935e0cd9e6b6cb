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
        channels = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "item_search"
            indexes = ((("county_code", "key"), True), (("county_code", "priority", "key"), False))

    class ItemGram(Model):
        county_code = CharField(max_length=6, index=True)
        gram = CharField(max_length=12)
        item = ForeignKeyField(ItemSearch, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "item_gram"
            indexes = ((("gram", "county_code"), False),)

    db.create_tables([ItemSearch, ItemGram])
    from core.item_search import grams, search_row

    query = (MetadataRecord.select(MetadataRecord.id, MetadataRecord.county_code, MetadataRecord.content)
             .where((MetadataRecord.kind == "items") & (MetadataRecord.current == True))  # noqa: E712
             .order_by(MetadataRecord.id))
    for r in query:
        row = search_row(r.id, r.county_code, json.loads(r.content))
        item = ItemSearch.create(**row)
        pieces = [dict(county_code=r.county_code, gram=g, item=item.id) for g in sorted(grams(row["keys"]))]
        for start in range(0, len(pieces), 500):
            ItemGram.insert_many(pieces[start:start + 500]).execute()


def down(migrator, db):
    migrator.migrate(migrator.drop_table("item_gram"), migrator.drop_table("item_search"))
