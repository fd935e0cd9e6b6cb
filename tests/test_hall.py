"""The public service hall without an account: the site directory and a
site's page (hours with 延时 sessions, phone as a tel: link, items, staff
board), booking under a slot's capacity (also under concurrent bookings),
cancelling, home-visit requests assigned to the village's grid agent, the
staff work list with no-shows recorded, the green channel, and the
tracking lookup's lockout. Real HTTP requests, SQLite and PostgreSQL."""
from __future__ import annotations

import datetime
import re
import threading

import pytest

from core import personal, registry
from core.auth import User
from core.cases import service as case_service
from core.cases.demo import _form
from core.cases.models import Case
from core.hall import service
from core.hall.models import Appointment, HomeVisit
from core.models import AuditEntry, MetadataRecord, Site, Staff
from tests.helpers import sign_in

CENTER = "center-150626100"  # 嘎鲁图镇: slot_minutes 30, capacity 2 (demo sites.yaml)
STATION = "station-150626100201"  # 陶利嘎查: default 30-minute slots, capacity 1; evening capacity 1
MONDAY = datetime.date(2026, 12, 7)
SATURDAY = datetime.date(2026, 12, 5)
EARLY = datetime.datetime(2026, 12, 7, 8, 0)  # before the Monday opens


@pytest.fixture
def hall(demo_app, monkeypatch):
    monkeypatch.setattr(service, "now", lambda: EARLY)
    return demo_app


def _token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _book(client, site, day, start, name="巴图", phone="13847700031", **extra):
    path = f"/sites/{site}/book"
    return client.post(path, data={"csrf_token": _token(client, path + f"?day={day}"), "day": day.isoformat(),
                                   "start": start, "name": name, "phone": phone, **extra})


def test_slots_come_from_the_sessions_with_extended_hours(hall):
    with hall.app_context():
        center = Site.get_by_id(CENTER)
        monday = service.slots(center, MONDAY)
        # 08:30–12:00 and 14:30–18:00 in 30 minutes: 7 + 7; 延时 12:00–14:30: 5; evening by appointment 18:00–19:30: 3
        assert len(monday) == 22
        assert [s["start"] for s in monday if s["kind"] == "extended"] == ["12:00", "12:30", "13:00", "13:30", "14:00"]
        assert [(s["start"], s["capacity"]) for s in monday if s["kind"] == "appointment"] == [
            ("18:00", 2), ("18:30", 2), ("19:00", 2)]
        assert monday[0] == {"start": "08:30", "end": "09:00", "kind": "regular", "capacity": 2}
        saturday = service.slots(center, SATURDAY)  # 延时 Saturday morning 09:00–12:00
        assert [s["start"] for s in saturday] == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
        assert {s["kind"] for s in saturday} == {"extended"}
        assert service.slots(center, MONDAY - datetime.timedelta(days=1)) == []  # Sunday
        assert service.slots(center, datetime.date(2026, 10, 1)) == []  # National Day, a Thursday
        station = Site.get_by_id(STATION)
        assert [s["start"] for s in service.slots(station, MONDAY) if s["kind"] == "appointment"] == [
            "18:00", "18:30", "19:00", "19:30"]
        assert {s["capacity"] for s in service.slots(station, MONDAY)} == {1}


def test_directory_and_site_page_without_an_account(hall):
    client = hall.test_client()
    html = client.get("/sites?q=嘎鲁图").get_data(as_text=True)
    assert f'href="/sites/{CENTER}"' in html and 'href="tel:04777212345"' in html
    assert client.get("/sites?kind=service_center").status_code == 200
    page = client.get(f"/sites/{CENTER}").get_data(as_text=True)
    assert "嘎鲁图镇便民服务中心" in page and 'href="tel:04777212345"' in page
    assert re.search(r"12:00–14:30\s*<span class=\"extended-tag\">", page)  # 延时, marked
    # the staff board: the township's agents with their hours and a tel: link
    assert "乌日娜" in page and 'href="tel:13904770101"' in page
    assert f'href="/sites/{CENTER}/book"' in page
    assert client.get("/sites/no-such-site").status_code == 404
    assert client.get("/sites/no-such-site/book").status_code == 404


