"""The accounts' pages against the case list, in the same run: each page of
the demo county (乌审旗: 89 sites, 52 assessed staff) is timed through the
Flask test client signed in as the county administrator, and printed as a
ratio to ``/cases`` (the scoped case list, the baseline).

    python bench/accounts_bench.py [--repeat N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["/cases", "/compliance", "/compliance/export.xlsx", "/staffing", "/assessment", "/worklog",
         "/compliance/sites/center-150626100"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from core import db as dbmod
    from core.app import create_app
    from core.demo import load_demo
    from tests.helpers import sign_in

    folder = tempfile.mkdtemp()
    app = create_app(data_dir=folder, database_url=f"sqlite:///{folder}/bench.db",
                     plugins="wushen,bank_partnership", secret_key="bench")
    app.config["TESTING"] = True
    with app.app_context():
        dbmod.migrate()
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
    client = app.test_client()
    sign_in(client, "county.admin")
    times = {}
    for page in PAGES:
        assert client.get(page).status_code == 200, page
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            client.get(page)
            runs.append(time.perf_counter() - start)
        times[page] = statistics.median(runs)
    base = times["/cases"]
    print(f"accounts pages, county administrator of 乌审旗 (median of {args.repeat})")
    for page, seconds in times.items():
        print(f"  {page:<38} {seconds * 1000:8.1f} ms   {seconds / base:6.1f}x")


if __name__ == "__main__":
    main()
