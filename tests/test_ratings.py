"""好差评 (ratings) on both databases: the citizen rates by the case's
tracking token over HTTP, a 差评 opens a rectification due in the region's
working days, assigned by permission and scope; it is rectified and called
back, or appealed and decided by the county; overdue rectifications are
escalated by the SLA scan; the metrics, indicators, exports, the ledger and
the invitations are checked against counts computed by hand from generated
data."""
from __future__ import annotations

import datetime
import io
import random
import re

import pytest

from core import registry
from core.auth import User
from core.cases import service as cases
from core.cases.demo import _form, id_number
from core.cases.models import Case, CaseEvent
from core.models import AuditEntry, MetadataRecord, Staff
from core.ratings import service
from core.ratings.models import Rating, Rectification
from core.workdays import from_db
from tests.helpers import sign_in

VILLAGE = "150626100201"      # 陶利's village (galutu township 150626100)
OTHER_VILLAGE = "150626101204"  # a village of another township (150626101)


def _user(username):
    return User(Staff.get(Staff.username == username))


def _item(kind="promised"):
    records = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                            & (MetadataRecord.county_code == "150626")).order_by(MetadataRecord.key)
    return next(r for r in records if r.content["kind"] == kind and "village" in r.content.get("levels", []))


def _new_case(n, village=VILLAGE, agent="galutu.agent", accepted=None, finished=None):
    case = cases.create_case(_item(), _form(100 + n, village), _user(agent))
    fields = {"state": "handling", "accepted_on": accepted or cases.today()}
    if finished:
        fields.update(state="archived", finished_on=finished)
    Case.update(**fields).where(Case.id == case.id).execute()
    return Case.get_by_id(case.id)


def _token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _audits(action):
    return AuditEntry.select().where(AuditEntry.action == action).count()


# --- the citizen's rating and the whole chain over HTTP ------------------------------------

