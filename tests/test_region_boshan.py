"""博山区 (370304): the region pack beside 乌审旗, its demo, the 2020 rule set
of 博政办字〔2020〕39号 (六有一能, partner points, targets, service rules) and
the plugin's form hook, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime

import pytest

from core import catalog
from core.cases.demo import id_number
from core.cases.models import Case
from core.cli import load_catalog, pack_paths
from core.demo import load_demo
from core.forms.schema import validate_form
from core.forms.spec import build_form_spec, spec_fields
from core.metadata import store
from core.models import Region, Staff
from core.paths import METADATA

from tests.helpers import sign_in

COUNTY = "370304"
PLUGINS = "wushen,bank_partnership,boshan"
TOWNS = {"370304001": "城东街道", "370304002": "城西街道", "370304004": "山头街道", "370304102": "域城镇",
         "370304103": "白塔镇", "370304106": "八陡镇", "370304108": "石马镇", "370304111": "源泉镇",
         "370304112": "池上镇", "370304113": "博山镇"}
SIX_HAVES_ONE_CAN = ["有场所", "有人员", "有制度", "有网络", "有设备", "有经费", "能办事"]
MEASURES = {"min_area", "agents_posted", "items_offered", "window_kinds", "equipment", "zones", "features", "ports",
            "sessions", "extended_hours", "staffing", "rating_device", "naming", "online_rate"}


@pytest.fixture
def synced(make_app):
    """The app with every loaded pack and Boshan's demo pack stored (no accounts)."""
    app = make_app(plugins=PLUGINS)
    with app.app_context():
        pm = app.extensions["bangban"].pm
        store.sync(load_catalog(pm, [*pack_paths(pm), METADATA / "boshan_demo"]), actor="test")
    return app


def _items(county=COUNTY):
    return [r.content for r in catalog.all_current("items", county=county) if r.county_code == county]


def _zh(text):
    return text["zh"] if isinstance(text, dict) else text


def test_pack_loads_beside_wushen_and_the_demo_fills_every_state(make_app):
    app = make_app(plugins=PLUGINS)
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county=COUNTY)
        towns = {r.code: str(r.name) for r in Region.select().where(
            (Region.level == "township") & Region.code.startswith(COUNTY))}
        assert set(towns) == set(TOWNS)
        assert all(TOWNS[code] in name for code, name in towns.items())
        assert len(_items()) >= 40
        assert len(_items("150626")) >= 100  # 乌审旗's catalog is still there, untouched
        # each county's guides: Boshan's own element order, 乌审旗 keeps the national one
        assert catalog.guide_fields_for(COUNTY).key == "boshan_guide"
        assert catalog.guide_fields_for("150626").key == "standard"
        # accounts: only Boshan's demo, every role covered, usernames prefixed
        staff = list(Staff.select().where(Staff.county_code == COUNTY))
        assert staff and all(s.username.startswith("boshan.") for s in staff)
        assert not Staff.select().where(Staff.county_code == "150626").exists()
        roles = {r.key for r in catalog.all_current("roles", county=COUNTY)}
        assert roles <= {s.role for s in staff}
        states = {c.state for c in Case.select().where(Case.county_code == COUNTY)}
        workflow = catalog.current("workflows", "five_steps", county=COUNTY).content
        assert states == {s["code"] for s in workflow["states"]}
        assert not Case.select().where(Case.county_code == "150626").exists()
    # a Boshan grid agent sees Boshan's village catalog and its guide's applicant part, nothing of 乌审旗
    client = app.test_client()
    assert sign_in(client, "boshan.grid").status_code == 302
    listed = client.get("/api/items").get_json()
    assert listed and all(i["code"].startswith(f"{COUNTY}-") for i in listed)
    form = client.get("/api/items/370304-mzj-006/form").get_json()
    applicant = {f["name"]: f for f in form["sections"][0]["fields"]}
    assert applicant["applicant_division"]["label"] == "所在村（社区）"
    assert client.get("/api/items/150626-rsj-001/form").status_code == 404


