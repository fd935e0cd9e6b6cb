"""The ledger's CSV and Excel exports stream: the same rows as read
straight from the database (scope, columns, masking), sent as a generator
after the audit entry is written, in memory that does not grow with the
number of cases (issue 13)."""
import csv
import datetime
import io
import json
import tracemalloc

import openpyxl
import pytest

from core import personal
from core.cases import export, history
from core.cases.models import Case
from core.models import AuditEntry, MetadataRecord, Region, Staff
from tests.helpers import sign_in

COUNTY = "150626"
HEADER = ["Receipt number", "Date", "Applicant", "ID number", "Phone", "Village", "Item", "Item version", "State",
          "Finish by", "Overdue", "Finished on", "Owner", "Rating", "Rating comment"]
PHONE = "13947701234"


def _en(value):
    if isinstance(value, str):
        return value
    return value.get("en") or value.get("zh")


def _stars(text, keep_head, keep_tail):
    if not text:
        return ""
    return text[:keep_head] + "*" * (len(text) - keep_head - keep_tail) + text[-keep_tail:]


def _current(kind, key, county):
    records = {r.county_code: r for r in MetadataRecord.select().where(
        (MetadataRecord.kind == kind) & (MetadataRecord.key == key) & MetadataRecord.current)}
    return records.get(county) or records.get("")


def oracle(state=None):
    """The county supervisor's ledger (the whole county) in English, read
    from the rows themselves: SQL, the cipher, the metadata records."""
    names = {r.code: _en(r.name) for r in Region.select().where(Region.county_code == COUNTY)}
    staff = {s.id: s.name for s in Staff.select().where(Staff.county_code == COUNTY)}
    sql = ("SELECT number, created_at, applicant_name, applicant_id_number, applicant_phone, village_code,"
           " township_code, item_code, item_version, workflow, state, due_day, finished_on, owner_id, rating,"
           " rating_comment FROM cases WHERE county_code = %s" + (" AND state = %s" if state else "") + " ORDER BY id")
    database = Case._meta.database
    if not database.param == "%s":
        sql = sql.replace("%s", "?")
    today = datetime.date.today()
    rows = []
    for (number, created, applicant, id_enc, phone_enc, village, township, item_code, version, flow, code, due,
         finished, owner, rating, comment) in database.execute_sql(sql, (COUNTY, state) if state else (COUNTY,)):
        created = created if isinstance(created, datetime.datetime) else datetime.datetime.fromisoformat(created)
        due = due if due is None or isinstance(due, datetime.date) else datetime.date.fromisoformat(due)
        finished = (finished if finished is None or isinstance(finished, datetime.date)
                    else datetime.date.fromisoformat(finished))
        id_number = personal.decrypt(id_enc, "cases.applicant_id_number")
        phone = personal.decrypt(phone_enc, "cases.applicant_phone")
        item = _current("items", item_code, COUNTY)
        states = {s["code"]: s["name"] for s in _current("workflows", flow, "").content["states"]}
        comment = personal.reveal_text(comment or "", "cases.rating_comment")
        rows.append([number, created.date().isoformat(), applicant or "", _stars(id_number, 3, 4),
                     _stars(phone, 3, 4), names.get(village or township, ""),
                     _en(item.content["name"]) if item else item_code, str(version), _en(states[code]),
                     due.isoformat() if due else "", "Yes" if due and not finished and due < today else "",
                     finished.isoformat() if finished else "", staff.get(owner, ""),
                     "" if rating is None else str(rating), comment.replace(PHONE, _stars(PHONE, 3, 4))])
    return rows


def _xlsx_rows(data, title=None):
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    assert title is None or sheet.title == title
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def ledger(demo_app):
    """The demo county plus a year of history, one case with a phone number
    in its rating comment, one without the masks stored with it (filed
    before migration 0024); the county supervisor signed in."""
    with demo_app.app_context():
        history.generate(COUNTY, 40, seed=7, keep=False)
        case = Case.select().where(Case.county_code == COUNTY).order_by(Case.id.desc()).first()
        case.rating_comment = personal.protect_text(f"请回电 {PHONE}，谢谢", "cases.rating_comment")
        case.save()
        oldest = Case.select().where(Case.county_code == COUNTY).order_by(Case.id).first()  # before stored masks
        Case.update(applicant_id_masked=None, applicant_phone_masked=None).where(Case.id == oldest.id).execute()
    client = demo_app.test_client()
    assert sign_in(client, "county.supervisor").status_code == 302
    return demo_app, client


