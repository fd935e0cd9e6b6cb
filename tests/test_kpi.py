"""KPIs and targets against hand computations on generated cases, on SQLite
and PostgreSQL: `bangban report kpi|targets` (JSON), the dashboard pages
(the numbers they print) and the drill-down to the cases behind a number.

The expectations are counted here, row by row, from the rows the generator
returns, by the definitions of the issue (one-window: accepted at a
comprehensive window / accepted; on time: finished by the due day / finished
with a due day; rating coverage: rated / finished; satisfaction: rated 5 or
4 / rated; online rate: distinct items that can be applied for online /
distinct items), never by calling the code under test.
"""
from __future__ import annotations

import datetime
import json
import re
from collections import defaultdict

import pytest
from click.testing import CliRunner

from core.auth import User
from core.cases import history, service
from core.cases.demo import _form
from core.cases.models import Case
from core.models import MetadataRecord, Site, Staff
from tests.helpers import app_with_plugin, sign_in

COUNTY = "150626"
END = datetime.date(2026, 6, 30)
DAYS = 120
START = END - datetime.timedelta(days=DAYS - 1)
N = 700


@pytest.fixture
def world(demo_app):
    with demo_app.app_context():
        rows = history.generate(COUNTY, N, end=END, days=DAYS, seed=7)
        online = {r.key: bool(r.content.get("online")) for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "items") & MetadataRecord.current)}
        sites = {s.code: s.region[:9] for s in Site.select().where(Site.county_code == COUNTY)}
    return demo_app, rows, online, sites


def _by_hand(rows, online):
    """{metric: (num, den)} of a list of case rows, counted one by one."""
    out = {}
    accepted = [r for r in rows if r["accepted_on"] is not None]
    out["one_window_rate"] = (sum(1 for r in accepted if r["intake_channel"] == "comprehensive_window"),
                              len(accepted))
    timed = [r for r in rows if r["finished_on"] is not None and r["due_day"] is not None]
    out["on_time_rate"] = (sum(1 for r in timed if r["finished_on"] <= r["due_day"]), len(timed))
    finished = [r for r in rows if r["finished_on"] is not None]
    out["rating_coverage"] = (sum(1 for r in finished if r["rating"] is not None), len(finished))
    rated = [r for r in rows if r["rating"] is not None]
    out["satisfaction"] = (sum(1 for r in rated if r["rating"] in (4, 5)), len(rated))
    items = {r["item_code"] for r in rows}
    out["online_rate"] = (sum(1 for i in items if online[i]), len(items))
    return out


def _expected(rows, online):
    units = defaultdict(list)
    for r in rows:
        units[("county", COUNTY)].append(r)
        units[("township", r["township_code"])].append(r)
        units[("site", r["site_code"])].append(r)
    return {key: _by_hand(unit_rows, online) for key, unit_rows in units.items()}


def _invoke(app, *args):
    from core import db as dbmod
    from core.cli import Context, cli

    ctx = Context()
    ctx.pm.hook.register_commands(cli=cli)
    env = {"BANGBAN_DATA_DIR": app.config["BANGBAN"]["DATA_DIR"],
           "BANGBAN_DATABASE_URL": app.config["BANGBAN"]["DATABASE_URL"],
           "BANGBAN_PLUGINS": "wushen,bank_partnership,mongolian"}
    result = CliRunner().invoke(cli, list(args), obj=ctx, env=env)
    dbmod.bind(app.extensions["bangban"].db)  # the command's app bound the models to its own connection
    return result


METRICS = ("one_window_rate", "on_time_rate", "rating_coverage", "satisfaction", "online_rate")


