"""The KPI report's statements do not grow with its units (issue 13), on
SQLite and PostgreSQL: every metric is one (or a few) grouped statements
over all townships and sites, so adding villages and sites (with their
staff and cases) leaves the report's statement count - of ``kpi()`` alone,
outside a request as ``bangban report kpi`` runs it, and of the dashboard
page - exactly as it was.

Also: the numbers the grouped forms give, against counts made here row by
row (the green channel, a plugin's additive grouped metric, the staff a
compliance criterion counts for a site from the one grouped read).
"""
from __future__ import annotations

import datetime
from collections import defaultdict

import pytest

from bench.submit_bench import counting
from core.cases import history
from core.cases.models import Case
from core.models import Region, Site, Staff
from tests.helpers import app_with_plugin, sign_in

COUNTY = "150626"
END = datetime.date(2026, 6, 30)
DAYS = 90
PERIOD = (END - datetime.timedelta(days=DAYS - 1), END)


def _add_units(township, n):
    """``n`` new villages of ``township``, each with a service station, a
    grid agent posted to it; and one more partner site in the township."""
    template = Staff.select().where((Staff.county_code == COUNTY) & (Staff.role == "grid_agent")).first()
    for i in range(n):
        code = f"{township}9{i:02d}"
        assert Region.get_or_none(Region.code == code) is None
        Region.create(code=code, county_code=COUNTY, level="village", name={"zh": f"新村{i}"}, parent=township)
        Site.create(code=f"station-{code}", county_code=COUNTY, kind="service_station", region=code,
                    name={"zh": f"新村{i}便民服务站"}, profile={"features": ["proxy_window"], "area": 40})
        Staff.create(county_code=COUNTY, username=f"new.grid.{code}", name=f"网格员{i}", role="grid_agent",
                     region=code, password_hash=template.password_hash)
    Site.create(code=f"bank-{township}-new", county_code=COUNTY, kind="bank_branch", region=township,
                name={"zh": "新银行便民服务点"}, profile={})


def test_statements_do_not_grow_with_the_units(demo_app):
    from core import kpi

    app = demo_app
    with app.app_context():
        history.generate(COUNTY, 200, end=END, days=DAYS, seed=3)
        sites_before = Site.select().where(Site.county_code == COUNTY).count()
    client = app.test_client()
    assert sign_in(client, "county.supervisor").status_code == 302
    path = f"/reports/kpi?from={PERIOD[0].isoformat()}&to={PERIOD[1].isoformat()}"

    def measure():
        with app.app_context():
            with counting(app.extensions["bangban"].db) as seen:
                report = kpi.kpi(COUNTY, PERIOD)
                alone = len(seen)
                seen.clear()
                response = client.get(path)
                assert response.status_code == 200
                page = len(seen)
        return alone, page, report

    measure()  # the catalog's cache filled (read once per catalog version, whatever the units)
    alone, page, report = measure()
    assert len([u for u in report["units"] if u["level"] == "site"]) == sites_before
    with app.app_context():
        for township in ("150626100", "150626101", "150626102"):
            _add_units(township, 5)
        history.generate(COUNTY, 200, end=END, days=DAYS, seed=4)  # cases at the new sites too
        assert Site.select().where(Site.county_code == COUNTY).count() == sites_before + 18
        new_sites = [f"station-{t}9{i:02d}" for t in ("150626100", "150626101", "150626102") for i in range(5)]
        assert Case.select().where(Case.site_code.in_(new_sites)).count() > 0
    alone_after, page_after, report_after = measure()
    assert len([u for u in report_after["units"] if u["level"] == "site"]) == sites_before + 18
    new = next(u for u in report_after["units"] if u["code"] == "station-150626100900")
    assert new["values"]["grid_agents"]["num"] == 1  # the new units are measured, not left out
    assert (alone_after, page_after) == (alone, page)
    assert alone <= 30, alone  # a few grouped statements, not one per unit


