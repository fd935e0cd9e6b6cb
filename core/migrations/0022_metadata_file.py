"""Each pack file's digest and entries at its last sync, so that
``metadata sync`` parses only the files that changed."""
from peewee import *

JSONField = TextField  # frozen: JSON is stored as text


def up(migrator, db):
    class MetadataFile(Model):
        county_code = CharField(max_length=6, default="", index=True)
        pack_dir = CharField(max_length=500, index=True)
        path = CharField(max_length=500, unique=True)
        digest = CharField(max_length=64)
        entries = JSONField()
        fingerprint = CharField(max_length=64)
        sync_mark = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "metadata_file"

    db.create_tables([MetadataFile])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("metadata_file"))
