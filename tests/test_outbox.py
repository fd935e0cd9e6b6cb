"""The outbox against a local receiver on 127.0.0.1 that fails, times out
and gets messages again: every message is applied by the receiver exactly
once (it keeps the idempotency keys it has applied, as the contract asks),
nothing is lost, a delivered message is never sent again, two workers at
once never send the same message, and a failing change writes no message.
The built-in targets get accepted cases, ratings and SMS without the
applicant's name or ID number. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import outbox
from core.auth import User
from core.cases import service
from core.cases.demo import _form
from core.cases.models import Case
from core.db import transaction
from core.hookspecs import hookimpl
from core.models import MetadataRecord, PluginSetting, Staff, utcnow

VILLAGE = "150626100201"
COUNTY = "150626"
TIMEOUT = 0.5


class Receiver:
    """A flaky HTTP receiver. ``script`` is the list of behaviours for the
    n-th request of a key (``fail``: 500 before applying; ``slow``: apply,
    then answer after the client gave up; ``lost``: apply, then 503, as if
    the answer were lost; ``ok``); past the script, ``ok``. It applies a
    key once and answers 200 for a key it has applied already."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests = []  # (key, body)
        self.applied = {}  # key -> times applied
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    n = sum(1 for k, _b in receiver.requests if k == key)
                    receiver.requests.append((key, {**body, "_auth": self.headers.get("Authorization")}))
                    behaviour = receiver.script[n] if n < len(receiver.script) else "ok"
                    if behaviour != "fail" and key not in receiver.applied:
                        receiver.applied[key] = 1
                    elif behaviour != "fail":
                        pass  # seen before: answer without applying again
                if behaviour == "fail":
                    return self._answer(500)
                if behaviour == "slow":
                    time.sleep(TIMEOUT * 3)
                return self._answer(503 if behaviour == "lost" else 200)

            def _answer(self, status):
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the client has gone (timed out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/in"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(script=()):
        made.append(Receiver(script))
        return made[-1]

    yield make
    for r in made:
        r.close()


class FlakyTarget:
    """A plugin registering a target with a short timeout, its URL a setting."""

    @hookimpl
    def register_plugin_settings(self, register):
        register("flaky_url", default="")
        register("flaky_key", default="")

    @hookimpl
    def register_outbox_targets(self, register):
        register("flaky", label="Flaky", topics=("test.event",), timeout=TIMEOUT)


def _set(plugin, key, value, scope=COUNTY):
    with transaction():
        PluginSetting.create(plugin=plugin, key=key, scope=scope, county_code=COUNTY, value=value)


@pytest.fixture
def flaky_app(make_app):
    from core.plugins import make_manager
    from tests.conftest import BUILTIN

    pm = make_manager(allow=BUILTIN)
    pm.register(FlakyTarget(), name="flaky_test")
    return make_app(pm=pm)


def _enqueue(app, n):
    with app.app_context():
        with transaction():
            return [outbox.enqueue("flaky", "test.event", {"n": i}, COUNTY).idempotency_key for i in range(n)]


def _drain(app, rounds=12):
    """Rounds of the worker, each a minute later than the last backoff allows."""
    moment = utcnow()
    with app.app_context():
        for _ in range(rounds):
            outbox.run(now=moment, max_attempts=6)
            moment += outbox.backoff(6) + datetime.timedelta(seconds=1)


def test_flaky_receiver_gets_each_message_applied_exactly_once(flaky_app, receiver):
    sink = receiver(["fail", "slow", "lost", "ok"])
    with flaky_app.app_context():
        _set("flaky_test", "flaky_url", sink.url)
        _set("flaky_test", "flaky_key", "secret-key")
    keys = _enqueue(flaky_app, 5)
    with flaky_app.app_context():
        first = outbox.run_once()
        assert first == {"delivered": 0, "retry": 5, "dead": 0}
        # not due again before its backoff
        assert outbox.run_once() == {"delivered": 0, "retry": 0, "dead": 0}
        waiting = outbox.OutboxMessage.get(outbox.OutboxMessage.idempotency_key == keys[0])
        assert waiting.state == "pending" and waiting.attempts == 1 and "500" in waiting.last_error
        assert waiting.next_attempt_at - utcnow() > datetime.timedelta(seconds=outbox.BACKOFF_BASE - 5)
    _drain(flaky_app)
    with flaky_app.app_context():
        rows = list(outbox.OutboxMessage.select().order_by(outbox.OutboxMessage.id))
        assert [r.state for r in rows] == ["delivered"] * 5
        assert [r.attempts for r in rows] == [4] * 5  # fail, time-out, lost answer, ok
    assert sink.applied == {k: 1 for k in keys}
    for key in keys:  # four requests each, all with the same key, body and bearer key
        sent = [b for k, b in sink.requests if k == key]
        assert len(sent) == 4 and all(b == sent[0] for b in sent)
        assert sent[0]["_auth"] == "Bearer secret-key" and sent[0]["topic"] == "test.event"
    # delivered messages are never sent again
    before = len(sink.requests)
    _drain(flaky_app, rounds=3)
    assert len(sink.requests) == before


def test_a_message_refused_too_often_is_dead_and_can_be_sent_again_from_the_back_office(flaky_app, receiver):
    sink = receiver(["fail"] * 6)
    with flaky_app.app_context():
        _set("flaky_test", "flaky_url", sink.url)
    [key] = _enqueue(flaky_app, 1)
    _drain(flaky_app)
    with flaky_app.app_context():
        message = outbox.OutboxMessage.get()
        assert (message.state, message.attempts) == ("dead", 6)
    assert sink.applied == {} and len(sink.requests) == 6
    _drain(flaky_app, rounds=2)
    assert len(sink.requests) == 6  # dead stays dead
    from tests.helpers import sign_in
    from core.demo import load_demo

    with flaky_app.app_context():
        load_demo(flaky_app.extensions["bangban"].pm, "Bangban@2026")
    admin = flaky_app.test_client()
    assert sign_in(admin, "sys.admin").status_code == 302
    page = admin.get("/admin/outbox/?state=dead").get_data(as_text=True)
    assert f'href="/admin/outbox/{message.id}"' in page
    detail = admin.get(f"/admin/outbox/{message.id}").get_data(as_text=True)
    assert key in detail and "HTTP 500" in detail
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    assert admin.post(f"/admin/outbox/{message.id}/retry", data={"csrf_token": token}).status_code == 302
    _drain(flaky_app, rounds=1)
    with flaky_app.app_context():
        assert outbox.OutboxMessage.get().state == "delivered"
        from core.models import AuditEntry

        assert AuditEntry.select().where(AuditEntry.action == "outbox.retry").count() == 1
    assert sink.applied == {key: 1}
    # a county administrator without outbox.manage is refused
    other = flaky_app.test_client()
    assert sign_in(other, "county.admin").status_code == 302
    assert other.get("/admin/outbox/").status_code == 403


def test_two_workers_at_once_never_send_the_same_message(flaky_app, receiver):
    sink = receiver()
    with flaky_app.app_context():
        _set("flaky_test", "flaky_url", sink.url)
    keys = _enqueue(flaky_app, 40)
    errors = []

    def work():
        try:
            with flaky_app.app_context():
                flaky_app.extensions["bangban"].db.connect(reuse_if_open=True)
                for _ in range(10):
                    outbox.run_once(limit=3)
                if not flaky_app.extensions["bangban"].db.is_closed():
                    flaky_app.extensions["bangban"].db.close()
        except Exception as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    _drain(flaky_app, rounds=2)
    sent = [k for k, _b in sink.requests]
    assert sorted(sent) == sorted(keys)  # each exactly once: no retry was needed, so no second request
    with flaky_app.app_context():
        assert outbox.OutboxMessage.select().where(outbox.OutboxMessage.state == "delivered").count() == 40


def test_enqueue_is_part_of_the_change(flaky_app):
    with flaky_app.app_context():
        with pytest.raises(RuntimeError):
            outbox.enqueue("flaky", "test.event", {}, COUNTY)  # outside a transaction
        with pytest.raises(ValueError):
            with transaction():
                outbox.enqueue("flaky", "other.topic", {}, COUNTY)
        _set("flaky_test", "flaky_url", "http://127.0.0.1:9/")
        with pytest.raises(ZeroDivisionError):
            with transaction():
                outbox.enqueue("flaky", "test.event", {"n": 1}, COUNTY)
                1 / 0
        assert outbox.OutboxMessage.select().count() == 0
        with transaction():
            assert outbox.enqueue("flaky", "test.event", {}, COUNTY, key="k1") is not None
            assert outbox.enqueue("flaky", "test.event", {}, COUNTY, key="k1") is None  # the same key: once
        assert outbox.OutboxMessage.select().count() == 1
        with transaction():  # a county without the URL set sends nothing
            assert outbox.enqueue("flaky", "test.event", {}, "150627") is None


class Refuses:
    @hookimpl(trylast=True)
    def case_moved(self, case, transition):
        if transition.code == "accept":
            raise RuntimeError("a plugin refuses")


def test_built_in_targets_get_accepted_cases_ratings_and_sms_without_names(demo_app, receiver):
    one, good, sms = receiver(["lost"]), receiver(), receiver(["fail"])
    with demo_app.app_context():
        for code, sink in (("one_network", one), ("haochaping", good), ("sms", sms)):
            _set("core.channels", f"{code}_url", sink.url)
        agent = User(Staff.get(Staff.username == "galutu.agent"))
        item = MetadataRecord.get((MetadataRecord.kind == "items") & MetadataRecord.current
                                  & (MetadataRecord.key == "150626-cl-001"))  # 残疾人证新办: promised
        form = _form(90, VILLAGE)
        demo = outbox.OutboxMessage.select().count()  # the demo's log (delivered and dead: not sent again)
        case = service.create_case(item, form, agent)
        assert outbox.OutboxMessage.select().count() == demo  # filing is not news for them
        pm = demo_app.extensions["bangban"].pm
        pm.register(Refuses(), name="refuses")
        with pytest.raises(RuntimeError):
            service.take(case, "accept", agent)
        assert outbox.OutboxMessage.select().count() == demo  # rolled back with the step
        pm.unregister(name="refuses")
        case = service.take(Case.get_by_id(case.id), "accept", agent)
        assert sorted(m.topic for m in outbox.OutboxMessage.select().where(outbox.OutboxMessage.state == "pending")
                      ) == ["case.accepted", "sms.accepted"]
    _drain(demo_app)
    assert len(one.applied) == 1 and len(one.requests) == 2
    [(key, body)] = one.requests[:1]
    assert body["payload"]["case_number"] == case.number and body["payload"]["state"] == "accepted"
    text = json.dumps(one.requests, ensure_ascii=False)
    assert form["applicant_name"] not in text and form["applicant_id_number"] not in text
    assert form["applicant_phone"] not in text
    [(_k, first), (_k2, second)] = sms.requests
    assert second["phone"] == form["applicant_phone"] and second["topic"] == "sms.accepted"
    assert form["applicant_id_number"] not in json.dumps(sms.requests, ensure_ascii=False)
    assert len(sms.applied) == 1
    with demo_app.app_context():
        Case.update(state="archived").where(Case.id == case.id).execute()
        service.take(Case.get_by_id(case.id), "evaluate", agent, {"rating": "2", "comment": "等太久"})
    _drain(demo_app)
    [(_key, rating)] = good.requests
    assert rating["topic"] == "rating.recorded"
    assert rating["payload"]["rating"] == 2 and rating["payload"]["comment"] == "等太久"
    assert rating["payload"]["case_number"] == case.number


def test_the_outbox_command_and_the_outbox_job_deliver(flaky_app, receiver):
    from click.testing import CliRunner

    from core import cli as climod
    from core import registry

    sink = receiver()
    with flaky_app.app_context():
        _set("flaky_test", "flaky_url", sink.url)
    keys = _enqueue(flaky_app, 3)
    pm = flaky_app.extensions["bangban"].pm
    if "outbox" not in climod.cli.commands:
        pm.hook.register_commands(cli=climod.cli)
    ctx = climod.Context()
    ctx._app, ctx._pm = flaky_app, pm
    out = CliRunner().invoke(climod.cli, ["outbox", "run"], obj=ctx)
    assert out.exit_code == 0 and "delivered=3" in out.output, out.output
    assert CliRunner().invoke(climod.cli, ["outbox", "status"], obj=ctx).output.split() == [
        "pending=0", "delivered=3", "dead=0"]
    assert sorted(k for k, _b in sink.requests) == sorted(keys)
    more = _enqueue(flaky_app, 2)
    job = registry.jobs(pm)["outbox"]
    assert registry.owner("jobs", "outbox", pm) == "core.channels" and job["every"] == 60
    with flaky_app.app_context():
        assert job["run"](flaky_app)["delivered"] == 2
    assert sorted(k for k, _b in sink.requests) == sorted(keys + more)
