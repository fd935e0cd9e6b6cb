"""The rule sets' site, staffing and catalog targets are measured (no longer
"not measured"), on SQLite and PostgreSQL, against numbers counted here from
the demo county (乌审旗) after changing a few of its rows by hand.
"""
from __future__ import annotations

import datetime

from core import kpi
from core.models import MetadataRecord, Region, Site, Staff

COUNTY = "150626"
TODAY = datetime.date(2026, 6, 30)
AGENTS = ("grassroots_agent", "grid_agent", "agent_specialist", "project_specialist")
# 四(一)1 of the 乌审旗 plan: 市场监管, 税务, 户籍/交管, 水电气暖, 城乡建设
ONE_DOOR_DEPARTMENTS = {"scjgj", "swj", "gaj", "gysy", "spb", "zjj"}


def _targets():
    out = {}
    for row in kpi.targets(COUNTY, today=TODAY)["targets"]:
        out[(row["metric"], row["level"])] = row
    return out


def _unit(row, code):
    return next(u for u in row["units"] if u["code"] == code)


def test_no_target_of_the_demo_county_is_unmeasured(demo_app):
    with demo_app.app_context():
        statuses = {key: row["status"] for key, row in _targets().items()}
    assert "not_measured" not in statuses.values(), statuses


def test_site_and_staff_metrics_follow_the_rows(demo_app):
    with demo_app.app_context():
        stations = list(Site.select().where((Site.county_code == COUNTY) & (Site.kind == "service_station"))
                        .order_by(Site.code))
        centers = list(Site.select().where((Site.county_code == COUNTY) & (Site.kind == "service_center"))
                       .order_by(Site.code))
        assert len(stations) == 76 and len(centers) == 6
        before = _targets()
        assert before[("proxy_window_coverage", "village")]["num"] == 76
        assert before[("proxy_window_coverage", "village")]["den"] == 76
        assert before[("demonstration_points", "county")]["value"] == 20
        assert before[("service_stations", "county")]["value"] == 56

        # two stations lose their proxy window, one no longer lists its features
        for site in stations[:2]:
            site.profile = {**site.profile, "features": [f for f in site.profile["features"] if f != "proxy_window"]}
            site.save()
        third = stations[2]
        third.profile = {k: v for k, v in third.profile.items() if k != "features"}
        third.save()
        # a demonstration point becomes an ordinary station
        demo_site = next(s for s in stations if s.profile.get("demonstration"))
        demo_site.profile = {**demo_site.profile, "demonstration": False}
        demo_site.save()
        # one agent of the first center leaves
        center = centers[0]
        posted = list(Staff.select().where((Staff.region == center.region) & Staff.active
                                           & Staff.role.in_(AGENTS)))
        posted[0].active = False
        posted[0].save()
        # rating channel: a station with neither the QR code nor the device, by hand
        has_channel = []
        for site in Site.select().where((Site.county_code == COUNTY) & (Site.kind == "service_station")):
            p = site.profile or {}
            if "features" in p or "equipment" in p:
                has_channel.append("rating_qr" in p.get("features", []) or "评价器" in p.get("equipment", []))

        after = _targets()
        proxy = after[("proxy_window_coverage", "village")]
        assert (proxy["num"], proxy["den"]) == (73, 75)
        assert proxy["status"] == "missed"  # due 2023-06-30
        assert _unit(proxy, stations[0].code)["value"] == 0
        assert _unit(proxy, stations[2].code)["status"] == "no_data"
        rating = after[("rating_channel_coverage", "village")]
        assert (rating["num"], rating["den"]) == (sum(has_channel), len(has_channel))
        assert after[("demonstration_points", "county")]["value"] == 19
        assert after[("demonstration_points", "county")]["status"] == "on_track"  # 19 ≥ 0.9 × 20, no due date
        assert after[("service_stations", "county")]["value"] == 57
        agents = after[("center_agents", "township")]
        assert _unit(agents, center.code)["value"] == len(posted) - 1
        # station agents: those posted to the station's village or a group of it
        station = stations[5]
        by_hand = sum(1 for s in Staff.select().where((Staff.county_code == COUNTY) & Staff.active)
                      if s.role in AGENTS and s.region.startswith(station.region))
        assert _unit(after[("station_agents", "village")], station.code)["value"] == by_hand


