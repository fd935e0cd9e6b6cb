"""Each pack file's size and modification time at its last sync (when old
enough to be trusted), so that ``metadata sync`` skips reading and hashing
an unchanged file, as git's index does."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column("metadata_file", "stat", CharField(max_length=40, default="")))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("metadata_file", "stat"))
