"""One deadline for a case: its due day, its joint parts' due day and the
receipt's promise agree, also after a pause. The ledger shows the item
version a case was created under; overdue rows are marked visibly; the
inputs a step misses are named in the user's language."""
import datetime
import re

import pytest

from core.auth import User
from core.cases import service
from core.cases.demo import _form, _item
from core.cases.models import Case, Subtask
from core.metadata import store
from core.models import MetadataRecord, Staff
from tests.helpers import sign_in

MONDAY = datetime.date(2026, 3, 2)  # an ordinary working week of an official year


def _user(username):
    return User(Staff.get(Staff.username == username))


def test_joint_parts_and_receipt_agree_with_the_case_after_a_pause(demo_app, monkeypatch):
    clock = {"today": MONDAY}
    monkeypatch.setattr(service, "today", lambda: clock["today"])
    with demo_app.app_context():
        specialist = _user("galutu.specialist")
        major = _item(lambda i: i["kind"] == "major" and "township" in i["levels"])
        joint = [major.content["department"], *major.content["joint_departments"]][:2]
        case = service.create_case(major, _form(1, "150626100201"), specialist)
        case = service.take(case, "accept", specialist, {})
        case = service.take(case, "dispatch_joint", specialist, {"joint": joint})
        before = case.due_day
        clock["today"] = MONDAY + datetime.timedelta(days=1)
        case = service.take(case, "suspend", specialist, {"reason": "等待申请人补充说明"})
        clock["today"] = MONDAY + datetime.timedelta(days=8)  # paused Tuesday to next Tuesday: 5 workdays
        case = service.take(case, "resume", specialist, {})
        case = Case.get_by_id(case.id)
        assert case.due_day > before  # the pause moved the deadline
        dues = {p.due_day for p in Subtask.select().where(Subtask.case == case.id)}
        assert dues == {case.due_day}
        case_id, due = case.id, case.due_day
    client = demo_app.test_client()
    assert sign_in(client, "galutu.specialist").status_code == 302
    html = client.get(f"/cases/{case_id}/receipt?lang=zh_Hans_CN").get_data(as_text=True)
    promised = re.search(r'id="promised-date">([^<]*)<', html).group(1)
    assert promised.startswith(due.isoformat()) and "(下班前)" in promised and "end of day" not in promised
    detail = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert detail.count(f"<td>{due.isoformat()} ") == len(joint)  # each joint part's due, with its weekday


def test_the_ledger_shows_the_item_version_of_each_case(demo_app):
    with demo_app.app_context():
        agent = _user("galutu.agent")
        record = _item(lambda i: i["kind"] == "promised" and i["department"] == "rsj" and "village" in i["levels"])
        old = service.create_case(record, _form(2, "150626100201"), agent)
        store.save_entries([("items", {**record.content, "fee": "不收费（修订）"}, record.pack)],
                           actor="county.admin", role="county_admin")
        record2 = MetadataRecord.get((MetadataRecord.key == record.key) & MetadataRecord.current)
        assert record2.version == record.version + 1
        new = service.create_case(record2, _form(3, "150626100201"), agent)
    client = demo_app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    assert client.get(f"/api/cases/{old.id}").get_json()["item_version"] == record.version
    assert client.get(f"/api/cases/{new.id}").get_json()["item_version"] == record2.version
    html = client.get("/cases?lang=en").get_data(as_text=True)
    assert "<th>Item version</th>" in html
    for case, version in ((old, record.version), (new, record2.version)):
        row = re.search(rf'<tr[^>]*>\s*<td><a href="/cases/{case.id}">.*?</tr>', html, flags=re.S).group(0)
        assert f'<td class="item-version">{version}</td>' in row
    csv = client.get("/cases/export.csv?lang=en").get_data(as_text=True)
    assert "Item version" in csv.splitlines()[0]


def test_overdue_rows_are_marked_and_styled(demo_app):
    client = demo_app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    html = client.get("/cases?lang=zh_Hans_CN").get_data(as_text=True)
    rows = re.findall(r'<tr class="overdue">(.*?)</tr>', html, flags=re.S)
    assert rows and all('class="overdue-tag">已超期<' in row for row in rows)
    assert html.count("<tr") - html.count('<tr class="overdue">') > 2  # the others are not marked
    css = client.get("/static/bangban.css").get_data(as_text=True)
    rule = re.search(r"table\.list tr\.overdue td\s*\{([^}]*)\}", css)
    assert rule and "background" in rule.group(1)


@pytest.mark.parametrize("lang, expected", [("zh_Hans_CN", "请填写：容缺后补材料, 承诺补齐日期"),
                                            ("en", "Please fill in: Material to follow, Promised by")])
def test_missing_step_inputs_are_named_in_the_users_language(demo_app, lang, expected):
    with demo_app.app_context():
        case = Case.select().where(Case.state == "applied").order_by(Case.id).first()
        owner = Staff.get_by_id(case.owner_id).username
    client = demo_app.test_client()
    assert sign_in(client, owner).status_code == 302
    page = client.get(f"/cases/{case.id}?lang={lang}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/cases/{case.id}/take/tolerant_accept", data={"csrf_token": token},
                           follow_redirects=True)
    flashed = re.findall(r'class="flash flash-error" role="alert">([^<]*)<', response.get_data(as_text=True))
    assert flashed == [expected]
