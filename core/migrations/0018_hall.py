"""The public service hall: appointments (预约) and home-visit requests
(上门服务), and a case's green channel (绿色通道): the special group it was
filed for, or NULL."""
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

    class Appointment(Model):
        county_code = CharField(index=True, max_length=6)
        region_code = CharField(index=True, max_length=15)
        site_code = CharField(max_length=80)
        item_code = CharField(null=True, max_length=120)
        day = DateField(index=True)
        start = CharField(max_length=5)
        session_kind = CharField(max_length=12, default='regular')
        seat = IntegerField(null=True)
        name_enc = TextField()
        phone_enc = CharField(max_length=200)
        state = CharField(index=True, max_length=12, default='booked')
        created_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        cancel_token = CharField(unique=True, max_length=32)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'appointment'
            indexes = ((('site_code', 'day', 'start', 'seat'), True),)

    class HomeVisit(Model):
        county_code = CharField(index=True, max_length=6)
        region_code = CharField(index=True, max_length=15)
        number = CharField(unique=True, max_length=32)
        name_enc = TextField()
        phone_enc = CharField(max_length=200)
        address = TextField(default='')
        reason = TextField(default='')
        special_group = CharField(null=True, max_length=40)
        assignee = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        requested_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        visit_day = DateField(null=True)
        state = CharField(index=True, max_length=12, default='requested')
        case = ForeignKeyField(Case, null=True, on_delete='RESTRICT')
        note = TextField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'home_visit'

    db.create_tables([Appointment, HomeVisit])
    migrator.migrate(migrator.add_column('cases', 'green_channel', CharField(max_length=40, null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('cases', 'green_channel'))
    migrator.migrate(migrator.drop_table('home_visit'))
    migrator.migrate(migrator.drop_table('appointment'))
