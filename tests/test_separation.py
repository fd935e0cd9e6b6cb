"""三员分立 in the back office, handover to a role that cannot hold the
cases, a second county beside the first, the grid agent's divisions, the
``own`` scope and a new county's first accounts."""
from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner

from core.auth import User
from core.cases import service
from core.cases import workflow as wf
from core.cases.demo import _form
from core.cases.models import Case
from core.models import AuditEntry, MetadataRecord, Staff
from tests.helpers import sign_in


def _admin_client(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _edit(client, staff, query="", **changes):
    html = client.get(f"/admin/staff_admin/edit/?id={staff.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    data = {"csrf_token": token, "username": staff.username, "name": staff.name, "role": staff.role,
            "region": staff.region, "department": staff.department or "", "covers": "", "password": ""}
    if staff.active:
        data["active"] = "y"
    data.update(changes)
    return client.post(f"/admin/staff_admin/edit/?id={staff.id}{query}", data=data)


def _staff(app, username):
    with app.app_context():
        return Staff.get(Staff.username == username)


def test_no_administrator_changes_its_own_role(demo_app):
    for username, wanted in (("sys.admin", "county_admin"), ("sys.admin", "audit_admin"),
                             ("sec.admin", "audit_admin"), ("county.admin", "supervisor")):
        client = _admin_client(demo_app, username)
        me = _staff(demo_app, username)
        response = _edit(client, me, role=wanted)
        assert response.status_code == 403, (username, wanted)
        assert _staff(demo_app, username).role == me.role


def test_system_administrator_cannot_grant_or_create_administrator_roles(demo_app):
    client = _admin_client(demo_app, "sys.admin")
    agent = _staff(demo_app, "galutu.agent")
    assert _edit(client, agent, role="audit_admin").status_code == 403
    assert _staff(demo_app, "galutu.agent").role == "grassroots_agent"
    html = client.get("/admin/staff_admin/new/").get_data(as_text=True)
    assert 'value="audit_admin"' not in html and 'value="county_admin"' not in html
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    with demo_app.app_context():
        before = Staff.select().count()
    response = client.post("/admin/staff_admin/new/", data={
        "csrf_token": token, "username": "new.audit", "name": "新审计", "role": "audit_admin", "region": "150626",
        "department": "", "covers": "", "password": "Zq9#long-enough-pass", "active": "y"})
    assert response.status_code == 403
    with demo_app.app_context():
        assert Staff.select().count() == before
    # an ordinary role is the system administrator's to grant
    assert _edit(client, agent, role="project_specialist").status_code == 302
    assert _staff(demo_app, "galutu.agent").role == "project_specialist"


def test_security_administrator_grants_administrator_roles_and_it_is_audited(demo_app):
    client = _admin_client(demo_app, "sec.admin")
    agent = _staff(demo_app, "galutu.agent2")
    assert _edit(client, agent, role="audit_admin").status_code == 302
    assert _staff(demo_app, "galutu.agent2").role == "audit_admin"
    with demo_app.app_context():
        entry = AuditEntry.select().where(AuditEntry.action == "staff.role_grant").order_by(AuditEntry.seq.desc()).get()
        assert entry.actor == "sec.admin" and '"to": "audit_admin"' in entry.payload
        assert '"from": "grassroots_agent"' in entry.payload


def test_county_administrator_cannot_touch_administrator_accounts(demo_app):
    client = _admin_client(demo_app, "county.admin")
    audit_admin = _staff(demo_app, "audit.admin")
    assert _edit(client, audit_admin, role="grassroots_agent").status_code == 403
    assert _staff(demo_app, "audit.admin").role == "audit_admin"


def test_a_password_set_on_the_staff_form_takes_effect_and_must_be_changed(demo_app):
    client = _admin_client(demo_app, "sys.admin")
    agent = _staff(demo_app, "taoli.grid")
    assert _edit(client, agent, password="Tq7#brand-new-pass").status_code == 302
    user = demo_app.test_client()
    assert sign_in(user, "taoli.grid", "Bangban@2026").status_code == 200  # the old one no longer works
    response = sign_in(user, "taoli.grid", "Tq7#brand-new-pass")
    assert response.status_code == 302 and response.location.endswith("/account")
    assert user.get("/cases").status_code == 302  # sent to change the password first


def test_a_password_against_the_policy_is_refused_with_a_message(demo_app):
    client = _admin_client(demo_app, "sys.admin")
    agent = _staff(demo_app, "taoli.grid")
    response = _edit(client, agent, query="&lang=en", password="short")
    assert "at least" in response.get_data(as_text=True)
    assert _staff(demo_app, "taoli.grid").password_hash == agent.password_hash


def test_handover_refuses_a_successor_whose_role_cannot_hold_the_cases(demo_app):
    with demo_app.app_context():
        assignee = Case.select().where(Case.assignee.is_null(False)).first().assignee_id
        helper, auditor = Staff.get_by_id(assignee), Staff.get(Staff.username == "audit.admin")
        other_helper = Staff.select().where((Staff.role == helper.role) & (Staff.department != helper.department)
                                            ).first()
        held = Case.select().where((Case.owner == helper.id) | (Case.assignee == helper.id)).count()
        assert held > 0 and other_helper is not None
        supervisor = User(Staff.get(Staff.username == "county.supervisor"))
        for successor in (auditor, other_helper):  # no case permissions; another department's area
            with pytest.raises(wf.TransitionError):
                service.handover(helper, successor, supervisor)
        assert Case.select().where((Case.owner == helper.id) | (Case.assignee == helper.id)).count() == held
    client = demo_app.test_client()
    sign_in(client, "county.supervisor")
    html = client.get("/handover").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/handover", data={"csrf_token": token, "from": helper.id, "to": auditor.id})
    assert response.status_code == 400


# --- a second county ------------------------------------------------------------

SECOND = "411325"


@pytest.fixture
def two_counties(demo_app, tmp_path):
    """A second county (内乡县) in the same database: its own pack with one
    item, its own guide fields through its rule set, its regions and staff."""
    from core.metadata import store
    from core.metadata.loader import load
    from core.paths import METADATA

    pack = tmp_path / "neixiang"
    pack.mkdir()
    (pack / "pack.yaml").write_text(f'name: neixiang\ncounty: "{SECOND}"\nversion: "1"\n', encoding="utf-8")
    (pack / "catalog.yaml").write_text(f"""
departments:
  - {{code: nx_mzj, name: 内乡县民政局}}
guide_fields:
  - code: neixiang
    name: 内乡县指南要素
    elements:
      - {{element: conditions, label: 受理条件（内乡）}}
      - {{element: materials, label: 申请材料（内乡）}}
    applicant_fields:
      - {{name: applicant_name, type: text, label: 申请人姓名, required: true}}
      - {{name: applicant_id_number, type: id_number, label: 公民身份号码, required: true}}
      - {{name: applicant_phone, type: mobile, label: 联系电话, required: true}}
      - {{name: applicant_division, type: division, label: 所在村组, required: true}}
      - {{name: applicant_household, type: text, label: 户主姓名（内乡）, required: true}}
rulesets:
  - {{code: neixiang_rules, name: 内乡县规则, region: "{SECOND}", guide_fields: neixiang}}
regions:
  - {{code: "{SECOND}", level: county, name: 内乡县}}
  - {{code: "{SECOND}100", level: township, name: 城关镇, parent: "{SECOND}"}}
  - {{code: "{SECOND}100201", level: village, name: 东关村, parent: "{SECOND}100"}}
items:
  - code: NX-0001
    name: 内乡县临时救助申请
    department: nx_mzj
    kind: promised
    type: public_service
    levels: [township, village]
    promised_days: 5
    materials:
      - {{name: 身份证, form: original}}
""", encoding="utf-8")
    with demo_app.app_context():
        pm = demo_app.extensions["bangban"].pm
        from core.cli import metadata_kinds

        store.sync(load([pack], metadata_kinds(pm)), actor="test")
        from core.passwords import hash_password

        Staff.create(county_code=SECOND, username="nx.agent", name="内乡代办员", role="grassroots_agent",
                     region=f"{SECOND}100", password_hash=hash_password("Bangban@2026"))
    return demo_app


def _agent(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def test_staff_of_one_county_cannot_pick_file_or_read_another_countys_items(two_counties):
    app = two_counties
    with app.app_context():
        wushen_item = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                                    & (MetadataRecord.county_code == "150626")).first().key
    ours, theirs = _agent(app, "galutu.agent"), _agent(app, "nx.agent")
    assert ours.get("/cases/new/NX-0001").status_code == 404
    assert ours.get("/api/items/NX-0001/form").status_code == 404
    assert "NX-0001" not in ours.get("/cases/new").get_data(as_text=True)
    assert all(i["code"] != "NX-0001" for i in ours.get("/api/items?q=NX").get_json())
    assert theirs.get(f"/cases/new/{wushen_item}").status_code == 404
    assert theirs.get("/cases/new/NX-0001").status_code == 200
    assert [i["code"] for i in theirs.get("/api/items").get_json()] == ["NX-0001"]


def test_guide_fields_belong_to_the_county(two_counties):
    app = two_counties
    ours, theirs = _agent(app, "galutu.agent"), _agent(app, "nx.agent")
    theirs_form = theirs.get("/api/items/NX-0001/form").get_json()
    names = [f["name"] for s in theirs_form["sections"] for f in s["fields"]]
    assert "applicant_household" in names
    with app.app_context():
        wushen_item = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                                    & (MetadataRecord.county_code == "150626")).first().key
    ours_form = ours.get(f"/api/items/{wushen_item}/form").get_json()
    assert "applicant_household" not in [f["name"] for s in ours_form["sections"] for f in s["fields"]]


