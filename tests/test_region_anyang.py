"""安阳县 (410522), the region of seed 002 (审服办〔2021〕13号): its pack loads
beside 乌审旗, its demo creates cases in every state, its rule set and site
standards say what the document says, and its plugin's hook does what it
claims."""
from __future__ import annotations

import json
import re

import pytest

from core.paths import METADATA
from tests.helpers import sign_in


def _zh(text):
    return text["zh"] if isinstance(text, dict) else text


PLUGINS = "wushen,bank_partnership,anyang"
COUNTY = "410522"
#: the measure codes the compliance registry implements
MEASURES = {"min_area", "agents_posted", "items_offered", "window_kinds", "equipment", "zones", "features", "ports",
            "sessions", "extended_hours", "staffing", "rating_device", "naming"}


@pytest.fixture(scope="module")
def catalog():
    """The core, 乌审旗 and 安阳县 packs with the demo pack, merged and checked."""
    from core.metadata.loader import load
    from core.metadata.schemas import BUILTIN_KINDS
    from core.permissions import CORE_PERMISSIONS

    return load([METADATA / n for n in ("core", "wushen", "anyang", "anyang_demo")], BUILTIN_KINDS,
                permissions=CORE_PERMISSIONS)


def _data(catalog, kind, key):
    entry = catalog.lookup(kind, key, COUNTY)
    assert entry is not None, f"{kind} {key} missing"
    return entry.data


def _items(catalog):
    return [e.data for e in catalog.entries("items") if catalog.tenant(e) == COUNTY]


# --- the pack -------------------------------------------------------------------

def test_catalog_items_cover_the_document(catalog):
    items = _items(catalog)
    assert len(items) >= 40
    assert all(i["code"].startswith(f"{COUNTY}-{i['department']}-") for i in items)
    # 三(一): every family of government and party items the document lists
    ruleset = _data(catalog, "rulesets", "anyang_2021")
    families = {*ruleset["rules"]["item_families"]["government"], *ruleset["rules"]["item_families"]["party"]}
    assert len(families) == 15
    assert families <= {_zh(i["category"]) for i in items}
    village = [i for i in items if "village" in i["levels"]]
    assert any(i["kind"] == "promised" for i in village) and any(i["kind"] == "instant" for i in village)
    majors = [i for i in items if i["kind"] == "major"]
    assert len(majors) >= 3 and all(i["joint_departments"] for i in majors)
    assert any("township" in i["levels"] for i in majors)
    # 四(二): online, mail and home-visit services appear as item channels
    channels = {c for i in items for c in i["channels"]}
    assert {"comprehensive_window", "online", "post", "home_visit", "mobile", "phone"} <= channels
    guided = [m for i in items for m in i.get("materials", []) if m.get("fill_instructions")]
    assert len(guided) >= 10 and any(m.get("sample") for i in items for m in i.get("materials", []))


def test_townships_are_the_real_ones(catalog):
    townships = {e.data["code"]: e.data["name"]["zh"] for e in catalog.entries("regions")
                 if e.data["level"] == "township" and e.data["code"].startswith(COUNTY)}
    assert len(townships) == 16
    assert townships["410522106"] == "白璧镇" and townships["410522214"] == "瓦店乡"
    assert townships["410522102"] == "铜冶镇" and townships["410522216"] == "北郭乡"


def test_ruleset_systems_services_and_staffing(catalog):
    ruleset = _data(catalog, "rulesets", "anyang_2021")
    assert ruleset["region"] == COUNTY and "审服办〔2021〕13号" in ruleset["source"]["zh"]
    assert ruleset["guide_fields"] == "anyang"
    assert ruleset["site_standards"] == ["anyang_township_center", "anyang_village_point"]
    rules = ruleset["rules"]
    assert rules["service_rules"] == ["one_window", "first_contact_duty", "one_time_notice", "tolerant_acceptance",
                                      "deadline"]
    assert rules["one_window"] == {"channel": "comprehensive_window", "levels": ["township"]}
    assert rules["tolerant_acceptance"] == {"key_materials_may_be_missing": False}
    assert rules["services"] == ["proxy", "appointment", "home_visit", "extended_hours", "online", "mail",
                                 "green_channel"]
    assert rules["staffing"] == {"township_leader": 1, "center_director": 1, "full_time_staff": 3,
                                 "village_staff": {"min": 1, "max": 2}}
    assert rules["ab_posts"] is True and rules["no_empty_window"] is True
    targets = {(t["metric"], t["level"]): t for t in ruleset["targets"]}
    assert targets[("center_agents", "township")]["min"] == 3
    assert targets[("station_agents", "village")]["min"] == 1
    # the document sets no item counts or rating rules: none invented. Its one
    # date is its aim, the 2021 business-environment evaluation (preamble):
    # the systems of 四(一) it names as rates (one window, deadlines) are due
    # by the end of 2021; the staffing minimums carry no date.
    assert "rating_rectification_days" not in rules
    assert targets[("one_window_rate", "township")]["min"] == 1.0
    assert {t["metric"]: t.get("due") for t in ruleset["targets"]} == {
        "one_window_rate": "2021-12-31", "on_time_rate": "2021-12-31", "center_agents": None,
        "station_agents": None}


