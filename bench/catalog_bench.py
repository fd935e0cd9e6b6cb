"""Large catalogs: every page and API that lists items, at 5,000 items vs.
the same at about 100 items, measured in the same run, on SQLite and on
PostgreSQL (target: each ratio <= 1.3x).

Two databases are built side by side: the demo county (乌审旗, 102 items,
its staff and places) alone, and the same with synthetic items added up to
5,000 (copies of the shipped items under new codes, in a pack of the same
county). Measured through the Flask test client, signed in, median of
many requests after a warm-up:

- the item picker (``/cases/new``) empty and searched by pinyin initials,
- the items API (``/api/items``) empty and searched,
- the public guides (``/guides``) empty and searched,
- the back-office item list (``/admin/items/``) empty and searched,
- ``metadata sync`` of one changed item (the store's part: compare and
  write, the packs already read) in the 5,000-item catalog vs. the same in
  the 102-item one; also printed with the reading of the YAML packs, which
  grows with the catalog.

    python -m bench.catalog_bench [--repeat N] [--sqlite-only]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import peewee

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import write_catalog  # noqa: E402

BIG = 5000
PAGES = [
    ("picker", "/cases/new"),
    ("picker, pinyin initials", "/cases/new?q=ydjyba"),
    ("items API", "/api/items"),
    ("items API, pinyin initials", "/api/items?q=ydjyba"),
    ("guides", "/guides"),
    ("guides, pinyin initials", "/guides?q=ydjyba"),
    ("admin item list", "/admin/items/"),
    ("admin item list, search", "/admin/items/?q=ydjyba"),
]
STAFF_PAGES = {"/cases/new", "/api/items"}
ADMIN_PAGES = {"/admin/items/"}


def build(database_url, data_dir: Path, synth: Path | None):
    """An app on a fresh database: the demo county, plus ``synth``."""
    from core import create_app
    from core.cli import load_catalog, pack_paths
    from core.demo import demo_packs, load_demo
    from core.metadata import store

    app = create_app(data_dir=str(data_dir), database_url=database_url, plugins="wushen,bank_partnership",
                     secret_key="bench")
    pm = app.extensions["bangban"].pm
    with app.app_context():
        load_demo(pm, "Bangban@2026")
        paths = [*pack_paths(pm), *(p for p, _c in demo_packs(pm))] + ([synth] if synth else [])
        catalog = load_catalog(pm, paths)
        store.sync(catalog, actor="bench", role="system")
        from core.models import ItemSearch

        count = ItemSearch.select().where(ItemSearch.county_code == "150626").count()
    return app, paths, count


def clients(app):
    from tests.helpers import sign_in

    agent, admin, public = app.test_client(), app.test_client(), app.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    assert sign_in(admin, "county.admin").status_code == 302
    return agent, admin, public


def median_ms(client, path, repeat):
    for _ in range(3):  # warm-up: caches of the catalog version, templates
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def sync_one_change(app, paths, repeat):
    """Median ms of (store) sync and of (read + sync) with one item changed,
    alternating between two versions of that item."""
    from core.cli import load_catalog
    from core.metadata import store

    pm = app.extensions["bangban"].pm
    with app.app_context():
        first = load_catalog(pm, paths)
        second = copy.copy(first)
        second.kinds = dict(first.kinds)
        items = dict(first.kinds["items"])
        key = "150626-ybj-003" if "150626-ybj-003" in items else sorted(items)[0]
        entry = copy.copy(items[key])
        entry.data = {**entry.data, "promised_days": entry.data.get("promised_days", 1) + 1}
        items[key] = entry
        second.kinds["items"] = items
        store_times, full_times = [], []
        for i in range(repeat):
            catalog = second if i % 2 == 0 else first
            start = time.perf_counter()
            counts = store.sync(catalog, actor="bench", role="system")
            store_times.append(time.perf_counter() - start)
            assert counts["changed"] == 1 and counts["added"] == 0, counts
        for i in range(max(3, repeat // 4)):
            start = time.perf_counter()
            catalog = load_catalog(pm, paths)
            if i % 2 == 0:
                catalog.kinds["items"][key].data = {**catalog.kinds["items"][key].data,
                                                   "promised_days": entry.data["promised_days"] + 1}
            store.sync(catalog, actor="bench", role="system")
            full_times.append(time.perf_counter() - start)
    return statistics.median(store_times) * 1000, statistics.median(full_times) * 1000


def measure(database_url, data_dir, synth, repeat):
    app, paths, count = build(database_url, data_dir, synth)
    agent, admin, public = clients(app)
    out = {}
    for label, path in PAGES:
        base = path.split("?")[0]
        client = agent if base in STAFF_PAGES else admin if base in ADMIN_PAGES else public
        out[label] = median_ms(client, path, repeat)
    out["sync", "store"], out["sync", "read+store"] = sync_one_change(app, paths, repeat)
    database = app.extensions["bangban"].db
    if hasattr(database, "close_all"):
        database.close_all()
    else:
        database.close()
    return count, out


def run(label, small_url, big_url, tmp: Path, repeat: int):
    synth = write_catalog(tmp / "synth", BIG - 102, name="synth", departments=False)
    n_small, small = measure(small_url, tmp / "small", None, repeat)
    n_big, big = measure(big_url, tmp / "big", synth, repeat)
    print(f"{label}: {n_big} items vs {n_small} items (median of {repeat} requests; target <= 1.3x)")
    ratios = {}
    for key in small:
        name = key if isinstance(key, str) else f"metadata sync, one changed item ({key[1]})"
        ratio = big[key] / small[key]
        ratios[name] = ratio
        target = "" if key == ("sync", "read+store") else ("  ok" if ratio <= 1.3 else "  MISSED")
        print(f"  {name:42s} {small[key]:8.1f} ms  {big[key]:8.1f} ms  {ratio:5.2f}x{target}")
    return ratios


def _fresh_pg(url):
    from urllib.parse import urlparse

    parsed = urlparse(url)
    admin = peewee.PostgresqlDatabase("postgres", host=parsed.hostname, port=parsed.port or 5432,
                                      user=parsed.username or "postgres")
    admin.connect()
    admin.connection().autocommit = True
    name = parsed.path.lstrip("/")
    admin.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}"')  # noqa: S608 - our own bench database's name
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    admin.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["SQLite"] = run("SQLite", f"sqlite:///{tmp / 'small.db'}", f"sqlite:///{tmp / 'big.db'}", tmp,
                                args.repeat)
        if not args.sqlite_only:
            base = os.environ.get("BANGBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/bangban_bench")
            small, big = base + "_catalog_small", base + "_catalog_big"
            try:
                _fresh_pg(small)
                _fresh_pg(big)
            except peewee.OperationalError as exc:
                print(f"PostgreSQL: not measured ({exc})")
                return results
            results["PostgreSQL"] = run("PostgreSQL", small, big, tmp / "pg", args.repeat)
    return results


if __name__ == "__main__":
    main()
