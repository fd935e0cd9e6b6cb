"""The commission form after a catalog change, and the form benchmark as a
smoke check (issue 13)."""
from __future__ import annotations

import re
from pathlib import Path

from bench.submit_bench import counting
from tests.helpers import sign_in

ITEM_PAGE = "/cases/new/150626-ybj-003?lang=zh_Hans_CN"


def _green_channel_options(html):
    select = re.search(r'<select id="f-green_channel".*?</select>', html, re.S)
    assert select, "the form has the green channel question"
    return re.findall(r"<option value=\"([^\"]+)\"[^>]*>([^<]*)</option>", select.group(0))


def test_a_changed_special_group_shows_on_the_next_form(demo_app):
    """The rendered form is kept per item version, but never across a
    change of the catalog: a renamed special group (an admin edit) is on
    the very next page, though the item itself did not change."""
    from core.metadata import store

    client = demo_app.test_client()
    assert sign_in(client, "taoli.grid").status_code == 302
    first = client.get(ITEM_PAGE)
    assert first.status_code == 200
    assert ("pregnant", "孕妇") in _green_channel_options(first.get_data(as_text=True))
    with demo_app.app_context():
        store.save_entries([("special_groups", {"code": "pregnant", "name": {"zh": "孕产妇", "en": "Pregnant"}},
                             "core")], actor="test", role="system")
    second = client.get(ITEM_PAGE).get_data(as_text=True)
    options = _green_channel_options(second)
    assert ("pregnant", "孕产妇") in options
    assert ("pregnant", "孕妇") not in options


def test_the_form_bench_runs(tmp_path):
    """bench/form_bench.py at its smallest: both pages print the same HTML
    (it checks) and it returns a cold and a warm row."""
    from bench import form_bench
    from bench.report import Context

    rows = form_bench.run(Context(tmp=Path(tmp_path), dbs=["sqlite"], scales=[], repeat=1, quick=True))
    assert [r.measure for r in rows] == ["commission-form page, cold, vs hand-written page",
                                         "commission-form page, warm, vs hand-written page"]
    assert all(r.value > 0 for r in rows)


def _metadata_reads(app, client, url):
    """The statements reading metadata_record that one GET of ``url`` runs."""
    with counting(app.extensions["bangban"].db, with_params=True) as seen:
        assert client.get(url).status_code == 200
    return [(sql, params) for sql, params in seen if '"metadata_record"' in sql]


def test_a_cold_form_reads_its_metadata_in_one_statement(demo_app):
    """After a sync (the catalog's cache emptied) the form page reads the
    role, its item, the county's rule sets, guide fields and special groups
    together: one statement (it was five), and the same page."""
    client = demo_app.test_client()
    assert sign_in(client, "taoli.grid").status_code == 302
    state = demo_app.extensions["bangban"]
    warm = client.get(ITEM_PAGE).get_data(as_text=True)
    state.cache.clear()
    reads = _metadata_reads(demo_app, client, ITEM_PAGE)
    assert len(reads) == 1, [sql[-200:] for sql, _p in reads]
    state.cache.clear()
    cold = client.get(ITEM_PAGE).get_data(as_text=True)
    token = re.compile(r'name="csrf_token" value="[^"]+"')
    assert token.sub("", cold) == token.sub("", warm)
    assert "f-green_channel" in cold and "f-applicant_division" in cold


def test_the_joint_metadata_read_uses_the_index(demo_app):
    """The one statement of a cold form (core.catalog.prefetch) searches the
    (county, kind, key) index for each kind and entry: a WHERE with IN on
    both columns made SQLite scan the whole table (5,000 items: 25 ms), so
    SQLite reads a UNION ALL of one index read each; PostgreSQL ORs them."""
    from core.db import is_postgres

    client = demo_app.test_client()
    assert sign_in(client, "taoli.grid").status_code == 302
    database = demo_app.extensions["bangban"].db
    with demo_app.app_context():
        database.execute_sql("ANALYZE")  # planner statistics, as a long-running database has them
    demo_app.extensions["bangban"].cache.clear()
    reads = _metadata_reads(demo_app, client, ITEM_PAGE)
    assert len(reads) == 1, reads
    sql, params = reads[0]
    with demo_app.app_context():
        if is_postgres(database):
            database.execute_sql("SET enable_seqscan = off")  # a tiny table is scanned anyway; is an index usable?
            plan = " ".join(r[0] for r in database.execute_sql("EXPLAIN " + sql, params).fetchall())
            database.execute_sql("RESET enable_seqscan")
            assert "Seq Scan on metadata_record" not in plan, plan
            # one plan ORs the index reads of the kinds and entries (a UNION of five was planned slower)
            assert "UNION" not in sql and "metadatarecord_county_code_kind_key_version" in plan, plan
        else:
            plan = [r[3] for r in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
            assert not any(step.startswith("SCAN") for step in plan), plan
            assert sum("USING INDEX metadatarecord_county_code_kind_key_version" in s for s in plan) == 5, plan  # three kinds, the role, the item
