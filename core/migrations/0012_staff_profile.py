"""What the public staff board (挂牌公示) shows of a staff member besides
name and role: hours on duty, photo, posts (党员先锋岗 …), as JSON."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("staff", "profile", TextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("staff", "profile"))