def test_booking_fills_a_slot_to_its_capacity_and_a_cancellation_frees_a_seat(hall):
    client = hall.test_client()
    with hall.app_context():
        demo = AuditEntry.select().count()  # the demo's own booking came before
    first = _book(client, CENTER, MONDAY, "18:00", item="")
    assert first.status_code == 302
    token = first.headers["Location"].rsplit("/", 1)[1]
    assert _book(client, CENTER, MONDAY, "18:00", name="其木格", phone="13847700032").status_code == 302
    full = _book(client, CENTER, MONDAY, "18:00", name="萨仁", phone="13847700033")
    assert full.status_code == 409 and 'id="book-error"' in full.get_data(as_text=True)
    with hall.app_context():
        assert Appointment.select().where((Appointment.day == MONDAY) & (Appointment.start == "18:00")).count() == 2
        row = Appointment.get(Appointment.cancel_token == token)
        assert row.created_by is None and row.session_kind == "appointment"
        assert "13847700031" not in row.phone_enc and row.phone() == "13847700031"
    page = client.get(f"/appointments/{token}").get_data(as_text=True)
    assert 'data-state="booked"' in page and "巴*" in page
    cancelled = client.post(f"/appointments/{token}", data={"csrf_token": _token(client, f"/appointments/{token}")})
    assert cancelled.status_code == 200 and 'data-state="cancelled"' in cancelled.get_data(as_text=True)
    assert _book(client, CENTER, MONDAY, "18:00", name="萨仁", phone="13847700033").status_code == 302
    with hall.app_context():
        assert Appointment.select().where((Appointment.day == MONDAY) & (Appointment.start == "18:00")
                                          & (Appointment.state == "booked")).count() == 2
        actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id).offset(demo)
                   if e.action.startswith("appointment.")]
        assert actions == ["appointment.book", "appointment.book", "appointment.cancel", "appointment.book"]


def test_bad_bookings_answer_4xx_and_write_nothing(hall):
    client = hall.test_client()
    with hall.app_context():
        before = Appointment.select().count()  # the demo's own
    assert _book(client, CENTER, MONDAY, "18:00", phone="12345").status_code == 400
    assert _book(client, CENTER, MONDAY, "18:00", name="").status_code == 400
    assert _book(client, CENTER, MONDAY, "18:10").status_code == 400  # not a slot
    assert _book(client, CENTER, MONDAY, "08:30", item="no-such-item").status_code == 400
    assert _book(client, CENTER, MONDAY + datetime.timedelta(days=30), "08:30").status_code == 400
    no_csrf = client.post(f"/sites/{CENTER}/book", data={"day": MONDAY.isoformat(), "start": "08:30",
                                                         "name": "巴图", "phone": "13847700031"})
    assert no_csrf.status_code == 400
    with hall.app_context():
        assert Appointment.select().count() == before
    assert client.get("/appointments/not-a-real-token-at-all").status_code == 404


def test_a_begun_slot_cannot_be_booked(hall, monkeypatch):
    monkeypatch.setattr(service, "now", lambda: datetime.datetime(2026, 12, 7, 9, 10))
    client = hall.test_client()
    response = _book(client, CENTER, MONDAY, "09:00")
    assert response.status_code == 400
    html = client.get(f"/sites/{CENTER}/book?day={MONDAY}").get_data(as_text=True)
    assert 'value="09:00"' not in html and 'value="09:30"' in html


