"""好差评: a rating per case and stage, and the handling of a 差评
(rectification: verify, rectify or appeal, callback) — core.ratings.models."""
from peewee import *


def up(migrator, db):
    class Staff(Model):
        class Meta:
            database = db
            table_name = 'staff'

    class Case(Model):
        class Meta:
            database = db
            table_name = 'cases'

    class Rating(Model):
        county_code = CharField(index=True, max_length=6)
        case = ForeignKeyField(Case, on_delete='RESTRICT')
        stage = CharField(max_length=12)
        level = IntegerField()
        channel = CharField(max_length=12)
        rater = CharField(max_length=10)
        comment = TextField(null=True)
        recorded_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        handled = BooleanField(default=False)
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'rating'
            indexes = ((('case', 'stage'), True),)
    db.create_tables([Rating])

    class Rectification(Model):
        county_code = CharField(index=True, max_length=6)
        rating = ForeignKeyField(Rating, unique=True, on_delete='RESTRICT')
        case = ForeignKeyField(Case, on_delete='RESTRICT')
        state = CharField(index=True, max_length=10)
        assignee = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        verify_note = TextField(default='')
        due_day = DateField(null=True, index=True)
        rectify_note = TextField(default='')
        rectified_on = DateField(null=True)
        rectified_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        appeal_reason = TextField(default='')
        appeal_outcome = CharField(null=True, max_length=10)
        appeal_decision = TextField(default='')
        callback_on = DateField(null=True)
        callback_way = CharField(null=True, max_length=10)
        callback_level = IntegerField(null=True)
        callback_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        escalated_at = DateTimeField(null=True)
        created_at = DateTimeField()
        closed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'rectification'
    db.create_tables([Rectification])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('rectification'))
    migrator.migrate(migrator.drop_table('rating'))
