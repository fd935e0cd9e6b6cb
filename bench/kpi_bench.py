"""The KPI report vs. the equivalent hand-written SQL, side by side in the
same process and database, on SQLite and on PostgreSQL, at 10k, 100k and
(with --full) 1,000,000 cases.

    python bench/kpi_bench.py [--sizes 10000,100000] [--full] [--repeat 3] [--only sqlite|postgres]

The report (:func:`core.kpi.kpi`) gives every registered metric for 乌审旗,
its 6 townships and its ~90 sites over a year. The baseline is what a
developer would write by hand for the same numbers: one grouped query of
the condition metrics by township and site (summed up to the townships and
the county in Python, as the report does), and the online rate's distinct
items by a join on the item version with the database's own JSON function,
once per level. Both must give the same numbers (checked), then each is
timed (best of --repeat). Target: report <= 1.2x the baseline, and time
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
    " SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END)"
    " FROM cases WHERE county_code = %s AND created_at >= %s AND created_at < %s"
    " GROUP BY township_code, site_code")
CONDITION_METRICS = ("one_window_rate", "on_time_rate", "rating_coverage", "satisfaction")
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

    for row in run(CONDITIONS_SQL):
        township, site, counts = row[0], row[1], row[2:]
        for key in (("county", COUNTY), ("township", township), ("site", site)):
            if key[1] is None:
                continue
            cell = out.setdefault(key, {})
            for i, metric in enumerate(CONDITION_METRICS):
                num, den = cell.get(metric, (0, 0))
                cell[metric] = (num + int(counts[2 * i] or 0), den + int(counts[2 * i + 1] or 0))
    for level, sql in ONLINE_SQL[flavour].items():
        for code, items, online in run(sql):
            out.setdefault((level, code), {})["online_rate"] = (online, items)
    return out


def from_report(report):
    metrics = (*CONDITION_METRICS, "online_rate")
    return {(u["level"], u["code"]): {m: (u["values"][m]["num"], u["values"][m]["den"]) for m in metrics}
            for u in report["units"] if any(u["values"][m]["den"] for m in metrics)}


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
            hand = hand_written(database, flavour, period)
            mine = from_report(report)
            assert mine == {k: v for k, v in hand.items() if k in mine}, "report and hand-written SQL differ"
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
                mine = from_report(kpi.kpi(COUNTY, period))
                hand = hand_written(database, flavour, period)
                assert mine and mine == {k: v for k, v in hand.items() if k in mine}, "report and SQL differ"
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
