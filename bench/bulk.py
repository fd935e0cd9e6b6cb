"""Bulk-load synthetic cases into a database the app built, fast enough for
a million (PostgreSQL ``COPY``; SQLite ``executemany`` in big transactions).

API (every call inside ``app.app_context()`` of the app that owns the
database, so that the app's own encryption key is used and
:func:`core.personal.decrypt` reads the loaded ID numbers and phones)::

    from bench import bulk

    app = bulk.demo_app(database_url, data_dir)      # create_app + demo county 乌审旗, no history
    with app.app_context():
        bulk.load(1_000_000)                         # -> number of cases written
        bulk.load(90_000, county="150626", seed=2)   # more, with numbers of their own
        bulk.analyse()                               # planner statistics (PG: VACUUM ANALYZE)

``load(count, *, county="150626", seed=0, events=True, commissions=True,
batch=50_000, days=365, end=None, tag=None)`` writes ``count`` cases of
``county`` (created over the ``days`` up to ``end``) and, for each,
its commission (``commissions``) and one or two case events (``events``:
the ``apply`` event, and the event of the case's current state when it has
moved on). What the rows look like:

* states: every state of the five-step flow, weighted like a living county
  (about a third open: applied, noticed, accepted, handling, suspended,
  finished; the rest archived, evaluated, declined, stopped);
* sites and townships: the county's registered sites (``Site``), the
  case's township and village taken from its site; the intake channel
  from the site's kind;
* items: the county's current items (their record, version, kind and
  workflow); accepted cases have ``accepted_on`` and ``due_day`` (some
  overdue), dispatched ones a ``department`` and an ``assignee`` of it;
* owner: a staff member of the county who may file cases at that site's
  region when there is one, else the county's first staff;
* personal data: a pool of ``POOL`` distinct valid ID numbers and mobiles,
  each encrypted once with the app's cipher (context as the service uses)
  with their lookup hashes, reused round-robin; names from the demo people;
* numbers ``CCCCCC-YYYYMMDD-<tag>NNNNNNN`` and track tokens are unique per
  (tag, seed); ids are given explicitly (after the current maximum), and on
  PostgreSQL the id sequences are moved past them.

Columns are taken from the live table (``database.get_columns``), so a
column another migration adds is filled with its model default (or NULL),
and a given column the table lacks (the masks before migration 0024) is
left out.
No audit entries are written (the rows stand for migrated cases; the audit
chain stays intact).
"""
from __future__ import annotations

import datetime
import io
import operator
import random

POOL = 64
#: (state, weight, reached by) - the last event's action for a moved case
STATES = (
    ("applied", 8, None), ("noticed", 3, "one_time_notice"), ("accepted", 8, "accept"),
    ("handling", 10, "dispatch"), ("suspended", 2, "suspend"), ("finished", 4, "complete"),
    ("archived", 20, "archive"), ("evaluated", 38, "evaluate"), ("declined", 5, "decline"),
    ("stopped", 2, "stop"),
)
ACCEPTED = {"accepted", "handling", "suspended", "finished", "archived", "evaluated", "stopped"}
DISPATCHED = {"handling", "suspended", "finished", "archived", "evaluated"}
FINISHED = {"finished", "archived", "evaluated"}
DEFAULT_PLUGINS = "wushen,bank_partnership"


def demo_app(database_url, data_dir, plugins=DEFAULT_PLUGINS, password="Bangban@2026"):
    """``create_app`` on ``database_url`` with the demo county loaded
    (``bangban demo --history 0``): catalog, sites, staff, a case in every
    state. Returns the app."""
    from core import create_app
    from core.demo import load_demo

    app = create_app(data_dir=str(data_dir), database_url=database_url, plugins=plugins, secret_key="bench")
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, password)
    return app


def _db():
    from core import db

    return db.proxy.obj


def _is_pg(database):
    import peewee

    return isinstance(database, peewee.PostgresqlDatabase)


