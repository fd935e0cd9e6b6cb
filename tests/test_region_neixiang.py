"""内乡县 (411325) beside 乌审旗: the pack of 内放办〔2022〕3号 loads, its demo
has cases in every state, the rule set and staffing say what the notice
says, and the plugin's criteria, metrics and assessment compute what they
claim — on SQLite and PostgreSQL."""
import datetime
import re

import pytest

from core.auth import User
from core.cases import service
from core.cases import workflow as wf
from core.cases.demo import id_number
from core.cases.models import Case
from core.models import MetadataRecord, Region, Site, Staff
from plugins import neixiang
from plugins.neixiang.assessment import assess
from tests.helpers import csrf_token
from tests.personal_helpers import client_for


def _zh(text):
    return text["zh"] if isinstance(text, dict) else text

COUNTY = "411325"
GROUP = "411325105201001"  # 赤眉镇 黄楝树村一组 (demo)


@pytest.fixture
def nx(make_app):
    from core.demo import load_demo

    app = make_app(plugins="wushen,bank_partnership,neixiang")
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county=COUNTY)
    return app


def records(kind, county=COUNTY):
    return {r.key: r.content for r in MetadataRecord.select().where(
        (MetadataRecord.kind == kind) & MetadataRecord.current & (MetadataRecord.county_code == county))}


def check_pack_beside_wushen_and_demo_cases_in_every_state(nx):
    with nx.app_context():
        assert len(records("items", "150626")) >= 100 and len(records("items")) >= 40
        townships = {r.code: r.name for r in Region.select().where(
            (Region.county_code == COUNTY) & (Region.level == "township"))}
        assert len(townships) == 16
        assert "城关镇" in str(townships["411325100"]) and "七里坪乡" in str(townships["411325306"])
        assert "岞岖镇" in str(townships["411325110"]) and "板场乡" in str(townships["411325300"])
        states = {s["code"] for s in records("workflows")["neixiang_five_steps"]["states"]}
        cases = list(Case.select().where(Case.county_code == COUNTY))
        assert {c.state for c in cases} == states
        assert {c.workflow for c in cases} == {"neixiang_five_steps"}
        assert not Case.select().where(Case.county_code == "150626").exists()  # only 内乡's demo was asked for


def check_three_catalogs_and_every_material_has_instructions_and_a_sample(nx):
    with nx.app_context():
        items = records("items")
        staff = list(Staff.select().where(Staff.county_code == COUNTY))
    for level in ("county", "township", "village"):
        assert sum(level in i["levels"] for i in items.values()) >= 10, level
    for code, item in items.items():
        assert item["materials"], code
        for m in item["materials"]:
            assert _zh(m["fill_instructions"]).strip() and _zh(m["sample"]).strip(), (code, m["name"])
        assert item["workflow"] == "neixiang_five_steps"
    helpers = {s.department for s in staff if s.role == "department_helper"}
    majors = [i for i in items.values() if i["kind"] == "major"]
    assert len(majors) >= 4 and all(set(i["joint_departments"]) <= helpers for i in majors)
    assert sum(i["kind"] == "instant" and "village" in i["levels"] for i in items.values()) >= 5
    promised_village = [i for i in items.values() if i["kind"] == "promised" and "village" in i["levels"]]
    assert len(promised_village) >= 10 and {i["department"] for i in promised_village} <= helpers
    guide = records("guide_fields")["neixiang"]
    assert "填写说明和示范文本" in guide["elements"][[e["element"] for e in guide["elements"]].index("materials")][
        "label"]["zh"]