def test_report_kpi_json_matches_hand_computation(world):
    app, rows, online, sites = world
    expected = _expected(rows, online)
    # the generator's data is varied enough for the test to mean something
    assert 0 < expected[("county", COUNTY)]["one_window_rate"][0] < expected[("county", COUNTY)]["one_window_rate"][1]
    assert 0 < expected[("county", COUNTY)]["on_time_rate"][0] < expected[("county", COUNTY)]["on_time_rate"][1]
    assert any(r["rating"] == 3 for r in rows) and any(r["rating"] == 4 for r in rows)
    result = _invoke(app, "report", "kpi", "--county", COUNTY, "--from", START.isoformat(), "--to", END.isoformat(),
                     "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["period"] == [START.isoformat(), END.isoformat()]
    got = {(u["level"], u["code"]): u["values"] for u in report["units"]}
    # every site of the county is a unit (with or without cases), every township too
    assert {code for level, code in got if level == "site"} == set(sites)
    checked = 0
    for key, metrics in expected.items():
        for code in METRICS:
            num, den = metrics[code]
            cell = got[key][code]
            assert (cell["num"], cell["den"]) == (num, den), (key, code)
            assert cell["value"] == (pytest.approx(num / den) if den else None), (key, code)
            checked += 1
    assert checked == len(expected) * len(METRICS) and len(expected) > 50
    # a site without cases in the period: zero over zero, no value
    empty = [code for code in sites if ("site", code) not in expected]
    for code in empty:
        assert got[("site", code)]["on_time_rate"] == {"num": 0, "den": 0, "value": None}
    # catalog metrics: items offered at a village site, the county's high-frequency delegated items
    with app.app_context():
        items = [r.content for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "items") & MetadataRecord.current & (MetadataRecord.county_code == COUNTY))]
    village_items = sum(1 for i in items if "village" in i["levels"])
    station = next(code for code in sites if code.startswith("station-"))
    assert got[("site", station)]["item_count"]["value"] == village_items
    assert got[("county", COUNTY)]["high_frequency_delegated"]["value"] == \
        sum(1 for i in items if i.get("high_frequency") and i.get("delegated"))


def test_the_dashboard_prints_the_same_numbers_and_drills_down_to_the_cases(world):
    app, rows, online, sites = world
    expected = _expected(rows, online)
    client = app.test_client()
    assert sign_in(client, "county.supervisor").status_code == 302
    period = f"from={START.isoformat()}&to={END.isoformat()}"
    html = client.get(f"/reports/kpi?{period}").get_data(as_text=True)
    cells = re.findall(r'<tr data-unit="([^"]+)" data-level="(\w+)">(.*?)</tr>', html, re.S)
    seen = set()
    for code, level, body in cells:
        for metric, num, den in re.findall(r'data-metric="(\w+)" data-num="(\d+)" data-den="(\d*)"', body):
            if metric in METRICS and (level, code) in expected:
                assert (int(num), int(den)) == expected[(level, code)][metric], (level, code, metric)
                seen.add((level, code))
    assert ("county", COUNTY) in seen and sum(1 for s in seen if s[0] == "township") == 6
    assert 'vendor/echarts/echarts.min.js' in html and 'id="kpi-charts"' in html
    # county → township → site → the cases behind the site's on-time numerator
    township = "150626100"
    html = client.get(f"/reports/kpi/township/{township}?{period}").get_data(as_text=True)
    site = next(s for s, t in sorted(sites.items()) if t == township and ("site", s) in expected
                and expected[("site", s)]["on_time_rate"][0] > 0)
    assert f'/reports/kpi/site/{site}?' in html.replace("&amp;", "&")
    html = client.get(f"/reports/kpi/site/{site}?{period}").get_data(as_text=True)
    link = re.search(r'href="(/cases\?metric=on_time_rate&amp;part=num[^"]*)"', html).group(1).replace("&amp;", "&")
    page = client.get(link).get_data(as_text=True)
    numbers = set(re.findall(r'>(150626-H7-\d{7})<', page))
    want = {r["number"] for r in rows if r["site_code"] == site and r["finished_on"] is not None
            and r["due_day"] is not None and r["finished_on"] <= r["due_day"]}
    assert numbers == want and len(want) == expected[("site", site)]["on_time_rate"][0]
    # the denominator of the township's one-window rate
    link = f"/cases?metric=one_window_rate&part=den&township={township}&{period}"
    page = client.get(link).get_data(as_text=True)
    count = int(re.search(r'class="count">\((\d+)\)', page).group(1))
    assert count == expected[("township", township)]["one_window_rate"][1]
    # a bad drill-down link or period is a 400 in the user's language, not a 500
    assert client.get(f"/cases?metric=no_such_metric&{period}").status_code == 400
    assert client.get("/cases?metric=on_time_rate&part=all").status_code == 400
    assert client.get("/reports/kpi?from=2026-13-01").status_code == 400
    assert client.get("/reports/kpi?from=2026-06-30&to=2026-01-01").status_code == 400
    printed = client.get(f"/reports/kpi/print?{period}").get_data(as_text=True)
    rows_printed = re.findall(r'<tr data-unit="([^"]+)" data-level="(\w+)">(.*?)</tr>', printed, re.S)
    assert len(rows_printed) == 1 + 6 + len(sites)  # county, townships, sites: the whole table
    for code, level, body in rows_printed:
        if (level, code) in expected:
            num, den = re.search(r'data-metric="satisfaction" data-num="(\d+)" data-den="(\d*)"', body).groups()
            assert (int(num), int(den)) == expected[(level, code)]["satisfaction"]
    assert "<a " not in "".join(body for _c, _l, body in rows_printed)  # print: no links


