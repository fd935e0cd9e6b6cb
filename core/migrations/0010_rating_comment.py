"""The rating comment (评价意见) recorded with the `evaluate` step; personal
numbers in it are stored as tokens like every free text."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("cases", "rating_comment", TextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("cases", "rating_comment"))
