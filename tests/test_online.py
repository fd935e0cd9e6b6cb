"""Online requests: a citizen without an account asks on a phone (the phone
verified by a code sent through the outbox's SMS target, here a local
receiver), the request lands on the list of the agents whose area holds the
village and nowhere else, the agent calls back with one tap and files the
case from it; wrong codes, repeated codes and floods are refused. Real HTTP
requests (CSRF on), on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime
import io
import re

from core import online, outbox, personal
from core.cases.demo import id_number
from core.cases.models import Case
from core.db import transaction
from core.models import AuditEntry, PluginSetting, utcnow
from tests.helpers import csrf_token, sign_in
from tests.test_bad_input import fill
from tests.test_outbox import Receiver, receiver  # noqa: F401 - the fixture
from tests.test_uploads import PNG

COUNTY = "150626"
VILLAGE = "150626100201"  # in 嘎鲁图镇 (galutu.agent's township)
OTHER_VILLAGE_GRID = "wushen.buridu.grid"  # village 150626100202 of the same township
ITEM = "150626-cl-001"  # 残疾人证新办, offered at village level
URL = f"/apply/{COUNTY}"


def _sms(app, sink):
    with app.app_context(), transaction():
        PluginSetting.create(plugin="core.channels", key="sms_url", scope=COUNTY, county_code=COUNTY, value=sink.url)


def _deliver(app):
    with app.app_context():
        outbox.run()


def _code(sink, phone):
    """The last code the SMS gateway got for ``phone``."""
    sent = [b for _k, b in sink.requests if b.get("phone") == phone and b["topic"] == "sms.code"]
    return sent[-1]["params"]["code"]


def _ask_code(client, phone, ip="10.0.0.1"):
    return client.post(URL, data={"csrf_token": csrf_token(client, URL), "phone": phone, "action": "send_code"},
                       environ_base={"REMOTE_ADDR": ip})


def _submit(client, phone, code, ip="10.0.0.1", **extra):
    data = {"csrf_token": csrf_token(client, URL), "name": "乌云", "phone": phone, "code": code, "item": ITEM,
            "village": VILLAGE, "note": "需要办理残疾人证，电话13847700099", "action": "submit", **extra}
    return client.post(URL, data=data, content_type="multipart/form-data", environ_base={"REMOTE_ADDR": ip})


def test_a_citizen_request_reaches_the_village_agents_who_call_back_and_file_the_case(demo_app, receiver):
    sink = receiver()
    _sms(demo_app, sink)
    citizen = demo_app.test_client()
    phone = "13847700071"
    assert _ask_code(citizen, phone).status_code == 200
    _deliver(demo_app)
    code = _code(sink, phone)
    assert re.fullmatch(r"[0-9]{6}", code)
    with demo_app.app_context():
        stored = online.PhoneCode.get()
        sent = outbox.OutboxMessage.get(outbox.OutboxMessage.topic == "sms.code")
        assert code not in stored.code_mac and phone not in str(sent.payload)
    response = _submit(citizen, phone, code, photos=(io.BytesIO(PNG), "户口簿.png"))
    assert response.status_code == 201 and 'id="request-received"' in response.get_data(as_text=True)
    with demo_app.app_context():
        row = online.OnlineRequest.get(online.OnlineRequest.phone_hash == personal.phone_hash(phone))
        assert (row.village_code, row.township_code, row.state) == (VILLAGE, VILLAGE[:9], "new")
        assert row.phone() == phone and phone not in row.phone_enc
        assert "13847700099" not in row.note  # the personal-data filter
        assert [p["type"] for p in row.photos] == ["png"]
        assert AuditEntry.select().where((AuditEntry.action == "online_request.create")
                                         & (AuditEntry.entity == f"online_request:{row.id}")).count() == 1
    # the code is used once
    assert _submit(demo_app.test_client(), phone, code, ip="10.0.0.2").status_code == 400
    agent = demo_app.test_client()
    assert sign_in(agent, "galutu.agent").status_code == 302
    page = agent.get("/requests").get_data(as_text=True)
    assert f'id="request-{row.id}"' in page and "乌云" in page and "138****0071" in page
    other = demo_app.test_client()
    assert sign_in(other, OTHER_VILLAGE_GRID).status_code == 302
    assert f'id="request-{row.id}"' not in other.get("/requests").get_data(as_text=True)
    token = csrf_token(other, "/requests")
    assert other.post(f"/requests/{row.id}/called", data={"csrf_token": token}).status_code == 404
    assert other.get(f"/requests/{row.id}/file").status_code == 404
    # one tap: called back
    token = csrf_token(agent, "/requests")
    assert agent.post(f"/requests/{row.id}/called", data={"csrf_token": token}).status_code == 302
    with demo_app.app_context():
        assert online.OnlineRequest.get_by_id(row.id).state == "called"
    # take the commission: the form comes filled from the request
    form = agent.get(f"/requests/{row.id}/file").get_data(as_text=True)
    assert 'value="乌云"' in form and f'value="{phone}"' in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = fill(agent.get(f"/api/items/{ITEM}/form").get_json(), applicant_name="乌云", applicant_phone=phone,
                applicant_id_number=id_number(COUNTY, "19800101", 71), guardian_name="巴特尔",
                guardian_id_number=id_number(COUNTY, "19550101", 72))
    data["csrf_token"] = token
    filed = agent.post(f"/requests/{row.id}/file", data=data)
    assert filed.status_code == 302, re.findall(r'id="f-([a-z_0-9]+)-error"[^>]*><p>(.*?)</p>', filed.get_data(as_text=True))
    with demo_app.app_context():
        row = online.OnlineRequest.get_by_id(row.id)
        case = Case.get_by_id(row.filed_case)
        assert row.state == "filed" and case.applicant_name == "乌云" and case.village_code == VILLAGE
        cases = Case.select().count()
    assert agent.post(f"/requests/{row.id}/file", data=data).status_code == 302
    with demo_app.app_context():
        assert Case.select().count() == cases  # never a second case from one request


def test_wrong_codes_are_counted_and_a_code_expires(demo_app, receiver):
    sink = receiver()
    _sms(demo_app, sink)
    citizen = demo_app.test_client()
    phone = "13847700072"
    _ask_code(citizen, phone)
    _deliver(demo_app)
    code = _code(sink, phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(online.CODE_TRIES):
        response = _submit(citizen, phone, wrong)
        assert response.status_code == 400 and 'id="a-code-error"' in response.get_data(as_text=True)
    assert _submit(citizen, phone, code).status_code == 400  # too many wrong tries: the right one is dead too
    with demo_app.app_context():
        assert not online.OnlineRequest.select().where(online.OnlineRequest.phone_hash == personal.phone_hash(phone)).exists()
        later = utcnow() + online.CODE_INTERVAL + datetime.timedelta(seconds=1)
        online.PhoneCode.update(created_at=utcnow() - online.CODE_INTERVAL * 2).execute()
        fresh = online.send_code(COUNTY, phone, "10.0.0.9", now=later)
        online.PhoneCode.update(expires_at=utcnow() - datetime.timedelta(seconds=1)).where(
            online.PhoneCode.id == fresh.id).execute()
    _deliver(demo_app)
    assert _submit(citizen, phone, _code(sink, phone)).status_code == 400  # expired


def test_abuse_limits_per_phone_and_per_address(demo_app, receiver):
    sink = receiver()
    _sms(demo_app, sink)
    citizen = demo_app.test_client()
    assert _ask_code(citizen, "13847700073").status_code == 200
    again = _ask_code(citizen, "13847700073")
    assert again.status_code == 429
    for n in range(online.CODES_PER_IP - 1):
        assert _ask_code(citizen, f"139477001{n:02d}").status_code == 200
    assert _ask_code(citizen, "13947700199").status_code == 429  # the address's hourly budget is spent
    assert _ask_code(citizen, "13947700199", ip="10.0.0.2").status_code == 200
    with demo_app.app_context():
        assert online.PhoneCode.select().count() == online.CODES_PER_IP + 1
    # requests per phone a day
    phone = "13847700074"
    for n in range(online.REQUESTS_PER_PHONE + 1):
        with demo_app.app_context():
            online.PhoneCode.update(created_at=utcnow() - online.CODE_INTERVAL * 2).execute()
        assert _ask_code(citizen, phone, ip=f"10.1.0.{n}").status_code == 200
        _deliver(demo_app)
        response = _submit(citizen, phone, _code(sink, phone), ip=f"10.1.0.{n}")
        assert response.status_code == (201 if n < online.REQUESTS_PER_PHONE else 429), n
    with demo_app.app_context():
        mine = online.OnlineRequest.phone_hash == personal.phone_hash(phone)
        assert online.OnlineRequest.select().where(mine).count() == online.REQUESTS_PER_PHONE


def test_without_text_messages_set_up_nothing_is_written(demo_app):
    citizen = demo_app.test_client()
    with demo_app.app_context():
        before = outbox.OutboxMessage.select().count()  # the demo's log of the comprehensive window
    response = _ask_code(citizen, "13847700075")
    assert response.status_code == 503
    with demo_app.app_context():
        assert online.PhoneCode.select().count() == 0 and outbox.OutboxMessage.select().count() == before
    assert citizen.get("/apply/999999").status_code == 404