def identities(county, size=POOL):
    """``size`` distinct applicants, personal numbers encrypted once."""
    from core import personal
    from core.cases.demo import PEOPLE, id_number

    out = []
    for n in range(size):
        name, birth = PEOPLE[n % len(PEOPLE)]
        number = id_number(county, birth, 100 + n)
        phone = f"1394771{n:04d}"
        out.append({"applicant_name": name,
                    "applicant_id_number": personal.encrypt(number, "cases.applicant_id_number"),
                    "applicant_phone": personal.encrypt(phone, "cases.applicant_phone"),
                    "applicant_id_hash": personal.id_hash(number),
                    "applicant_phone_hash": personal.phone_hash(phone),
                    "applicant_id_masked": personal.mask_id_number(number),
                    "applicant_phone_masked": personal.mask_phone(phone)})
    return out


def _next_id(database, table):
    return (database.execute_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0] or 0) + 1  # noqa: S608


def _columns(model, database):
    """The live table's columns in order, each with the model field (or
    None) that fills a default."""
    by_column = {f.column_name: f for f in model._meta.sorted_fields}
    return [(c.name, by_column.get(c.name)) for c in database.get_columns(model._meta.table_name)]


def _default(field):
    if field is None or field.default is None:
        return None
    value = field.default() if callable(field.default) else field.default
    return field.db_value(value)


class _Writer:
    """Rows of one table, flushed by COPY (PostgreSQL) or executemany."""

    def __init__(self, model, database, given):
        self.database = database
        self.pg = _is_pg(database)
        self.table = model._meta.table_name
        cols = _columns(model, database)
        self.names = [name for name, _f in cols]
        # each given row, padded with the defaults of the columns not given,
        # picked into the live table's column order by one itemgetter
        extra = [name for name in self.names if name not in given]
        self.pad = tuple(_default(dict(cols)[name]) for name in extra)
        positions = [given.index(name) if name in given else len(given) + extra.index(name)
                     for name in self.names]
        self.pick = operator.itemgetter(*positions)
        self.rows = []

    def add(self, values):
        self.rows.append(values)

    def _tuples(self):
        pad, pick = self.pad, self.pick
        return [pick(v + pad) for v in self.rows] if pad else [pick(v) for v in self.rows]

    def flush(self):
        if not self.rows:
            return
        rows, self.rows = self._tuples(), []
        cursor = self.database.cursor()
        if self.pg:
            buf = io.StringIO()
            buf.write("".join("\t".join(_copy_text(v) for v in row) + "\n" for row in rows))
            buf.seek(0)
            cols = ", ".join(f'"{n}"' for n in self.names)
            cursor.copy_expert(f'COPY "{self.table}" ({cols}) FROM STDIN', buf)
        else:
            marks = ", ".join("?" for _ in self.names)
            cols = ", ".join(f'"{n}"' for n in self.names)
            cursor.executemany(f'INSERT INTO "{self.table}" ({cols}) VALUES ({marks})', rows)  # noqa: S608


