"""Bangban benchmarks: every goal of the speed-and-scale issue, each a ratio
to a baseline measured in the same run on the same machine, with a verdict.

    python bench/run.py                      # every section, SQLite and PostgreSQL
    python bench/run.py --only submit,lists  # some sections
    python bench/run.py --quick              # small sizes (a smoke run)
    python bench/run.py --db sqlite          # one database

Sections are modules bench/<name>_bench.py with ``run(ctx) -> list[Row]``
(bench/report.py).  PostgreSQL is 127.0.0.1:5432, database
``$BANGBAN_BENCH_PG`` (default ``test``).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import Context, print_growth, print_rows  # noqa: E402

SECTIONS = ["startup", "form", "submit", "lists", "export", "kpi", "serve", "catalog"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    if args.quick:
        scales = [s // 100 for s in scales]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(tmp=Path(tmp), dbs=args.db.split(","), scales=scales,
                      repeat=args.repeat, quick=args.quick)
        for name in args.only.split(","):
            module = importlib.import_module(f"bench.{name}_bench")
            started = time.perf_counter()
            print(f"== {name}", flush=True)
            section = module.run(ctx)
            print_rows(section)
            print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
            rows.extend(section)
    print("\n== summary")
    print_rows(rows)
    print_growth(rows)
    missed = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} goals met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
