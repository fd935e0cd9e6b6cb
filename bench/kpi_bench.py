"""The KPI report vs. the equivalent hand-written SQL, side by side in the
same process and database, on SQLite and on PostgreSQL, at 10k, 100k and
(with --full) 1,000,000 cases.

    python bench/kpi_bench.py [--sizes 10000,100000] [--full] [--repeat 3] [--only sqlite|postgres]

The report (:func:`core.kpi.kpi`) gives every registered metric for 乌审旗,
its 6 townships and its ~90 sites over a year. The baseline is what a
developer would write by hand for the same numbers: one grouped query of
the condition metrics (and the green channel count) by township and site
(summed up to the townships and the county in Python, as the report does);
the online rate's distinct items by a join on the item version with the
database's own JSON function, once per level; the ratings' rectification
and callback rates of real-name 差评 in one query grouped by township and
site; the sites metrics (staff posted per role, proxy-window and rating
channel coverage, demonstration points, service stations, villages with a
station, sites meeting their standards) from one read each of the sites,
the villages, the active staff grouped by region and role, and the latest
assessments with their answers - the compliance rules themselves (the
site standards' requirements, the registered criteria) are not SQL and
are applied to those reads by the compliance module's own functions.
Both must give the same numbers (checked, every unit), then each is timed
(best of --repeat). Only the catalog metrics (item counts, read from the
cached catalog, no statement) are left out of the comparison. Target: report <= 1.2x the baseline, and time
growing linearly or better with the number of cases.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import peewee  # noqa: E402

COUNTY = "150626"
CONDITIONS_SQL = (
    "SELECT township_code, site_code,"
    " SUM(CASE WHEN accepted_on IS NOT NULL AND intake_channel = 'comprehensive_window' THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN accepted_on IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN finished_on IS NOT NULL AND due_day IS NOT NULL AND finished_on <= due_day THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN finished_on IS NOT NULL AND due_day IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN finished_on IS NOT NULL AND rating IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN finished_on IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN rating IS NOT NULL AND rating >= 4 THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN green_channel IS NOT NULL THEN 1 ELSE 0 END)"
    " FROM cases WHERE county_code = %s AND created_at >= %s AND created_at < %s"
    " GROUP BY township_code, site_code")
CONDITION_METRICS = ("one_window_rate", "on_time_rate", "rating_coverage", "satisfaction")
# real-name 差评 (levels 1, 2) of the period's cases, upheld appeals left out
RATINGS_SQL = (
    "SELECT c.township_code, c.site_code, COUNT(r.id), COUNT(x.rectified_on), COUNT(x.callback_on)"
    " FROM cases c JOIN rating r ON r.case_id = c.id LEFT JOIN rectification x ON x.rating_id = r.id"
    " WHERE c.county_code = %s AND c.created_at >= %s AND c.created_at < %s"
    " AND r.level IN (1, 2) AND r.rater = 'real_name'"
    " AND (x.appeal_outcome IS NULL OR x.appeal_outcome <> 'upheld')"
    " GROUP BY c.township_code, c.site_code")
SITES_SQL = ("SELECT code, county_code, kind, name, region, standard, profile FROM site"
             " WHERE county_code = %s ORDER BY code")
REGIONS_SQL = "SELECT code, level FROM region WHERE county_code = %s AND level IN ('township', 'village')"
STAFF_SQL = ("SELECT region, role, COUNT(*) FROM staff WHERE county_code = %s AND active"
             " GROUP BY region, role")
ASSESSMENTS_SQL = "SELECT * FROM site_assessment WHERE county_code = %s ORDER BY period, id"
ANSWERS_SQL = ("SELECT a.* FROM assessment_answer a JOIN site_assessment s ON s.id = a.assessment_id"
               " WHERE s.county_code = %s")
AGENT_ROLES = ("grassroots_agent", "grid_agent", "agent_specialist", "project_specialist")
STAFF_METRICS = {"center_agents": AGENT_ROLES, "station_agents": AGENT_ROLES,
                 "agent_specialists": ("agent_specialist",), "township_supervisors": ("township_supervisor",),
                 "grid_agents": ("grid_agent",)}
RATE_METRICS = ("rectification_rate", "callback_rate", "proxy_window_coverage", "rating_channel_coverage",
                "site_compliance", "site_coverage")
COUNT_METRICS = ("green_channel_cases", *STAFF_METRICS, "demonstration_points", "service_stations")
# the online rate: distinct items, and those whose version can be applied for
# online, per level: the distinct item versions of each group first (from the
# covering index), then the join on the few versions; each version's JSON is
# read once (the online versions' subquery), not once per group
ONLINE_SQL = {
    "sqlite": {
        "site": ("SELECT d.g, COUNT(DISTINCT m.key),"
                 " COUNT(DISTINCT CASE WHEN m.id IN"
                 " (SELECT o.id FROM metadata_record o WHERE o.kind = 'items' AND json_extract(o.content, '$.online'))"
                 " THEN m.key END)"
                 " FROM (SELECT DISTINCT site_code AS g, item_record_id FROM cases"
                 " WHERE county_code = %s AND created_at >= %s AND created_at < %s) d"
                 " JOIN metadata_record m ON m.id = d.item_record_id GROUP BY d.g"),
        "township": ("SELECT d.g, COUNT(DISTINCT m.key),"
                 " COUNT(DISTINCT CASE WHEN m.id IN"
                 " (SELECT o.id FROM metadata_record o WHERE o.kind = 'items' AND json_extract(o.content, '$.online'))"
                 " THEN m.key END)"
                 " FROM (SELECT DISTINCT township_code AS g, item_record_id FROM cases"
                 " WHERE county_code = %s AND created_at >= %s AND created_at < %s) d"
                 " JOIN metadata_record m ON m.id = d.item_record_id GROUP BY d.g"),
        "county": ("SELECT d.g, COUNT(DISTINCT m.key),"
                 " COUNT(DISTINCT CASE WHEN m.id IN"
                 " (SELECT o.id FROM metadata_record o WHERE o.kind = 'items' AND json_extract(o.content, '$.online'))"
                 " THEN m.key END)"
                 " FROM (SELECT DISTINCT county_code AS g, item_record_id FROM cases"
                 " WHERE county_code = %s AND created_at >= %s AND created_at < %s) d"
                 " JOIN metadata_record m ON m.id = d.item_record_id GROUP BY d.g"),
    },
    "postgres": {
        "site": ("SELECT d.g, COUNT(DISTINCT m.key),"
                 " COUNT(DISTINCT CASE WHEN m.id IN"
                 " (SELECT o.id FROM metadata_record o"
                 " WHERE o.kind = 'items' AND (o.content::json->>'online') = 'true')"
                 " THEN m.key END)"
                 " FROM (SELECT DISTINCT site_code AS g, item_record_id FROM cases"
                 " WHERE county_code = %s AND created_at >= %s AND created_at < %s) d"
                 " JOIN metadata_record m ON m.id = d.item_record_id GROUP BY d.g"),
        "township": ("SELECT d.g, COUNT(DISTINCT m.key),"
                 " COUNT(DISTINCT CASE WHEN m.id IN"
                 " (SELECT o.id FROM metadata_record o"
                 " WHERE o.kind = 'items' AND (o.content::json->>'online') = 'true')"
                 " THEN m.key END)"
                 " FROM (SELECT DISTINCT township_code AS g, item_record_id FROM cases"
                 " WHERE county_code = %s AND created_at >= %s AND created_at < %s) d"
                 " JOIN metadata_record m ON m.id = d.item_record_id GROUP BY d.g"),
        "county": ("SELECT d.g, COUNT(DISTINCT m.key),"
                 " COUNT(DISTINCT CASE WHEN m.id IN"
                 " (SELECT o.id FROM metadata_record o"
                 " WHERE o.kind = 'items' AND (o.content::json->>'online') = 'true')"
                 " THEN m.key END)"
                 " FROM (SELECT DISTINCT county_code AS g, item_record_id FROM cases"
                 " WHERE county_code = %s AND created_at >= %s AND created_at < %s) d"
                 " JOIN metadata_record m ON m.id = d.item_record_id GROUP BY d.g"),
    },
}


def hand_written(database, flavour, period):
    """The same numbers by hand: {(level, code): {metric: (num, den)}}."""
    start = datetime.datetime.combine(period[0], datetime.time())
    end = datetime.datetime.combine(period[1] + datetime.timedelta(days=1), datetime.time())
    params = (COUNTY, start, end)
    out = {}

    def run(sql):
        if flavour == "sqlite":
            sql = sql.replace("%s", "?")
        return database.execute_sql(sql, params).fetchall()

    def add(key, metric, num, den):
        cell = out.setdefault(key, {})
        have = cell.get(metric, (0, 0 if den is not None else None))
        cell[metric] = (have[0] + int(num or 0), None if den is None else have[1] + int(den or 0))

    def up_the_levels(township, site):
        return [key for key in (("county", COUNTY), ("township", township), ("site", site)) if key[1] is not None]

    for row in run(CONDITIONS_SQL):
        counts = row[2:]
        for key in up_the_levels(row[0], row[1]):
            for i, metric in enumerate(CONDITION_METRICS):
                add(key, metric, counts[2 * i], counts[2 * i + 1])
            add(key, "green_channel_cases", counts[-1], None)
    for level, sql in ONLINE_SQL[flavour].items():
        for code, items, online in run(sql):
            out.setdefault((level, code), {})["online_rate"] = (online, items)
    for township, site, bad, rectified, called in run(RATINGS_SQL):
        for key in up_the_levels(township, site):
            add(key, "rectification_rate", rectified, bad)
            add(key, "callback_rate", called, bad)
    _sites_by_hand(database, flavour, out)
    return out


def _sites_by_hand(database, flavour, out):
    """The sites metrics of every unit from one read each of the sites, the
    villages, the staff (grouped), the assessments and their answers."""
    from core import catalog, registry
    from core.builtins import compliance
    from core.compliance import site as site_compliance
    from core.compliance.models import AssessmentAnswer, SiteAssessment
    from core.models import Site

    def sql(text):
        return text.replace("%s", "?") if flavour == "sqlite" else text

    sites = list(Site.raw(sql(SITES_SQL), COUNTY))
    regions = database.execute_sql(sql(REGIONS_SQL), (COUNTY,)).fetchall()
    villages = [code for code, level in regions if level == "village"]
    townships = sorted(code for code, level in regions if level == "township")
    staff = {}
    for region, role, n in database.execute_sql(sql(STAFF_SQL), (COUNTY,)).fetchall():
        staff[(COUNTY, region, role)] = n
        staff[(COUNTY, region, None)] = staff.get((COUNTY, region, None), 0) + n
    loaded = {}
    for a in SiteAssessment.raw(sql(ASSESSMENTS_SQL), COUNTY):
        loaded[(a.site_code, a.standard)] = (a, {})  # the latest period's
    by_id = {a.id: answers for a, answers in loaded.values()}
    for answer in AssessmentAnswer.raw(sql(ANSWERS_SQL), COUNTY):
        if answer.assessment_id in by_id:
            by_id[answer.assessment_id][answer.requirement] = answer
    levels = {code: e.get("level") for code, e in registry.site_kinds().items()}

    def texts(value):
        return {str(v).strip() for v in value.values() if v} if isinstance(value, dict) else (
            {str(value).strip()} if value else set())

    token = compliance._STAFF_COUNTS.set(staff)
    pin = catalog.pinned()  # the catalog's version read once, like the report (and a request)
    pin.__enter__()
    try:
        answers = {}
        for site in sites:
            profile = site.profile or {}
            parts = site_compliance.gap_report(site, loaded)
            answers[site.code] = {
                "proxy_window_coverage": None if "features" not in profile else "proxy_window" in profile["features"],
                "rating_channel_coverage": None if "features" not in profile and "equipment" not in profile else (
                    "rating_qr" in (profile.get("features") or ())
                    or any("评价器" in texts(e) for e in profile.get("equipment") or ())),
                "site_compliance": None if not parts else all(p["gaps"] == 0 for p in parts),
                "demonstration_points": bool(profile.get("demonstration")),
                "service_stations": site.kind == "service_station" and not profile.get("demonstration")}
    finally:
        pin.__exit__(None, None, None)
        compliance._STAFF_COUNTS.reset(token)
    covered = {s.region[:12] for s in sites if levels.get(s.kind) == "village" and len(s.region) >= 12}
    units = [(("county", COUNTY), sites, lambda region: True)]
    units += [(("township", t), [s for s in sites if s.region.startswith(t)], lambda region, t=t: region == t)
              for t in townships]
    units += [(("site", s.code), [s], None) for s in sites]
    for key, unit_sites, posted in units:
        cell = out.setdefault(key, {})
        for metric in ("proxy_window_coverage", "rating_channel_coverage", "site_compliance"):
            said = [answers[s.code][metric] for s in unit_sites]
            cell[metric] = (sum(1 for a in said if a), sum(1 for a in said if a is not None))
        for metric in ("demonstration_points", "service_stations"):
            cell[metric] = (sum(1 for s in unit_sites if answers[s.code][metric]), None)
        for metric, roles in STAFF_METRICS.items():
            if key[0] == "site":
                site = unit_sites[0]
                village = levels.get(site.kind, "village") == "village"
                n = sum(count for (_c, region, role), count in staff.items() if role in roles and (
                    region.startswith(site.region) if village else region == site.region))
            else:
                n = sum(count for (_c, region, role), count in staff.items() if role in roles and posted(region))
            cell[metric] = (n, None)
        if key[0] == "site":
            cell["site_coverage"] = (None, None)
        else:
            codes = [v for v in villages if key[0] == "county" or v.startswith(key[1])]
            cell["site_coverage"] = (sum(1 for c in codes if c in covered), len(codes))


COMPARED = (*CONDITION_METRICS, "online_rate", *RATE_METRICS, *COUNT_METRICS)


def from_report(report):
    return {(u["level"], u["code"]): {m: (u["values"][m]["num"], u["values"][m]["den"]) for m in COMPARED}
            for u in report["units"]}


def same_numbers(report, hand):
    """The report's numbers of every unit equal the hand-written ones (a
    unit the SQL found no case of: zero)."""
    mine = from_report(report)
    expected = {key: {m: hand.get(key, {}).get(m, (0, None if m in COUNT_METRICS else 0)) for m in COMPARED}
                for key in mine}
    differ = [(key, m, mine[key][m], expected[key][m]) for key in mine for m in COMPARED
              if mine[key][m] != expected[key][m]]
    assert not differ, f"report and hand-written SQL differ: {differ[:5]}"
    return mine


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def analyse(database, flavour):
    if flavour == "postgres":
        database.execute_sql("VACUUM ANALYZE cases")  # index-only scans need the visibility map
        database.execute_sql("ANALYZE metadata_record")
    else:
        database.execute_sql("ANALYZE")


def run_sizes(database_url, flavour, sizes, repeat, tmp):
    from core import create_app
    from core import kpi
    from core.cases import history
    from core.cases.models import Case
    from core.demo import load_demo

    app = create_app(data_dir=str(tmp / flavour), database_url=database_url, plugins="wushen,bank_partnership",
                     secret_key="bench")
    results = []
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
        database = app.extensions["bangban"].db
        if flavour == "postgres":
            database.execute_sql("ALTER TABLE cases SET (autovacuum_enabled = false)")
        else:  # a page cache that holds the indexes while a million rows go in
            database.execute_sql("PRAGMA cache_size = -400000")
        end = datetime.date.today()
        period = (end - datetime.timedelta(days=364), end)
        have = Case.select().where(Case.county_code == COUNTY).count()
        for n, size in enumerate(sizes):
            start = time.perf_counter()
            more = size - have
            written = history.generate(COUNTY, more, end=end, days=365, seed=n + 1, tag=f"B{n}", keep=False,
                                       batch=2000 if flavour == "postgres" else 900)
            have += written
            analyse(database, flavour)
            made = time.perf_counter() - start
            report = kpi.kpi(COUNTY, period)
            same_numbers(report, hand_written(database, flavour, period))
            assert report["units"][0]["values"]["on_time_rate"]["den"] > 0.8 * have * 0.9
            r = max(2, repeat if size <= 100_000 else max(1, repeat - 1))
            t_hand = best(lambda: hand_written(database, flavour, period), r)
            t_report = best(lambda: kpi.kpi(COUNTY, period), r)
            results.append((have, t_hand, t_report))
            print(f"  {have:>9,} cases (+{written:,} written in {made:5.1f}s): hand-written SQL "
                  f"{t_hand * 1000:9.1f} ms   KPI report {t_report * 1000:9.1f} ms   "
                  f"{t_report / t_hand:5.2f}x  (target <= 1.2x)", flush=True)
    if hasattr(app.extensions["bangban"].db, "close_all"):
        app.extensions["bangban"].db.close_all()
    first = results[0]
    for have, t_hand, t_report in results[1:]:
        print(f"  growth {first[0]:,} -> {have:,} cases ({have / first[0]:.0f}x): report {t_report / first[2]:.1f}x, "
              f"hand-written {t_hand / first[1]:.1f}x  (linear or better: <= {have / first[0]:.0f}x)")
    return results


def run(ctx):
    """The bench/run.py section: on each database, the cases of
    ``ctx.scales`` bulk-loaded (bench/bulk.py), the report checked equal to
    the hand-written SQL, both timed in interleaved rounds; a growth row at
    every scale, the ratio row (<= 1.2x) at the largest."""
    from bench import bulk
    from bench.report import Row, at_most, fresh_pg, interleaved, pg_url, ratio_row
    from core import kpi

    rows = []
    end = datetime.date.today()
    period = (end - datetime.timedelta(days=364), end)
    for db in ctx.dbs:
        flavour = "postgres" if db == "postgresql" else "sqlite"
        data_dir = ctx.tmp / f"kpi-{db}"
        data_dir.mkdir(parents=True, exist_ok=True)
        if flavour == "postgres":
            url = pg_url("kpi")
            fresh_pg(url)
        else:
            url = f"sqlite:///{data_dir / 'kpi.db'}"
        app = bulk.demo_app(url, data_dir)
        with app.app_context():
            from core.cases.models import Case

            database = app.extensions["bangban"].db
            have = Case.select().where(Case.county_code == COUNTY).count()
            for n, scale in enumerate(ctx.scales):
                if scale > have:
                    bulk.load(scale - have, county=COUNTY, seed=n + 1, tag=f"K{n}", events=False,
                              commissions=False)
                    have = scale
                bulk.analyse()
                same_numbers(kpi.kpi(COUNTY, period), hand_written(database, flavour, period))
                rounds = max(2, ctx.repeat if scale <= 100_000 else ctx.repeat // 2)
                t_hand, t_report = interleaved([lambda: hand_written(database, flavour, period),
                                                lambda: kpi.kpi(COUNTY, period)], rounds)
                if scale == ctx.scales[-1]:
                    rows.append(ratio_row("KPI report vs hand-written SQL", db, t_report, t_hand, "<= 1.2x",
                                          at_most(1.2), f"{t_report * 1000:.0f} ms vs {t_hand * 1000:.0f} ms "
                                                        f"at {have:,} cases"))
                rows.append(Row("KPI report time", db, t_report / t_hand, "linear", True,
                                f"{t_report * 1000:.0f} ms (SQL {t_hand * 1000:.0f} ms)", scale=have))
                print(f"  {db} {have:>9,} cases: hand-written SQL {t_hand * 1000:.0f} ms, report "
                      f"{t_report * 1000:.0f} ms ({t_report / t_hand:.2f}x)", flush=True)
        if hasattr(database, "close_all"):
            database.close_all()
    return rows


def _fresh_pg(url):
    from urllib.parse import urlparse

    parsed = urlparse(url)
    admin = peewee.PostgresqlDatabase("postgres", host=parsed.hostname, port=parsed.port or 5432,
                                      user=parsed.username or "postgres")
    admin.connect()
    admin.connection().autocommit = True
    name = parsed.path.lstrip("/")
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}"')  # noqa: S608 - the bench's own database name
    admin.execute_sql(f'CREATE DATABASE "{name}"')  # noqa: S608
    admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--full", action="store_true", help="also 1,000,000 cases")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.full else [])
    wanted = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "sqlite" in wanted:
            print("SQLite:", flush=True)
            run_sizes(f"sqlite:///{tmp / 'kpi.db'}", "sqlite", sizes, args.repeat, tmp)
        if "postgres" in wanted:
            pg = os.environ.get("BANGBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/bangban_bench_kpi")
            try:
                _fresh_pg(pg)
            except peewee.OperationalError as exc:
                print(f"PostgreSQL: not measured ({exc})")
                return
            print("PostgreSQL:", flush=True)
            run_sizes(pg, "postgres", sizes, args.repeat, tmp)


if __name__ == "__main__":
    main()
