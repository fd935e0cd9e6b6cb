"""Staff pages for cases through real HTTP requests (CSRF on), on SQLite and
PostgreSQL."""
import os
import re
import subprocess
import sys
from pathlib import Path


from core.cases.demo import id_number
from core.cases.models import Case, CaseEvent, Commission
from core.models import AuditEntry
from tests.helpers import csrf_token, sign_in

ROOT = Path(__file__).parent.parent
ITEM = "150626-ybj-003"  # 异地就医备案: an instant village item with its own fields
VILLAGE = "150626100201"



def agent_client(app, username="taoli.grid"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def form_data(client, **overrides):
    html = client.get(f"/cases/new/{ITEM}").get_data(as_text=True)
    data = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
            "applicant_name": "巴图", "applicant_id_number": id_number("150626", "19851120", 21),
            "applicant_phone": "13847700001", "applicant_division": VILLAGE, "principal_is_applicant": "true"}
    spec = client.get(f"/api/items/{ITEM}/form").get_json()
    for section in spec["sections"]:
        for field in section["fields"]:
            if field["name"] in data or not field.get("required"):
                continue
            if field["type"] in ("choice",):
                data[field["name"]] = str(field["options"][0]["value"])
            elif field["type"] == "date":
                data[field["name"]] = "2026-12-01"
            elif field["type"] == "material":
                data[field["name"]] = "on"
            elif field["type"] == "yes_no":
                data[field["name"]] = "true"
            else:
                data[field["name"]] = "内蒙古自治区人民医院"
    data.update(overrides)
    return data


def test_form_json_is_the_same_spec_the_page_renders(demo_app):
    client = agent_client(demo_app)
    spec = client.get(f"/api/items/{ITEM}/form").get_json()
    html = client.get(f"/cases/new/{ITEM}").get_data(as_text=True)
    names = [f["name"] for s in spec["sections"] for f in s["fields"]]
    assert "applicant_id_number" in names and "material_1" in names
    for name in names:
        assert f'name="{name}"' in html, name
    assert spec["version"] == 1


def test_wrong_id_number_is_refused_per_field_and_nothing_is_saved(demo_app):
    client = agent_client(demo_app)
    with demo_app.app_context():
        before = (Case.select().count(), Commission.select().count(), CaseEvent.select().count(),
                  AuditEntry.select().count())
    bad = id_number("150626", "19851120", 21)[:-1] + ("0" if id_number("150626", "19851120", 21)[-1] != "0" else "1")
    response = client.post(f"/cases/new/{ITEM}?lang=zh_Hans_CN", data=form_data(client, applicant_id_number=bad))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'id="f-applicant_id_number-error"[^>]*><p>[^<]*校验码', html), "the error names the field in Chinese"
    with demo_app.app_context():
        after = (Case.select().count(), Commission.select().count(), CaseEvent.select().count(),
                 AuditEntry.select().count())
    assert after == before


def test_valid_submit_writes_case_commission_event_audit_and_shows_receipt(demo_app):
    client = agent_client(demo_app)
    response = client.post(f"/cases/new/{ITEM}", data=form_data(client))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    receipt = client.get(response.headers["Location"] + "?lang=zh_Hans_CN").get_data(as_text=True)
    number = re.search(r'id="receipt-number">([0-9-]+)<', receipt).group(1)
    assert "<svg" in receipt and "受理回执" in receipt
    assert re.search(r'id="promised-date">\d{4}-\d{2}-\d{2}', receipt)
    with demo_app.app_context():
        case = Case.get(Case.number == number)
        assert case.village_code == VILLAGE and case.item_version == 1
        assert Commission.get(Commission.case == case).materials[0]["received"] is True
        assert [e.action for e in case.events] == ["apply"]
        assert AuditEntry.select().where(AuditEntry.entity == f"case:{number}").count() == 1
    track_path = re.search(r'http://localhost(/track/t/[A-Za-z0-9_-]+)', receipt).group(1)  # the QR code's link
    public = demo_app.test_client().get(f"{track_path}?lang=zh_Hans_CN").get_data(as_text=True)
    assert "巴*" in public and "巴图" not in public and "提出申请" in public