def test_a_township_supervisor_sees_only_their_township(world):
    """Scope: a role of township scope with report.read (the core roles'
    supervisor is county-wide, so one is made township-scoped here)."""
    app, rows, online, sites = world
    expected = _expected(rows, online)
    with app.app_context():
        from core import catalog
        from core.models import MetadataRecord as MR

        record = catalog.current("roles", "supervisor", county=COUNTY)
        content = dict(record.content, scope="township")
        MR.update(content=content).where(MR.id == record.id).execute()
        app.extensions["bangban"].cache.clear()  # the catalog's per-app cache
        Staff.update(region="150626101").where(Staff.username == "county.supervisor").execute()
    client = app.test_client()
    assert sign_in(client, "county.supervisor").status_code == 302
    period = f"from={START.isoformat()}&to={END.isoformat()}"
    html = client.get(f"/reports/kpi?{period}").get_data(as_text=True)
    townships = set(re.findall(r'data-unit="(\d{9})" data-level="township"', html))
    assert townships == {"150626101"}
    county_cell = re.search(r'data-unit="150626" data-level="county">(.*?)</tr>', html, re.S).group(1)
    num, den = re.search(r'data-metric="on_time_rate" data-num="(\d+)" data-den="(\d*)"', county_cell).groups()
    assert (int(num), int(den)) == expected[("township", "150626101")]["on_time_rate"]
    assert client.get(f"/reports/kpi/township/150626100?{period}").status_code == 404


def test_report_targets_status_by_hand(world):
    """乌审旗's one-window targets (level township: its 6 centers), due in
    2023, evaluated on 2026's cases: each center met or missed by hand."""
    app, rows, online, sites = world
    expected = _expected(rows, online)
    result = _invoke(app, "report", "targets", "--county", COUNTY, "--from", START.isoformat(), "--to",
                     END.isoformat(), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    first = next(t for t in data["targets"] if t["metric"] == "one_window_rate" and t["min"] == 0.8)
    centers = sorted(code for code in sites if code.startswith("center-"))
    assert [u["code"] for u in first["units"]] == centers
    pooled_num = pooled_den = 0
    for unit in first["units"]:
        num, den = expected.get(("site", unit["code"]), {}).get("one_window_rate", (0, 0))
        pooled_num, pooled_den = pooled_num + num, pooled_den + den
        status = "no_data" if not den else ("met" if num / den >= 0.8 else "missed")  # due 2023-06-30: past
        assert unit["status"] == status, unit
        assert unit["gap"] == (None if not den else pytest.approx(max(0.8 - num / den, 0)))
    assert first["value"] == pytest.approx(pooled_num / pooled_den)
    statuses = {u["status"] for u in first["units"]}
    assert first["status"] == ("missed" if "missed" in statuses else "met")
    # a staffing target is measured per center: the agents posted there, by hand
    agents = next(t for t in data["targets"] if t["metric"] == "center_agents")
    with app.app_context():
        for unit in agents["units"]:
            region = Site.get_by_id(unit["code"]).region
            posted = Staff.select().where((Staff.region == region) & Staff.active & Staff.role.in_(
                ["grassroots_agent", "grid_agent", "agent_specialist", "project_specialist"])).count()
            assert unit["value"] == posted and unit["status"] == ("met" if posted >= 2 else "behind")
        # a target whose metric no plugin registers is listed as not measured
        record = MetadataRecord.get((MetadataRecord.kind == "rulesets") & MetadataRecord.current
                                    & (MetadataRecord.county_code == COUNTY))
        record.content = {**record.content, "targets": record.content["targets"] + [
            {"metric": "no_such_metric", "level": "county", "min": 1}]}
        record.save()
    again = json.loads(_invoke(app, "report", "targets", "--county", COUNTY, "--format", "json").output)
    assert next(t for t in again["targets"] if t["metric"] == "no_such_metric")["status"] == "not_measured"
    # the table form prints the same statuses
    table = _invoke(app, "report", "targets", "--county", COUNTY, "--from", START.isoformat(), "--to",
                    END.isoformat(), "--lang", "en")
    assert table.exit_code == 0 and "One-window rate" in table.output
    assert _invoke(app, "report", "kpi", "--county", "999999").exit_code == 2


def test_status_rules():
    from core.kpi import roll_up, status_of

    due = datetime.date(2026, 6, 30)
    before, after = datetime.date(2026, 6, 1), datetime.date(2026, 7, 1)
    assert status_of(0.8, 0.8, due, after) == "met"
    assert status_of(0.79, 0.8, due, after) == "missed"
    assert status_of(0.75, 0.8, due, before) == "on_track"   # 0.75 >= 0.9 * 0.8
    assert status_of(0.70, 0.8, due, before) == "behind"
    assert status_of(0.70, 0.8, None, after) == "behind"     # never due: never missed
    assert status_of(None, 0.8, due, after) == "no_data"
    assert roll_up(["met", "on_track", "no_data"]) == "on_track"
    assert roll_up(["met", "behind", "missed"]) == "missed"
    assert roll_up(["no_data"]) == "no_data"


def test_filing_records_site_and_intake_channel(demo_app):
    """A township agent files at their center's comprehensive window; a grid
    agent at their village station's window; a bank clerk through the bank."""
    with demo_app.app_context():
        item = next(r for r in MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                                              & (MetadataRecord.county_code == COUNTY))
                    if "village" in r.content["levels"] and r.content["kind"] == "instant")
        got = {}
        for username in ("galutu.agent", "taoli.grid"):
            staff = Staff.get(Staff.username == username)
            case = service.create_case(item, _form(40, "150626100201"), User(staff))
            got[username] = Case.select(Case.site_code, Case.intake_channel).where(Case.id == case.id).tuples().get()
        center = Site.get((Site.region == "150626100") & (Site.kind == "service_center"))
        station = Site.get((Site.region == Staff.get(Staff.username == "taoli.grid").region)
                           & (Site.kind == "service_station"))
    assert "comprehensive_window" in center.profile["features"]
    assert got["galutu.agent"] == (center.code, "comprehensive_window")
    assert got["taoli.grid"] == (station.code, "window")


