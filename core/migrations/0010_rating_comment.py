"""The rating comment (评价意见) recorded with the `evaluate` step; and the
free text written before personal numbers in it were protected (notes,
reasons, case data, delivery details, commission principals) rewritten
with inline tokens (``core.personal.protect_text``), so no ID number or
phone stays in plain text. Runs inside the app (``bangban migrate``), which
holds the field-encryption keys. Audit entries are append-only and MACed:
older payloads are left as they are (and masked on display).

``down`` drops the column; protected text stays protected (the app reads
it either way)."""
import json

from peewee import *

TEXT = [("case_event", "note", "case_event.note"), ("subtask", "note", "subtask.note"),
        ("handover", "note", "handover.note")]
MAPPINGS = [("case_event", "data", "case_event.data"), ("cases", "data", "cases.data"),
            ("cases", "delivery", "cases.delivery"), ("commission", "principal", "commission.principal")]


def _rewrite(db, table, column, change):
    """Rewrite one text column row by row (identifiers quoted by peewee)."""
    t = Table(table, ("id", column)).bind(db)
    field = getattr(t, column)
    for row_id, value in list(t.select(t.id, field).where(field.is_null(False)).tuples()):
        new = change(value)
        if new != value:
            t.update({field: new}).where(t.id == row_id).execute()


def _json(change):
    def apply(text):
        data = json.loads(text)
        new = change(data)
        return text if new == data else json.dumps(new, ensure_ascii=False, sort_keys=True)
    return apply


def up(migrator, db):
    from core import personal

    migrator.migrate(migrator.add_column("cases", "rating_comment", TextField(null=True)))
    for table, column, context in TEXT:
        _rewrite(db, table, column, lambda v, c=context: personal.protect_text(v, c))
    for table, column, context in MAPPINGS:
        _rewrite(db, table, column, _json(lambda d, c=context: personal.protect_mapping(d, c)
                                          if isinstance(d, dict) else d))

    def tolerance(data):
        if isinstance(data, dict) and isinstance(data.get("material"), str):
            return {**data, "material": personal.protect_text(data["material"], "cases.tolerance.material")}
        return data

    _rewrite(db, "cases", "tolerance", _json(tolerance))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("cases", "rating_comment"))
