"""Indexes covering the case lists' filters and counts (issue 13), and the
masked applicant ID number and phone stored beside their ciphertexts, so a
list, the ledger and its API show them without decrypting every row.

Each list condition is the county, then the scope's area (township,
village), then the state filter, ordered by id: the county's, a township's
and a village's cases of a state are one index range, counted from the
index alone and listed in id order without a sort. Overdue and due-soon
lists range over (county, due day); site and department lists have theirs.

Existing cases keep NULL masks: the model masks them from the decrypted
value as before (``Case.masked_id_number``)."""
from peewee import CharField

#: (columns) of each new index on ``cases``; names follow peewee's rule
INDEXES = [
    ("county_code", "state", "id"),
    ("county_code", "township_code", "state", "id"),
    ("county_code", "village_code", "state", "id"),
    ("county_code", "due_day", "finished_on"),
    ("county_code", "site_code", "state"),
    ("county_code", "department", "state"),
]


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("cases", "applicant_id_masked", CharField(max_length=32, null=True)),
        migrator.add_column("cases", "applicant_phone_masked", CharField(max_length=32, null=True)),
        *[migrator.add_index("cases", columns, False) for columns in INDEXES])


def down(migrator, db):
    from playhouse.migrate import make_index_name

    migrator.migrate(*[migrator.drop_index("cases", make_index_name("cases", list(columns))) for columns in INDEXES],
                     migrator.drop_column("cases", "applicant_phone_masked"),
                     migrator.drop_column("cases", "applicant_id_masked"))
