"""TOTP replay protection: the last time step a code was accepted for."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("staff", "totp_last_step", BigIntegerField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("staff", "totp_last_step"))