def test_concurrent_bookings_never_exceed_the_capacity(hall):
    """Six citizens at once for the station's evening slot (capacity 1)
    and six for the center's (capacity 2): exactly 1 and 2 get it."""
    results = {STATION: [], CENTER: []}

    def attempt(site_code, n):
        with hall.app_context():
            try:
                service.book(Site.get_by_id(site_code), MONDAY, "19:00", f"申请人{n}", f"138477{n:05d}")
                results[site_code].append("ok")
            except service.SlotTaken:
                results[site_code].append("full")
            finally:
                hall.extensions["bangban"].db.close()  # back to the pool

    threads = [threading.Thread(target=attempt, args=(site, n)) for n in range(6) for site in (STATION, CENTER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results[STATION]) == ["full"] * 5 + ["ok"]
    assert sorted(results[CENTER]) == ["full"] * 4 + ["ok"] * 2
    with hall.app_context():
        evening = (Appointment.day == MONDAY) & (Appointment.start == "19:00")
        assert Appointment.select().where(evening & (Appointment.site_code == STATION)).count() == 1
        assert sorted(a.seat for a in Appointment.select().where(evening & (Appointment.site_code == CENTER))) == [1, 2]


def test_work_list_shows_today_and_tomorrow_in_scope_and_records_a_no_show(hall):
    with hall.app_context():
        center, station = Site.get_by_id(CENTER), Site.get_by_id(STATION)
        today = service.book(center, MONDAY, "09:00", "今天甲", "13847700041")
        service.book(center, MONDAY + datetime.timedelta(days=1), "09:00", "明天乙", "13847700042")
        service.book(center, MONDAY + datetime.timedelta(days=2), "09:00", "后天丙", "13847700043")
        service.book(station, MONDAY, "10:00", "陶利丁", "13847700044")
    agent = hall.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    html = agent.get("/work").get_data(as_text=True)
    assert "今天甲" in html and "明天乙" in html and "陶利丁" in html and "后天丙" not in html
    assert "13847700041" not in html  # phones masked
    grid = hall.test_client()
    assert sign_in(grid, "taoli.grid").status_code == 302
    grid_html = grid.get("/work").get_data(as_text=True)
    assert "陶利丁" in grid_html and "今天甲" not in grid_html  # the village's station only
    other = hall.test_client()
    assert sign_in(other, "wushenzhao.agent").status_code == 302
    assert "今天甲" not in other.get("/work").get_data(as_text=True)
    token = _token(other, "/work")
    assert other.post(f"/work/appointments/{today.id}", data={"csrf_token": token, "action": "no_show"}).status_code == 404
    tracker = hall.test_client()
    assert sign_in(tracker, "county.tracker").status_code == 302
    # the tracker has a workbench (cases) but no appointments block (no appointment.manage)
    tracker_html = tracker.get("/work").get_data(as_text=True)
    assert 'id="work-overdue"' in tracker_html and 'id="appointments"' not in tracker_html
    assert "今天甲" not in tracker_html
    response = agent.post(f"/work/appointments/{today.id}", data={"csrf_token": _token(agent, "/work"),
                                                                  "action": "no_show"})
    assert response.status_code == 302
    with hall.app_context():
        assert Appointment.get_by_id(today.id).state == "no_show"
        entry = AuditEntry.select().where(AuditEntry.action == "appointment.no_show").get()
        assert entry.actor == "galutu.agent"
    again = agent.post(f"/work/appointments/{today.id}", data={"csrf_token": _token(agent, "/work"),
                                                               "action": "served"})
    assert again.status_code == 302
    with hall.app_context():
        assert Appointment.get_by_id(today.id).state == "no_show"  # closed: not changed again


def _visit(client, **values):
    data = {"region": "150626100201", "name": "张秀英", "phone": "13847700051", "address": "陶利嘎查三组",
            "reason": "腿脚不便，办理高龄津贴", "special_group": "elderly_80"}
    data.update(values)
    return client.post("/home-visit", data={"csrf_token": _token(client, "/home-visit"), **data})


def test_a_home_visit_goes_to_the_grid_agent_and_ends_as_a_case(hall):
    client = hall.test_client()
    assert _visit(client, phone="123").status_code == 400
    assert _visit(client, region="150626100").status_code == 400  # a township is not a village
    assert _visit(client, special_group="nobody").status_code == 400
    with hall.app_context():
        assert HomeVisit.select().count() == 0
    response = _visit(client)
    assert response.status_code == 201
    assert _visit(client, region="150626100201001", name="李四", special_group="").status_code == 201
    with hall.app_context():
        first, group = list(HomeVisit.select().order_by(HomeVisit.id))
        assert first.assignee.username == "taoli.grid"  # the village's grid agent
        assert group.assignee.username == "taoli1.grid"  # the group's own agent
        assert first.name() == "张秀英" and "张秀英" not in first.name_enc and "13847700051" not in first.phone_enc
        assert first.number in response.get_data(as_text=True)
    grid = hall.test_client()
    assert sign_in(grid, "taoli.grid").status_code == 302
    html = grid.get("/work").get_data(as_text=True)
    assert "张秀英" in html and "李四" in html
    # the green channel first
    assert html.index("张秀英") < html.index("李四")
    group_agent = hall.test_client()
    assert sign_in(group_agent, "taoli1.grid").status_code == 302
    assert "张秀英" not in group_agent.get("/work").get_data(as_text=True)
    token = _token(grid, "/work")
    assert grid.post(f"/work/home-visits/{first.id}", data={"csrf_token": token, "action": "schedule",
                                                             "visit_day": "2026-12-08"}).status_code == 302
    # a case number outside the agent's scope is refused; a case of theirs closes the visit
    with hall.app_context():
        items = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                              & (MetadataRecord.county_code == "150626"))
        item = next(r for r in items if "village" in r.content["levels"])
        own = case_service.create_case(item, _form(1, "150626100201"), User(Staff.get(Staff.username == "taoli.grid")))
        elsewhere = case_service.create_case(item, _form(2, "150626101001"),
                                             User(Staff.get(Staff.username == "wushenzhao.agent")))
    grid.post(f"/work/home-visits/{first.id}", data={"csrf_token": token, "action": "case",
                                                      "case_number": elsewhere.number})
    with hall.app_context():
        assert HomeVisit.get_by_id(first.id).state == "scheduled"
        assert str(HomeVisit.get_by_id(first.id).visit_day) == "2026-12-08"
    grid.post(f"/work/home-visits/{first.id}", data={"csrf_token": token, "action": "case", "case_number": own.number})
    grid.post(f"/work/home-visits/{group.id}", data={"csrf_token": token, "action": "consult",
                                                      "note": "电话咨询 13847700052 已解答"})
    with hall.app_context():
        assert HomeVisit.get_by_id(first.id).state == "case_created" and HomeVisit.get_by_id(first.id).case_id == own.id
        done = HomeVisit.get_by_id(group.id)
        assert done.state == "consulted" and "13847700052" not in done.note
        assert personal.reveal_text(done.note, "home_visit.note") == "电话咨询 13847700052 已解答"
    assert "张秀英" not in grid.get("/work").get_data(as_text=True)  # closed