def test_site_coverage_and_department_counts(demo_app):
    from core.registry import metrics

    with demo_app.app_context():
        villages = Region.select().where((Region.county_code == COUNTY) & (Region.level == "village")).count()
        report = kpi.kpi(COUNTY, (TODAY - datetime.timedelta(days=30), TODAY))
        county = report["units"][0]
        assert county["level"] == "county"
        assert (county["values"]["site_coverage"]["num"], county["values"]["site_coverage"]["den"]) \
            == (villages, villages)
        # one village loses its only station
        station = Site.select().where((Site.county_code == COUNTY) & (Site.kind == "service_station")) \
            .order_by(Site.code).first()
        assert Site.select().where(Site.region.startswith(station.region[:12])).count() == 1
        Site.delete().where(Site.code == station.code).execute()
        # the department with one helper loses them
        helpers = {}
        for s in Staff.select().where((Staff.county_code == COUNTY) & Staff.active
                                      & (Staff.role == "department_helper")):
            helpers.setdefault(s.department, []).append(s)
        assert metrics()["department_helpers"]["source"] == "sites"
        assert county["values"]["department_helpers"]["value"] == 1
        lone = next(v[0] for v in helpers.values() if len(v) == 1)
        lone.active = False
        lone.save()
        county = kpi.kpi(COUNTY, (TODAY - datetime.timedelta(days=30), TODAY))["units"][0]
        assert (county["values"]["site_coverage"]["num"], county["values"]["site_coverage"]["den"]) \
            == (villages - 1, villages)
        assert county["values"]["department_helpers"]["value"] == 0


def test_catalog_rates_count_the_items(demo_app):
    from core import catalog

    with demo_app.app_context():
        items = [r.content for r in catalog.all_current("items", county=COUNTY)]
        door = [i for i in items if i.get("department") in ONE_DOOR_DEPARTMENTS]
        extended = [i for i in items if {"township", "village"} & set(i.get("levels") or [])]
        materials = [m for i in items for m in i.get("materials") or []]
        assert door and extended and materials
        county = kpi.kpi(COUNTY, (TODAY - datetime.timedelta(days=30), TODAY))["units"][0]["values"]
        assert (county["one_door_rate"]["num"], county["one_door_rate"]["den"]) \
            == (sum(1 for i in door if "township" in i.get("levels", [])), len(door))
        assert (county["mobile_item_rate"]["num"], county["mobile_item_rate"]["den"]) \
            == (sum(1 for i in extended if "mobile" in i.get("channels", [])), len(extended))
        assert county["materials_with_sample_rate"]["den"] == len(materials)
        assert county["materials_with_sample_rate"]["num"] == sum(
            1 for m in materials if m.get("fill_instructions") and m.get("sample"))

        # a 税务 item withdrawn from the townships, off the app
        record = next(r for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "items") & MetadataRecord.current & (MetadataRecord.county_code == COUNTY))
            if r.content.get("department") == "swj" and "township" in r.content.get("levels", [])
            and "mobile" in r.content.get("channels", []))
        was_extended = "village" in record.content["levels"]
        record.content = {**record.content, "levels": [lv for lv in record.content["levels"] if lv != "township"],
                          "channels": [c for c in record.content["channels"] if c != "mobile"]}
        record.save()
        demo_app.extensions["bangban"].cache.clear()  # the row was changed behind the catalog's back
        county2 = kpi.kpi(COUNTY, (TODAY - datetime.timedelta(days=30), TODAY))["units"][0]["values"]
        assert county2["one_door_rate"]["num"] == county["one_door_rate"]["num"] - 1
        assert county2["one_door_rate"]["den"] == county["one_door_rate"]["den"]
        assert county2["mobile_item_rate"]["num"] == county["mobile_item_rate"]["num"] - 1
        assert county2["mobile_item_rate"]["den"] == county["mobile_item_rate"]["den"] - (0 if was_extended else 1)
