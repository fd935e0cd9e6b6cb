"""Speed and scale of the case lists and of submission (issue 13), on both
databases: statements that do not grow with the page size, the list
indexes of migration 0024 in the plans of the statements the routes run,
lists that decrypt nothing, and a submission without per-request metadata
reads. The bench sections run once with tiny sizes as a smoke check."""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest

from helpers import sign_in

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bulk  # noqa: E402
from bench.submit_bench import counting  # noqa: E402

READER = "county.tracker"      # county-wide ledger reader
AGENT = "galutu.agent"         # a township's agent


@pytest.fixture
def loaded(demo_app):
    with demo_app.app_context():
        bulk.load(150, seed=7)
        bulk.analyse()
    return demo_app


def _client(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _run(app, client, path):
    """The (sql, params) of every statement ``GET path`` runs."""
    with counting(app.extensions["bangban"].db, with_params=True) as seen:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return seen, response


def test_ledger_statements_do_not_grow_with_the_page_size(loaded):
    client = _client(loaded, READER)
    small, r10 = _run(loaded, client, "/api/cases?limit=10")
    big, r100 = _run(loaded, client, "/api/cases?limit=100")
    assert len(r10.get_json()) == 10 and len(r100.get_json()) == 100
    assert len(small) == len(big), [s for s, _p in big]
    one, _r = _run(loaded, client, f"/api/cases/{r100.get_json()[50]['id']}")
    assert len(one) <= 2, [s for s, _p in one]  # the session check, then the case with its names


def test_the_case_statement_compiled_once_per_scope_shows_each_reader_their_own(loaded):
    """``GET /api/cases/<id>`` keeps its statement compiled per scope
    (core.db.prepared): readers of different scopes, asking in turn for
    cases inside and outside a township, each get their own answer, and a
    second request compiles nothing (runs the same SQL text)."""
    from core.cases.models import Case

    reader, agent = _client(loaded, READER), _client(loaded, AGENT)
    with loaded.app_context():
        from core.models import Staff

        township = Staff.get(Staff.username == AGENT).region[:9]
        inside = Case.select(Case.id).where(Case.township_code == township).order_by(Case.id).first().id
        outside = Case.select(Case.id).where(Case.township_code != township).order_by(Case.id).first().id
    for _round in range(2):
        for client, case_id, status in ((reader, outside, 200), (agent, outside, 404), (reader, inside, 200),
                                        (agent, inside, 200), (agent, outside, 404)):
            assert client.get(f"/api/cases/{case_id}").status_code == status, (client is agent, case_id)
    first, r1 = _run(loaded, agent, f"/api/cases/{inside}")
    again, r2 = _run(loaded, agent, f"/api/cases/{inside}")
    assert r1.get_json() == r2.get_json() and r1.get_json()["id"] == inside
    assert [s for s, _p in first] == [s for s, _p in again]


def _plan(app, sql, params):
    from core.db import is_postgres

    database = app.extensions["bangban"].db
    if is_postgres(database):
        with database.atomic():
            database.execute_sql("SET LOCAL enable_seqscan = off")
            return "\n".join(r[0] for r in database.execute_sql("EXPLAIN " + sql, params).fetchall())
    return "\n".join(str(r[-1]) for r in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def _index_name(columns):
    from playhouse.migrate import make_index_name

    return make_index_name("cases", list(columns))


@pytest.mark.parametrize("username, path, columns", [
    (READER, "/api/cases/count?state=evaluated", ("county_code", "state", "id")),
    (AGENT, "/api/cases/count?state=evaluated", ("county_code", "township_code", "state", "id")),
])
def test_list_counts_use_the_list_indexes(loaded, username, path, columns):
    client = _client(loaded, username)
    seen, _response = _run(loaded, client, path)
    counts = [(sql, params) for sql, params in seen if "COUNT(" in sql and '"cases"' in sql]
    assert len(counts) == 1, seen
    plan = _plan(loaded, *counts[0])
    assert _index_name(columns) in plan, plan
    assert "Seq Scan" not in plan and "SCAN cases\n" not in plan + "\n" and "SCAN t1\n" not in plan + "\n", plan


def test_overdue_list_uses_the_due_index(loaded):
    from core.cases.models import Case

    with loaded.test_request_context():
        today = datetime.date.today()
        query = Case.select().where((Case.county_code == "150626") & (Case.due_day < today)
                                    & Case.finished_on.is_null())
        sql, params = query.sql()
    plan = _plan(loaded, sql, params)
    assert _index_name(("county_code", "due_day", "finished_on")) in plan, plan


def test_ledger_decrypts_nothing_and_masks_old_cases_too(loaded):
    from core import personal
    from core.cases.models import Case

    client = _client(loaded, READER)
    with loaded.app_context():
        old = Case.select().order_by(Case.id).first()
        Case.update(applicant_id_masked=None, applicant_phone_masked=None).where(Case.id == old.id).execute()
        expected = personal.mask_id_number(old.id_number()), personal.mask_phone(old.phone())
    calls = []
    original = personal.decrypt

    def counted(value, context):
        calls.append(context)
        return original(value, context)

    personal.decrypt = counted
    try:
        rows = client.get("/api/cases?limit=1000").get_json()
    finally:
        personal.decrypt = original
    assert len(rows) > 150
    # the one case stored before its masks is decrypted (two values); none of the others
    assert sorted(calls) == ["cases.applicant_id_number", "cases.applicant_phone"], calls
    first = next(r for r in rows if r["id"] == old.id)
    assert (first["id_number"], first["phone"]) == expected
    assert all("*" in r["id_number"] and "*" in r["phone"] for r in rows)


def test_submission_reads_no_metadata_version_or_sites_of_its_own(demo_app):
    from bench import submit_bench

    demo_app.config["WTF_CSRF_ENABLED"] = True
    real, _bare = submit_bench.submitters(demo_app)
    real()
    with counting(demo_app.extensions["bangban"].db) as seen:
        real()
    assert not [s for s in seen if "metadata_sync" in s and s.lstrip().startswith("SELECT MAX")], seen
    assert not [s for s in seen if 'FROM "site"' in s], seen
    assert len(seen) <= 8, seen


def test_catalog_version_follows_a_sync_in_the_same_request(demo_app):
    """The version the session check remembers is forgotten by a sync."""
    from core import catalog
    from core.models import MetadataSync

    with demo_app.test_request_context():
        before = catalog.version()
        catalog.remember_version(before)
        MetadataSync.create(actor="t", packs={})
        assert catalog.version() == before  # remembered for the request …
        catalog.forget_version()
        assert catalog.version() == before + 1  # … until a sync forgets it


def test_lists_bench_smoke(tmp_path, database_url, monkeypatch):
    import os

    from bench import lists_bench
    from bench.report import Context, pg_url

    db = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    monkeypatch.setenv("BANGBAN_BENCH_PG_URL", f"postgresql://postgres@127.0.0.1:5432/bangban_t{os.getpid()}")
    try:
        rows = lists_bench.run(Context(tmp=tmp_path, dbs=[db], scales=[40, 80], repeat=1, quick=True))
    finally:
        if db == "postgresql":
            _drop_pg(pg_url("lists"))
    by = {r.measure: r for r in rows}
    assert by["case list statements, limit 10 vs 100"].ok, by["case list statements, limit 10 vs 100"].detail
    assert {r.scale for r in rows if r.scale} == {40, 80}
    assert {r.measure for r in rows if r.scale} == {f"growth: {m}" for m in (
        "case list (100 rows)", "case list (1000 rows)", "case count by state", "case detail", "case submission")}


def _drop_pg(url):
    import peewee

    name = url.rsplit("/", 1)[1]
    admin = peewee.PostgresqlDatabase("postgres", host="127.0.0.1", port=5432, user="postgres")
    admin.connect()
    admin.connection().autocommit = True
    admin.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()
