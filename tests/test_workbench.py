"""The staff workbench (``/work``, core.workbench): staff land on it after
signing in; each block is shown only to whom may see it, counts exactly the
scoped list behind its link, and supervisors get their area's overdue and
escalated cases first. Overdue and green-channel cases are marked; the dates
people plan by carry the weekday. Real HTTP, SQLite and PostgreSQL."""
from __future__ import annotations

import datetime
import re

import pytest

from core.auth import User
from core.cases import service as case_service
from core.cases.demo import _form
from core.cases.models import Case, Escalation
from core.hall import service as hall_service
from core.models import MetadataRecord, Staff
from tests.helpers import sign_in

FRIDAY = datetime.date(2026, 12, 4)  # the 3rd working day after it is Wednesday 9 December
VILLAGE = "150626100201"  # 嘎鲁图镇 陶利嘎查: in galutu.agent's township


@pytest.fixture
def bench(demo_app, monkeypatch):
    monkeypatch.setattr(case_service, "today", lambda: FRIDAY)
    monkeypatch.setattr(hall_service, "now", lambda: datetime.datetime(2026, 12, 4, 9, 0))
    return demo_app


def _case(app, due, **extra):
    with app.app_context():
        record = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                               & (MetadataRecord.county_code == "150626")).order_by(
            MetadataRecord.key).first()
        agent = User(Staff.get(Staff.username == "galutu.agent"))
        case = case_service.create_case(record, _form(Case.select().count() + 500, VILLAGE), agent)
        Case.update(state="accepted", accepted_on=FRIDAY - datetime.timedelta(days=10), due_day=due,
                    finished_on=None, **extra).where(Case.id == case.id).execute()
        return Case.get_by_id(case.id)


