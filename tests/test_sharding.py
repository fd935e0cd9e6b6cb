"""Ready to shard by county (core/sharding.py, migration 0025), proved
without Citus.

1. The schema, read from PostgreSQL's catalog after migrating: every tenant
   table has ``county_code`` NOT NULL, its primary key and every unique index
   include it, a foreign key from a tenant table to another tenant table
   includes it on both sides, no reference or local table points to a tenant
   table, and every table is classified.
2. The statements: every SELECT, UPDATE and DELETE the application sends
   while an agent files and moves a case and an agent and a supervisor walk
   the main pages, exports and the API names a ``county_code`` condition for
   every tenant table it reads (on both databases).
"""
from __future__ import annotations

import datetime
import re

import pytest

from core import db as dbmod
from core import sharding
from tests.helpers import csrf_token, sign_in
from tests.test_case_pages import ITEM, form_data
from tests.test_migrations import all_models


def _rows(database, sql, params=()):
    return database.execute_sql(sql, params).fetchall()


# --- 1. the schema ------------------------------------------------------------

def test_every_model_table_is_classified():
    tables = {m._meta.table_name for m in all_models()}
    assert "cases" in tables and "staff" in tables
    assert sorted(tables - set(sharding.TABLES)) == []
    assert sharding.kind("cases") == sharding.TENANT
    with pytest.raises(KeyError):
        sharding.kind("no_such_table")