def test_guide_fields_follow_the_city_wide_elements_in_order(synced):
    with synced.app_context():
        elements = [e["element"] for e in catalog.guide_fields_for(COUNTY).content["elements"]]
        # 二(二)5: 名称、编码、类型、设定依据、行使层级、受理条件、申请材料、办理时限、收费项目
        unified = ["name", "code", "type", "legal_basis", "levels", "conditions", "materials", "promised_days"]
        assert elements[:8] == unified
        assert elements.index("fee") < elements.index("kind")  # 二(二)6 adds 办件类型 after 收费情况
        assert elements.index("legal_days") < elements.index("fee")
        # every item carries each unified element
        for item in _items():
            missing = [e for e in [*unified, "fee"] if item.get(e) in (None, "", [])]
            assert not missing, f"{item['code']} lacks {missing}"


def test_items_kinds_levels_channels(synced):
    with synced.app_context():
        items = _items()
        codes = [i["code"] for i in items]
        assert len(codes) == len(set(codes)) >= 40
        assert all(c.startswith(f"{COUNTY}-") for c in codes)
        village = [i for i in items if "village" in i["levels"]]
        assert any(i["kind"] == "instant" for i in village)
        assert any(i["kind"] == "promised" for i in village)
        majors = [i for i in items if i["kind"] == "major"]
        assert len(majors) >= 3 and all(i["joint_departments"] for i in majors)
        # 二(二)4: market entry and land-use permits explored at the station
        assert {"市场准入", "用地许可"} <= {_zh(i["category"]) for i in village}
        # 二(四)11: door-to-door help for remote residents and special groups
        assert sum("home_visit" in i["channels"] for i in village) >= 20
        # 二(三)9: at least half of the village-level items can be applied for online
        assert sum(bool(i.get("online")) for i in village) / len(village) >= 0.5


def test_ruleset_targets_and_rules(synced):
    with synced.app_context():
        rulesets = [r.content for r in catalog.all_current("rulesets", county=COUNTY) if r.county_code == COUNTY]
        assert [r["code"] for r in rulesets] == ["boshan_2020"]
        ruleset = rulesets[0]
        targets = {t["metric"]: t for t in ruleset["targets"]}
        assert targets["online_rate"]["min"] == 0.5 and targets["online_rate"]["level"] == "village"
        assert targets["site_compliance"]["min"] == 1.0
        assert targets["site_coverage"]["min"] == 1.0
        due = {datetime.date.fromisoformat(str(t["due"])) for t in targets.values()}
        assert due == {datetime.date(2020, 9, 30)}  # 一(二): 2020年9月底前
        rules = ruleset["rules"]
        assert rules["six_haves_one_can"] == SIX_HAVES_ONE_CAN
        proxy = rules["service_modes"]["proxy_service"]
        assert proxy == {"voluntary": True, "first_contact_duty": True, "free": True, "within_time_limit": True}
        home = rules["service_modes"]["home_visit"]
        assert home["free"] is True and {"remote", "scattered", "elderly", "disabled"} <= set(home["groups"])
        assert rules["service_modes"]["comprehensive_window"] == {"communities": "all", "villages": "where_able"}
        assert rules["posts"] == ["party_pioneer_post", "model_post"]
        weights = rules["staff_assessment"]["weights"]
        assert abs(sum(weights.values()) - 1.0) < 1e-9 and rules["staff_assessment"]["period"] == "year"
        assert {"abuse_of_power", "procrastination", "buck_passing", "soliciting"} <= set(
            rules["discipline"]["violations"])
        assert ruleset["guide_fields"] == "boshan_guide"
        assert {"six_haves_one_can", "boshan_bank_point", "boshan_post_point", "boshan_shop_point"} <= set(
            ruleset["site_standards"])


def test_six_haves_one_can_standard(synced):
    with synced.app_context():
        standard = catalog.current("site_standards", "six_haves_one_can", county=COUNTY).content
        assert standard["applies_to"] == "service_station"
        requirements = {r["code"]: r for r in standard["requirements"]}
        categories = [_zh(r["category"]) for r in standard["requirements"]]
        assert set(categories) == set(SIX_HAVES_ONE_CAN)
        assert all(r["measure"] in MEASURES for r in standard["requirements"] if "measure" in r)
        assert "measure" not in requirements["funds"]  # 有经费 is answered with evidence
        assert requirements["naming"]["measure"] == "naming"
        assert requirements["online_rate"]["min"] == 0.5
        assert requirements["complaint_box"]["items"] == ["complaint_box"]
        assert requirements["supervision_phone"]["items"] == ["supervision_phone"]
        assert set(requirements["pioneer_posts"]["items"]) == {"party_pioneer_post", "model_post"}
        assert requirements["staffing"]["role"] == "grid_agent" and requirements["staffing"]["min"] >= 1
        assert requirements["comprehensive_window"]["measure"] == "window_kinds"
        assert {_zh(z) for z in requirements["zones"]["items"]} == {
            "咨询引导区", "窗口受理区", "后台办公区", "休息等待区", "自助服务区", "信息公开区"}
        # every service category the station must offer (二(二)4) has items in the catalog
        offered = {_zh(i["category"]) for i in _items() if "village" in i["levels"]}
        wanted = {_zh(i) for i in requirements["items_offered"]["items"]}
        assert len(wanted) == 13 and wanted <= offered