def _client(app, username, lang="zh_Hans_CN"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    client.get(f"/?lang={lang}")
    return client


def _blocks(html):
    return re.findall(r'<section class="work-block" id="work-(\w+)" data-block="\w+" data-count="(\d+)"', html)


def _rows(html, key):
    section = re.search(rf'<section class="work-block" id="work-{key}".*?</section>', html, re.S).group(0)
    return section


def test_staff_land_on_the_workbench_and_others_on_the_home_page(bench):
    client = bench.test_client()
    assert sign_in(client, "galutu.agent").location == "/work"
    assert client.get("/work").status_code == 200
    admin = bench.test_client()
    # the system administrator has no work on a workbench: the home page, and /work refuses
    assert sign_in(admin, "sys.admin").location == "/"
    assert admin.get("/work").status_code == 403


def test_due_within_three_working_days_overdue_escalated_and_marks(bench):
    soon = _case(bench, datetime.date(2026, 12, 9))           # Wednesday: the 3rd working day
    later = _case(bench, datetime.date(2026, 12, 10))         # Thursday: the 4th
    late = _case(bench, datetime.date(2026, 12, 3), green_channel="elderly_80")  # overdue and green channel
    with bench.app_context():
        Escalation.create(county_code="150626", case=late.id, open_case=late.id, reason="overdue")
    agent = _client(bench, "galutu.agent")
    html = agent.get("/work").get_data(as_text=True)
    due_soon, overdue, escalated = _rows(html, "soon"), _rows(html, "overdue"), _rows(html, "escalated")
    assert soon.number in due_soon and later.number not in due_soon and late.number not in due_soon
    assert late.number in overdue and soon.number not in overdue
    assert late.number in escalated
    # the overdue row is marked (class and the word), the green channel too; the deadline carries its weekday
    row = re.search(rf'<tr data-case="{late.id}" class="([^"]*)">(.*?)</tr>', overdue, re.S)
    assert row.group(1).split() == ["overdue", "green"]
    assert '<strong class="overdue-tag">已超期</strong>' in row.group(2) and 'class="green-tag"' in row.group(2)
    assert "2026-12-03 星期四" in row.group(2)
    assert "2026-12-09 星期三" in due_soon
    # each count is exactly the case list behind the block's link
    for key, count in _blocks(html):
        if key in ("soon", "overdue", "escalated", "mine"):
            listed = agent.get(f"/cases?due={key}").get_data(as_text=True)
            assert len(re.findall(r'<tr[^>]*>\s*<td><a href="/cases/\d+">', listed)) == min(int(count), 200), key
    # in English the weekday is English
    english = _client(bench, "galutu.agent", "en").get("/work").get_data(as_text=True)
    assert "2026-12-03 Thursday" in english


def test_waiting_on_me_holds_my_cases_with_a_step_i_may_take(bench):
    mine = _case(bench, datetime.date(2026, 12, 20))
    with bench.app_context():
        helper = Staff.get(Staff.username == "rsj.helper")
    # dispatched to the department helper: waiting on them, no longer on the agent (who may not handle)
    theirs = _case(bench, datetime.date(2026, 12, 20))
    with bench.app_context():
        Case.update(state="handling", department="rsj", assignee=helper.id).where(Case.id == theirs.id).execute()
    agent_html = _client(bench, "galutu.agent").get("/work").get_data(as_text=True)
    helper_html = _client(bench, "rsj.helper").get("/work").get_data(as_text=True)
    assert mine.number in _rows(agent_html, "mine") and theirs.number not in _rows(agent_html, "mine")
    assert theirs.number in _rows(helper_html, "mine") and mine.number not in _rows(helper_html, "mine")


def test_blocks_follow_the_permissions_and_supervisors_see_overdue_first(bench):
    _case(bench, datetime.date(2026, 12, 1))
    agent = [k for k, _n in _blocks(_client(bench, "galutu.agent").get("/work").get_data(as_text=True))]
    assert agent == ["mine", "soon", "overdue", "escalated", "appointments", "visits", "ratings", "requests"]
    # the department helper: cases only (no appointment, visit, rating or online-request permission)
    helper = [k for k, _n in _blocks(_client(bench, "rsj.helper").get("/work").get_data(as_text=True))]
    assert helper == ["mine", "soon", "overdue", "escalated"]
    # the supervisor (may urge): the area's overdue and escalated cases first
    supervisor_html = _client(bench, "county.supervisor").get("/work").get_data(as_text=True)
    supervisor = [k for k, _n in _blocks(supervisor_html)]
    assert supervisor == ["overdue", "escalated", "mine", "soon", "ratings"]
    # the county-wide supervisor counts every overdue case of the county; another township's agent none of 嘎鲁图's
    counts = dict(_blocks(supervisor_html))
    with bench.app_context():
        county_overdue = Case.select().where((Case.county_code == "150626") & (Case.due_day < FRIDAY)
                                             & Case.finished_on.is_null()).count()
    assert int(counts["overdue"]) == county_overdue > 0
    other = _client(bench, "wushenzhao.agent").get("/work").get_data(as_text=True)
    with bench.app_context():
        theirs = Case.select().where((Case.township_code == "150626101") & (Case.due_day < FRIDAY)
                                     & Case.finished_on.is_null()).count()
    assert int(dict(_blocks(other))["overdue"]) == theirs < county_overdue


def test_dates_people_plan_by_carry_the_weekday_in_every_language(app):
    from core.i18n import format_date

    day = datetime.date(2026, 9, 30)  # a Wednesday
    with app.test_request_context():
        assert format_date(day, "weekday", "zh_Hans_CN") == "2026-09-30 星期三"
        assert format_date(day, "weekday", "en") == "2026-09-30 Wednesday"
        assert format_date(day, "weekday", "mn_Mong_CN") == "2026-09-30 ᠭᠠᠷᠠᠭ\u202fᠤᠨ ᠭᠤᠷᠪᠠᠨ"
        assert format_date(None, "weekday") == ""


def test_no_template_formats_a_date_itself():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = [str(p.relative_to(root)) for base in (root / "themes", root / "plugins")
             for p in base.rglob("*.html") if "strftime" in p.read_text("utf-8")]
    assert found == []