def _copy_text(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


CASE_COLUMNS = ["id", "county_code", "number", "track_token", "item_code", "item_record_id", "item_version", "kind",
                "workflow", "state", "township_code", "village_code", "group_code", "site_code", "intake_channel",
                "owner_id", "assignee_id", "department", "applicant_name", "applicant_id_number", "applicant_phone",
                "applicant_id_hash", "applicant_phone_hash", "applicant_id_masked", "applicant_phone_masked", "data",
                "accepted_on", "due_day", "due_part", "due_confirmed", "extended_days", "pauses", "tolerance", "delivery", "rating", "created_at",
                "updated_at", "finished_on"]
COMMISSION_COLUMNS = ["id", "county_code", "case_id", "principal", "materials", "powers", "created_by_id",
                      "created_at"]
EVENT_COLUMNS = ["id", "county_code", "case_id", "at", "actor_id", "role", "action", "from_state", "to_state",
                 "note"]


def _pick_table(rng, weighted, size=4096):
    """A table of ``size`` picks drawn by weight, to index with a random int."""
    codes = [c for c, w, *_ in weighted for _ in range(w)]
    return [codes[rng.randrange(len(codes))] for _ in range(size)]


def load(count, *, county="150626", seed=0, events=True, commissions=True, batch=50_000, days=365, end=None,
         tag=None):
    """Write ``count`` cases (see the module's docstring); returns ``count``."""
    from core import catalog
    from core.cases import workflow as wf
    from core.cases.history import CHANNELS, _pick
    from core.cases.models import Case, CaseEvent, Commission
    from core.db import transaction
    from core.models import JSONField, Site, Staff

    database = _db()
    pg = _is_pg(database)
    rng = random.Random(seed)
    end = end or datetime.date.today()
    tag = tag or f"S{seed:x}"
    sites = list(Site.select().where(Site.county_code == county).order_by(Site.code))
    items = [r for r in catalog.all_current("items", county=county) if r.county_code == county]
    staff = list(Staff.select().where(Staff.county_code == county).order_by(Staff.id))
    if not sites or not items or not staff:
        raise RuntimeError(f"county {county} has no sites, items or staff: load the demo first")
    by_region = {}
    for s in staff:
        by_region.setdefault(s.region, []).append(s)
    departments = {}
    for s in staff:
        if s.department:
            departments.setdefault(s.department, []).append(s)
    json = JSONField().db_value
    people = identities(county)
    flows = {r.id: wf.for_item(r.content).code for r in items}
    materials = {r.id: json([{"name": m.get("name"), "form": m.get("form"), "count": m.get("count", 1),
                              "key": bool(m.get("key")), "received": True}
                             for m in r.content.get("materials", [])]) for r in items}
    principal = json({"principal_is_applicant": True})
    powers = json(["submit", "supplement", "collect_result", "pay"])
    empty_list = json([])
    site_info = []
    for site in sites:
        region = site.region or ""
        owners = by_region.get(region) or by_region.get(region[:9]) or staff[:1]
        channels = CHANNELS.get(site.kind) or (("window", 1),)
        site_info.append((site.code, region[:9], region[:12] if len(region) >= 12 else None, owners,
                          [_pick(rng, channels) for _ in range(64)],
                          json({"applicant_address": "", "applicant_division": region[:12] or region[:9]})))
    item_info = [(r.key, r.id, r.version, r.content.get("kind", "promised"), flows[r.id],
                  r.content.get("department")) for r in items]
    states = _pick_table(rng, STATES)
    reached = {code: action for code, _w, action in STATES}
    dept_list = sorted(departments)
    start = datetime.datetime.combine(end - datetime.timedelta(days=days - 1), datetime.time(8))
    span = days * 86400 - 10 * 3600
    one_day = datetime.timedelta(days=1)
    fmt = "%Y-%m-%d %H:%M:%S"

    case_id = _next_id(database, Case._meta.table_name)
    commission_id = _next_id(database, Commission._meta.table_name)
    event_id = _next_id(database, CaseEvent._meta.table_name)
    cases = _Writer(Case, database, CASE_COLUMNS)
    comms = _Writer(Commission, database, COMMISSION_COLUMNS)
    evs = _Writer(CaseEvent, database, EVENT_COLUMNS)
    randrange = rng.randrange
    if not pg:  # a page cache that holds the indexes while the rows go in
        cache = database.execute_sql("PRAGMA cache_size").fetchone()[0]
        database.execute_sql("PRAGMA cache_size = -400000")
    written = 0
    first_id = case_id
    while written < count:
        chunk = min(batch, count - written)
        for k in range(chunk):
            i = written + k
            code, township, village, owners, channels, data = site_info[randrange(len(site_info))]
            key, record_id, version, kind, flow, item_department = item_info[randrange(len(item_info))]
            created = start + datetime.timedelta(seconds=randrange(span))
            day = created.date()
            state = states[randrange(4096)]
            person = people[i % POOL]
            owner = owners[i % len(owners)]
            accepted_on = due_day = finished_on = rating = None
            department = assignee = None
            if state in ACCEPTED:
                accepted_on = day + one_day * (i % 4 == 3)
                promised = 0 if kind == "instant" else (3, 5, 7, 10, 15)[i % 5]
                due_day = accepted_on + one_day * promised
                if state in DISPATCHED and kind != "instant":
                    department = item_department if item_department in departments else \
                        (dept_list[i % len(dept_list)] if dept_list else None)
                    if department and state not in FINISHED:
                        helpers = departments[department]
                        assignee = helpers[i % len(helpers)].id
                if state in FINISHED:
                    finished_on = min(accepted_on + one_day * max(promised + (i % 5) - 3, 0), end)
                    if state == "evaluated":
                        rating = (5, 5, 5, 4, 4, 3, 5, 2, 4, 1)[i % 10]
            stamp = created.strftime(fmt)
            moved = (accepted_on or day)
            moved_at = max(created, datetime.datetime.combine(finished_on or moved, datetime.time(16))).strftime(fmt)
            cases.add((case_id, county, f"{county}-{day:%Y%m%d}-{tag}{i:07d}", f"{tag}t{seed:x}n{i:09d}", key,
                       record_id, version, kind, flow, state, township, village, None, code,
                       channels[i % 64], owner.id, assignee, department, person["applicant_name"],
                       person["applicant_id_number"], person["applicant_phone"], person["applicant_id_hash"],
                       person["applicant_phone_hash"], person["applicant_id_masked"],
                       person["applicant_phone_masked"], data, accepted_on, due_day, None, True, 0.0,
                       empty_list, None, None, rating, stamp, moved_at if state != "applied" else stamp,
                       finished_on))
            if commissions:
                comms.add((commission_id, county, case_id, principal, materials[record_id], powers, owner.id, stamp))
                commission_id += 1
            if events:
                evs.add((event_id, county, case_id, stamp, owner.id, owner.role, "apply", None, "applied", ""))
                event_id += 1
                if state != "applied":
                    evs.add((event_id, county, case_id, moved_at, owner.id, owner.role, reached[state],
                             "applied", state, ""))
                    event_id += 1
            case_id += 1
        with transaction():
            cases.flush()
            comms.flush()
            evs.flush()
        written += chunk
    if not pg:
        database.execute_sql(f"PRAGMA cache_size = {int(cache)}")
    if pg:
        for model in (Case, Commission, CaseEvent):
            table = model._meta.table_name
            database.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM \"{table}\")) "  # noqa: S608
                f"WHERE pg_get_serial_sequence('{table}', 'id') IS NOT NULL")
    assert case_id - first_id == count
    return count


