"""core.db.insert_row writes the row Model.create writes (defaults, JSON,
dates, foreign keys, None), and sets the new id, on SQLite and PostgreSQL."""
import datetime

from core.cases import service
from core.cases.demo import _form
from core.cases.models import Case, CaseEvent, Commission
from core.db import insert_row, transaction
from core.models import MetadataRecord, Staff

from tests.test_cases import user


def _columns(model, pk):
    row = model.select().where(model._meta.primary_key == pk).dicts().get()
    row.pop(model._meta.primary_key.name)
    return row


def test_insert_row_writes_what_create_writes(demo_app):
    with demo_app.test_request_context():
        staff = Staff.get(Staff.username == "taoli.grid")
        case = Case.select().order_by(Case.id).first()
        values = dict(county_code=case.county_code, case=case, actor=staff.id, role="grid_agent", action="urge",
                      from_state=case.state, to_state=case.state, note="催办：二〇二六年",
                      data={"days": 3, "names": ["张三", "ᠮᠣᠩᠭᠣᠯ"], "at": "2026-12-01"})
        with transaction():
            made = CaseEvent.create(**values)
            fast = insert_row(CaseEvent, **values)
            plain = insert_row(CaseEvent, county_code=case.county_code, case=case, actor=None, role="system",
                               action="escalate", to_state=case.state)
        assert fast.id is not None and fast.id != made.id and plain.id not in (made.id, fast.id)
        assert not fast.is_dirty()
        a, b = _columns(CaseEvent, made.id), _columns(CaseEvent, fast.id)
        assert abs(a.pop("at") - b.pop("at")) < datetime.timedelta(seconds=5)  # the default: now
        assert a == b
        assert a["data"] == values["data"] and a["case"] == case.id
        again = CaseEvent.get_by_id(plain.id)
        assert again.actor_id is None and again.note == "" and again.data is None


def test_submitted_case_rows_read_back(demo_app):
    """A case filed through create_case (insert_row for the case, its
    commission and first event) reads back with every value and its links."""
    with demo_app.test_request_context():
        record = MetadataRecord.get((MetadataRecord.key == "150626-ybj-003") & MetadataRecord.current)
        data = _form(3, "150626100201")
        case = service.create_case(record, data, user("taoli.grid"))
        stored = Case.get_by_id(case.id)
        assert stored.number == case.number and stored.item_record_id == record.id
        assert stored.village_code == "150626100201" and stored.group_code is None
        assert stored.applicant_name == data["applicant_name"]
        assert stored.created_at is not None and stored.track_token == case.track_token
        commission = Commission.get(Commission.case == case.id)
        assert [m["name"] for m in commission.materials] == [m["name"] for m in record.content["materials"]]
        assert commission.powers == service.POWERS
        event = CaseEvent.get(CaseEvent.case == case.id)
        assert (event.action, event.to_state, event.from_state) == ("apply", stored.state, None)
