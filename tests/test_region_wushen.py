"""乌审旗 (150626): what seed 001 (“五优八有三联动”, 2023) asks, as the region's
pack and demo say it: the targets and their dates, the 八有 standards of
centers and stations, the items in the 蒙速办 app, the 50 high-frequency
delegated items, the bank items, 6 苏木镇 with 76 嘎查村（社区） of which 20
are demonstration points and 56 stations, the agents per center and station,
on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime

import pytest

from core import catalog
from core.cases.models import Case
from core.cli import load_catalog, pack_paths
from core.demo import load_demo
from core.metadata import store
from core.models import Region, Site, Staff
from core.paths import METADATA

from tests.helpers import sign_in

COUNTY = "150626"
PLUGINS = "wushen,bank_partnership"
EIGHT_HAVES = ["有帮办代办窗口", "有代办人员", "有办公设备", "有帮办代办事项清单", "有办事指南", "有代办员责任清单",
               "有制度机制", "有工作台账"]
MEASURES = {"min_area", "agents_posted", "items_offered", "window_kinds", "equipment", "zones", "features", "ports",
            "sessions", "extended_hours", "staffing", "rating_device", "naming", "online_rate"}
# 四(三)2: the families the seed names for 政银合作
BANK_FAMILIES = ["商事登记", "食品经营许可", "公共场所卫生许可", "医保社保缴纳", "公积金业务申请", "行业综合许可证"]
JUNE, SEPTEMBER = datetime.date(2023, 6, 30), datetime.date(2023, 9, 30)


@pytest.fixture
def synced(make_app):
    """The app with the wushen pack and its demo pack stored (no accounts)."""
    app = make_app(plugins=PLUGINS)
    with app.app_context():
        pm = app.extensions["bangban"].pm
        store.sync(load_catalog(pm, [*pack_paths(pm), METADATA / "demo"]), actor="test")
    return app


def _all(kind):
    return [r.content for r in catalog.all_current(kind, county=COUNTY) if r.county_code == COUNTY]


def _zh(text):
    return text["zh"] if isinstance(text, dict) else text


def _ruleset():
    rulesets = _all("rulesets")
    assert [r["code"] for r in rulesets] == ["wushen_2023"]
    return rulesets[0]


def _targets(ruleset):
    return {(t["metric"], t.get("level"), t.get("due") and datetime.date.fromisoformat(str(t["due"]))): t["min"]
            for t in ruleset["targets"]}


def test_demo_has_the_plans_network_staff_and_cases_in_every_state(make_app):
    app = make_app(plugins=PLUGINS)
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county=COUNTY)
        townships = [r.code for r in Region.select().where(
            (Region.level == "township") & (Region.county_code == COUNTY))]
        villages = list(Region.select().where((Region.level == "village") & (Region.county_code == COUNTY)))
        # 四(二): 6 苏木镇 and 76 嘎查村（社区）: 20 demonstration points, the other 56 stations
        assert len(townships) == 6 and len(villages) == 76
        demonstration = {v.code for v in villages if v.demonstration}
        assert len(demonstration) == 20 and len(villages) - len(demonstration) == 56
        assert {v.parent for v in villages if v.code in demonstration} == set(townships)  # in all 6 苏木镇
        sites = list(Site.select().where(Site.county_code == COUNTY))
        centers = {s.region for s in sites if s.kind == "service_center"}
        stations = {s.region: s for s in sites if s.kind == "service_station"}
        assert centers == set(townships) and set(stations) == {v.code for v in villages}
        assert {r for r, s in stations.items() if (s.profile or {}).get("demonstration")} == demonstration
        # 四(二)2: at least 2 agents per center, at least 1 per demonstration village's station
        staff = list(Staff.select().where((Staff.county_code == COUNTY) & Staff.active))
        for township in townships:
            assert sum(s.role == "grassroots_agent" and s.region == township for s in staff) >= 2, township
        for village in demonstration:
            assert any(s.role == "grid_agent" and s.region.startswith(village) for s in staff), village
        # the usernames the other tests sign in with are kept
        kept = {"galutu.agent", "galutu.agent2", "galutu.specialist", "taoli.grid", "taoli1.grid", "batuwan.grid",
                "rsj.helper", "ybj.helper", "mzj.helper", "cl.helper", "county.tracker", "county.supervisor",
                "county.admin", "sys.admin", "sec.admin", "audit.admin"}
        assert kept <= {s.username for s in staff}
        # the demo's cases: every state of the flow, in 乌审旗's first grid agent's village
        states = {c.state for c in Case.select().where(Case.county_code == COUNTY)}
        workflow = catalog.current("workflows", "five_steps", county=COUNTY).content
        assert states == {s["code"] for s in workflow["states"]}
        # the demo files its cases in the village with groups (淘力: grid agents per group)
        assert {c.village_code for c in Case.select().where(Case.county_code == COUNTY)} == {"150626100201"}
    # a grid agent of a new demonstration village works in it: its catalog and its own division
    client = app.test_client()
    assert sign_in(client, "wushen.buridu.grid").status_code == 302
    listed = client.get("/api/items").get_json()
    assert listed and all(i["code"].startswith(f"{COUNTY}-") for i in listed)
    page = client.get("/cases/new/150626-ybj-003")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="150626100202"' in html and "布日都嘎查" in html
    assert 'value="150626100201"' not in html  # 陶利嘎查 is another grid agent's village


def test_targets_and_dates_as_the_plan_sets_them(synced):
    with synced.app_context():
        targets = _targets(_ruleset())
        # 三, 四(一)2: 一窗综办 80% by the end of June, 100% by the end of September 2023
        assert targets[("one_window_rate", "township", JUNE)] == 0.8
        assert targets[("one_window_rate", "township", SEPTEMBER)] == 1.0
        # 四(一)1: the listed fields all stationed by the end of June
        assert targets[("one_door_rate", "township", JUNE)] == 1.0
        # 四(一)3: every extended item in the 蒙速办 app
        assert targets[("mobile_item_rate", "township", None)] == 1.0
        # 四(一)5: 好差评 channels and data cover townships and villages by the end of September
        for metric in ("rating_channel_coverage", "rating_coverage"):
            for level in ("township", "village"):
                assert targets[(metric, level, SEPTEMBER)] == 1.0
        # 三, 四(二)1 and 4: windows everywhere and the item lists by the end of June
        assert targets[("proxy_window_coverage", "township", JUNE)] == 1.0
        assert targets[("proxy_window_coverage", "village", JUNE)] == 1.0
        assert targets[("item_count", "township", JUNE)] == 80
        assert targets[("item_count", "village", JUNE)] == 50
        # 四(二), 四(二)2, 四(三)1 (no dates given)
        assert targets[("center_agents", "township", None)] == 2
        assert targets[("station_agents", "village", None)] == 1
        assert targets[("demonstration_points", "county", None)] == 20
        assert targets[("service_stations", "county", None)] == 56
        assert targets[("high_frequency_delegated", None, None)] == 50


def test_rules_of_the_five_optimisations_and_three_linkages(synced):
    with synced.app_context():
        ruleset = _ruleset()
        rules = ruleset["rules"]
        assert rules["eight_haves"] == EIGHT_HAVES
        assert len(rules["five_optimisations"]) == 5
        # 四(一)4: the five systems by the end of June, and the green channel for 老弱病残孕
        system = rules["service_system"]
        assert datetime.date.fromisoformat(str(system["due"])) == JUNE
        assert system["rules"] == ["first_contact_duty", "one_time_notice", "deadline",
                                   "appointment_and_extended_hours", "door_to_door"]
        assert system["green_channel"]["groups"] == ["elderly", "frail", "ill", "disabled", "pregnant"]
        # 四(一)1: each field's departments exist and have items at the township centers
        one_door = rules["one_door"]
        assert [f["name"] for f in one_door["fields"]] == ["市场监管", "税务", "户籍", "交管", "水电气暖", "城乡建设"]
        departments = {d["code"] for d in _all("departments")}
        township_items = [i for i in _all("items") if "township" in i["levels"]]
        for field in one_door["fields"]:
            for department in field["departments"]:
                assert department in departments
                assert any(i["department"] == department for i in township_items), (field["name"], department)
        assert rules["one_network"]["mobile_app"] == "蒙速办" and rules["one_network"]["channel"] == "mobile"
        assert rules["network"] == {**rules["network"], "townships": 6, "villages": 76, "demonstration_points": 20,
                                    "service_stations": 56}
        assert rules["staffing"]["center_agents"] == 2 and rules["staffing"]["station_agents"] == 1
        assert rules["staffing"]["posted"] == ["name", "photo", "phone", "hours"]
        assert rules["three_level_linkage"]["linkages"] == ["审批联动", "政银联动"]
        assert rules["approval_linkage"]["high_frequency_items_min"] == 50
        assert rules["rating_rectification_days"] == 10
        # the bank points follow the bank plugin's standard, named by the demo's bank sites
        assert ruleset["site_standards"] == ["eight_haves", "eight_haves_station"]


def test_items_in_the_app_delegated_and_at_the_bank(synced):
    with synced.app_context():
        items = {i["code"]: i for i in _all("items")}
        assert sum("township" in i["levels"] for i in items.values()) >= 80
        assert sum("village" in i["levels"] for i in items.values()) >= 50
        # 四(一)3: every item extended to the 苏木镇 and 嘎查村 is in the 蒙速办 app
        assert all("mobile" in i["channels"] for i in items.values())
        # 四(三)1: at least 50 high-frequency items moved down, handled at the grassroots
        moved = [i for i in items.values() if i.get("high_frequency") and i.get("delegated")]
        assert len(moved) >= 50 and all({"township", "village"} & set(i["levels"]) for i in moved)
        # 四(三)2: each family the seed names has its items, every one offered at the bank
        families = catalog.current("rulesets", "wushen_2023", county=COUNTY).content["rules"]["bank_partnership"]
        assert [f["name"] for f in families["families"]] == BANK_FAMILIES
        for family in families["families"]:
            assert family["items"], family["name"]
            for code in family["items"]:
                assert "bank" in items[code]["channels"], code
        # a partner bank point in every 苏木镇
        banks = [s for s in _all("sites") if s["kind"] == families["partner_kind"]]
        assert {s["region"] for s in banks} == {r["code"] for r in _all("regions") if r["level"] == "township"}


def test_eight_haves_standards_of_centers_and_stations(synced):
    with synced.app_context():
        center = catalog.current("site_standards", "eight_haves", county=COUNTY).content
        station = catalog.current("site_standards", "eight_haves_station", county=COUNTY).content
        assert (center["applies_to"], station["applies_to"]) == ("service_center", "service_station")
        for standard in (center, station):
            assert {_zh(r["category"]) for r in standard["requirements"]} == set(EIGHT_HAVES)
            assert all(r["measure"] in MEASURES for r in standard["requirements"] if "measure" in r)
            by_code = {r["code"]: r for r in standard["requirements"]}
            # answered with evidence, reviewed by the banner
            for code in ("proxy_window_duties", "guides", "agent_duty_list", "service_rules", "ledgers"):
                assert "measure" not in by_code[code], code
            assert by_code["proxy_window"]["measure"] == "window_kinds"
            assert by_code["proxy_window"]["items"] == ["proxy_window"]
            assert by_code["extended_hours"]["measure"] == "extended_hours"
            assert by_code["green_channel"]["items"] == ["green_channel"]
            assert {_zh(i) for i in by_code["agents_posted"]["items"]} == {"姓名", "照片", "联系电话", "代办时段"}
        c = {r["code"]: r for r in center["requirements"]}
        s = {r["code"]: r for r in station["requirements"]}
        # 四(二)3: the centers' information equipment, the stations' basic equipment
        assert [_zh(i) for i in c["equipment"]["items"]] == ["叫号机", "评价器", "高拍仪", "计算机", "打印机"]
        assert [_zh(i) for i in s["equipment"]["items"]] == ["电脑", "打印机"]
        assert c["rating_device"]["measure"] == "rating_device"
        # 四(二)2 and 4
        assert (c["staffing"]["role"], c["staffing"]["min"]) == ("grassroots_agent", 2)
        assert (s["staffing"]["role"], s["staffing"]["min"]) == ("grid_agent", 1)
        assert center["staffing"] == [{"role": "grassroots_agent", "min": 2}]
        assert station["staffing"] == [{"role": "grid_agent", "min": 1}]
        assert (c["items_offered"]["min"], s["items_offered"]["min"]) == (80, 50)


def test_demo_sites_have_what_their_standard_measures(synced):
    """The demo's sites against their 八有 standard's data criteria: the
    demonstration points have all; one ordinary station is left short."""
    with synced.app_context():
        standards = {code: catalog.current("site_standards", code, county=COUNTY).content
                     for code in ("eight_haves", "eight_haves_station")}
        short = {}
        for site in _all("sites"):
            if site["kind"] not in ("service_center", "service_station"):
                continue
            standard = standards[site["standard"]]
            assert standard["applies_to"] == site["kind"]
            missing = []
            for r in standard["requirements"]:
                if r.get("measure") == "equipment":
                    have = {_zh(e) for e in site.get("equipment", ())}
                    missing += [_zh(i) for i in r["items"] if _zh(i) not in have]
                elif r.get("measure") in ("features", "window_kinds"):
                    missing += [i for i in r["items"] if i not in site.get("features", ())]
                elif r.get("measure") == "extended_hours":
                    if sum(s.get("kind") == "extended" for s in site.get("sessions", ())) < r["min"]:
                        missing.append("extended_hours")
            if site.get("demonstration") or site["kind"] == "service_center":
                assert not missing, (site["code"], missing)
            if missing:
                short[site["code"]] = missing
            # 四(一)4: 预约 outside the regular hours as well
            assert any(s.get("kind") == "appointment" for s in site["sessions"]), site["code"]
        assert short == {"station-150626100002": ["打印机", "rating_qr"]}


def test_agents_posted_with_phone_and_hours(synced):
    with synced.app_context():
        staff = _all("staff")
        agents = [s for s in staff if s["role"] in ("grassroots_agent", "grid_agent", "project_specialist")]
        assert len(agents) >= 12 + 20
        assert all(s.get("phone") and s.get("hours") for s in agents), [
            s["username"] for s in agents if not (s.get("phone") and s.get("hours"))]
        # the utilities stationed in the centers can be dispatched to
        assert any(s.get("department") == "gysy" and s["role"] == "department_helper" for s in staff)


def test_bank_page_lists_the_bank_items_and_points(synced):
    client = synced.test_client()
    page = client.get("/bank/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("食品经营许可证核发(新办)", "公共场所卫生许可证核发", "城乡居民基本医疗保险费缴纳",
                 "住房公积金提取", "行业综合许可证核发", "个体工商户设立登记"):
        assert name in html, name
    assert "苏力德苏木信用社便民服务点" in html
