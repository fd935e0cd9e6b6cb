"""The commission form after a catalog change, and the form benchmark as a
smoke check (issue 13)."""
from __future__ import annotations

import re
from pathlib import Path

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