def test_grid_agent_is_offered_and_may_file_only_divisions_in_scope(demo_app):
    client = _agent(demo_app, "taoli.grid")  # posted to village 150626100201
    item = "150626-ybj-003"  # a village item (tests/test_case_pages.py fills its form)
    html = client.get(f"/cases/new/{item}").get_data(as_text=True)
    offered = set(re.findall(r'<option value="(150626\d*)"', html))
    assert "150626100201" in offered and all(code.startswith("150626100201") for code in offered), offered
    assert "150626100001" not in offered  # another village of the same township
    from tests.test_case_pages import form_data

    data = form_data(client, applicant_division="150626100001")
    with demo_app.app_context():
        before = Case.select().count()
    response = client.post(f"/cases/new/{item}", data=data)
    assert response.status_code == 400
    with demo_app.app_context():
        assert Case.select().count() == before
    response = client.post(f"/cases/new/{item}", data={**data, "applicant_division": "150626100201"})
    assert response.status_code == 302  # the same form for the agent's own village is filed


def test_own_scope_sees_only_the_cases_the_person_filed_or_holds(demo_app):
    from core import scope

    with demo_app.app_context():
        role = MetadataRecord.get((MetadataRecord.kind == "roles") & (MetadataRecord.key == "grid_agent")
                                  & MetadataRecord.current)
        content = {**role.content, "code": "building_head", "scope": "own", "name": "楼栋长"}
        from core.metadata import store

        store.save_entries([("roles", content, role.pack)], actor="test", role="test")
        from core.passwords import hash_password

        village = Case.select().where(Case.village_code.is_null(False)).first().village_code  # has demo cases
        head = Staff.create(county_code="150626", username="taoli.head", name="楼栋长", role="building_head",
                            region=village, password_hash=hash_password("Bangban@2026"))
        mine = service.create_case(MetadataRecord.get_by_id(Case.select().first().item_record_id),
                                   _form(90, village), User(head))
        visible = {c.id for c in scope.cases_for(User(head))}
        assert visible == {mine.id}
        assert Case.select().where(Case.village_code == village).count() > 1