def test_green_channel_cases_come_first_are_marked_and_counted(hall):
    agent = hall.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    with hall.app_context():
        item = (MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                              & (MetadataRecord.key == "150626-rsj-017")).get())
    form = agent.get(f"/api/items/{item.key}/form").get_json()
    question = next(f for s in form["sections"] for f in s["fields"] if f["name"] == "green_channel")
    assert {o["value"] for o in question["options"]} == {"elderly_80", "disabled", "serious_illness", "pregnant"}
    with hall.app_context():
        user = User(Staff.get(Staff.username == "galutu.agent"))
        plain_before = case_service.create_case(item, _form(3, "150626100201"), user)
        green = case_service.create_case(item, {**_form(4, "150626100201"), "green_channel": "disabled"}, user)
        plain_after = case_service.create_case(item, _form(5, "150626100201"), user)
        assert Case.get_by_id(green.id).green_channel == "disabled"
        compute = registry.get("metrics")["green_channel_cases"]["compute"]
        assert compute(Case.select()) == (1, None)
    listing = agent.get("/cases").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'href="/cases/(\d+)"', listing)]
    assert order.index(green.id) < order.index(plain_after.id) < order.index(plain_before.id)
    assert order[0] == green.id
    receipt = agent.get(f"/cases/{green.id}/receipt").get_data(as_text=True)
    assert 'id="green-channel"' in receipt and "残疾人" in receipt
    assert 'id="green-channel"' not in agent.get(f"/cases/{plain_before.id}/receipt").get_data(as_text=True)
    assert 'id="green-channel"' in agent.get(f"/cases/{green.id}/commission").get_data(as_text=True)


