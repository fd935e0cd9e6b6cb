"""The first keys typed read a page in the order it is shown: one row per
item and short query (``item_prefix``, core.item_search.prefixes) with its
rank, list order and levels, indexed in that order; a department's items
indexed in list order too. The short postings of
``item_gram`` (migration 0028) are no longer read and go."""
from peewee import BooleanField, CharField, IntegerField, Model, SmallIntegerField, TextField, fn
from peewee import ForeignKeyField

MARKERS = ("\x02", "\x03", "\x04")


def _models(db):
    class ItemSearch(Model):
        county_code = CharField(max_length=6)
        key = CharField(max_length=120)
        record = IntegerField(column_name="record_id")
        at_county = BooleanField(default=False)
        at_township = BooleanField(default=False)
        at_village = BooleanField(default=False)
        priority = SmallIntegerField(default=1)
        keys = TextField(default="")

        class Meta:
            database = db
            table_name = "item_search"

    class ItemPrefix(Model):
        county_code = CharField(max_length=6)
        prefix = CharField(max_length=8)
        rank = SmallIntegerField()
        priority = SmallIntegerField()
        key = CharField(max_length=120)
        item = ForeignKeyField(ItemSearch, on_delete="CASCADE", index=False)
        record_id = IntegerField()
        at_county = BooleanField(default=False)
        at_township = BooleanField(default=False)
        at_village = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "item_prefix"
            indexes = ((("prefix", "county_code", "rank", "priority", "key", "record_id", "at_county", "at_township",
                         "at_village"), False),
                       (("item", "prefix"), False))

    class ItemGram(Model):
        county_code = CharField(max_length=6)
        gram = CharField(max_length=12)
        item = IntegerField(column_name="item_id")

        class Meta:
            database = db
            table_name = "item_gram"

    return ItemSearch, ItemPrefix, ItemGram


def up(migrator, db):
    from core.item_search import prefixes

    ItemSearch, ItemPrefix, ItemGram = _models(db)
    db.create_tables([ItemPrefix])
    # a department's items in list order (a short query that starts a department's name finds them)
    db.execute_sql('CREATE INDEX "itemsearch_county_code_department_priority_key" ON "item_search" '
                   '("county_code", "department", "priority", "key")')
    rows = []
    for row in ItemSearch.select().order_by(ItemSearch.id):
        rows += [dict(county_code=row.county_code, prefix=prefix, rank=rank, priority=row.priority, key=row.key,
                      item=row.id, record_id=row.record, at_county=row.at_county, at_township=row.at_township,
                      at_village=row.at_village) for prefix, rank in sorted(prefixes(row.keys).items())]
        if len(rows) >= 2000:
            ItemPrefix.insert_many(rows).execute()
            rows = []
    if rows:
        ItemPrefix.insert_many(rows).execute()
    # a short posting is a marker and a line's first characters, or one or two Chinese characters
    ItemGram.delete().where(fn.SUBSTR(ItemGram.gram, 1, 1).in_(MARKERS) | (fn.LENGTH(ItemGram.gram) < 3)).execute()


def down(migrator, db):
    """The short postings come back (as migration 0028 wrote them); the table goes."""
    import re

    ItemSearch, _ItemPrefix, ItemGram = _models(db)
    han = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
    pieces = []
    for row in ItemSearch.select(ItemSearch.id, ItemSearch.county_code, ItemSearch.keys).order_by(ItemSearch.id):
        short = set()
        for line in row.keys.split("\n"):
            marker, text = line[:1], line[1:]
            short.update(marker + text[:n] for n in range(1, 3) if len(text) >= n)
            for run in han.findall(text):
                short.update(run[i:i + n] for n in range(1, 3) for i in range(len(run) - n + 1))
        pieces += [dict(county_code=row.county_code, gram=g, item=row.id) for g in sorted(short)]
        if len(pieces) >= 2000:
            ItemGram.insert_many(pieces).execute()
            pieces = []
    if pieces:
        ItemGram.insert_many(pieces).execute()
    db.execute_sql('DROP TABLE "item_prefix"')
    db.execute_sql('DROP INDEX "itemsearch_county_code_department_priority_key"')
