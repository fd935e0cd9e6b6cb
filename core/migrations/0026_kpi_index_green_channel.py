"""The KPI report's covering index (migration 0014) also holds the green
channel's column: the green channel count is one of the conditions of the
report's one grouped scan, which stays an index-only scan."""
OLD = ("county_code", "created_at", "township_code", "site_code", "intake_channel", "accepted_on",
       "finished_on", "due_day", "rating", "item_record_id")
NEW = OLD + ("green_channel",)


def up(migrator, db):
    migrator.migrate(migrator.drop_index("cases", _name(OLD)), migrator.add_index("cases", NEW, False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("cases", _name(NEW)), migrator.add_index("cases", OLD, False))


def _name(columns):
    from playhouse.migrate import make_index_name

    return make_index_name("cases", list(columns))
