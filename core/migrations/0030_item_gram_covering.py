"""The postings index covers the item: ``(gram, county_code, item_id)``
instead of ``(gram, county_code)``, so that a search reads its candidate
items (and a short query its ranks) from the index alone, not a table row
per posting (the first key typed finds hundreds of items in a large
catalog). The names are the ones peewee gives a model's index."""


def up(migrator, db):
    db.execute_sql('CREATE INDEX "itemgram_gram_county_code_item_id" ON "item_gram" ("gram", "county_code", "item_id")')
    db.execute_sql('DROP INDEX "itemgram_gram_county_code"')


def down(migrator, db):
    db.execute_sql('CREATE INDEX "itemgram_gram_county_code" ON "item_gram" ("gram", "county_code")')
    db.execute_sql('DROP INDEX "itemgram_gram_county_code_item_id"')
