"""The accounts of issue 10: the staff assessment, staffing coverage, the
site self-assessment with the county's review, and the work log. Every
expectation below is computed by hand from data the test writes (or from
the demo pack's YAML), on both databases, through real HTTP requests."""
from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from core import cli as climod
from core.auth import User
from core.cases import service
from core.cases.demo import _form
from core.cases.models import Case, CaseEvent, Escalation
from core.compliance.models import AssessmentAnswer, AssessmentNote, SiteAssessment, WorkLog
from core.models import AuditEntry, MetadataRecord, Staff
from tests.helpers import csrf_token, sign_in

ROOT = Path(__file__).resolve().parents[1]
COUNTY = "150626"
VILLAGE = "150626100201"  # 陶利嘎查, where taoli.grid works
MARCH = ("2021-03-01", "2021-03-31")


def _client(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302, username
    return client


def _staff(username):
    return Staff.get(Staff.username == username)


def _item(kind):
    for record in MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                                & (MetadataRecord.county_code == COUNTY)).order_by(MetadataRecord.key):
        if record.content["kind"] == kind and "village" in record.content.get("levels", ()):
            return record
    raise LookupError(kind)


def _case(owner, n, created, **fields):
    """A case filed by ``owner`` as if on ``created`` (a date)."""
    case = service.create_case(_item("promised"), _form(900 + n, VILLAGE), User(_staff(owner)))
    at = datetime.datetime.combine(created, datetime.time(9, 0))
    Case.update(created_at=at, **fields).where(Case.id == case.id).execute()
    CaseEvent.update(at=at).where(CaseEvent.case == case.id).execute()
    return Case.get_by_id(case.id)


def _cells(html, username):
    """``{data-key: text}`` of the assessment row of ``username``."""
    row = re.search(rf'<tr data-username="{re.escape(username)}"[^>]*>(.*?)</tr>', html, re.S).group(1)
    return {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in re.findall(r'<td data-key="(\w+)">(.*?)</td>', row, re.S)}


# --- staff assessment ------------------------------------------------------------------

def _march_cases():
    """In March 2021 (weights of 乌审旗: taken 1, finished 2, on_time 3,
    overdue 2, escalated 1, mean_rating 1):

    galutu.agent      c1 finished 3-05 due 3-10 rated 5; c2 finished 3-20 due
                      3-10 rated 2 (late; assignee rsj.helper); c3 open, due
                      3-15 (overdue, escalated 3-09); c4 open, due 4-30
    taoli.grid        g1 finished 3-04, no due day, rated 4; g2 finished 3-06
                      due 3-10, unrated
    galutu.specialist s1 declined, due 3-08 (not overdue: dropped)
    """
    d = datetime.date
    helper = _staff("rsj.helper").id
    _case("galutu.agent", 1, d(2021, 3, 2), state="archived", finished_on=d(2021, 3, 5), due_day=d(2021, 3, 10),
          rating=5)
    _case("galutu.agent", 2, d(2021, 3, 2), state="archived", finished_on=d(2021, 3, 20), due_day=d(2021, 3, 10),
          rating=2, assignee=helper)
    c3 = _case("galutu.agent", 3, d(2021, 3, 2), state="accepted", due_day=d(2021, 3, 15))
    _case("galutu.agent", 4, d(2021, 3, 2), state="accepted", due_day=d(2021, 4, 30))
    _case("taoli.grid", 5, d(2021, 3, 3), state="archived", finished_on=d(2021, 3, 4), due_day=None, rating=4)
    _case("taoli.grid", 6, d(2021, 3, 3), state="archived", finished_on=d(2021, 3, 6), due_day=d(2021, 3, 10))
    _case("galutu.specialist", 7, d(2021, 3, 4), state="declined", due_day=d(2021, 3, 8))
    Escalation.create(county_code=COUNTY, case=c3, reason="overdue", opened_at=datetime.datetime(2021, 3, 9, 10))