def test_site_standards_as_measurable_criteria(catalog):
    center = _data(catalog, "site_standards", "anyang_township_center")
    point = _data(catalog, "site_standards", "anyang_village_point")
    assert (center["applies_to"], center["min_area"]) == ("service_center", 150)
    assert (point["applies_to"], point["min_area"]) == ("service_station", 50)
    for standard in (center, point):
        assert {r["measure"] for r in standard["requirements"] if "measure" in r} <= MEASURES
    c = {r["code"]: r for r in center["requirements"]}
    assert (c["min_area"]["measure"], c["min_area"]["min"]) == ("min_area", 150)
    assert c["naming"]["measure"] == "naming" and [_zh(i) for i in c["naming"]["items"]] == ["党政综合便民服务中心"]
    assert [_zh(i) for i in c["zones"]["items"]] == ["引导区", "咨询投诉区", "自助服务区", "等候区", "综合受理区", "后台审批区"]
    assert (c["network_ports"]["measure"], c["network_ports"]["min"]) == ("ports", 2)
    assert c["network_isolation"]["items"] == ["government_network", "network_isolation"]
    assert c["phone_port"]["items"] == ["window_phone_line"]
    assert {_zh(i) for i in c["office_equipment"]["items"]} == {"桌椅", "计算机", "电话机", "传真机", "打印机", "高拍仪"}
    assert {"老花镜", "饮水机"} <= {_zh(i) for i in c["amenities"]["items"]}
    assert "轮椅" in {_zh(i) for i in c["amenity_devices"]["items"]}
    assert c["open_plan"]["items"] == ["open_plan"] and c["barrier_free"]["items"] == ["barrier_free"]
    assert c["cctv"]["items"] == ["cctv"] and "fire_equipment" in c["fire_safety"]["items"]
    assert c["extended_hours"]["measure"] == "extended_hours"
    assert c["one_window"]["items"] == ["comprehensive_window"]
    staffing = {(r["role"], r["min"]) for r in center["requirements"] if r.get("measure") == "staffing"}
    assert staffing == {("township_leader", 1), ("center_director", 1), ("grassroots_agent", 3)}
    assert {(s["role"], s["min"]) for s in center["staffing"]} == staffing
    assert (c["no_empty_window"]["measure"], c["no_empty_window"]["min"]) == ("agents_posted", 1)
    assert "measure" not in c["ab_posts"] and "measure" not in c["service_rules"]
    p = {r["code"]: r for r in point["requirements"]}
    assert (p["min_area"]["min"], [_zh(i) for i in p["naming"]["items"]]) == (50, ["党群服务中心", "党群服务站"])
    assert (p["village_staff"]["role"], p["village_staff"]["min"]) == ("grid_agent", 1)


def test_region_roles_grant_only_core_permissions(catalog):
    from core.permissions import CORE_PERMISSIONS

    roles = {e.data["code"]: e.data for e in catalog.entries("roles") if catalog.tenant(e) == COUNTY}
    assert set(roles) == {"township_leader", "center_director"}
    assert all(r["scope"] == "township" and set(r["permissions"]) <= set(CORE_PERMISSIONS) for r in roles.values())
    assert "case.create" not in roles["center_director"]["permissions"]
    assert {"case.reassign", "case.handover"} <= set(roles["center_director"]["permissions"])