class BadMetric:
    from core.hookspecs import hookimpl

    @hookimpl
    def register_metrics(self, register):
        register("nothing_to_count", label="x")


class CountedMetric:
    """A plugin's metric given as conditions: counted in the grouped scan."""
    from core.hookspecs import hookimpl

    @hookimpl
    def register_metrics(self, register):
        register("home_visit_count", label="Home visits", numerator=lambda: Case.intake_channel == "home_visit",
                 unit="count")


def test_a_metric_must_say_how_it_is_computed():
    from core import registry
    from core.plugins import make_manager

    pm = make_manager(allow="", extra=[BadMetric()])
    with pytest.raises(registry.RegistryError) as caught:
        registry.metrics(pm)
    assert "nothing_to_count" in str(caught.value) and "numerator" in str(caught.value)


def test_a_plugin_count_metric_by_condition_per_unit(make_app):
    from core import kpi

    app = app_with_plugin(make_app, CountedMetric(), "counted")
    with app.app_context():
        rows = history.generate(COUNTY, 300, end=END, days=DAYS, seed=5)
        report = kpi.kpi(COUNTY, (START, END))
    got = {(u["level"], u["code"]): u["values"]["home_visit_count"] for u in report["units"]}
    by_township = defaultdict(int)
    for r in rows:
        by_township[r["township_code"]] += r["intake_channel"] == "home_visit"
    assert sum(by_township.values()) > 0
    for township, n in by_township.items():
        assert got[("township", township)] == {"num": n, "den": None, "value": n}
    assert got[("county", COUNTY)]["value"] == sum(by_township.values())


def test_a_bank_clerk_files_through_the_bank(demo_app):
    """The partner clerk's role names the bank channel; 嘎鲁图镇 has two
    partner banks and a staff record names no site, so the case has none."""
    with demo_app.app_context():
        item = next(r for r in MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                                              & (MetadataRecord.county_code == COUNTY))
                    if "bank" in (r.content.get("channels") or []))
        clerk = Staff.get(Staff.username == "galutu.bank")
        assert Site.select().where((Site.region == clerk.region) & (Site.kind == "bank_branch")).count() == 2
        case = service.create_case(item, _form(41, "150626100201"), User(clerk))
        assert Case.select(Case.site_code, Case.intake_channel).where(Case.id == case.id).tuples().get() == \
            (None, "bank")
