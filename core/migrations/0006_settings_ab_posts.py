"""A/B posts (AB岗) on staff, and plugin settings resolved from the
narrowest scope outward (site → township → county → root)."""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("staff", "covers_id", IntegerField(null=True)))

    class PluginSetting(Model):
        plugin = CharField(max_length=80)
        key = CharField(max_length=80)
        scope = CharField(max_length=80, default="")  # "" root, a division code, or "site:<code>"
        county_code = CharField(max_length=6, default="", index=True)
        value = TextField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "plugin_setting"
            indexes = ((("plugin", "key", "scope"), True),)

    db.create_tables([PluginSetting])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("plugin_setting"), migrator.drop_column("staff", "covers_id"))