def test_demo_sites_carry_sessions_with_extended_hours(catalog):
    sites = {e.data["code"]: e.data for e in catalog.entries("sites") if e.data["region"].startswith(COUNTY)}
    baibi = sites["center-410522106"]
    assert baibi["name"]["zh"] == "白璧镇党政综合便民服务中心" and baibi["area"] >= 150
    assert any(s["kind"] == "extended" for s in baibi["sessions"])
    assert any(s["kind"] == "extended" and s["days"] == ["sat"] for s in baibi["sessions"])
    # the sites the document complains about: too small, old name, no extended hours
    wadian = sites["center-410522214"]
    assert wadian["area"] < 150 and not wadian["name"]["zh"].endswith("党政综合便民服务中心")
    assert not any(s["kind"] == "extended" for s in wadian["sessions"])


# --- the plugin's code ------------------------------------------------------------

def test_key_material_designation():
    from plugins.anyang import key_material

    item = {"materials": [
        {"name": "居民身份证", "form": "original", "key": True},
        {"name": "家庭成员居民身份证、居民户口簿", "form": "copy", "key": True},
        {"name": {"zh": "困难原因证明（医疗费用票据）"}, "form": "copy", "key": False},
        {"name": "居民身份证复印件", "form": "copy", "key": False}]}
    assert key_material(item, "居民身份证") == "居民身份证"
    assert key_material(item, " 居民户口簿 ") == "家庭成员居民身份证、居民户口簿"
    assert key_material(item, "困难原因证明(医疗费用票据)") is None
    assert key_material(item, "居民身份证复印件") is None  # named exactly: the non-key material
    assert key_material(item, "结婚证") is None
    assert key_material(item, "") is None


# --- on the database: the app, the demo, the hook, HTTP ---------------------------

@pytest.fixture
def anyang_app(make_app):
    from core.demo import load_demo

    app = make_app(plugins=PLUGINS)
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county=COUNTY)
    return app


def test_demo_county_beside_wushen(anyang_app):
    from core import catalog as cat
    from core.cases import workflow as wf
    from core.cases.models import Case
    from core.models import MetadataRecord, Region, Staff
    from core.permissions import permissions_of

    app = anyang_app
    with app.app_context():
        assert "anyang" in [p for p, _m in app.extensions["bangban"].pm.list_name_plugin()]
        # both counties' catalogs are stored, each under its own county code
        counties = {r.county_code for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "items") & MetadataRecord.current)}
        assert {"150626", COUNTY} <= counties
        assert cat.current("departments", "mzj", county=COUNTY).content["name"]["zh"] == "安阳县民政局"
        assert "乌审旗" in cat.current("departments", "mzj", county="150626").content["name"]["zh"]
        assert Region.select().where((Region.level == "township") & Region.code.startswith(COUNTY)).count() == 16
        # every role (national and the region's) has a demo account in the county
        # partner_staff is the bank plugin's role: 安阳县's demo has no partner bank point
        roles = {r.key for r in cat.all_current("roles", county=COUNTY)} - {"partner_staff"}
        staffed = {s.role for s in Staff.select().where(Staff.county_code == COUNTY)}
        assert roles <= staffed and {"township_leader", "center_director"} <= roles
        assert permissions_of("center_director", COUNTY) >= {"case.reassign", "case.handover"}
        # cases in every state of the flow, all in the county
        cases = list(Case.select().where(Case.county_code == COUNTY))
        flow = wf.load(cases[0].workflow)
        assert len(flow.states) == 10 and set(flow.states) == {c.state for c in cases}
        assert not Case.select().where(Case.county_code != COUNTY).exists()


@pytest.fixture
def synced_app(make_app):
    """The app with the packs of both counties and 安阳县's demo villages and
    sites stored (no accounts, no cases)."""
    from core.cli import load_catalog, pack_paths
    from core.metadata import store

    app = make_app(plugins=PLUGINS)
    with app.app_context():
        pm = app.extensions["bangban"].pm
        store.sync(load_catalog(pm, [*pack_paths(pm), METADATA / "anyang_demo"]), actor="test", role="system")
    return app