def test_green_channel_through_the_form(hall):
    """The agent answers the question on the commission form."""
    agent = hall.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    code = "150626-rsj-017"
    html = agent.get(f"/cases/new/{code}").get_data(as_text=True)
    assert 'name="green_channel"' in html
    from core.cases.demo import id_number

    data = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
            "applicant_name": "巴图", "applicant_id_number": id_number("150626", "19351120", 31),
            "applicant_phone": "13847700031", "applicant_division": "150626100201", "principal_is_applicant": "true",
            "green_channel": "elderly_80"}
    for section in agent.get(f"/api/items/{code}/form").get_json()["sections"]:
        for field in section["fields"]:
            if field["name"] not in data and field.get("required"):
                data[field["name"]] = "on" if field["type"] == "material" else "1"
    response = agent.post(f"/cases/new/{code}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    case_id = int(re.search(r"/cases/(\d+)/receipt", response.headers["Location"]).group(1))
    with hall.app_context():
        assert Case.get_by_id(case_id).green_channel == "elderly_80"
    data["green_channel"] = "not_a_group"
    assert agent.post(f"/cases/new/{code}", data=data).status_code == 400


def test_tracking_lookup_is_locked_per_receipt_and_per_address(hall):
    with hall.app_context():
        item = (MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                              & (MetadataRecord.key == "150626-rsj-017")).get())
        case = case_service.create_case(item, _form(7, "150626100201"),
                                        User(Staff.get(Staff.username == "galutu.agent")))
        right = case.phone()[-4:]
    wrong = "0000" if right != "0000" else "1111"

    def lookup(number, digits, ip):
        client = hall.test_client()
        client.environ_base["REMOTE_ADDR"] = ip
        token = _token(client, "/track")
        return client.post("/track", data={"csrf_token": token, "number": number, "phone_digits": digits}).status_code

    assert lookup(case.number, right, "10.0.0.1") == 200
    # five wrong tries from five addresses: the receipt is locked, even for the right digits
    assert [lookup(case.number, wrong, f"10.0.1.{i}") for i in range(5)] == [404] * 5
    assert lookup(case.number, right, "10.0.2.1") == 429
    # ten failures from one address, on ten unknown numbers: that address is locked
    assert [lookup(f"150626-20261207-{9000 + i}", "1234", "10.0.3.1") for i in range(10)] == [404] * 10
    assert lookup(f"150626-20261207-{9100}", "1234", "10.0.3.1") == 429
    assert lookup(f"150626-20261207-{9100}", "1234", "10.0.3.2") == 404


def test_tracking_shows_the_reason_of_a_notice_and_of_a_decline(hall):
    with hall.app_context():
        item = (MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current
                                              & (MetadataRecord.key == "150626-rsj-017")).get())
        agent = User(Staff.get(Staff.username == "galutu.agent"))
        noticed = case_service.create_case(item, _form(8, "150626100201"), agent)
        case_service.take(noticed, "one_time_notice", agent, {"missing_materials": ["户口簿原件", "残疾证复印件"]})
        declined = case_service.create_case(item, _form(9, "150626100201"), agent)
        case_service.take(declined, "decline", agent, {"reason": "申请人不在本镇居住，请到户籍地办理；联系 13904770101"})
        cases = [(c.number, c.phone()[-4:]) for c in (noticed, declined)]
    client = hall.test_client()
    pages = []
    for number, digits in cases:
        response = client.post("/track", data={"csrf_token": _token(client, "/track"), "number": number,
                                               "phone_digits": digits})
        assert response.status_code == 200
        pages.append(re.search(r'<dd id="track-notice">(.*?)</dd>', response.get_data(as_text=True), re.S).group(1))
    assert "户口簿原件" in pages[0] and "残疾证复印件" in pages[0]
    assert "请到户籍地办理" in pages[1] and "13904770101" not in pages[1]  # a phone in the reason is masked