class GroupedMetric:
    """A plugin's metric in the grouped, additive form: one statement for
    every township and site, summed up the levels."""
    from core.hookspecs import hookimpl

    calls = []

    @hookimpl
    def register_metrics(self, register):
        def by_channel(cases, period, scope, by=()):
            from peewee import Case as SqlCase, fn

            GroupedMetric.calls.append(tuple(by))
            query = cases.select(*by, fn.SUM(SqlCase(None, [(Case.intake_channel == "home_visit", 1)], 0)),
                                 fn.COUNT(1))
            query = query.group_by(*by) if by else query
            return {tuple(r[:len(by)]): (int(r[-2] or 0), int(r[-1])) for r in query.tuples()}

        register("home_visit_share", label="Home visits", compute_by=by_channel, additive=True, unit="rate")


def test_a_plugin_metric_grouped_and_summed_up(make_app):
    from core import kpi

    app = app_with_plugin(make_app, GroupedMetric(), "grouped")
    with app.app_context():
        history.generate(COUNTY, 300, end=END, days=DAYS, seed=5)
        # some cases in the green channel, counted by hand below
        chosen = Case.select(Case.id).where(Case.county_code == COUNTY).order_by(Case.id)
        green = [c.id for i, c in enumerate(chosen) if i % 7 == 0]
        Case.update(green_channel="elderly").where(Case.id.in_(green)).execute()
        GroupedMetric.calls.clear()
        report = kpi.kpi(COUNTY, PERIOD)
        cases = list(Case.select(Case.township_code, Case.site_code, Case.intake_channel, Case.green_channel,
                                 Case.created_at).where(Case.county_code == COUNTY))
    assert len(GroupedMetric.calls) == 1  # one statement for all units
    start = datetime.datetime.combine(PERIOD[0], datetime.time())
    stop = datetime.datetime.combine(PERIOD[1] + datetime.timedelta(days=1), datetime.time())
    visits, total, green_by = defaultdict(int), defaultdict(int), defaultdict(int)
    for c in cases:
        if not start <= c.created_at < stop:
            continue
        for key in (("county", COUNTY), ("township", c.township_code), ("site", c.site_code)):
            if key[1] is None:
                continue
            total[key] += 1
            visits[key] += c.intake_channel == "home_visit"
            green_by[key] += c.green_channel is not None
    assert sum(v for k, v in visits.items() if k[0] == "county") > 0
    assert sum(v for k, v in green_by.items() if k[0] == "county") > 0
    for unit in report["units"]:
        key = (unit["level"], unit["code"])
        assert unit["values"]["home_visit_share"]["num"] == visits[key], key
        assert unit["values"]["home_visit_share"]["den"] == total[key], key
        assert unit["values"]["green_channel_cases"] == {"num": green_by[key], "den": None,
                                                         "value": green_by[key]}, key


def test_an_additive_metric_needs_its_grouped_form():
    from core import registry
    from core.hookspecs import hookimpl
    from core.plugins import make_manager

    class Bad:
        @hookimpl
        def register_metrics(self, register):
            register("lonely", label="x", compute=lambda cases, period, scope: (0, 0), additive=True)

    with pytest.raises(registry.RegistryError) as caught:
        registry.metrics(make_manager(allow="", extra=[Bad()]))
    assert "lonely" in str(caught.value) and "additive" in str(caught.value)


def test_staff_counted_for_a_site_from_the_grouped_read(demo_app):
    """agents_posted and staffing count a site's active staff of a role
    from one grouped read of the county's staff; the counts are those of
    the staff rows, counted here one by one (one made inactive)."""
    from core.builtins import compliance

    with demo_app.app_context():
        staff = list(Staff.select().where(Staff.county_code == COUNTY))
        gone = next(s for s in staff if s.role == "grid_agent")
        Staff.update(active=False).where(Staff.id == gone.id).execute()
        gone.active = False
        sites = list(Site.select().where(Site.county_code == COUNTY))
        roles = sorted({s.role for s in staff})
        with compliance.staff_counts(COUNTY):
            with counting(demo_app.extensions["bangban"].db) as seen:
                got = {(site.code, role): compliance._active_count(site, role) for site in sites for role in roles}
                got.update({(site.code, None): compliance._active_count(site) for site in sites})
    assert seen == []  # no statement per site
    posted = {(site.code, role): sum(1 for s in staff if s.active and s.region == site.region
                                     and (role is None or s.role == role))
              for site in sites for role in [*roles, None]}
    assert got == posted
    assert any(n for n in posted.values())
