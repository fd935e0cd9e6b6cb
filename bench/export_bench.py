"""The ledger's CSV and Excel exports (``/cases/export.csv``, ``.xlsx``) at
10k, 100k and 1M cases, on SQLite and PostgreSQL.

* CSV ratio: the signed-in county supervisor's streamed export through the
  app (the test client, every piece consumed) vs. a hand-written export of
  the same rows: one SQL statement read through a streaming cursor (a
  named cursor on PostgreSQL), the personal columns as the table gives
  them (the stored masks; a row without one decrypted and masked), names
  from dicts, ``csv.writer``.  The two files are checked byte-equal at the
  smallest scale.  Goal <= 1.5x.
* Excel: the same export as .xlsx (openpyxl write-only), its time as a
  ratio to the hand-written CSV (no goal: a row for the record); timed
  once per scale (at the largest, in the RSS process).
* RSS: at the largest scale, the export served in a process of its own
  (``python bench/export_bench.py --rss``), its peak resident memory
  (VmHWM, reset after start-up) after streaming the whole file.  Goal < 200 MB.
* Growth rows (``scale``) of the CSV and Excel export times.

    python bench/run.py --only export [--quick] [--db sqlite]
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Row, at_most, fresh_pg, interleaved, pg_url, ratio_row  # noqa: E402

COUNTY = "150626"
USER = "county.supervisor"
RSS_LIMIT_MB = 200


class Sink:
    """Counts what is written (the download's bytes), keeps nothing."""

    def __init__(self):
        self.size = 0

    def write(self, data):
        self.size += len(data)


def signed_in(app):
    from tests.helpers import sign_in

    client = app.test_client()
    response = sign_in(client, USER)
    assert response.status_code == 302, response.status_code
    return client


def via_app(client, fmt, keep=False):
    response = client.get(f"/cases/export.{fmt}", buffered=False)
    assert response.status_code == 200 and response.is_streamed
    out = io.BytesIO() if keep else Sink()
    for piece in response.response:
        out.write(piece)
    response.close()
    return out.getvalue() if keep else out.size


def _columns(database):
    return {c.name for c in database.get_columns("cases")}


def by_hand(app, keep=False):
    """The hand-written CSV of the county's cases (see the module text)."""
    from core import catalog, personal
    from core.cases import workflow as wf
    from core.i18n import localized
    from core.models import Region, Staff
    from core.security import mask_id_number, mask_phone

    database = app.extensions["bangban"].db
    stored = {"applicant_id_masked", "applicant_phone_masked"} <= _columns(database)
    with app.test_request_context("/"):
        names = {r.code: localized(r.name) for r in Region.select().where(Region.county_code == COUNTY)}
        staff = {s.id: s.name for s in Staff.select(Staff.id, Staff.name).where(Staff.county_code == COUNTY)}
        items = {r.key: localized(r.content["name"]) for r in catalog.all_current("items", county=COUNTY)}
        flows = {r.key: {s["code"]: localized(s["name"]) for s in r.content["states"]}
                 for r in catalog.all_current("workflows")}
        headers = [_t(label) for _key, label in _ledger_columns()]
        import datetime

        today = datetime.date.today()
        yes = _t("Yes")
        cipher = personal.cipher()
        out = io.StringIO() if keep else Sink()
        if keep:
            out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(headers)
        masks = "applicant_id_masked, applicant_phone_masked" if stored else "NULL, NULL"
        sql = ("SELECT number, created_at, applicant_name, applicant_id_number, applicant_phone, village_code,"
               " township_code, item_code, item_version, workflow, state, due_day, finished_on, owner_id, rating,"
               f" rating_comment, {masks} FROM cases WHERE county_code = %s ORDER BY id")
        pg = not isinstance(database, __import__("peewee").SqliteDatabase)
        if pg:
            conn = database.connection()
            conn.autocommit = False  # a named (server-side) cursor lives in a transaction of the driver's
            try:
                with conn.cursor(name="hand_export") as cursor:
                    cursor.itersize = 2000
                    cursor.execute(sql, (COUNTY,))
                    _write_rows(cursor, writer, names, staff, items, flows, today, yes, cipher, personal,
                                mask_id_number, mask_phone)
                conn.rollback()
            finally:
                conn.autocommit = True
        else:
            cursor = database.execute_sql(sql.replace("%s", "?"), (COUNTY,))
            _write_rows(cursor, writer, names, staff, items, flows, today, yes, cipher, personal,
                        mask_id_number, mask_phone)
    return out.getvalue().encode("utf-8") if keep else out.size


def _write_rows(cursor, writer, names, staff, items, flows, today, yes, cipher, personal, mask_id, mask_ph):
    import datetime

    sqlite = None
    for (number, created, applicant, id_enc, phone_enc, village, township, item, version, flow, state, due,
         finished, owner, rating, comment, id_masked, phone_masked) in cursor:
        if sqlite is None:
            sqlite = isinstance(created, str)
        if sqlite:
            created = datetime.datetime.fromisoformat(created)
            due = datetime.date.fromisoformat(due) if due else None
            finished = datetime.date.fromisoformat(finished) if finished else None
        writer.writerow((
            number, created.date().isoformat(), applicant,
            id_masked or mask_id(cipher.decrypt(id_enc, context="cases.applicant_id_number") if id_enc else id_enc),
            phone_masked or mask_ph(cipher.decrypt(phone_enc, context="cases.applicant_phone")
                                    if phone_enc else phone_enc),
            names.get(village or township, ""), items.get(item, item), version, flows[flow].get(state, state),
            due.isoformat() if due else "", yes if due and not finished and due < today else "",
            finished.isoformat() if finished else "", staff.get(owner, ""), rating,
            personal.masked_text(comment or "", "cases.rating_comment")))


def _ledger_columns():
    from core.cases.ledger import COLUMNS

    return COLUMNS


def _t(msgid):
    from flask_babel import gettext

    return gettext(msgid)


def peak_rss(url, data_dir, fmt):
    """Peak RSS (MB) of a fresh process while it serves one export (the
    peak reset just before it, so start-up's own peak is reported apart),
    and its resident size before the export (app built, signed in)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rss", url, str(data_dir), fmt],
                         capture_output=True, text=True, check=True, cwd=str(ROOT))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _status(field):
    """A field of /proc/self/status in MB (VmRSS: resident now; VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _rss_child(url, data_dir, fmt):
    import gc

    from core import create_app

    app = create_app(data_dir=data_dir, database_url=url, plugins="wushen,bank_partnership", secret_key="bench")
    client = signed_in(app)
    # this process's own start-up peak (getrusage's ru_maxrss would carry the
    # bench parent's from before the exec)
    start_peak = _status("VmHWM")
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from the resident size now
    before = _status("VmRSS")
    started = time.perf_counter()
    size = via_app(client, fmt)
    seconds = time.perf_counter() - started
    print(json.dumps({"start_peak": start_peak, "before": before, "peak": _status("VmHWM"), "bytes": size,
                      "seconds": seconds}))


def run(ctx):
    from bench import bulk

    rows = []
    for db in ctx.dbs:
        data_dir = ctx.tmp / f"export-{db}"
        if db == "postgresql":
            url = pg_url("export")
            fresh_pg(url)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{data_dir / 'export.db'}"
        app = bulk.demo_app(url, data_dir)
        client = signed_in(app)
        with app.app_context():
            from core.cases.models import Case

            have = Case.select().where(Case.county_code == COUNTY).count()
        for n, scale in enumerate(ctx.scales):
            with app.app_context():
                if scale > have:
                    bulk.load(scale - have, county=COUNTY, seed=n + 1, tag=f"X{n}")
                    have = scale
                bulk.analyse()
            if n == 0:  # the same file both ways
                assert via_app(client, "csv", keep=True) == by_hand(app, keep=True), "export and hand-written differ"
            rounds = max(1, ctx.repeat if scale <= 100_000 else ctx.repeat // 2)
            t_hand, t_csv = interleaved([lambda: by_hand(app), lambda: via_app(client, "csv")], rounds)
            largest = scale == ctx.scales[-1]
            if largest:  # Excel at the largest scale: once, timed in the RSS process below
                rss = {fmt: peak_rss(url, data_dir, fmt) for fmt in ("csv", "xlsx")}
                t_xlsx = rss["xlsx"]["seconds"]
            else:
                started = time.perf_counter()
                via_app(client, "xlsx")
                t_xlsx = time.perf_counter() - started
            rows.append(Row("CSV export time", db, t_csv / t_hand, "linear", True,
                            f"{t_csv:.2f} s ({t_csv / have * 1e6:.1f} us/case)", scale=have))
            rows.append(Row("Excel export time", db, t_xlsx / t_hand, "linear", True,
                            f"{t_xlsx:.2f} s ({t_xlsx / have * 1e6:.1f} us/case)", scale=have))
            print(f"  {db} {have:>9,} cases: hand-written {t_hand:.2f} s, CSV {t_csv:.2f} s "
                  f"({t_csv / t_hand:.2f}x), Excel {t_xlsx:.2f} s", flush=True)
        rows.append(ratio_row("CSV export vs hand-written csv module", db, t_csv, t_hand, "<= 1.5x",
                              at_most(1.5), f"{t_csv:.2f} s vs {t_hand:.2f} s at {have:,} cases"))
        rows.append(Row("Excel export (openpyxl write-only) vs hand-written CSV", db, t_xlsx / t_hand,
                        "record", True, f"{t_xlsx:.2f} s vs {t_hand:.2f} s at {have:,} cases"))
        for fmt in ("csv", "xlsx"):
            r = rss[fmt]
            rows.append(Row(f"{fmt.upper()} export peak RSS of the serving process", db, r["peak"],
                            f"< {RSS_LIMIT_MB} MB", r["peak"] < RSS_LIMIT_MB,
                            f"{r['peak']:.0f} MB (resident before the export {r['before']:.0f} MB, "
                            f"start-up peak {r['start_peak']:.0f} MB), "
                            f"{r['bytes'] / 1e6:.0f} MB file in {r['seconds']:.1f} s at {have:,} cases"))
        database = app.extensions["bangban"].db
        if hasattr(database, "close_all"):
            database.close_all()
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--rss":
        _rss_child(*sys.argv[2:])
    else:
        import tempfile

        from bench.report import Context, print_growth, print_rows

        with tempfile.TemporaryDirectory() as tmp:
            result = run(Context(tmp=Path(tmp), dbs=["sqlite", "postgresql"], scales=[1000, 10_000], repeat=3,
                                 quick=True))
        print_rows(result)
        print_growth(result)