def _jpeg_with_exif(size=(2000, 1500)):
    import io

    from PIL import Image

    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (41.0, 24.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_board_photo_is_scaled_stripped_and_shown_on_the_board(hall):
    import io

    from PIL import Image

    raw = _jpeg_with_exif()
    assert Image.open(io.BytesIO(raw)).getexif()  # the upload carries EXIF (GPS included)
    admin = hall.test_client()
    assert sign_in(admin, "county.admin").status_code == 302
    with hall.app_context():
        agent = Staff.get(Staff.username == "galutu.agent")
    html = admin.get(f"/admin/staff_admin/edit/?id={agent.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    data = {"csrf_token": token, "username": agent.username, "name": agent.name, "role": agent.role,
            "region": agent.region, "department": agent.department or "", "covers": "", "password": "",
            "active": "y"}
    bad = admin.post(f"/admin/staff_admin/edit/?id={agent.id}",
                     data={**data, "photo": (io.BytesIO(b"not an image"), "x.jpg")}, content_type="multipart/form-data")
    assert bad.status_code == 400
    with hall.app_context():
        assert "photo_file" not in (Staff.get_by_id(agent.id).profile or {})
    response = admin.post(f"/admin/staff_admin/edit/?id={agent.id}",
                          data={**data, "photo": (io.BytesIO(raw), "me.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 302
    with hall.app_context():
        profile = Staff.get_by_id(agent.id).profile
        assert profile["hours"].startswith("工作日")  # the rest of the profile kept
        name = profile["photo_file"]
    public = hall.test_client()
    page = public.get(f"/sites/{CENTER}").get_data(as_text=True)
    src = re.search(rf'<img src="(/staff-photos/{agent.id}\.jpg\?v=[0-9a-f]+)"', page).group(1)
    served = public.get(src)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(served.data))
    assert image.size == (480, 360)  # 2000×1500 into 480×640, proportions kept
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert name.startswith(__import__("hashlib").sha256(served.data).hexdigest())
    assert public.get("/staff-photos/999999.jpg").status_code == 404


def test_an_agent_books_on_a_citizens_behalf_and_the_forms_are_rate_limited(hall):
    agent = hall.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    assert _book(agent, CENTER, MONDAY, "10:00", name="代约人").status_code == 302
    with hall.app_context():
        assert Appointment.get(Appointment.start == "10:00").created_by.username == "galutu.agent"
    citizen = hall.test_client()
    citizen.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    codes = [_book(citizen, CENTER, MONDAY, "08:30", phone="1").status_code for _ in range(11)]
    assert codes == [400] * 10 + [429]  # ten form posts a minute per address (HALL_POST_RATE_LIMIT)
    other = hall.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.9.10"
    assert _book(other, CENTER, MONDAY, "08:30", phone="1").status_code == 400


def test_partner_points_are_in_the_directory_with_their_delegated_items(make_app):
    from core.demo import load_demo

    app = make_app(plugins="boshan,bank_partnership")
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026", county="370304")
    client = app.test_client()
    html = client.get("/sites?kind=bank_branch").get_data(as_text=True)
    assert re.findall(r'data-site="([^"]+)"', html) == ["bank-370304112-rcb"]
    page = client.get("/sites/bank-370304112-rcb").get_data(as_text=True)
    listed = re.findall(r'<a href="/guides/([^"]+)"', re.search(r'id="site-items">(.*?)</ul>', page, re.S).group(1))
    assert listed == ["370304-rsj-007", "370304-ybj-002", "370304-spj-001", "370304-spj-002", "370304-gysy-001",
                      "370304-gysy-003", "370304-gysy-004"]  # the branch's list in boshan_demo/sites.yaml
    assert client.get("/sites?kind=post_office").get_data(as_text=True).count('data-site="') == 1


def test_the_agent_reveals_a_phone_to_call_and_it_is_audited(hall):
    client = hall.test_client()
    assert _visit(client).status_code == 201
    with hall.app_context():
        visit = HomeVisit.get()
        appointment = service.book(Site.get_by_id(CENTER), MONDAY, "09:00", "今天甲", "13847700041")
    grid = hall.test_client()
    assert sign_in(grid, "taoli.grid").status_code == 302
    page = grid.get("/work").get_data(as_text=True)
    assert "13847700051" not in page and 'value="reveal"' in page
    response = grid.post(f"/work/home-visits/{visit.id}", data={"csrf_token": _token(grid, "/work"), "action": "reveal"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'href="tel:13847700051"' in html
    assert response.headers["Cache-Control"] == "no-store"
    with hall.app_context():
        entry = AuditEntry.select().where(AuditEntry.action == "personal_data.reveal").get()
        assert (entry.actor, entry.entity) == ("taoli.grid", f"home_visit:{visit.id}")
    # the township's appointment is not the grid agent's: 404, nothing revealed or recorded
    outside = grid.post(f"/work/appointments/{appointment.id}", data={"csrf_token": _token(grid, "/work"),
                                                                      "action": "reveal"})
    assert outside.status_code == 404
    with hall.app_context():
        assert AuditEntry.select().where(AuditEntry.action == "personal_data.reveal").count() == 1