def test_citizen_rates_by_token_then_the_bad_rating_is_verified_rectified_and_called_back(demo_app):
    app = demo_app
    with app.app_context():
        case = _new_case(1)
        token, case_id = case.track_token, case.id
        ten_workdays = from_db().add_workdays(cases.today(), 10).day  # 乌审旗: 10 working days
        supervisor = Staff.get(Staff.username == "county.supervisor")
        recorded = _audits("rating.record")
    citizen = app.test_client()
    page = citizen.get(f"/track/t/{token}/rate")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-stage="acceptance"' in html and 'data-stage="completion"' not in html  # not finished yet
    # the tracking page links to it
    assert f"/track/t/{token}/rate" in citizen.get(f"/track/t/{token}").get_data(as_text=True)
    # an unknown token and a bad level are refused, nothing written
    assert citizen.get("/track/t/AAAAAAAAAAAAAAAAAAAAAA/rate").status_code == 404
    csrf = _token(citizen, f"/track/t/{token}/rate")
    assert citizen.post(f"/track/t/{token}/rate", data={"csrf_token": csrf, "stage": "acceptance", "level": "9",
                                                        "rater": "real_name"}).status_code == 400
    assert citizen.post(f"/track/t/{token}/rate", data={"csrf_token": csrf, "stage": "completion", "level": "5",
                                                        "rater": "real_name"}).status_code == 400
    with app.app_context():
        assert Rating.select().where(Rating.case == case_id).count() == 0
    idn = id_number("150626", "19800101", 7)
    response = citizen.post(f"/track/t/{token}/rate", data={
        "csrf_token": csrf, "stage": "acceptance", "level": "1", "rater": "real_name",
        "comment": f"等了很久 {idn}"})
    assert response.status_code == 200 and 'id="rate-done"' in response.get_data(as_text=True)
    # changed before it is handled: still one rating
    response = citizen.post(f"/track/t/{token}/rate", data={"csrf_token": csrf, "stage": "acceptance",
                                                            "level": "2", "rater": "real_name"})
    assert response.status_code == 200
    with app.app_context():
        rating = Rating.get(Rating.case == case_id)
        assert (rating.level, rating.channel, rating.rater, rating.handled) == (2, "qr", "real_name", False)
        assert Case.get_by_id(case_id).rating == 2  # the case keeps its latest rating
        assert _audits("rating.record") == recorded + 1 and _audits("rating.change") >= 1
        rect = Rectification.get(Rectification.rating == rating.id)
        assert rect.state == "verify"
        rect_id = rect.id
    # the first comment held an ID number: stored as a token, never in clear
    with app.app_context():
        first = AuditEntry.select().where(AuditEntry.action == "rating.record").order_by(AuditEntry.seq.desc()).first()
        assert idn not in (first.payload or "")

    staff = app.test_client()
    assert sign_in(staff, "county.supervisor").status_code == 302
    listing = staff.get("/ratings?state=verify").get_data(as_text=True)
    assert f"/ratings/rectifications/{rect_id}" in listing
    detail = f"/ratings/rectifications/{rect_id}"
    csrf = _token(staff, detail)
    # nothing to verify with: 400, nothing changed
    assert staff.post(f"{detail}/verify", data={"csrf_token": csrf, "outcome": "rectify"}).status_code == 400
    assert staff.post(f"{detail}/verify", data={"csrf_token": csrf, "outcome": "rectify",
                                                "note": "属实，窗口未一次性告知"}).status_code == 302
    with app.app_context():
        rect = Rectification.get_by_id(rect_id)
        assert (rect.state, rect.due_day, rect.assignee_id) == ("rectify", ten_workdays, supervisor.id)
        assert Rating.get_by_id(rect.rating_id).handled
    # handled: the citizen can no longer change it
    assert 'class="form rate-form"' not in citizen.get(f"/track/t/{token}/rate").get_data(as_text=True)
    csrf_c = _token(citizen, "/track")
    refused = citizen.post(f"/track/t/{token}/rate", data={"csrf_token": csrf_c, "stage": "acceptance",
                                                          "level": "5", "rater": "real_name"})
    assert refused.status_code == 400
    with app.app_context():
        assert Rating.get_by_id(rect.rating_id).level == 2
    assert staff.post(f"{detail}/rectify", data={"csrf_token": csrf, "note": "已培训并致歉"}).status_code == 302
    future = (cases.today() + datetime.timedelta(days=1)).isoformat()
    assert staff.post(f"{detail}/callback", data={"csrf_token": csrf, "on": future, "way": "phone",
                                                  "level": "4"}).status_code == 400
    assert staff.post(f"{detail}/callback", data={"csrf_token": csrf, "on": cases.today().isoformat(),
                                                  "way": "phone", "level": "4"}).status_code == 302
    with app.app_context():
        rect = Rectification.get_by_id(rect_id)
        assert (rect.state, rect.rectified_on, rect.callback_on, rect.callback_way, rect.callback_level) == (
            "closed", cases.today(), cases.today(), "phone", 4)
        assert rect.rectified_by_id == supervisor.id == rect.callback_by_id
        for action in ("rectification.verify", "rectification.rectify", "rectification.callback"):
            assert _audits(action) >= 1, action
    # a step out of order is refused
    assert staff.post(f"{detail}/rectify", data={"csrf_token": csrf, "note": "again"}).status_code == 400


def test_appeal_is_decided_by_the_county(demo_app):
    with demo_app.app_context():
        supervisor, admin = _user("county.supervisor"), _user("county.admin")
        kept, dropped = _new_case(2), _new_case(3)
        upheld = service.record(dropped, "acceptance", 1, channel="qr", rater="real_name").rectifications.get()
        rejected = service.record(kept, "acceptance", 2, channel="track", rater="anonymous").rectifications.get()
        for rect in (upheld, rejected):
            service.verify(rect, supervisor, "appeal", "疑似恶意评价")
        with pytest.raises(service.RatingError):
            service.decide_appeal(upheld, admin, "upheld", "")  # a decision needs its reason
        service.decide_appeal(upheld, admin, "upheld", "经查系误评")
        service.decide_appeal(rejected, admin, "rejected", "评价属实")
        upheld, rejected = Rectification.get_by_id(upheld.id), Rectification.get_by_id(rejected.id)
        assert (upheld.state, upheld.appeal_outcome, upheld.due_day) == ("closed", "upheld", None)
        assert (rejected.state, rejected.appeal_outcome) == ("rectify", "rejected")
        assert rejected.due_day == from_db().add_workdays(cases.today(), 10).day
    # over HTTP, the supervisor may not decide an appeal (403); the county admin's page has the form
    client = demo_app.test_client()
    assert sign_in(client, "county.supervisor").status_code == 302
    with demo_app.app_context():
        other = service.record(_new_case(4), "acceptance", 1, channel="qr").rectifications.get()
        service.verify(other, supervisor, "appeal", "误评")
    csrf = _token(client, f"/ratings/rectifications/{other.id}")
    assert client.post(f"/ratings/rectifications/{other.id}/appeal",
                       data={"csrf_token": csrf, "outcome": "upheld", "reason": "x"}).status_code == 403
    with demo_app.app_context():
        assert Rectification.get_by_id(other.id).state == "appeal"


