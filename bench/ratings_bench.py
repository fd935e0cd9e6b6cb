"""好差评 exports and metrics against baselines measured in the same run and
database (SQLite by default; ``BANGBAN_BENCH_DB=postgresql://…`` for
PostgreSQL):

1. ``/ratings/export.xlsx`` of N ratings vs. the case ledger's
   ``/cases/export.xlsx`` of the same N cases (both openpyxl, both scoped);
2. ``/ratings/ledger`` (the 评价表 page) vs. the same export as xlsx;
3. the ``rectification_rate`` metric vs. the core's ``satisfaction`` over
   the same cases.

    PYTHONPATH=. python bench/ratings_bench.py [N]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time


def _time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(n=1000):
    from core import create_app
    from core import db as dbmod
    from core import registry
    from core.auth import User
    from core.cases import service as cases
    from core.cases.demo import _form
    from core.cases.models import Case
    from core.demo import load_demo
    from core.models import MetadataRecord, Staff
    from core.ratings import service
    from tests.helpers import sign_in

    tmp = tempfile.mkdtemp()
    url = os.environ.get("BANGBAN_BENCH_DB") or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app(data_dir=tmp, database_url=url, plugins="wushen,bank_partnership,mongolian", secret_key="b")
    with app.app_context():
        dbmod.migrate()
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
        agent = User(Staff.get(Staff.username == "galutu.agent"))
        supervisor = User(Staff.get(Staff.username == "county.supervisor"))
        item = next(r for r in MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current)
                    if r.content["kind"] == "promised")
        start = time.perf_counter()
        for i in range(n):
            case = cases.create_case(item, _form(1000 + i, "150626100201"), agent)
            Case.update(state="handling", accepted_on=cases.today()).where(Case.id == case.id).execute()
            rating = service.record(Case.get_by_id(case.id), "acceptance", 1 + i % 5, channel="qr")
            if i % 5 == 0:
                service.verify(rating.rectifications.get(), supervisor, "rectify", "属实")
        print(f"generated {n} cases with ratings in {time.perf_counter() - start:.1f}s")
        ours = Case.select().where(Case.county_code == "150626")
        metric = _time(lambda: registry.compute_metric("rectification_rate", ours))
        base_metric = _time(lambda: registry.compute_metric("satisfaction", ours))
    client = app.test_client()
    sign_in(client, "county.supervisor")
    ratings_xlsx = _time(lambda: client.get("/ratings/export.xlsx"), 3)
    cases_xlsx = _time(lambda: client.get("/cases/export.xlsx"), 3)
    ledger_page = _time(lambda: client.get("/ratings/ledger"), 3)
    print(f"ratings export.xlsx {ratings_xlsx * 1000:.0f} ms vs case ledger export.xlsx {cases_xlsx * 1000:.0f} ms: "
          f"{ratings_xlsx / cases_xlsx:.2f}x")
    print(f"rating ledger page {ledger_page * 1000:.0f} ms vs ratings export.xlsx: {ledger_page / ratings_xlsx:.2f}x")
    print(f"rectification_rate {metric * 1000:.1f} ms vs satisfaction {base_metric * 1000:.1f} ms: "
          f"{metric / base_metric:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
