"""Receipt numbers from a per-county-per-day counter (the old MAX+1 raced
under concurrent writers), and an unguessable tracking token per case (the
receipt's QR code links to it). Existing cases get a token each; the
counters start after the highest number already handed out."""
import re
import secrets

from peewee import *

NUMBER = re.compile(r"^([0-9]{6})-([0-9]{4})([0-9]{2})([0-9]{2})-([0-9]+)$")


def up(migrator, db):
    class CaseCounter(Model):
        county_code = CharField(max_length=6)
        day = DateField()
        last = IntegerField()

        class Meta:
            database = db
            table_name = "case_counter"
            indexes = ((("county_code", "day"), True),)

    class Case(Model):
        number = CharField(max_length=32)
        track_token = CharField(max_length=32, null=True)

        class Meta:
            database = db
            table_name = "cases"

    db.create_tables([CaseCounter])
    migrator.migrate(migrator.add_column("cases", "track_token", CharField(max_length=32, null=True)))
    last = {}
    for case in Case.select(Case.id, Case.number).order_by(Case.id):
        Case.update(track_token=secrets.token_urlsafe(16)).where(Case.id == case.id).execute()
        match = NUMBER.match(case.number or "")
        if match:
            county, year, month, day, seq = match.groups()
            key = (county, f"{year}-{month}-{day}")
            last[key] = max(last.get(key, 0), int(seq))
    for (county, day), seq in sorted(last.items()):
        CaseCounter.create(county_code=county, day=day, last=seq)
    migrator.migrate(migrator.add_not_null("cases", "track_token"),
                     migrator.add_index("cases", ("track_token",), True))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("cases", "cases_track_token"),
                     migrator.drop_column("cases", "track_token"),
                     migrator.drop_table("case_counter"))