def test_csv_and_excel_hold_the_rows_read_from_the_database(ledger, monkeypatch):
    app, client = ledger
    monkeypatch.setattr(export, "CHUNK", 7)  # many chunks: the keyset pages join without a gap or a repeat
    with app.app_context():
        expected = oracle()
        accepted = oracle("accepted")
    assert len(expected) > 50 and 0 < len(accepted) < len(expected)
    assert any(PHONE[:3] + "****" + PHONE[-4:] in r[-1] for r in expected)
    text = client.get("/cases/export.csv?lang=en").get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0] == HEADER
    assert table[1:] == expected
    assert PHONE not in text
    table = list(csv.reader(io.StringIO(client.get("/cases/export.csv?lang=en&state=accepted")
                                        .get_data(as_text=True)[1:])))
    assert table[1:] == accepted
    sheet = _xlsx_rows(client.get("/cases/export.xlsx?lang=en").get_data(), title="Ledger")
    assert sheet[0] == HEADER
    assert sheet[1:] == expected


def test_exports_stream_after_the_audit_entry(ledger, monkeypatch):
    app, client = ledger
    monkeypatch.setattr(export, "CHUNK", 7)
    monkeypatch.setattr(export, "FILE_PIECE", 1024)
    with app.app_context():
        total = Case.select().where(Case.county_code == COUNTY).count()
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/cases/export.{fmt}", buffered=False)
        assert response.status_code == 200
        assert response.is_streamed
        with app.app_context():  # audited before a byte was read, with the rows the file will hold
            entry = (AuditEntry.select().where(AuditEntry.action == "ledger.export")
                     .order_by(AuditEntry.seq.desc()).first())
            payload = json.loads(entry.payload)
        assert payload == {"format": fmt, "rows": total}
        pieces = iter(response.response)
        first = next(pieces)  # a chunk's rows (CSV) or a piece of the file (Excel), not the whole export
        data = first + b"".join(pieces)
        response.close()
        if fmt == "csv":
            assert len(first.decode("utf-8-sig").splitlines()) == 1 + 7
        else:
            assert len(first) == 1024
        assert len(data) > 4 * len(first)
        rows = (len(_xlsx_rows(data)) if fmt == "xlsx"
                else len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))))
        assert rows == total + 1


def _peak(client, path):
    tracemalloc.start()
    try:
        response = client.get(path, buffered=False)
        size = sum(len(piece) for piece in response.response)
        response.close()
        return tracemalloc.get_traced_memory()[1], size
    finally:
        tracemalloc.stop()


def test_export_memory_does_not_grow_with_the_number_of_cases(ledger, monkeypatch):
    """Ten times the cases, not ten times the peak: the export holds one
    chunk of rows at a time (all rows at once took 5.1 GB for a million)."""
    app, client = ledger
    monkeypatch.setattr(export, "CHUNK", 50)
    monkeypatch.setattr(export, "FILE_PIECE", 16 * 1024)  # the pieces of the finished file: a constant, kept small
    one_item = Case.update(item_code=Case.select(Case.item_code).where(Case.county_code == COUNTY)
                           .order_by(Case.id).limit(1)).where(Case.county_code == COUNTY)
    with app.app_context():
        history.generate(COUNTY, 200, seed=8, tag="S", keep=False)
        # one item name for all: the names looked up once per export grow with the catalog, not the rows
        one_item.execute()
        small = Case.select().where(Case.county_code == COUNTY).count()
    small_csv, small_bytes = _peak(client, "/cases/export.csv")
    small_xlsx, _ = _peak(client, "/cases/export.xlsx")
    with app.app_context():
        history.generate(COUNTY, 9 * small, seed=9, tag="L", keep=False)
        one_item.execute()
        large = Case.select().where(Case.county_code == COUNTY).count()
    large_csv, large_bytes = _peak(client, "/cases/export.csv")
    large_xlsx, _ = _peak(client, "/cases/export.xlsx")
    assert large >= 9 * small and large_bytes > 8 * small_bytes
    # holding every row grows the peak with the rows (~10x here); streamed, it stays well under 2x
    assert large_csv < 2 * small_csv, (small_csv, large_csv)
    assert large_xlsx < 2 * small_xlsx, (small_xlsx, large_xlsx)
