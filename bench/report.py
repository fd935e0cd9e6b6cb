"""One row per goal of issue 13, printed by bench/run.py.

A section is a module in bench/ with ``run(ctx) -> list[Row]``.  Each row is
a ratio against a baseline measured in the same run (same machine, same
database, interleaved where noise matters) and a verdict against its goal.
"""
from __future__ import annotations

import dataclasses
import statistics
import time


@dataclasses.dataclass
class Context:
    tmp: object               # pathlib.Path of a scratch folder for this run
    dbs: list                 # ["sqlite", "postgresql"]; a section makes its own PostgreSQL databases with pg_url()/fresh_pg()
    scales: list              # case counts for the growth rows, e.g. [10_000, 100_000, 1_000_000]
    repeat: int               # rounds for medians
    quick: bool = False       # smaller sizes for a smoke run (tests call this)


@dataclasses.dataclass
class Row:
    measure: str              # "case submission vs bare insert"
    db: str                   # "sqlite" | "postgresql" | "-"
    value: float              # the ratio (or the measured quantity for absolute goals)
    goal: str                 # "<= 1.3x", ">= 0.85x", "< 200 MB"
    ok: bool                  # verdict
    detail: str = ""          # baseline and measured numbers, units
    scale: int | None = None  # case count, for the growth table

    @property
    def verdict(self):
        return "ok" if self.ok else "MISSED"


def at_most(limit):
    return lambda v: v <= limit


def at_least(limit):
    return lambda v: v >= limit


def ratio_row(measure, db, measured, baseline, goal, ok, detail="", scale=None):
    value = measured / baseline if baseline else float("inf")
    detail = detail or f"{measured * 1000:.1f} ms vs {baseline * 1000:.1f} ms"
    return Row(measure, db, value, goal, ok(value), detail, scale)


def interleaved(fns, rounds):
    """Median seconds of each callable, run in interleaved rounds so that
    machine noise hits every side alike."""
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def print_rows(rows, out=print):
    width = max([len(r.measure) for r in rows] + [10])
    out(f"{'measure'.ljust(width)}  {'db':10}  {'ratio':>8}  {'goal':10}  verdict  detail")
    for r in rows:
        out(f"{r.measure.ljust(width)}  {r.db:10}  {r.value:8.2f}  {r.goal:10}  {r.verdict:7}  {r.detail}")


def print_growth(rows, out=print):
    """Growth table: for each (measure, db) with rows at several scales, the
    cost per scale relative to the smallest, and the growth factor per 10x."""
    series = {}
    for r in rows:
        if r.scale is not None:
            series.setdefault((r.measure, r.db), []).append(r)
    if not series:
        return
    out("")
    out("growth (ratio to the smallest scale; linear means <= the scale factor)")
    for (measure, db), rs in sorted(series.items()):
        rs.sort(key=lambda r: r.scale)
        cells = "  ".join(f"{r.scale:>9,}: {r.detail}" for r in rs)
        out(f"  {measure} [{db}]  {cells}")


def pg_url(suffix):
    """A PostgreSQL database of the bench's own, on the loopback server."""
    import os

    base = os.environ.get("BANGBAN_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/bangban_bench")
    return f"{base}_{suffix}"


def fresh_pg(url):
    """Drop and create the database ``url`` names (a bench database only)."""
    from urllib.parse import urlparse

    import peewee

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