def check_five_roles_in_one_staffing_rules_and_demo_staff(nx):
    with nx.app_context():
        roles = {**records("roles", ""), **records("roles")}
        ruleset = records("rulesets")["neixiang_2022"]
        staff = list(Staff.select().where(Staff.county_code == COUNTY))
        groups = [r.code for r in Region.select().where((Region.county_code == COUNTY) & (Region.level == "group"))]
        villages = [r.code for r in Region.select().where((Region.county_code == COUNTY) & (Region.level == "village"))]
    # one person holds the grassroots agent's and the project specialist's duties and permissions
    both = roles["agent_specialist"]
    assert set(both["permissions"]) == set(roles["grassroots_agent"]["permissions"]) | set(
        roles["project_specialist"]["permissions"])
    assert len(both["duties"]) == len(roles["grassroots_agent"]["duties"]) + len(
        roles["project_specialist"]["duties"])
    assert roles["township_supervisor"]["scope"] == "township"
    assert roles["department_supervisor"]["scope"] == "department"
    assert ruleset["rules"]["staffing"] == {
        "township": {"agent_specialist": 1, "township_supervisor": 1}, "village": {"grid_agent": 1},
        "group": {"grid_agent": 1}, "department": {"department_helper": 1, "department_supervisor": 1}}
    targets = {(t["metric"], t.get("level")): t["min"] for t in ruleset["targets"]}
    assert targets[("grid_agents", "group")] == 1 and targets[("agent_specialists", "township")] == 1
    assert [targets[("item_count", level)] for level in ("county", "township", "village")] == [1, 1, 1]
    assert ruleset["rules"]["staff_reporting"]["handover_on_staff_change"] == "required"
    assert ruleset["rules"]["case_classes"]["instant"]["explain_if_not_same_day"] is True
    assessment = ruleset["rules"]["assessment"]
    assert assessment["weights"] == {"handling": 0.6, "feedback": 0.4}
    assert assessment["assessor"] == ["township_supervisor", "department_supervisor", "supervisor"]
    # demo staff: as the notice asks, per township, village, group and department
    by = {}
    for s in staff:
        by.setdefault((s.role, s.region, s.department), []).append(s.username)
    for township in {s.region for s in staff if s.role == "agent_specialist"}:
        assert len(by[("agent_specialist", township, None)]) == 1 == len(by[("township_supervisor", township, None)])
    assert len(groups) >= 5 and all(len(by[("grid_agent", g, None)]) == 1 for g in groups)
    assert all(any(s.role == "grid_agent" and s.region.startswith(v) for s in staff) for v in villages)
    departments = records("departments")
    for d in departments:
        assert len(by[("department_helper", COUNTY, d)]) == 1 == len(by[("department_supervisor", COUNTY, d)])


def check_staffing_criteria_measure_the_accounts(nx):
    with nx.test_request_context("/?lang=en"):  # the evidence is user-visible text
        standards = records("site_standards")
        center, station = Site.get_by_id("center-411325105"), Site.get_by_id("station-411325105201")
        per = {r["code"]: r for s in standards.values() for r in s["requirements"]}
        assert neixiang.township_staffing(center, None, per["agent_specialist"])[0] == "met"
        assert neixiang.township_staffing(center, None, per["township_supervisor"])[0] == "met"
        assert neixiang.grid_staffing(station, None, per["grid_agent_village"])[0] == "met"
        assert neixiang.grid_staffing(station, None, per["grid_agent_per_group"]) == (
            "met", "Every group (3) has its grid agent")
        Staff.update(active=False).where(Staff.region == GROUP).execute()
        assert neixiang.grid_staffing(station, None, per["grid_agent_per_group"]) == (
            "not_met", f"Groups without enough grid agents: {GROUP}")
        Staff.update(active=False).where((Staff.role == "township_supervisor")
                                         & (Staff.region == "411325105")).execute()
        assert neixiang.township_staffing(center, None, per["township_supervisor"]) == (
            "not_met", "0 of 1 required staff of role Township supervisor")  # the role by its name, never its code
        from core.plugins import collect

        pm = nx.extensions["bangban"].pm
        assert {a[0] for p, a, kw in collect(pm, "register_compliance_criteria") if p == "neixiang"} == {
            "neixiang_township_staffing", "neixiang_grid_staffing"}
        assert {a[0] for p, a, kw in collect(pm, "register_metrics") if p == "neixiang"} == {
            "instant_same_day_rate", "major_joint_rate"}


def test_pack_catalogs_roles_staffing_instant_flow_and_assessment(nx):
    """One demo load (it costs seconds) for the checks that do not disturb
    each other, in this order."""
    check_pack_beside_wushen_and_demo_cases_in_every_state(nx)
    check_three_catalogs_and_every_material_has_instructions_and_a_sample(nx)
    check_five_roles_in_one_staffing_rules_and_demo_staff(nx)
    check_group_grid_agent_and_an_instant_item_leaves_the_day_only_with_an_explanation(nx)
    check_special_assessment_flags_the_bottom_performer(nx)


def test_metrics_then_staffing_criteria(nx):
    check_metrics_same_day_instant_and_joint_major(nx)
    check_staffing_criteria_measure_the_accounts(nx)