def test_demo_sites_named_and_equipped_as_the_plan_asks(synced):
    with synced.app_context():
        sites = [r.content for r in catalog.all_current("sites", county=COUNTY) if r.county_code == COUNTY]
        stations = [s for s in sites if s["kind"] == "service_station"]
        assert stations and all(_zh(s["name"]).endswith(("村便民服务站", "社区便民服务站")) for s in stations)
        assert all(s["standard"] == "six_haves_one_can" for s in stations)
        full = [s for s in stations if {"complaint_box", "supervision_phone"} <= set(s["features"])]
        assert len(full) == len(stations) - 1  # one station is left short to show non-compliance
        partners = {s["kind"]: s for s in sites if s["kind"] in ("bank_branch", "post_office", "service_point")}
        assert set(partners) == {"bank_branch", "post_office", "service_point"}
        for site in partners.values():
            assert _zh(site["name"]).endswith("便民服务点") and _zh(site["partner"])
            assert site["items"] and all(code.startswith(f"{COUNTY}-") for code in site["items"])
        standards = {s["kind"]: s["standard"] for s in partners.values()}
        assert standards == {"bank_branch": "boshan_bank_point", "post_office": "boshan_post_point",
                             "service_point": "boshan_shop_point"}


def _spec(app, code, county=COUNTY):
    item = catalog.current("items", code, county=county).content
    guide = catalog.guide_fields_for(county).content
    spec = build_form_spec(item, guide, locale="zh")
    app.extensions["bangban"].pm.hook.prepare_form_spec(spec=spec, item=item, county_code=county, locale="zh")
    return spec


def _answers(spec, village="370304112201", **extra):
    data = {"applicant_name": "孟某", "applicant_id_number": id_number(COUNTY, "19400101", 11),
            "applicant_phone": "13953300999", "applicant_division": village, "principal_is_applicant": "true"}
    for f in spec_fields(spec):
        if f["type"] == "material" and f["required"]:
            data[f["name"]] = "true"
    data.update(extra)
    return data


def test_home_visit_questions_on_items_offering_home_visits(synced):
    app = synced
    with app.app_context(), app.test_request_context():
        spec = _spec(app, "370304-mzj-006")  # 高龄津贴: offered at home
        item_fields = {f["name"]: f for f in spec["sections"][1]["fields"]}
        assert item_fields["home_visit"]["type"] == "yes_no"
        group = item_fields["home_visit_group"]
        ruleset = catalog.current("rulesets", "boshan_2020", county=COUNTY).content
        assert [o["value"] for o in group["options"]] == ruleset["rules"]["service_modes"]["home_visit"]["groups"]
        assert len(group["options"]) == 6
        divisions = frozenset({"370304112201"})
        # a home visit asked for without saying why is refused, on that field
        _data, errors = validate_form(spec, _answers(spec, home_visit="true"), divisions=divisions)
        assert set(errors) == {"home_visit_group"}
        data, errors = validate_form(spec, _answers(spec, home_visit="true", home_visit_group="elderly"),
                                     divisions=divisions)
        assert errors == {} and data["home_visit_group"] == "elderly"
        data, errors = validate_form(spec, _answers(spec), divisions=divisions)
        assert errors == {} and "home_visit" not in data
        # items without home visits, and other counties' items, are left alone
        names = {f["name"] for f in spec_fields(_spec(app, "370304-ybj-003"))}
        assert "home_visit" not in names
        item = catalog.current("items", "370304-mzj-006", county=COUNTY).content
        spec = build_form_spec(item, catalog.guide_fields_for("150626").content, locale="zh")
        app.extensions["bangban"].pm.hook.prepare_form_spec(spec=spec, item=item, county_code="150626", locale="zh")
        assert "home_visit" not in {f["name"] for f in spec_fields(spec)}
