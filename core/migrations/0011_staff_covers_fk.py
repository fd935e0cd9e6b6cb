"""A/B posts: ``staff.covers_id`` becomes what the model always said, a
foreign key to ``staff`` (ON DELETE SET NULL) with an index. Migration 0006
had added it as a plain integer. Ids of staff that no longer exist are
cleared first, as the constraint would have done."""
from peewee import *

CLEAR_DANGLING = ("UPDATE staff SET covers_id = NULL WHERE covers_id IS NOT NULL "
                  "AND covers_id NOT IN (SELECT id FROM staff)")


def up(migrator, db):
    db.execute_sql(CLEAR_DANGLING)
    if isinstance(db, PostgresqlDatabase):
        migrator.migrate(migrator.add_foreign_key_constraint("staff", "covers_id", "staff", "id",
                                                             on_delete="SET NULL"))
    else:  # SQLite adds a constraint by rebuilding the table (foreign keys off meanwhile)
        migrator.migrate(migrator._update_column(
            "staff", "covers_id", lambda _name, column: column + ' REFERENCES "staff" ("id") ON DELETE SET NULL'))
    migrator.migrate(migrator.add_index("staff", ("covers_id",), False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("staff", "staff_covers_id"))
    if isinstance(db, PostgresqlDatabase):
        migrator.migrate(migrator.drop_foreign_key_constraint("staff", "covers_id"))
    else:
        migrator.migrate(migrator.alter_column_type("staff", "covers_id", IntegerField(null=True)))