def test_item_picker_finds_by_pinyin_initials_and_level(demo_app):
    client = agent_client(demo_app)
    found = client.get("/api/items?q=ydjyba").get_json()  # 异地就医备案
    assert found and found[0]["code"] == ITEM
    township_only = "150626-rsj-013"
    assert client.get(f"/api/items/{township_only}/form").status_code == 404  # not offered in a village
    township = agent_client(demo_app, "galutu.agent")
    assert township.get(f"/api/items/{township_only}/form").status_code == 200


def test_dispatch_and_department_scope_over_http(demo_app):
    agent = agent_client(demo_app, "galutu.agent")
    with demo_app.app_context():
        case = Case.select().where((Case.state == "accepted") & (Case.kind == "promised")).first()
    token = csrf_token(agent, f"/cases/{case.id}")
    response = agent.post(f"/cases/{case.id}/take/dispatch", data={"csrf_token": token, "department": "rsj"})
    assert response.status_code == 302
    helper = agent_client(demo_app, "rsj.helper")
    assert helper.get(f"/cases/{case.id}").status_code == 200
    assert case.number in helper.get("/cases?mine=1").get_data(as_text=True)
    other = agent_client(demo_app, "ybj.helper")
    assert other.get(f"/cases/{case.id}").status_code == 404
    assert case.number not in other.get("/cases").get_data(as_text=True)
    elsewhere = agent_client(demo_app, "tuke.agent")  # another township
    assert elsewhere.get(f"/cases/{case.id}").status_code == 404
    assert elsewhere.get(f"/cases/{case.id}/receipt").status_code == 404


def test_transition_refused_by_role_leaves_case_unchanged(demo_app):
    with demo_app.app_context():
        case = Case.select().where((Case.state == "handling") & Case.assignee.is_null(False)).first()
        username = __import__("core.models", fromlist=["Staff"]).Staff.get_by_id(case.assignee_id).username
    helper = agent_client(demo_app, username)
    helper.get("/?lang=en")  # the refusal is written in the language of the session
    token = csrf_token(helper, f"/cases/{case.id}")
    # a department helper's role does not grant case.archive: refused as such
    response = helper.post(f"/cases/{case.id}/take/archive",
                           data={"csrf_token": token, "delivery_method": "mail", "received_by": "x"})
    assert response.status_code == 403
    with demo_app.app_context():
        assert Case.get_by_id(case.id).state == "handling"
    # a step the role may take, without what it requires: explained on the page, nothing changes
    response = helper.post(f"/cases/{case.id}/take/report_up", data={"csrf_token": token})
    assert response.status_code == 302
    with demo_app.app_context():
        assert Case.get_by_id(case.id).state == "handling"
    page = helper.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Please fill in" in page


def test_print_views_and_handover_page(demo_app):
    agent = agent_client(demo_app, "galutu.agent")
    with demo_app.app_context():
        case = Case.select().where(Case.owner_id.in_(
            [s.id for s in __import__("core.models", fromlist=["Staff"]).Staff.select().where(
                __import__("core.models", fromlist=["Staff"]).Staff.username == "galutu.agent")])).first()
    commission = agent.get(f"/cases/{case.id}/commission?lang=zh_Hans_CN").get_data(as_text=True)
    assert case.number in commission and "委托" in commission
    admin = agent_client(demo_app, "county.admin")
    html = admin.get("/handover").get_data(as_text=True)
    assert 'name="from"' in html and 'name="to"' in html
    assert agent.get("/handover").status_code == 403


def cli(*args, data, database_url):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")},
           "BANGBAN_DATA_DIR": str(data), "BANGBAN_DATABASE_URL": database_url, "BANGBAN_PLUGINS": "wushen,bank_partnership"}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)


def test_calendar_deadline_command(tmp_path, database_url):
    result = cli("calendar", "deadline", "2026-09-30", "5", data=tmp_path, database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "2026-10-13" in result.stdout and "WARNING" not in result.stdout
    result = cli("calendar", "deadline", "2030-09-30", "5", data=tmp_path, database_url=database_url)
    assert "WARNING" in result.stdout and "2030" in result.stdout


def test_sla_scan_command_is_idempotent(tmp_path, database_url):
    assert cli("demo", data=tmp_path, database_url=database_url).returncode == 0
    first = cli("sla", "scan", data=tmp_path, database_url=database_url)
    assert first.returncode == 0 and "escalations opened: 0" in first.stdout  # the demo already scanned
    second = cli("sla", "scan", data=tmp_path, database_url=database_url)
    assert second.stdout == first.stdout