def test_tolerant_acceptance_refuses_a_key_material(synced_app):
    import plugins.anyang as anyang
    from core import catalog as cat
    from core.auth import User
    from core.cases import service
    from core.cases import workflow as wf
    from core.cases.demo import id_number
    from core.models import Staff

    with synced_app.app_context():
        agent = User(Staff.create(username="anyang.test.agent", name="王丽萍", role="grassroots_agent",
                                  region="410522106", county_code=COUNTY, password_hash="-"))
        record = cat.current("items", "410522-mzj-001", county=COUNTY)
        case = service.create_case(record, {
            "applicant_name": "张某某", "applicant_id_number": id_number(COUNTY, "19700101", 11),
            "applicant_phone": "13837200001", "applicant_division": "410522106201",
            "principal_is_applicant": True}, agent)
        transition = wf.load(case.workflow).check(case, "tolerant_accept", agent)
        inputs = {"promise_due": "2099-01-05"}
        # 低保: 申请书 and 核对授权书 are key materials; an agent's short name designates them too
        for named, material in (("最低生活保障申请书", "最低生活保障申请书"),
                                ("户口簿", "家庭成员居民身份证、居民户口簿")):
            with pytest.raises(wf.TransitionError) as refused:
                anyang.case_moved(case=case, transition=transition, from_state="applied", actor=agent,
                                  inputs={**inputs, "missing_material": named})
            assert material in str(refused.value)
        # a non-key material may follow later
        assert anyang.case_moved(case=case, transition=transition, from_state="applied", actor=agent,
                                 inputs={**inputs, "missing_material": "患病、残疾等证明材料"}) is None
        # other transitions are not concerned
        accept = wf.load(case.workflow).check(case, "accept", agent)
        assert anyang.case_moved(case=case, transition=accept, from_state="applied", actor=agent, inputs={}) is None
        # the check follows each county's rule set: 乌审旗's has no such rule
        assert anyang._key_materials_may_be_missing("150626") is True
        assert anyang._key_materials_may_be_missing(COUNTY) is False


@pytest.fixture
def grid_client(synced_app):
    """A signed-in grid agent of 东岗村 (白璧镇) on the synced app."""
    from core.auth import hash_password
    from core.models import Staff

    with synced_app.app_context():
        Staff.create(username="anyang.test.grid", name="冯桂英", role="grid_agent", region="410522106201",
                     county_code=COUNTY, password_hash=hash_password("Bangban@2026"))
    client = synced_app.test_client()
    assert sign_in(client, "anyang.test.grid").status_code == 302
    return client


def test_commission_form_uses_the_county_guide_fields(grid_client):
    client = grid_client
    response = client.get("/api/items/410522-mzj-001/form")
    assert response.status_code == 200
    text = json.dumps(response.get_json(), ensure_ascii=False)
    for expected in ("所在村（社区）", "service_mode", "上门服务", "邮寄服务", "延时服务", "green_channel", "绿色通道"):
        assert expected in text, expected
    assert "嘎查" not in text
    # 乌审旗's items are not offered to an 安阳县 agent
    assert client.get("/api/items/150626-rsj-013/form").status_code == 404


def test_case_records_service_mode_and_green_channel(grid_client):
    """四(二): the service mode and the green channel are recorded on the case;
    a green-channel case names its special group (4xx otherwise, no row)."""
    from core.cases.demo import id_number
    from core.cases.models import Case
    from tests.helpers import csrf_token

    client = grid_client
    app = client.application
    path = "/cases/new/410522-mzj-003"
    with app.app_context():
        before = Case.select().count()
    data = {"csrf_token": csrf_token(client, path), "applicant_name": "李桂兰",
            "applicant_id_number": id_number(COUNTY, "19420315", 61), "applicant_phone": "13837200061",
            "applicant_division": "410522106201", "principal_is_applicant": "true", "service_mode": "home_visit",
            "green_channel": "true", "material_1": "true", "material_2": "true"}
    refused = client.post(path, data=data)
    assert refused.status_code == 400
    errors = re.findall(r'id="([^"]+)-error" role="alert"', refused.get_data(as_text=True))
    assert len(errors) == 1 and errors[0].endswith("green_channel_group"), errors
    with app.app_context():
        assert Case.select().count() == before
    response = client.post(path, data={**data, "green_channel_group": "elderly"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        case = Case.select().order_by(Case.id.desc()).get()
        assert (case.county_code, case.village_code, case.item_code) == (COUNTY, "410522106201", "410522-mzj-003")
        assert case.data["service_mode"] == "home_visit" and case.data["green_channel"] is True
        assert case.data["green_channel_group"] == "elderly"