def test_county_init_creates_first_accounts_with_one_time_passwords(demo_app):
    from core.cli import cli
    from core.cli_catalog import register

    register(cli)
    runner = CliRunner()
    env = {"BANGBAN_DATA_DIR": demo_app.config["BANGBAN"]["DATA_DIR"],
           "BANGBAN_DATABASE_URL": demo_app.config["BANGBAN"]["DATABASE_URL"], "BANGBAN_PLUGINS": "wushen"}
    from core.cli import Context

    from core import db as dbmod

    result = runner.invoke(cli, ["county", "init", "150626"], obj=Context(), env=env)
    dbmod.bind(demo_app.extensions["bangban"].db)  # the command's app bound the models to its own connection
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^\s+(150626\.\w+)\s+(\w+)\s+(\S+)$", result.output, re.M)
    assert {r[1] for r in rows} == {"system_admin", "security_admin", "audit_admin", "county_admin"}
    username, _role, password = next(r for r in rows if r[1] == "county_admin")
    client = demo_app.test_client()
    response = sign_in(client, username, password)
    assert response.status_code == 302 and response.location.endswith("/account")
    again = runner.invoke(cli, ["county", "init", "150626"], obj=Context(), env=env)
    bad = runner.invoke(cli, ["county", "init", "999999"], obj=Context(), env=env)
    dbmod.bind(demo_app.extensions["bangban"].db)
    assert again.exit_code == 0 and "nothing created" in again.output
    assert bad.exit_code == 1 and "请先同步其元数据包" in bad.output  # the CLI speaks the default language


def test_security_administrator_opens_an_account_with_a_one_time_password(demo_app):
    client = _admin_client(demo_app, "sec.admin")
    html = client.get("/admin/staff_admin/one-time").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/admin/staff_admin/one-time", data={
        "csrf_token": token, "username": "county.admin2", "name": "第二管理员", "role": "county_admin",
        "region": "150626"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="one-time-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    user = demo_app.test_client()
    assert sign_in(user, "county.admin2", password).status_code == 302
    sysadmin = _admin_client(demo_app, "sys.admin")
    html = sysadmin.get("/admin/staff_admin/one-time").get_data(as_text=True)
    assert 'value="county_admin"' not in html