def file_instant(app, username, division, n):
    client = client_for(app, username)
    code = "411325-ybj-003"  # 异地就医备案, an instant village item
    data = {"csrf_token": csrf_token(client, f"/cases/new/{code}"), "applicant_name": "李某某",
            "applicant_id_number": id_number(COUNTY, "19620601", 30 + n), "applicant_phone": f"138377000{n:02d}",
            "applicant_division": division, "principal_is_applicant": "true", "material_1": "true",
            "material_2": "true"}
    response = client.post(f"/cases/new/{code}", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return client, int(re.search(r"/cases/(\d+)/receipt", response.headers["Location"]).group(1))


def take(client, case_id, code, **data):
    return client.post(f"/cases/{case_id}/take/{code}", data={"csrf_token": csrf_token(client, f"/cases/{case_id}"),
                                                              **data})


def check_group_grid_agent_and_an_instant_item_leaves_the_day_only_with_an_explanation(nx):
    grid, case_id = file_instant(nx, "neixiang.huanglianshu1.grid", GROUP, 1)
    with nx.app_context():
        assert Case.get_by_id(case_id).group_code == GROUP
    assert client_for(nx, "neixiang.huanglianshu2.grid").get(f"/cases/{case_id}").status_code == 404
    agent = client_for(nx, "neixiang.chimei.agent")
    assert take(agent, case_id, "accept").status_code == 302
    take(agent, case_id, "dispatch", department="ybj")  # the plain dispatch is for promised items only
    take(agent, case_id, "dispatch_instant", department="ybj")  # no explanation
    with nx.app_context():
        assert Case.get_by_id(case_id).state == "accepted"
    assert take(agent, case_id, "dispatch_instant", department="ybj", reason="医保系统升级，当日无法备案").status_code == 302
    with nx.app_context():
        case = Case.get_by_id(case_id)
        assert (case.state, case.department, case.assignee.username) == ("handling", "ybj", "neixiang.ybj.helper")
        staff = User(Staff.get(Staff.username == "neixiang.chimei.agent"))
        other = service.create_case(MetadataRecord.get((MetadataRecord.key == "411325-ybj-003")
                                                       & MetadataRecord.current), {
            "applicant_name": "王某某", "applicant_id_number": id_number(COUNTY, "19700101", 77),
            "applicant_phone": "13837700077", "applicant_division": GROUP}, staff)
        other = service.take(other, "accept", staff)
        with pytest.raises(wf.TransitionError, match="理由"):  # the missing input, named in the default language
            service.take(other, "dispatch_instant", staff, {"department": "ybj"})


def check_metrics_same_day_instant_and_joint_major(nx):
    with nx.app_context():
        cases = Case.select().where(Case.county_code == COUNTY)
        assert neixiang.instant_same_day(cases, None, None) == (3, 3)
        assert neixiang.major_joint(cases, None, None) == (1, 1)
        late = Case.select().where((Case.county_code == COUNTY) & (Case.kind == "instant")).first()
        Case.update(finished_on=late.accepted_on + datetime.timedelta(days=1)).where(Case.id == late.id).execute()
        assert neixiang.instant_same_day(cases, None, None) == (2, 3)


def check_special_assessment_flags_the_bottom_performer(nx):
    """Open cases within their time limit do not count. The village grid
    agent's three demo instant cases were on time and one rated 5: 1.0. A
    group grid agent finishes three on time, one rated 1 (差评):
    0.6 × 1 + 0.4 × 0 = 0.6, the lowest of the two ranked, flagged."""
    with nx.app_context():
        record = MetadataRecord.get((MetadataRecord.key == "411325-ybj-003") & MetadataRecord.current)
        grid = User(Staff.get(Staff.username == "neixiang.huanglianshu1.grid"))
        for n in range(3):
            case = service.create_case(record, {"applicant_name": "张某某", "applicant_division": GROUP,
                                                "applicant_id_number": id_number(COUNTY, "19800101", 60 + n),
                                                "applicant_phone": f"138377001{n:02d}"}, grid)
            for code, inputs in (("accept", {}), ("finish_instant", {}),
                                 ("archive", {"delivery": {"method": "door", "received_by": "本人"}})):
                case = service.take(case, code, grid, inputs)
        service.take(case, "evaluate", grid, {"rating": 1})
        today = datetime.date.today()
        rows = {r["username"]: r for r in assess(COUNTY, today - datetime.timedelta(days=60), today)}
    with nx.app_context():  # the village the demo's cases were filed in (the one with groups)
        demo_village = Case.select().where((Case.county_code == COUNTY) & Case.village_code.is_null(False)
                                           ).order_by(Case.id).first().village_code
    village_grid = next(u for u, r in rows.items() if r["region"] == demo_village)
    assert (rows[village_grid]["score"], rows[village_grid]["bottom"]) == (1.0, False)
    low = rows["neixiang.huanglianshu1.grid"]
    assert (low["cases"], low["handling"], low["feedback"], low["score"], low["bottom"]) == (3, 1.0, 0.0, 0.6, True)
    assert low["action"] == "notify_then_replace"
    # the agent's one overdue case is too few to be ranked
    assert rows["neixiang.chimei.agent"]["cases"] == 1 and rows["neixiang.chimei.agent"]["bottom"] is False