def test_a_good_rating_changed_before_handling_drops_the_rectification_and_staff_enter_paper_forms(demo_app):
    with demo_app.app_context():
        case = _new_case(5, finished=cases.today())
        rating = service.record(case, "completion", 1, channel="qr")
        assert Rectification.select().where(Rectification.rating == rating.id).count() == 1
        service.record(case, "completion", 4, channel="qr")
        assert Rectification.select().where(Rectification.rating == rating.id).count() == 0
        case_id = case.id
    client = demo_app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    csrf = _token(client, f"/cases/{case_id}/rating")
    response = client.post(f"/cases/{case_id}/rating", data={"csrf_token": csrf, "stage": "acceptance", "level": "3",
                                                            "rater": "real_name"})
    assert response.status_code == 302
    with demo_app.app_context():
        paper = Rating.get((Rating.case == case_id) & (Rating.stage == "acceptance"))
        assert (paper.channel, paper.level, paper.recorded_by_id) == (
            "paper", 3, Staff.get(Staff.username == "galutu.agent").id)
        assert Case.get_by_id(case_id).rating == 3


def test_the_workflow_evaluate_step_records_a_paper_rating(demo_app):
    with demo_app.app_context():
        grid = _user("taoli.grid")
        case = cases.create_case(_item("instant"), _form(140, VILLAGE), grid)
        for code, inputs in (("accept", {}), ("finish_instant", {}),
                             ("archive", {"delivery": {"method": "pickup", "received_by": "本人"}}),
                             ("evaluate", {"rating": 2, "comment": "慢"})):
            case = cases.take(case, code, grid, inputs)
        rating = Rating.get(Rating.case == case.id)
        assert (rating.stage, rating.level, rating.channel, rating.rater) == ("completion", 2, "paper", "real_name")
        assert Rectification.get(Rectification.rating == rating.id).state == "verify"


# --- generated data, hand-computed -------------------------------------------------------------