def _schema_problems(database):
    problems = []
    public = {r[0] for r in _rows(database, "SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")}
    for table in sorted(public - set(sharding.TABLES)):
        problems.append(f"{table}: not classified in core.sharding")
    for table in sorted(sharding.TENANT_TABLES):
        if table not in public:
            problems.append(f"{table}: classified as tenant, no such table")
            continue
        column = _rows(database, "SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'public' "
                                 "AND table_name = %s AND column_name = 'county_code'", (table,))
        if not column:
            problems.append(f"{table}: no county_code")
        elif column[0][0] != "NO":
            problems.append(f"{table}: county_code is nullable")
        keys = _rows(database, "SELECT i.relname, x.indisprimary, ARRAY(SELECT a.attname FROM unnest(x.indkey) k(n) "
                               "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n) "
                               "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                               "WHERE x.indrelid = %s::regclass AND x.indisunique", (f'"{table}"',))
        if not any(primary for _n, primary, _c in keys):
            problems.append(f"{table}: no primary key")
        for name, primary, columns in keys:
            if "county_code" not in columns:
                problems.append(f"{table}: {'primary key' if primary else 'unique index'} {name} {columns} "
                                "without county_code")
    for table, target, cols, target_cols in _rows(
            database, "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, "
                      "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a "
                      "ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), "
                      "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a "
                      "ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) "
                      "FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace"):
        table, target = table.strip('"'), target.strip('"')
        if target not in sharding.TENANT_TABLES:
            continue
        if table not in sharding.TENANT_TABLES:
            problems.append(f"{table} ({sharding.TABLES.get(table, ('?',))[0]}) -> {target}: "
                            "only a tenant table may point to a tenant table")
        elif "county_code" not in cols or "county_code" not in target_cols \
                or cols.index("county_code") != target_cols.index("county_code"):
            problems.append(f"{table} {cols} -> {target} {target_cols}: a foreign key without county_code")
    return problems


def test_schema_is_ready_to_distribute_by_county(pg_url):
    database = dbmod.open_database(pg_url, pool_size=1)
    database.connect()
    try:
        database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
        dbmod.migrate(database)
        assert _schema_problems(database) == []
        # the Citus statements make a referenced table reference or distributed before the tables pointing to it
        order = {re.search(r"\('(\w+)'", s).group(1): n for n, s in enumerate(sharding.citus_statements())}
        assert set(order) == sharding.TENANT_TABLES | sharding.REFERENCE_TABLES
        for table, target in _rows(database, "SELECT DISTINCT conrelid::regclass::text, confrelid::regclass::text "
                                             "FROM pg_constraint WHERE contype = 'f' "
                                             "AND connamespace = 'public'::regnamespace"):
            table, target = table.strip('"'), target.strip('"')
            if table in order and table != target:
                assert order[target] < order[table], (table, target)
        # the test sees what it is meant to: undo 0025's keys on two tables and it says so
        database.execute_sql('ALTER TABLE "rectification" DROP CONSTRAINT "rectification_rating_id_fkey"')
        database.execute_sql('ALTER TABLE "rating" ADD CONSTRAINT "rating_id_alone" UNIQUE (id)')
        database.execute_sql('ALTER TABLE "rectification" ADD CONSTRAINT "plain_fk" FOREIGN KEY (rating_id) '
                             'REFERENCES "rating" (id)')
        database.execute_sql('DROP INDEX "homevisit_number"')
        database.execute_sql('CREATE UNIQUE INDEX "homevisit_number" ON "home_visit" (number)')
        database.execute_sql('CREATE TABLE "stray" (id serial PRIMARY KEY)')
        problems = _schema_problems(database)
        assert any(p.startswith("stray: not classified") for p in problems)
        assert any(p.startswith("rating: unique index rating_id_alone") for p in problems)
        assert any(p.startswith("home_visit: unique index homevisit_number") for p in problems)
        assert any(p.startswith("rectification ['rating_id'] -> rating") for p in problems)
        assert len(problems) == 4, problems
    finally:
        database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
        database.close_all()


# --- 2. the statements ----------------------------------------------------------

TABLE_REF = re.compile(r'\b(FROM|JOIN|UPDATE)\s+"?([a-z_]+)"?(?:\s+(?:AS\s+)?"?(t\d+|[a-z]\w*)"?)?', re.IGNORECASE)
KEYWORDS = {"where", "set", "on", "inner", "left", "join", "order", "group", "limit", "as", "union", "returning"}


def unscoped(sql: str) -> list[str]:
    """The tenant tables ``sql`` reads or writes without a county_code
    condition on them (INSERTs write the county they are given)."""
    if re.match(r"\s*(INSERT|CREATE|ALTER|DROP|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|SET)\b", sql, re.I):
        return []
    refs = []
    for match in TABLE_REF.finditer(sql):
        table, alias = match.group(2).lower(), match.group(3)
        if table in sharding.TENANT_TABLES:
            if alias and alias.lower() in KEYWORDS:
                alias = None
            refs.append((table, alias))
    missing = []
    for table, alias in refs:
        names = [re.escape(alias)] if alias else [re.escape(table)]
        qualified = "|".join(f'"?{n}"?\\.' for n in names)
        patterns = [rf'(?:{qualified})"?county_code"?\s*(?:=|IN\b)', rf'=\s*(?:{qualified})"?county_code"?']
        if len(refs) == 1 or not alias:
            patterns.append(r'(?<![."\w])"?county_code"?\s*(?:=|IN\b)')
        if not any(re.search(p, sql, re.IGNORECASE) for p in patterns):
            missing.append(table)
    return missing


def test_the_checker_tells_a_scoped_statement_from_an_unscoped_one():
    assert unscoped('SELECT "t1"."id" FROM "cases" AS "t1" WHERE ("t1"."id" = %s)') == ["cases"]
    assert unscoped('SELECT "t1"."id" FROM "cases" AS "t1" WHERE (("t1"."id" = %s) AND '
                    '("t1"."county_code" = %s))') == []
    assert unscoped('SELECT "t1"."id" FROM "cases" AS "t1" WHERE ("t1"."county_code" = %s) AND "t1"."id" IN '
                    '(SELECT "t2"."case_id" FROM "subtask" AS "t2" WHERE ("t2"."helper_id" = %s))') == ["subtask"]
    assert unscoped('SELECT "t1"."id" FROM "rating" AS "t1" INNER JOIN "cases" AS "t2" ON ("t1"."case_id" = '
                    '"t2"."id") AND ("t1"."county_code" = "t2"."county_code") WHERE ("t1"."county_code" = %s)') == []
    assert unscoped('UPDATE "cases" SET "state" = %s WHERE ("cases"."id" = %s)') == ["cases"]
    assert unscoped('UPDATE "cases" SET "state" = %s WHERE (("cases"."id" = %s) AND ("cases"."county_code" = %s))') \
        == []
    assert unscoped('SELECT count(*) FROM "staff" AS "t1" WHERE ("t1"."id" = %s)') == []
    assert unscoped('INSERT INTO "cases" ("county_code") VALUES (%s)') == []


def _origin():
    """Where the application sent a statement from (its innermost frame in
    core/ or plugins/ outside peewee's layer)."""
    import traceback

    for frame in reversed(traceback.extract_stack()[:-2]):
        if ("/core/" in frame.filename or "/plugins/" in frame.filename or "/themes/" in frame.filename) \
                and "/core/db.py" not in frame.filename:
            return f"{frame.filename.split('/shard/')[-1]}:{frame.lineno} {frame.name}"
    return "?"


class Recorder:
    """Every statement the app's database runs while it is on."""

    def __init__(self, database):
        self.database, self.statements, self.on = database, [], False
        self._execute = database.execute_sql

        def execute_sql(sql, params=None, *args, **kwargs):
            if self.on:
                self.statements.append((sql, _origin()))
            return self._execute(sql, params, *args, **kwargs)

        database.execute_sql = execute_sql

    def problems(self):
        found = {}
        for sql, origin in self.statements:
            for table in unscoped(sql):
                found.setdefault(f"{table} at {origin}", sql)
        return found


def _get(client, path, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code < 500, (path, response.status_code)
    return response


def _post(client, path, data=None, **kwargs):
    response = client.post(path, data=data, **kwargs)
    assert response.status_code < 500, (path, response.status_code)
    return response


def test_every_tenant_statement_of_a_working_day_names_the_county(demo_app):
    from core.cases.models import Case
    from core.hall.models import HomeVisit
    from core.models import Staff
    from core.tokens import issue

    recorder = Recorder(demo_app.extensions["bangban"].db)
    grid = demo_app.test_client()
    agent = demo_app.test_client()
    supervisor = demo_app.test_client()
    assert sign_in(grid, "taoli.grid").status_code == 302
    assert sign_in(agent, "galutu.agent").status_code == 302
    assert sign_in(supervisor, "county.supervisor").status_code == 302
    with demo_app.app_context():
        person = Staff.get(Staff.username == "galutu.agent")
        token, _row = issue(person, "tablet", None)
        before = Case.select().count()
    recorder.on = True

    # an agent files a case and moves it
    response = _post(grid, f"/cases/new/{ITEM}", data=form_data(grid))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    recorder.on = False  # the test's own look
    with demo_app.app_context():
        assert Case.select().count() == before + 1
        case = Case.select().order_by(Case.id.desc()).first()
    recorder.on = True
    # a citizen asks for a home visit; the grid agent schedules it and records the case it became
    citizen = demo_app.test_client()
    asked = _post(citizen, "/home-visit", data={
        "csrf_token": csrf_token(citizen, "/home-visit"), "region": "150626100201", "name": "其其格",
        "phone": "13847700002", "address": "嘎鲁图镇某嘎查", "reason": "行动不便，办理异地就医备案"})
    assert asked.status_code == 201, asked.get_data(as_text=True)[:300]
    recorder.on = False
    with demo_app.app_context():
        visit = HomeVisit.select().order_by(HomeVisit.id.desc()).first()
    recorder.on = True
    work = csrf_token(grid, "/work")
    _post(grid, f"/work/home-visits/{visit.id}", data={"csrf_token": work, "action": "schedule",
                                                       "visit_day": datetime.date.today().isoformat()})
    _post(grid, f"/work/home-visits/{visit.id}", data={"csrf_token": work, "action": "case",
                                                       "case_number": case.number})
    recorder.on = False
    with demo_app.app_context():
        assert HomeVisit.get_by_id(visit.id).state == "case_created"
    recorder.on = True
    for path in ("/", "/work", "/cases", f"/cases/{case.id}", f"/cases/{case.id}/receipt",
                 f"/cases/{case.id}/notice/one_time", f"/cases/{case.id}/commission", f"/cases/{case.id}/rating",
                 "/requests", "/worklog", "/compliance", "/cases?state=applied", "/cases?q=巴图"):
        _get(grid, path)
    for step in ("accept", "finish_instant", "archive"):
        _post(grid, f"/cases/{case.id}/take/{step}", data={"csrf_token": csrf_token(grid, f"/cases/{case.id}")})
    written = _post(grid, "/worklog/station-150626100201", data={
        "csrf_token": csrf_token(grid, "/worklog"), "on_duty": "巴图", "problems": "无", "coordination": "无"})
    assert written.status_code == 302
    _post(grid, f"/cases/{case.id}/rating", data={"csrf_token": csrf_token(grid, f"/cases/{case.id}/rating"),
                                                  "stage": "completion", "level": "5", "rater": "real_name"})

    # another agent, over the API with a token
    bearer = {"Authorization": f"Bearer {token}"}
    for path in ("/api/me", "/api/cases", "/api/cases/count", f"/api/cases/{case.id}",
                 f"/api/cases/{case.id}/steps", "/api/items"):
        _get(agent, path, headers=bearer)
    for path in ("/", "/work", "/cases", "/cases/new", "/handover", "/ratings", "/ratings/invitations"):
        _get(agent, path)

    # the supervisor: lists, reports, exports, the urge
    for path in ("/", "/work", "/cases", "/cases?overdue=1", f"/cases/{case.id}", "/cases/export.csv",
                 "/cases/export.xlsx", "/api/cases", "/api/cases/count", "/ratings", "/ratings/ledger",
                 "/ratings/ledger.xlsx", "/ratings/export.json", "/ratings/export.xlsx", "/reports/kpi",
                 "/reports/kpi/township/150626100", "/reports/kpi/site/center-150626100", "/reports/kpi/print",
                 "/compliance", "/compliance/export.xlsx", "/staffing", "/staffing/export.xlsx", "/assessment",
                 "/assessment/export.xlsx", "/worklog", "/worklog/export.xlsx", "/requests",
                 "/compliance/sites/station-150626100201"):
        _get(supervisor, path)
    _get(supervisor, f"/assessment/{person.id}")
    noted = _post(supervisor, f"/assessment/{person.id}/note", data={
        "csrf_token": csrf_token(supervisor, f"/assessment/{person.id}"), "note": "按时办结"})
    assert noted.status_code == 302, noted.get_data(as_text=True)[:300]
    _post(supervisor, f"/cases/{case.id}/supervise", data={"csrf_token": csrf_token(supervisor, f"/cases/{case.id}"),
                                                           "action": "remind", "note": "请尽快办理"})

    # a citizen books an appointment at the town's center and opens its link
    center = "center-150626100"
    recorder.on = False
    with demo_app.app_context():
        from core.hall import service as hall
        from core.models import Site

        site = Site.get(Site.code == center)
        day = next(d for d in hall.bookable_days(site) if hall.free_slots(site, d))
        start = hall.free_slots(site, day)[0]["start"]
    recorder.on = True
    booker = demo_app.test_client()
    book = f"/sites/{center}/book"
    booked = _post(booker, book, data={"csrf_token": csrf_token(booker, f"{book}?day={day}"), "day": day.isoformat(),
                                       "start": start, "name": "乌云", "phone": "13847700041"})
    assert booked.status_code == 302, booked.get_data(as_text=True)[:300]
    assert _get(booker, booked.headers["Location"]).status_code == 200

    # the center's agent assesses it against the site standard; the county admin reviews
    token = csrf_token(agent, "/compliance")
    started = _post(agent, f"/compliance/sites/{center}/assessments",
                    data={"csrf_token": token, "standard": "eight_haves", "period": "2026-Q4"})
    assert started.status_code == 302, started.get_data(as_text=True)[:300]
    recorder.on = False
    with demo_app.app_context():
        from core.compliance.models import SiteAssessment

        assessment = SiteAssessment.get(SiteAssessment.period == "2026-Q4")
    recorder.on = True
    url = f"/compliance/assessments/{assessment.id}"
    for step, data in (("answer", {"requirement": "guides", "status": "met", "note": "指南已公示"}),
                       ("submit", {})):
        done = _post(agent, f"{url}/{step}", data={"csrf_token": token, **data})
        assert done.status_code == 302, (step, done.get_data(as_text=True)[:300])
    admin = demo_app.test_client()
    assert sign_in(admin, "county.admin").status_code == 302
    reviewed = _post(admin, f"{url}/review", data={"csrf_token": csrf_token(admin, "/compliance"),
                                                   "verdict_guides": "accepted"})
    assert reviewed.status_code == 302, reviewed.get_data(as_text=True)[:300]
    _get(admin, f"/compliance/sites/{center}")

    # the county admin's back office: every list it may open
    opened = 0
    for view in demo_app.extensions["bangban"].admin._views:
        response = _get(admin, view.url.rstrip("/") + "/")
        opened += response.status_code == 200
    assert opened >= 8, opened
    recorder.on = False

    reads = [s for s, _o in recorder.statements if unscoped(s) == [] and re.search(r'FROM\s+"?cases"?', s)]
    assert len(recorder.statements) > 200 and reads, "the walk did not reach the cases"
    # what the walk may read across counties: the statements core.sharding.CROSS_COUNTY documents, by
    # where they are run (a citizen's appointment link is found by its token alone)
    documented = {("core/hall/views.py", "appointment"): "core.hall.views.appointment (cancel link)"}
    assert set(documented.values()) <= set(sharding.CROSS_COUNTY)
    problems = {k: v for k, v in recorder.problems().items()
                if not any(f"{path}:" in k and k.endswith(f" {function}") for path, function in documented)}
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())
    assert any("core/hall/views.py:" in k for k in recorder.problems()), "the walk did not open the link"


def test_migration_0025_gives_a_row_without_a_county_its_parents(database_url):
    from playhouse.migrations import Runner

    from core.cases.models import Case, CaseEvent
    from core.models import MetadataRecord, MetadataSync, Staff
    from core.ratings.models import Rating

    database = dbmod.open_database(database_url, pool_size=1)
    database.connect()
    try:
        Runner(database, str(dbmod.MIGRATIONS)).up("0024_case_list_indexes")
        with database.bind_ctx([MetadataSync, MetadataRecord, Staff, Case, CaseEvent, Rating]):
            sync = MetadataSync.create(actor="t", packs=[])
            record = MetadataRecord.create(kind="items", key="x", version=1, pack="p", content={}, content_hash="h",
                                           sync=sync)
            staff = Staff.create(county_code="150626", username="a", name="a", role="r", region="150626",
                                 password_hash="x")
            case = Case.create(county_code="150626", number="N1", item_code="x", item_record=record, item_version=1,
                               kind="instant", workflow="w", state="applied", township_code="150626100",
                               owner=staff, applicant_name="n", applicant_id_number="x", applicant_phone="x", data={})
            other = Case.create(county_code="150627", number="N2", item_code="x", item_record=record,
                                item_version=1, kind="instant", workflow="w", state="applied",
                                township_code="150627100", owner=staff, applicant_name="n", applicant_id_number="x",
                                applicant_phone="x", data={})
            CaseEvent.insert(county_code="", case=case.id, role="r", action="a", to_state="s").execute()
            CaseEvent.insert(county_code="150627", case=other.id, role="r", action="a", to_state="s").execute()
            Rating.insert(county_code="", case=other.id, stage="completion", level=5, channel="qr",
                          rater="anonymous").execute()
        dbmod.migrate(database)
        assert sorted(_rows(database, "SELECT case_id, county_code FROM case_event")) == [
            (case.id, "150626"), (other.id, "150627")]
        assert _rows(database, "SELECT county_code FROM rating") == [("150627",)]
    finally:
        if dbmod.is_postgres(database):
            database.close_all()
        else:
            database.close()