def analyse():
    """Fresh planner statistics after a load (PostgreSQL: ``VACUUM
    ANALYZE`` of the loaded tables, so index-only scans can use the
    visibility map; SQLite: ``ANALYZE``)."""
    database = _db()
    if _is_pg(database):
        conn = database.connection()
        old = conn.autocommit
        conn.autocommit = True
        try:
            for table in ("cases", "commission", "case_event"):
                database.execute_sql(f'VACUUM ANALYZE "{table}"')
        finally:
            conn.autocommit = old
    else:
        database.execute_sql("ANALYZE")


def main(argv=None):
    """``python -m bench.bulk --count 100000 [--db URL]``: load and time."""
    import argparse
    import tempfile
    import time
    from pathlib import Path

    parser = argparse.ArgumentParser(description="bulk-load synthetic cases")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bulk.db'}"
        if url.startswith("postgres"):
            from bench.report import fresh_pg

            fresh_pg(url)
        app = demo_app(url, tmp)
        with app.app_context():
            started = time.perf_counter()
            load(args.count)
            loaded = time.perf_counter() - started
            analyse()
            print(f"{args.count:,} cases in {loaded:.1f} s ({args.count / loaded:,.0f}/s), "
                  f"analyse {time.perf_counter() - started - loaded:.1f} s")
        database = app.extensions["bangban"].db
        if hasattr(database, "close_all"):
            database.close_all()


if __name__ == "__main__":
    main()