PAST = datetime.date(2026, 3, 2)   # a Monday; the generated handling happens then
PERIOD = (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
TARGETS = ("verify", "rectify", "callback", "closed", "upheld", "rejected")


def _generate(monkeypatch):
    """30 cases with planned ratings; returns the plan (what each case got)."""
    rnd = random.Random(20261202)
    monkeypatch.setattr(service, "today", lambda: PAST)
    supervisor, admin = _user("county.supervisor"), _user("county.admin")
    plan = []
    for n in range(30):
        agent, village = (("galutu.agent", VILLAGE) if n % 2 else ("wushenzhao.agent2", OTHER_VILLAGE))
        finished = PAST - datetime.timedelta(days=rnd.choice([0, 1, 5, 9])) if n % 3 == 0 else None
        case = _new_case(200 + n, village=village, agent=agent, accepted=PAST - datetime.timedelta(days=10),
                         finished=finished)
        level = rnd.choice([1, 2, 2, 3, 4, 5])
        rater = rnd.choice(["real_name", "real_name", "anonymous"])
        target = rnd.choice(TARGETS) if level <= 2 else None
        entry = {"case": case.id, "owner": agent, "level": level, "rater": rater, "target": target,
                 "finished": finished, "latest": level, "township": case.township_code}
        rating = service.record(case, "acceptance", level, channel=rnd.choice(["qr", "track"]), rater=rater)
        if finished is not None and n % 2 == 0:  # rated again at completion: the case's latest rating
            entry["latest"] = rnd.choice([3, 4, 5])
            service.record(Case.get_by_id(case.id), "completion", entry["latest"], channel="qr")
        rect = Rectification.get_or_none(Rectification.rating == rating.id)
        if target in ("rectify", "callback", "closed"):
            rect = service.verify(rect, supervisor, "rectify", "属实")
        elif target in ("upheld", "rejected"):
            rect = service.verify(rect, supervisor, "appeal", "误评")
            rect = service.decide_appeal(rect, admin, target, "决定")
        if target in ("callback", "closed", "rejected"):
            rect = service.rectify(rect, supervisor, "已整改")
        if target in ("closed", "rejected"):
            service.callback(rect, supervisor, PAST, "visit", 4)
        plan.append(entry)
    # the ratings were given in the period too
    Rating.update(created_at=datetime.datetime(2026, 3, 2, 9)).where(
        Rating.case.in_([p["case"] for p in plan]) & (Rating.stage == "acceptance")).execute()
    return plan


def test_metrics_and_indicators_match_a_hand_count(demo_app, monkeypatch):
    with demo_app.app_context():
        plan = _generate(monkeypatch)
        ours = Case.select().where(Case.id.in_([p["case"] for p in plan]))
        # by hand, from the plan
        counted = [p for p in plan if p["level"] <= 2 and p["rater"] == "real_name" and p["target"] != "upheld"]
        rectified = [p for p in counted if p["target"] in ("callback", "closed", "rejected")]
        called = [p for p in counted if p["target"] in ("closed", "rejected")]
        assert counted and rectified and called and len(called) < len(rectified) < len(counted)
        assert registry.compute_metric("rectification_rate", ours) == (len(rectified), len(counted))
        assert registry.compute_metric("callback_rate", ours) == (len(called), len(counted))
        # the core's metrics still read the case's latest rating
        assert registry.compute_metric("satisfaction", ours) == (sum(p["latest"] >= 4 for p in plan), len(plan))  # 满意 and 非常满意
        finished = [p for p in plan if p["finished"]]
        assert registry.compute_metric("rating_coverage", ours) == (len(finished), len(finished))
        # per responsible person
        indicators = registry.assessment_indicators()
        staff = Staff.select().where(Staff.username.in_(["galutu.agent", "wushenzhao.agent2", "county.supervisor"]))
        ids = {s.username: s.id for s in staff}
        bad = indicators["bad_ratings"]["compute"](staff, PERIOD)
        for who in ("galutu.agent", "wushenzhao.agent2"):
            assert bad.get(ids[who], 0) == sum(p["level"] <= 2 and p["owner"] == who for p in plan), who
        all_rectified = [p for p in plan if p["target"] in ("callback", "closed", "rejected")]
        assert indicators["rectified"]["compute"](staff, PERIOD) == {ids["county.supervisor"]: len(all_rectified)}
        assert indicators["callbacks_done"]["compute"](staff, PERIOD) == {
            ids["county.supervisor"]: sum(p["target"] in ("closed", "rejected") for p in plan)}
        assert indicators["rectified"]["compute"](staff, (datetime.date(2026, 4, 1), datetime.date(2026, 4, 30))) == {}


def test_overdue_rectifications_are_escalated_once_by_the_sla_scan(demo_app, monkeypatch):
    with demo_app.app_context():
        plan = _generate(monkeypatch)
        monkeypatch.undo()
        overdue = [p for p in plan if p["target"] == "rectify"]  # due 2026-03-16, open now
        assert overdue
        first = cases.sla_scan()
        assert first["rectifications_escalated"] == len(overdue)
        assert cases.sla_scan()["rectifications_escalated"] == 0
        escalated = Rectification.select().where(Rectification.escalated_at.is_null(False))
        assert sorted(r.case_id for r in escalated) == sorted(p["case"] for p in overdue)
        events = CaseEvent.select().where((CaseEvent.action == "escalate")
                                          & (CaseEvent.note == "rectification overdue"))
        assert events.count() == len(overdue)
        numbers = sorted(Case.get_by_id(p["case"]).number for p in overdue)
    client = demo_app.test_client()
    assert sign_in(client, "county.supervisor").status_code == 302
    listed = client.get("/ratings?state=escalated").get_data(as_text=True)
    assert sorted(re.findall(r">(150626-\d{8}-\d{4})</a>", listed)) == numbers
    assert client.get("/ratings?state=nonsense").status_code == 400


def test_exports_and_the_ledger_are_scoped(demo_app, monkeypatch):
    with demo_app.app_context():
        plan = _generate(monkeypatch)
        monkeypatch.undo()
        everything = Rating.select().join(Case).where(Case.county_code == "150626").count()
        galutu = Rating.select().join(Case).where(Case.township_code == "150626100").count()
    admin_ish = demo_app.test_client()
    assert sign_in(admin_ish, "county.supervisor").status_code == 302
    rows = admin_ish.get("/ratings/export.json").get_json()
    assert len(rows) == everything
    mine = {r["case_number"]: r for r in rows}
    with demo_app.app_context():
        for p in plan:
            number = Case.get_by_id(p["case"]).number
            row = mine[number]
            if row["stage"] == "acceptance":
                assert row["level"] == p["level"] and row["rater"] == p["rater"]
    march = admin_ish.get("/ratings/export.json?from=2026-03-01&to=2026-03-31").get_json()
    assert len(march) == len(plan)  # only the acceptance ratings were moved into March
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(admin_ish.get("/ratings/export.xlsx").data))
    sheet = book.active
    assert [c.value for c in sheet[1]][:4] == ["case_number", "item_code", "site", "level"]
    assert sheet.max_row == everything + 1
    assert admin_ish.get("/ratings/export.json?from=2026-13-01").status_code == 400
    # the township agent sees their township's ratings only, and may not export
    agent = demo_app.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    ledger = agent.get("/ratings/ledger").get_data(as_text=True)
    body = ledger.split('id="rating-ledger"')[1]
    assert body.count("<tr>") - 1 == galutu  # the header row aside
    assert agent.get("/ratings/export.json").status_code == 403
    assert agent.get("/ratings/ledger.xlsx").status_code == 403
    book = load_workbook(io.BytesIO(admin_ish.get("/ratings/ledger.xlsx").data))
    assert book.active.max_row == everything + 1
    assert book.active.max_column == 13


