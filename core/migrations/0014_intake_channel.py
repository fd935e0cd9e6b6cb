"""Every case records its intake channel (受理渠道: window,
comprehensive_window, bank, online …), so that the 一窗综办 rate can be
computed; and one index covering the KPI report's grouped scan (a county's
cases of a period by township and site, with every column a metric reads).
Existing cases keep NULL: their channel was never recorded."""
from peewee import *

KPI_INDEX = ("county_code", "created_at", "township_code", "site_code", "intake_channel", "accepted_on",
             "finished_on", "due_day", "rating", "item_record_id")


def up(migrator, db):
    migrator.migrate(migrator.add_column("cases", "intake_channel", CharField(max_length=40, null=True)),
                     migrator.add_index("cases", KPI_INDEX, False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("cases", _name(migrator)),
                     migrator.drop_column("cases", "intake_channel"))


def _name(migrator):
    from playhouse.migrate import make_index_name

    return make_index_name("cases", list(KPI_INDEX))
