"""Site self-assessments and their answers, the supervisors' notes on the
staff assessment, and the stations' work log (core.compliance.models)."""
from peewee import *

JSONField = TextField  # frozen: JSON is stored as text


def up(migrator, db):
    class Staff(Model):
        class Meta:
            database = db
            table_name = "staff"

    class SiteAssessment(Model):
        county_code = CharField(max_length=6, index=True)
        site_code = CharField(max_length=80, index=True)
        standard = CharField(max_length=80)
        period = CharField(max_length=20)
        state = CharField(max_length=10)
        created_by = ForeignKeyField(Staff, on_delete="RESTRICT")
        created_at = DateTimeField()
        submitted_at = DateTimeField(null=True)
        reviewed_by = ForeignKeyField(Staff, null=True, on_delete="RESTRICT")
        reviewed_at = DateTimeField(null=True)
        review_note = TextField()
        measured = JSONField(null=True)

        class Meta:
            database = db
            table_name = "site_assessment"
            indexes = ((("site_code", "standard", "period"), True),)

    class AssessmentAnswer(Model):
        county_code = CharField(max_length=6, index=True)
        assessment = ForeignKeyField(SiteAssessment, on_delete="RESTRICT")
        requirement = CharField(max_length=80)
        status = CharField(max_length=10)
        note = TextField()
        evidence = JSONField(null=True)
        answered_by = ForeignKeyField(Staff, on_delete="RESTRICT")
        updated_at = DateTimeField()
        review = CharField(max_length=10, null=True)
        review_note = TextField()

        class Meta:
            database = db
            table_name = "assessment_answer"
            indexes = ((("assessment", "requirement"), True),)

    class AssessmentNote(Model):
        county_code = CharField(max_length=6, index=True)
        staff = ForeignKeyField(Staff, on_delete="RESTRICT")
        period_start = DateField()
        period_end = DateField()
        note = TextField()
        author = ForeignKeyField(Staff, on_delete="RESTRICT")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "assessment_note"

    class WorkLog(Model):
        county_code = CharField(max_length=6, index=True)
        site_code = CharField(max_length=80)
        day = DateField()
        on_duty = CharField(max_length=80)
        problems = TextField()
        coordination = TextField()
        author = ForeignKeyField(Staff, on_delete="RESTRICT")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "work_log"
            indexes = ((("site_code", "day"), True),)

    db.create_tables([SiteAssessment, AssessmentAnswer, AssessmentNote, WorkLog])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("work_log"), migrator.drop_table("assessment_note"),
                     migrator.drop_table("assessment_answer"), migrator.drop_table("site_assessment"))
