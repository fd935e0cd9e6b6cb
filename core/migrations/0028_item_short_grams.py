"""Postings for short queries (core.item_search.grams): each search line's
first one and two characters and the one- and two-character pieces of its
Chinese text, so that the first keys typed into the picker read the index
instead of every item's keys. The postings are written anew from the
search rows."""
from peewee import CharField, IntegerField, Model, TextField


def up(migrator, db):
    from core.item_search import grams

    class ItemSearch(Model):
        county_code = CharField(max_length=6)
        keys = TextField(default="")

        class Meta:
            database = db
            table_name = "item_search"

    class ItemGram(Model):
        county_code = CharField(max_length=6)
        gram = CharField(max_length=12)
        item = IntegerField(column_name="item_id")

        class Meta:
            database = db
            table_name = "item_gram"

    ItemGram.delete().execute()
    pieces = []
    for row in ItemSearch.select(ItemSearch.id, ItemSearch.county_code, ItemSearch.keys).order_by(ItemSearch.id):
        pieces += [dict(county_code=row.county_code, gram=g, item=row.id) for g in sorted(grams(row.keys))]
        if len(pieces) >= 2000:
            ItemGram.insert_many(pieces).execute()
            pieces = []
    if pieces:
        ItemGram.insert_many(pieces).execute()


def down(migrator, db):
    """The short postings stay: the search of the version before ignores them."""
