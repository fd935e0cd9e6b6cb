"""What was filled in reaches everyone who may read the case: the form's
answers and uploaded scans on the case page (a department helper's too),
scans downloaded through the scope; the rating comment kept, shown and
exported — on SQLite and PostgreSQL."""
import csv
import io
import re

from openpyxl import load_workbook

from core.cases.models import Case
from core.models import AuditEntry
from tests.helpers import csrf_token
from tests.personal_helpers import (FILE_PHONE, PNG, TEXT_ID, TEXT_PHONE, add_scan_field, client_for, file_case,
                                    masked_id, masked_phone, scan)


def dispatched_with_scan(app):
    add_scan_field(app)
    case = file_case(client_for(app, "taoli.grid"), scan=scan())
    agent = client_for(app, "galutu.agent")
    for code, data in (("accept", {}), ("dispatch", {"department": "ybj"})):
        token = csrf_token(agent, f"/cases/{case.id}")
        assert agent.post(f"/cases/{case.id}/take/{code}", data={"csrf_token": token, **data}).status_code == 302
    with app.app_context():
        return Case.get_by_id(case.id)


def test_department_helper_sees_the_answers_and_the_scans(demo_app):
    case = dispatched_with_scan(demo_app)
    assert case.state == "handling" and case.department == "ybj"
    helper = client_for(demo_app, "ybj.helper")
    html = helper.get(f"/cases/{case.id}?lang=zh_Hans_CN").get_data(as_text=True)
    answers = dict(re.findall(r"<dt>([^<]+)</dt><dd data-field=\"[a-z_]+\">([^<]*)</dd>", html))
    assert answers["就医地"] == f"北京市，联系人身份证{masked_id(TEXT_ID)}，电话{masked_phone(TEXT_PHONE)}"
    assert answers["备案类型"] == "临时外出就医" and answers["备案开始日期"] == "2026-12-01"
    assert TEXT_ID not in html and TEXT_PHONE not in html and FILE_PHONE not in html
    files = re.search(r'<table class="list" id="case-files">(.*?)</table>', html, re.S).group(1)
    link = re.search(r'href="(/cases/\d+/files/[0-9a-f]{64})">([^<]+)</a>', files)
    assert link.group(2) == f"{masked_phone(FILE_PHONE)}扫描.png" and "身份证扫描件" in files and "PNG" in files
    download = helper.get(link.group(1))
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Type"] == "image/png" and download.headers["Cache-Control"] == "no-store"
    assert "attachment" in download.headers["Content-Disposition"] and FILE_PHONE not in str(download.headers)
    with demo_app.app_context():
        assert [(e.actor, e.entity) for e in AuditEntry.select().where(AuditEntry.action == "case.file_download")] \
            == [("ybj.helper", f"case:{case.number}")]
    for outsider in ("rsj.helper", "tuke.agent"):  # another department, another township
        assert client_for(demo_app, outsider).get(link.group(1)).status_code == 404
    assert helper.get(link.group(1)[:-1] + ("0" if link.group(1)[-1] != "0" else "1")).status_code == 404


def test_a_case_serves_only_its_own_scans(demo_app):
    case = dispatched_with_scan(demo_app)
    sha = case.data["scan"]["sha256"]
    with demo_app.app_context():
        other = Case.select().where((Case.id != case.id) & (Case.township_code == "150626100")).first()
    agent = client_for(demo_app, "galutu.agent")  # may read both cases
    assert agent.get(f"/cases/{case.id}/files/{sha}").status_code == 200
    assert agent.get(f"/cases/{other.id}/files/{sha}").status_code == 404


def evaluated(app, comment):
    with app.app_context():
        case = Case.select().where(Case.state == "archived").first()
    grid = client_for(app, "taoli.grid")
    token = csrf_token(grid, f"/cases/{case.id}")
    response = grid.post(f"/cases/{case.id}/take/evaluate", data={"csrf_token": token, "rating": "4",
                                                                   "comment": comment})
    assert response.status_code == 302
    with app.app_context():
        return Case.get_by_id(case.id)


def test_rating_comment_is_kept_protected_shown_and_exported(demo_app):
    phone = "13900001111"
    case = evaluated(demo_app, f"服务很好，回访电话{phone}")
    assert (case.state, case.rating) == ("evaluated", 4)
    assert case.rating_comment.startswith("服务很好，回访电话⟦enc1:") and phone not in case.rating_comment
    shown = f"服务很好，回访电话{masked_phone(phone)}"
    supervisor = client_for(demo_app, "county.supervisor")
    html = supervisor.get(f"/cases/{case.id}").get_data(as_text=True)
    assert re.search(r'id="case-rating-comment">([^<]*)<', html).group(1) == shown and phone not in html
    rows = {r["number"]: r for r in supervisor.get("/api/cases").get_json()}
    assert (rows[case.number]["rating"], rows[case.number]["rating_comment"]) == (4, shown)
    table = list(csv.reader(io.StringIO(supervisor.get("/cases/export.csv?lang=zh_Hans_CN").get_data(as_text=True)
                                        .lstrip("\ufeff"))))
    header, by_number = table[0], {r[0]: r for r in table[1:]}
    assert by_number[case.number][-2:] == ["4", shown] and len(header) == len(by_number[case.number])
    sheet = load_workbook(io.BytesIO(supervisor.get("/cases/export.xlsx").data)).active
    cells = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells[case.number][-2:] == (4, shown)
    assert phone not in supervisor.get("/cases/export.csv").get_data(as_text=True)


def test_migration_0010_goes_down_and_up_and_protects_older_free_text(demo_app):
    """Text written before this change (plain notes, numbers in number
    fields) is rewritten with tokens when the migration runs."""
    from playhouse.migrations import Runner

    from core import personal
    from core.cases.models import CaseEvent
    from core.db import MIGRATIONS, proxy

    phone, id_shaped = "13912340000", "150626199001010011"
    with demo_app.app_context():
        db, runner = proxy.obj, Runner(proxy.obj, str(MIGRATIONS))
        target = next(m.name for m in runner.status() if m.name.startswith("0010_"))
        assert runner.down(target)[-1] == target
        assert "rating_comment" not in [c.name for c in db.get_columns("cases")]
        event = CaseEvent.select().order_by(CaseEvent.id).first()
        case = Case.select(Case.id, Case.data).order_by(Case.id).first()
        CaseEvent.update(note=f"旧备注 电话{phone}").where(CaseEvent.id == event.id).execute()
        Case.update(data={**case.data, "household_size": int(id_shaped)}).where(Case.id == case.id).execute()
        assert target in runner.up()
        assert "rating_comment" in [c.name for c in db.get_columns("cases")]
        note = CaseEvent.get_by_id(event.id).note
        stored = Case.select(Case.data).where(Case.id == case.id).get().data["household_size"]
        assert note.startswith("旧备注 电话⟦enc1:") and phone not in note
        assert personal.masked_text(note, "case_event.note") == f"旧备注 电话{masked_phone(phone)}"
        assert stored.startswith("enc1:") and personal.decrypt(stored, "cases.data.household_size") == id_shaped