# by hand: maxima taken 4, finished 2, on_time 2, overdue 2, escalated 1, mean 4.0
EXPECTED = {
    # taken finished on_time overdue escalated mean -> score
    "taoli.grid": ("2", "2", "2", "0", "0", "4.0", "95.0", "1"),  # .5+2+3+2+1+1 = 9.5
    "galutu.agent": ("4", "2", "1", "2", "1", "3.5", "53.8", "2"),  # 1+2+1.5+0+0+.875 = 5.375
    "rsj.helper": ("0", "1", "0", "1", "0", "2.0", "35.0", "3"),  # 0+1+0+1+1+.5 = 3.5
    "galutu.specialist": ("1", "0", "0", "0", "0", "0", "32.5", "4"),  # .25+0+0+2+1+0 = 3.25
    "galutu.agent2": ("0", "0", "0", "0", "0", "0", "30.0", "5"),  # 0+0+0+2+1+0 = 3
}
KEYS = ("taken", "finished", "on_time", "overdue", "escalated", "mean_rating", "score", "rank")


def test_staff_assessment_scores_ranks_and_flags_the_bottom_by_hand(demo_app):
    with demo_app.app_context():
        _march_cases()
    supervisor = _client(demo_app, "county.supervisor")
    response = supervisor.get(f"/assessment?from={MARCH[0]}&to={MARCH[1]}&lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for username, expected in EXPECTED.items():
        cells = _cells(html, username)
        assert tuple(cells[k] for k in KEYS) == expected, username
    # ranked (taken + finished >= 1): taoli.grid, galutu.agent, rsj.helper,
    # galutu.specialist: ceil(10% of 4) = 1 flagged, the lowest
    flagged = re.findall(r'<tr data-username="([^"]+)" class="bottom">', html)
    assert flagged == ["galutu.specialist"]

    # the Excel export has the same rows and numbers
    book = load_workbook(io.BytesIO(supervisor.get(f"/assessment/export.xlsx?from={MARCH[0]}&to={MARCH[1]}").data))
    rows = list(book.active.iter_rows(values_only=True))
    by_name = {r[1]: r for r in rows[1:]}
    with demo_app.app_context():
        assert by_name[_staff("galutu.agent").name][-3] == 53.8
        assert by_name[_staff("galutu.specialist").name][-2]  # bottom: "Yes"
        assert len(rows) - 1 == Staff.select().where(
            (Staff.county_code == COUNTY) & Staff.active
            & Staff.role.in_(["grassroots_agent", "grid_agent", "project_specialist", "department_helper"])).count()

    # the command line prints the same numbers
    runner, ctx = CliRunner(), climod.Context()
    ctx._app, ctx._pm = demo_app, demo_app.extensions["bangban"].pm
    ctx._pm.hook.register_commands(cli=climod.cli)
    result = runner.invoke(climod.cli, ["report", "assessment", "--county", COUNTY, "--from", MARCH[0],
                                        "--to", MARCH[1], "--format", "json"], obj=ctx)
    assert result.exit_code == 0, result.output
    printed = {r["username"]: r for r in json.loads(result.output)}
    assert (printed["galutu.agent"]["score"], printed["galutu.agent"]["rank"]) == (53.8, 2)
    assert [u for u, r in printed.items() if r["bottom"]] == ["galutu.specialist"]
    bad = runner.invoke(climod.cli, ["report", "assessment", "--county", COUNTY, "--from", "2021-13-01"], obj=ctx)
    assert bad.exit_code == 2 and "2021-13-01" in bad.output

    # a period ending before it starts, or no date: 400 with a message
    assert supervisor.get("/assessment?from=2021-03-31&to=2021-03-01").status_code == 400
    assert supervisor.get("/assessment?from=yesterday").status_code == 400


def test_the_supervisor_notes_an_assessment_audited_and_the_person_sheet_prints_it(demo_app):
    with demo_app.app_context():
        _march_cases()
        agent = _staff("galutu.agent")
    supervisor = _client(demo_app, "county.supervisor")
    page = f"/assessment/{agent.id}?from={MARCH[0]}&to={MARCH[1]}&lang=en"
    sheet = supervisor.get(page).get_data(as_text=True)
    assert re.search(r'id="score">53.8<', sheet) and re.search(r'id="rank">2<', sheet)
    token = csrf_token(supervisor)
    posted = supervisor.post(f"/assessment/{agent.id}/note", data={
        "csrf_token": token, "from": MARCH[0], "to": MARCH[1], "note": "逾期办件较多，电话13904770101已约谈"})
    assert posted.status_code == 302
    sheet = supervisor.get(page).get_data(as_text=True)
    assert "逾期办件较多" in sheet and "13904770101" not in sheet  # the phone is masked
    with demo_app.app_context():
        note = AssessmentNote.get()
        assert "13904770101" not in note.note  # stored protected
        assert AuditEntry.select().where(AuditEntry.action == "assessment.note").count() == 1
    # an empty note, or one from an agent (no assessment.note): refused, nothing stored
    assert supervisor.post(f"/assessment/{agent.id}/note", data={
        "csrf_token": token, "from": MARCH[0], "to": MARCH[1], "note": " "}).status_code == 400
    tracker = _client(demo_app, "county.tracker")
    assert tracker.post(f"/assessment/{agent.id}/note", data={
        "csrf_token": csrf_token(tracker), "from": MARCH[0], "to": MARCH[1], "note": "x"}).status_code == 403
    with demo_app.app_context():
        assert AssessmentNote.select().count() == 1


# --- staffing ------------------------------------------------------------------------

def _staffing_rows(client):
    html = client.get("/staffing?lang=en").get_data(as_text=True)
    return re.findall(r'<tr data-check="(\w+)" data-region="(\d+)" data-subject="([^"]*)">', html)


def test_a_handover_that_disables_an_agent_opens_a_staffing_gap_at_once(demo_app):
    """乌审旗: at least 2 grassroots agents at each center. 嘎鲁图镇's center
    has galutu.agent and galutu.agent2 (the demo's YAML): no gap; once
    galutu.agent's cases are handed over and the account disabled, the
    center has 1."""
    demo = yaml.safe_load((ROOT / "metadata/demo/staff.yaml").read_text("utf-8"))["staff"]
    at_galutu = sorted(s["username"] for s in demo if s["role"] == "grassroots_agent" and s["region"] == "150626100")
    assert at_galutu == ["galutu.agent", "galutu.agent2"]
    admin = _client(demo_app, "county.admin")
    assert ("site_staff", "150626100", "center-150626100") not in _staffing_rows(admin)
    supervisor = _client(demo_app, "county.supervisor")
    with demo_app.app_context():
        source, target = _staff("galutu.agent"), _staff("galutu.agent2")
    moved = supervisor.post("/handover", data={"csrf_token": csrf_token(supervisor), "from": source.id,
                                               "to": target.id, "disable": "1"})
    assert moved.status_code == 200 and 'id="handover-result"' in moved.get_data(as_text=True)
    with demo_app.app_context():
        assert not _staff("galutu.agent").active
    rows = _staffing_rows(admin)
    assert ("site_staff", "150626100", "center-150626100") in rows
    html = admin.get("/staffing?lang=en").get_data(as_text=True)
    row = re.search(r'data-subject="center-150626100">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row)[3] == "1"  # have: 1 of 2
    # the Excel export lists the same gaps
    book = load_workbook(io.BytesIO(admin.get("/staffing/export.xlsx").data))
    assert book.active.max_row - 1 == len(rows)
    # an agent (no staffing.read) is refused
    assert _client(demo_app, "galutu.agent2").get("/staffing").status_code == 403


def test_ab_posts_need_an_active_b_post_and_leave_no_empty_window(demo_app):
    """Every A post needs an active B post (Staff.covers); a B post that
    covers someone and is not covered holds no window of its own."""
    from core.compliance.staffing import ab_posts

    demo = yaml.safe_load((ROOT / "metadata/demo/staff.yaml").read_text("utf-8"))["staff"]
    agents = {s["username"] for s in demo if s["role"] == "grassroots_agent"}
    rule = {"roles": ["grassroots_agent"]}
    with demo_app.test_request_context():
        a, b = _staff("galutu.agent"), _staff("galutu.agent2")
        assert {g["subject"] for g in ab_posts(COUNTY, rule)} == agents  # nobody has a B post yet
        Staff.update(covers=a.id).where(Staff.id == b.id).execute()
        assert {g["subject"] for g in ab_posts(COUNTY, rule)} == agents - {a.username, b.username}
        Staff.update(active=False).where(Staff.id == b.id).execute()  # the B post leaves
        assert {g["subject"] for g in ab_posts(COUNTY, rule)} == agents - {b.username}
        Staff.update(active=True).where(Staff.id == b.id).execute()
        Staff.update(active=False).where(Staff.id == a.id).execute()  # the A post leaves: B holds the window
        assert {g["subject"] for g in ab_posts(COUNTY, rule)} == agents - {a.username, b.username}
        Staff.update(active=False).where(Staff.id == b.id).execute()  # both gone: an empty window
        gaps = {g["subject"]: g for g in ab_posts(COUNTY, rule)}
        assert set(gaps) == agents - {b.username} and "空岗" in gaps[a.username]["fill"]  # the default locale: 现空岗 (an empty window)


# --- site self-assessment -------------------------------------------------------------

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
CENTER = "center-150626100"


def _statuses(client, code=CENTER):
    html = client.get(f"/compliance/sites/{code}?lang=en").get_data(as_text=True)
    return dict(re.findall(r'<tr data-requirement="(\w+)">.*?<td data-status="(\w+)">', html, re.S))


def test_a_site_answers_submits_and_the_county_reviews(demo_app):
    agent = _client(demo_app, "galutu.agent")
    token = csrf_token(agent)
    started = agent.post(f"/compliance/sites/{CENTER}/assessments",
                         data={"csrf_token": token, "standard": "eight_haves", "period": "2026-Q4"})
    assert started.status_code == 302
    with demo_app.app_context():
        assessment = SiteAssessment.get(SiteAssessment.period == "2026-Q4")
    url = f"/compliance/assessments/{assessment.id}"
    answered = agent.post(f"{url}/answer", data={
        "csrf_token": token, "requirement": "proxy_window_duties", "status": "met",
        "note": "职责已上墙，联系人身份证150626199001011234", "evidence": (io.BytesIO(PNG), "window.png")},
        content_type="multipart/form-data")
    assert answered.status_code == 302
    assert agent.post(f"{url}/answer", data={"csrf_token": token, "requirement": "guides", "status": "not_met",
                                             "note": "指南未认领"}).status_code == 302
    # not a picture, an unknown requirement, a computed one: 400, nothing stored
    for data in ({"requirement": "agent_duty_list", "status": "met", "evidence": (io.BytesIO(b"MZ\x90\x00"), "a.exe")},
                 {"requirement": "nothing_such", "status": "met"},
                 {"requirement": "equipment", "status": "met"},
                 {"requirement": "agent_duty_list", "status": "maybe"}):
        refused = agent.post(f"{url}/answer", data={"csrf_token": token, **data}, content_type="multipart/form-data")
        assert refused.status_code == 400, data
    with demo_app.app_context():
        assert AssessmentAnswer.select().where(AssessmentAnswer.assessment == assessment.id).count() == 2
    statuses = _statuses(agent)
    assert statuses["proxy_window_duties"] == "pending"  # answered met, not reviewed
    assert statuses["guides"] == "not_met"
    assert statuses["agent_duty_list"] == "unanswered"
    assert statuses["equipment"] == "met"  # computed: the demo center lists the five devices
    html = agent.get(f"/compliance/sites/{CENTER}").get_data(as_text=True)
    assert "150626199001011234" not in html and "职责已上墙" in html
    sha = re.search(rf"/compliance/assessments/{assessment.id}/files/([0-9a-f]{{64}})", html).group(1)
    assert agent.get(f"{url}/files/{sha}").data == PNG
    # the grid agent of 陶利嘎查 sees neither the center nor its files
    grid = _client(demo_app, "taoli.grid")
    assert grid.get(f"{url}/files/{sha}").status_code == 404
    assert grid.get(f"/compliance/sites/{CENTER}").status_code == 404

    assert agent.post(f"{url}/submit", data={"csrf_token": token}).status_code == 302
    assert agent.post(f"{url}/answer", data={"csrf_token": token, "requirement": "agent_duty_list",
                                             "status": "met"}).status_code == 400  # submitted: frozen
    assert agent.post(f"{url}/review", data={"csrf_token": token,
                                             "verdict_guides": "accepted"}).status_code == 403
    admin = _client(demo_app, "county.admin")
    reviewed = admin.post(f"{url}/review", data={"csrf_token": csrf_token(admin),
                                                 "verdict_proxy_window_duties": "accepted",
                                                 "verdict_guides": "rejected", "review_note_guides": "请补充"})
    assert reviewed.status_code == 302
    statuses = _statuses(admin)
    assert statuses["proxy_window_duties"] == "met" and statuses["guides"] == "rejected"
    with demo_app.app_context():
        a = SiteAssessment.get_by_id(assessment.id)
        assert a.state == "reviewed" and a.measured["equipment"][0] == "met"
        actions = [e.action for e in AuditEntry.select().where(AuditEntry.entity == f"site_assessment:{a.id}")
                   .order_by(AuditEntry.seq)]
        assert actions == ["compliance.start", "compliance.answer", "compliance.answer", "compliance.file_download",
                           "compliance.submit",
                           "compliance.review"]
        # history: the demo's two earlier assessments of this center are kept
        assert SiteAssessment.select().where(SiteAssessment.site_code == CENTER).count() == 3


def test_the_county_summary_counts_what_the_site_pages_show(demo_app):
    admin = _client(demo_app, "county.admin")
    html = admin.get("/compliance?lang=en").get_data(as_text=True)
    row = re.search(rf'<tr data-site="{CENTER}" data-standard="eight_haves">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    statuses = list(_statuses(admin).values())
    # met, awaiting review, not met, rejected, unanswered, gaps
    assert cells[2:8] == [str(statuses.count(s)) for s in ("met", "pending", "not_met", "rejected", "unanswered")] \
        + [str(sum(statuses.count(s) for s in ("not_met", "rejected", "unanswered")))]
    assert cells[8] == str(datetime.date.today().year)  # the demo's current assessment
    book = load_workbook(io.BytesIO(admin.get("/compliance/export.xlsx").data))
    assert book.worksheets[0].max_row - 1 == html.count('<tr data-site="')
    gaps = html.count('<td data-status="')
    assert book.worksheets[1].max_row - 1 == gaps
    # one site's gap report: its rows only
    book = load_workbook(io.BytesIO(admin.get(f"/compliance/export.xlsx?site={CENTER}").data))
    assert [r[0] for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)] == [cells[0]]
    assert book.worksheets[1].max_row - 1 == int(cells[7])
    # the command line prints the same summary
    runner, ctx = CliRunner(), climod.Context()
    ctx._app, ctx._pm = demo_app, demo_app.extensions["bangban"].pm
    ctx._pm.hook.register_commands(cli=climod.cli)
    result = runner.invoke(climod.cli, ["report", "compliance", "--county", COUNTY, "--format", "json"], obj=ctx)
    printed = [r for r in json.loads(result.output) if r["site_name"] and r["standard_name"]]
    assert len(printed) == html.count('<tr data-site="')
    center = next(r for r in printed if (r["site"], r["standard"]) == (CENTER, "eight_haves"))
    assert [str(center[k]) for k in ("met", "pending", "not_met", "rejected", "unanswered", "gaps")] == cells[2:8]


# --- work log ----------------------------------------------------------------------

def test_the_work_log_counts_a_day_by_hand_and_keeps_the_hand_written_part(demo_app):
    day = datetime.date(2021, 3, 2)
    with demo_app.app_context():
        agent = User(_staff("galutu.agent"))
        # case 1: filed, accepted, dispatched; case 2 (instant): filed,
        # accepted, finished, a home visit; case 3 by the grid agent (another site)
        one = service.create_case(_item("promised"), _form(1, VILLAGE), agent)
        one = service.take(one, "accept", agent, {})
        service.take(Case.get_by_id(one.id), "dispatch", agent, {"department": _item("promised").content["department"]})
        two = service.create_case(_item("instant"), _form(2, VILLAGE), agent)
        two = service.take(two, "accept", agent, {})
        two = service.take(two, "finish_instant", agent, {})
        three = service.create_case(_item("instant"), _form(3, VILLAGE), User(_staff("taoli.grid")))
        # case 4 by the grid agent of 陶利嘎查's group 1: the village's station too
        four = service.create_case(_item("instant"), _form(4, VILLAGE + "001"), User(_staff("taoli1.grid")))
        at = datetime.datetime.combine(day, datetime.time(10))
        ids = [one.id, two.id, three.id, four.id]
        CaseEvent.update(at=at).where(CaseEvent.case.in_(ids)).execute()
        Case.update(finished_on=day, data=dict(Case.get_by_id(two.id).data, home_visit=True)).where(
            Case.id == two.id).execute()
    agent_client = _client(demo_app, "galutu.agent")
    token = csrf_token(agent_client)
    wrote = agent_client.post(f"/worklog/{CENTER}", data={
        "csrf_token": token, "day": day.isoformat(), "on_duty": "乌日娜",
        "problems": "群众电话13904770199反映缴费难", "coordination": "已联系税务局"})
    assert wrote.status_code == 302
    html = agent_client.get(f"/worklog?site={CENTER}&from={day}&to={day}&lang=en").get_data(as_text=True)
    row = re.search(rf'<tr data-site="{CENTER}" data-day="{day}">(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'<td data-key="(\w+)">(.*?)</td>', row, re.S))
    assert (cells["consultations"], cells["acceptances"], cells["reports_up"], cells["finished"],
            cells["home_visits"]) == ("2", "2", "1", "1", "1")
    assert cells["on_duty"] == "乌日娜" and "反映缴费难" in cells["problems"] and "13904770199" not in cells["problems"]
    station = _client(demo_app, "taoli.grid").get(f"/worklog?from={day}&to={day}").get_data(as_text=True)
    row = re.search(rf'<tr data-site="station-{VILLAGE}" data-day="{day}">(.*?)</tr>', station, re.S).group(1)
    assert dict(re.findall(r'<td data-key="(\w+)">(.*?)</td>', row, re.S))["consultations"] == "2"
    # the Excel export has the same columns and numbers
    book = load_workbook(io.BytesIO(agent_client.get(f"/worklog/export.xlsx?site={CENTER}&from={day}&to={day}").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][3:8] == (2, 2, 1, 1, 1) and rows[1][2] == "乌日娜"
    with demo_app.app_context():
        assert WorkLog.select().where(WorkLog.day == day).count() == 1
        assert AuditEntry.select().where(AuditEntry.action == "work_log.write").count() >= 1
    # a future day, a bad date: 400; another village's grid agent: 404; nothing written
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    assert agent_client.post(f"/worklog/{CENTER}", data={"csrf_token": token, "day": future}).status_code == 400
    assert agent_client.post(f"/worklog/{CENTER}", data={"csrf_token": token, "day": "3/2/2021"}).status_code == 400
    grid = _client(demo_app, "taoli.grid")
    assert grid.post(f"/worklog/{CENTER}", data={"csrf_token": csrf_token(grid), "day": day.isoformat()}) \
        .status_code == 404
    with demo_app.app_context():
        assert WorkLog.select().where(WorkLog.day == day).count() == 1


# --- every demo county ---------------------------------------------------------------

REGIONS = {"150626": "wushen", "410522": "anyang", "370304": "boshan", "411325": "neixiang"}


def test_every_demo_county_shows_compliance_gaps_staffing_gaps_and_a_ranking_from_its_cases(make_app):
    """The demo of each region: its self-assessments leave gaps (the demo
    answers the last open requirement 'not met'), its staffing rules find
    gaps, and the first of its ranking holds demo cases of this month and
    scores above the last."""
    from core.compliance import assessment, common, site, staffing
    from core.demo import load_demo

    app = make_app(plugins="wushen,anyang,boshan,neixiang,bank_partnership,mongolian")
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
    runner, ctx = CliRunner(), climod.Context()
    ctx._app, ctx._pm = app, app.extensions["bangban"].pm
    ctx._pm.hook.register_commands(cli=climod.cli)
    for county in REGIONS:
        with app.test_request_context():
            summary = site.county_summary(county)
            not_met = [r for r in summary if r["not_met"]]
            assert not_met, county
            assert staffing.report(county), county
            result = assessment.assess(county, common.period())
            first = result["rows"][0]
            month = datetime.datetime.combine(datetime.date.today().replace(day=1), datetime.time.min)
            held = Case.select().where(((Case.owner == first["staff_id"]) | (Case.assignee == first["staff_id"]))
                                       & (Case.created_at >= month)).count()
            assert held > 0, county  # the first holds demo cases of this month
            assert first["score"] > result["rows"][-1]["score"], county
        printed = runner.invoke(climod.cli, ["report", "staffing", "--county", county, "--format", "json"], obj=ctx)
        assert printed.exit_code == 0, printed.output
        with app.test_request_context():
            assert len(json.loads(printed.output)) == len(staffing.report(county))
    # a township's leader (安阳县 白璧镇) sees the gaps and staff of the township only
    leader = _client(app, "anyang.baibi.leader")
    regions = [r for _c, r, _s in _staffing_rows(leader)]
    assert regions and all(r.startswith("410522106") for r in regions)
    html = leader.get("/assessment").get_data(as_text=True)
    shown = re.findall(r'<tr data-username="([^"]+)"', html)
    with app.app_context():
        assert shown and {_staff(u).region[:9] for u in shown} == {"410522106"}
        outsider = _staff("anyang.lvcun.agent1")  # assessed, in 吕村镇
    assert leader.get(f"/assessment/{outsider.id}").status_code == 404
    assert leader.get("/compliance/sites/center-410522108").status_code == 404
    bad = runner.invoke(climod.cli, ["report", "staffing", "--county", "15062"], obj=ctx)
    assert bad.exit_code == 2 and "15062" in bad.output


def test_report_writes_excel_with_the_rows_it_prints(demo_app, tmp_path):
    runner, ctx = CliRunner(), climod.Context()
    ctx._app, ctx._pm = demo_app, demo_app.extensions["bangban"].pm
    ctx._pm.hook.register_commands(cli=climod.cli)
    target = tmp_path / "staffing.xlsx"
    written = runner.invoke(climod.cli, ["report", "staffing", "--county", COUNTY, "--format", "xlsx", "-o",
                                         str(target)], obj=ctx)
    assert written.exit_code == 0, written.output
    table = runner.invoke(climod.cli, ["report", "staffing", "--county", COUNTY], obj=ctx)
    lines = table.output.strip().splitlines()
    assert load_workbook(target).active.max_row == len(lines)  # a header and one line per gap
    assert runner.invoke(climod.cli, ["report", "staffing", "--county", COUNTY, "--format", "xlsx"],
                         obj=ctx).exit_code == 2  # xlsx needs a file


def test_the_ruleset_schema_checks_staffing_and_assessment():
    from marshmallow import ValidationError

    from core.metadata.schemas import RulesetSchema

    base = {"code": "x", "name": "x", "region": "150626"}
    good = {**base, "staffing": [{"check": "site_staff", "site_kind": "service_center", "roles": ["grid_agent"],
                                  "min": 2}, {"check": "staff_board", "fields": ["photo", "hours"]}],
            "assessment": {"weights": {"on_time": 2, "overdue": 1}, "bottom_n": 1, "roles": ["grid_agent"]}}
    assert RulesetSchema().load(good)["assessment"]["bottom_n"] == 1
    for bad, where in (({"assessment": {"weights": {"on_time": 1}, "bottom_n": 1, "bottom_share": 0.1}}, "assessment"),
                       ({"assessment": {"weights": {}}}, "assessment"),
                       ({"assessment": {"weights": {"on_time": "much"}}}, "assessment"),
                       ({"staffing": [{"roles": ["grid_agent"]}]}, "staffing"),
                       ({"staffing": [{"check": "site_staff", "min": -1}]}, "staffing"),
                       ({"staffing": [{"check": "staff_board", "fields": ["shoe_size"]}]}, "staffing"),
                       ({"staffing": [{"check": "per_region", "level": "planet"}]}, "staffing")):
        try:
            RulesetSchema().load({**base, **bad})
        except ValidationError as exc:
            assert where in exc.messages, (bad, exc.messages)
        else:
            raise AssertionError(f"accepted {bad}")
