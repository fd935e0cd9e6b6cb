"""ID numbers and phones: encrypted at rest, masked in responses, revealed
only on purpose and audited — on SQLite and PostgreSQL."""
import re
from pathlib import Path


from core.cases.models import Case
from core.db import is_postgres, proxy
from core.models import AuditEntry
from tests.helpers import csrf_token, sign_in

ID_RE = re.compile(rb"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
MOBILE_RE = re.compile(rb"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")



def database_rows(app):
    """Every value of every table, as text."""
    with app.app_context():
        db = proxy.obj
        tables = db.get_tables()
        out = []
        for table in tables:
            for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
                out.append(" | ".join("" if v is None else str(v) for v in row))
        return "\n".join(out)


def database_bytes(app):
    """Everything the database holds, as bytes (the files themselves on
    SQLite, free pages included)."""
    with app.app_context():
        db = proxy.obj
        if is_postgres(db):
            tables = [r[0] for r in db.execute_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
            chunks = []
            for table in tables:
                for (row,) in db.execute_sql(f'SELECT row_to_json(t)::text FROM "{table}" t').fetchall():
                    chunks.append(row.encode("utf-8"))
            return b"\n".join(chunks)
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(db.database)
        return b"".join(p.read_bytes() for p in [path, Path(f"{path}-wal")] if p.exists())


def test_no_plain_id_number_or_case_phone_in_the_database(demo_app):
    from core.forms import valid_id_number

    with demo_app.app_context():
        cases = list(Case.select())
        assert len(cases) >= 10
        assert all(c.applicant_id_number.startswith("enc1:") and c.applicant_phone.startswith("enc1:") for c in cases)
        secrets = {c.id_number() for c in cases} | {c.phone() for c in cases}
    assert all(len(s) in (11, 18) for s in secrets)
    raw = database_bytes(demo_app)
    assert [s for s in secrets if s.encode() in raw] == []
    text = database_rows(demo_app).encode()
    assert [m for m in (x.decode() for x in ID_RE.findall(text)) if valid_id_number(m) is None] == []


def test_lookup_by_keyed_hash(demo_app):
    from core import personal

    with demo_app.app_context():
        case = Case.select().first()
        found = Case.select().where(Case.applicant_id_hash == personal.id_hash(case.id_number().lower())).first()
        assert found.id == case.id


def test_commission_is_masked_and_reveal_is_audited(demo_app):
    client = demo_app.test_client()
    sign_in(client, "galutu.agent")
    with demo_app.app_context():
        case = Case.select().where(Case.township_code == "150626100").first()
        full_id, full_phone = case.id_number(), case.phone()
    html = client.get(f"/cases/{case.id}/commission").get_data(as_text=True)
    assert full_id not in html and full_phone not in html
    assert full_id[:3] + "*" * 11 + full_id[-4:] in html
    assert full_phone[:3] + "****" + full_phone[-4:] in html
    token = csrf_token(client, f"/cases/{case.id}/commission")
    revealed = client.post(f"/cases/{case.id}/commission", data={"csrf_token": token})
    assert full_id in revealed.get_data(as_text=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    with demo_app.app_context():
        entries = list(AuditEntry.select().where(AuditEntry.action == "personal_data.reveal"))
        assert [(e.actor, e.entity) for e in entries] == [("galutu.agent", f"case:{case.number}")]


def test_roles_without_reveal_permission_cannot_reveal(demo_app):
    client = demo_app.test_client()
    sign_in(client, "county.tracker")  # stage tracker: reads cases, no personal_data.reveal
    with demo_app.app_context():
        case = Case.select().first()
        full_id = case.id_number()
    html = client.get(f"/cases/{case.id}/commission").get_data(as_text=True)
    assert full_id not in html and 'id="reveal"' not in html
    token = csrf_token(client, f"/cases/{case.id}/commission")
    assert client.post(f"/cases/{case.id}/commission", data={"csrf_token": token}).status_code == 403


def test_free_text_holds_no_plain_id_number_or_phone_in_the_database(demo_app):
    """A text field, a scan's file name, an urge note and a decline reason
    with ID numbers and phones: none of them rests in plain text anywhere
    (every column of every table, the SQLite files themselves), yet the rest
    of the text stays readable."""
    from core.cases.models import CaseEvent
    from core.forms import valid_id_number
    from tests.personal_helpers import SECRETS, filed_urged_declined

    case = filed_urged_declined(demo_app)
    raw, text = database_bytes(demo_app), database_rows(demo_app)
    assert [s for s in SECRETS if s.encode() in raw or s in text] == []
    assert [m for m in (x.decode() for x in ID_RE.findall(text.encode())) if valid_id_number(m) is None] == []
    with demo_app.app_context():
        notes = [e.note for e in CaseEvent.select().where(CaseEvent.case == case.id).order_by(CaseEvent.id)]
        assert "不符合条件" in notes[-1] and "申请人电话⟦enc1:" in notes[-1]
        assert "北京市，联系人身份证⟦enc1:" in Case.get_by_id(case.id).data["destination"]