def test_invitations_list_finished_unrated_cases_after_the_regions_delay(demo_app):
    with demo_app.app_context():
        today = cases.today()
        old = _new_case(50, finished=today - datetime.timedelta(days=3))      # 3 days: listed (default 3)
        fresh = _new_case(51, finished=today - datetime.timedelta(days=2))    # too fresh
        rated = _new_case(52, finished=today - datetime.timedelta(days=8))
        service.record(rated, "completion", 5, channel="qr")
        half = _new_case(53, finished=today - datetime.timedelta(days=8))     # rated at acceptance only: listed
        service.record(half, "acceptance", 5, channel="qr")
        numbers = {c.id: c.number for c in (old, fresh, rated, half)}
    client = demo_app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    html = client.get("/ratings/invitations").get_data(as_text=True)
    assert numbers[old.id] in html and numbers[half.id] in html
    assert numbers[fresh.id] not in html and numbers[rated.id] not in html


def test_every_demo_county_has_a_bad_rating_in_every_state(make_app):
    from core.demo import load_demo

    app = make_app(plugins="wushen,bank_partnership,anyang,boshan,neixiang")
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
        counties = {c.county_code for c in Case.select(Case.county_code)}
        assert counties == {"150626", "410522", "370304", "411325"}
        for county in counties:
            rects = Rectification.select().where(Rectification.county_code == county)
            states = {(r.state, r.appeal_outcome) for r in rects}
            assert {("verify", None), ("rectify", None), ("appeal", None), ("callback", None), ("closed", None),
                    ("closed", "upheld")} <= states, county
            assert Rating.select().where((Rating.county_code == county) & (Rating.level >= 4)).exists()
        # 内乡县's 服务督办员 works within a township: the rectification goes to the case's township's one,
        # not to the county-wide supervisor; elsewhere only the county supervisor may manage them
        for rect in Rectification.select().where(Rectification.assignee.is_null(False)):
            assignee, case = Staff.get_by_id(rect.assignee_id), rect.case
            if rect.county_code == "411325":
                assert assignee.role == "township_supervisor" and assignee.region[:9] == case.township_code
            else:
                assert assignee.role == "supervisor" and assignee.county_code == rect.county_code
            assert rect.due_day == from_db().add_workdays(cases.today(), {"150626": 10}.get(rect.county_code, 5)).day


def test_rules_come_from_the_region_packs(demo_app):
    with demo_app.app_context():
        assert service.rectification_days("150626") == 10
        assert service.rules("150626")["callback_bad_ratings"] == 1.0
        assert service.rectification_days("999999") == service.DEFAULT_RECTIFICATION_DAYS  # no rule set
