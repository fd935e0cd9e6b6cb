"""The app served the way the README serves it (``bangban serve``, a
subprocess on 127.0.0.1), under 100 concurrent signed-in users over real
HTTP (loopback only), on SQLite and PostgreSQL:

1. saturation throughput (100 users, no think time) of the case list and
   of case submission vs hand-written endpoints of the same app under the
   same server (goal >= 0.8x); the hand-written endpoints exist only in the
   bench's server process (``python -m bench.serve_bench serve ...`` is
   ``bangban serve`` with a bench blueprint added to the app: never in the
   product's URL map);
2. the same case list under ``bangban serve --server waitress`` (one
   process, the previous server), the measurement behind the choice;
3. 50 requests/s offered by 100 users with think time (each user about
   every 2 s), 20% submissions, 30% case lists, 50% case details, through
   the README's command: p95 < 300 ms for reads and < 500 ms for
   submissions, 0 errors.

The dataset is the demo county with ``bangban demo --history N`` cases.
"""
from __future__ import annotations

import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
ITEM = "150626-ybj-003"
USERS = 100
ACCOUNTS = ("galutu.agent", "galutu.agent2")  # township agents of 150626100: the same scope
PASSWORD = "Bangban@2026"
NUMBER = re.compile(r"150626-\d{8}-\d{4}")
FORM = {"filing_type": "long_term_residence", "referral_hospital": "内蒙古自治区人民医院",
        "destination": "呼和浩特市", "start_date": "2026-12-01", "material_1": "on", "material_2": "on"}


# --- the hand-written endpoints (bench server process only) ------------------------------------

HAND_LIST = """{% extends "base.html" %}{% block title %}Cases{% endblock %}{% block content %}
<h1>Cases <small class="count">({{ total }})</small></h1>
<table class="list cases"><thead><tr><th>Receipt number</th><th>Item</th><th>Item version</th><th>Applicant</th>
<th>State</th><th>Finish by</th></tr></thead><tbody>
{% for id, number, item, version, name, state, flow, due in rows %}<tr><td><a href="/cases/{{ id }}">{{ number }}</a></td>
<td>{{ names.get(item, {}).get('name')|localized }}</td><td>{{ version }}</td><td>{{ name }}</td>
<td data-state="{{ state }}">{{ state|label("state", flow) }}</td><td>{{ due or "" }}</td></tr>
{% endfor %}</tbody></table>{% endblock %}"""


def install_hand_endpoints(app):
    """``/-/bench/cases`` and ``/-/bench/cases/new``: what a developer would
    write by hand for one township agent's case list (plain SQL, the same
    rows and columns) and for filing this one item (a hand-made marshmallow
    schema, the same four rows and the audit entry)."""
    from flask import redirect, render_template_string, request
    from flask_login import current_user, login_required
    from marshmallow import Schema, fields

    from core import audit, catalog, personal
    from core.cases.models import Case, CaseEvent, Commission
    from core.cases.service import POWERS, next_number, today
    from core.db import proxy, transaction
    from core.forms import valid_id_number, valid_mobile
    from core.models import MetadataRecord

    class HandSchema(Schema):
        applicant_name = fields.String(required=True)
        applicant_id_number = fields.String(required=True, validate=lambda v: valid_id_number(v) is None)
        applicant_phone = fields.String(required=True, validate=lambda v: bool(valid_mobile(v)))
        applicant_division = fields.String(required=True)
        applicant_address = fields.String()
        principal_is_applicant = fields.Boolean()
        filing_type = fields.String(required=True)
        referral_hospital = fields.String(required=True)
        destination = fields.String(required=True)
        start_date = fields.Date(required=True)
        material_1 = fields.Boolean(required=True)
        material_2 = fields.Boolean(required=True)

    schema = HandSchema()

    @login_required
    def hand_list():
        county, township = current_user.county_code, (current_user.region or "")[:9]
        db = proxy.obj
        rows = db.execute_sql(
            "SELECT id, number, item_code, item_version, applicant_name, state, workflow, due_day FROM cases "
            "WHERE county_code = %s AND township_code = %s ORDER BY green_channel IS NULL, id DESC LIMIT 200"
            .replace("%s", db.param), (county, township)).fetchall()
        total = db.execute_sql("SELECT COUNT(*) FROM cases WHERE county_code = %s AND township_code = %s"
                               .replace("%s", db.param), (county, township)).fetchone()[0]
        names = {r.key: r.content for r in catalog.all_current("items", county=county)}
        return render_template_string(HAND_LIST, rows=rows, total=total, names=names)

    @login_required
    def hand_submit():
        data = schema.load({k: v for k, v in request.form.items() if k in schema.fields})
        record = MetadataRecord.get((MetadataRecord.key == ITEM) & MetadataRecord.current)
        region = data["applicant_division"]
        with transaction():
            case = Case.create(county_code="150626", number=next_number("150626", today()), item_code=ITEM,
                               item_record=record.id, item_version=record.version, kind=record.content["kind"],
                               workflow="five_steps", state="applied", township_code=region[:9],
                               village_code=region[:12], owner=current_user.id, applicant_name=data["applicant_name"],
                               applicant_id_number=personal.encrypt(data["applicant_id_number"],
                                                                    "cases.applicant_id_number"),
                               applicant_phone=personal.encrypt(data["applicant_phone"], "cases.applicant_phone"),
                               applicant_id_hash=personal.id_hash(data["applicant_id_number"]),
                               applicant_phone_hash=personal.phone_hash(data["applicant_phone"]),
                               data=personal.protect_mapping({k: str(v) for k, v in data.items()
                                                              if not k.startswith("material_")}, "cases.data"))
            Commission.create(county_code="150626", case=case, principal={"principal_is_applicant": True},
                              materials=[{"name": m["name"], "form": m.get("form"), "count": m.get("count", 1),
                                          "key": bool(m.get("key")), "received": True}
                                         for m in record.content.get("materials", [])],
                              powers=POWERS, created_by=current_user.id)
            CaseEvent.create(county_code="150626", case=case, actor=current_user.id, role=current_user.role,
                             action="apply", to_state="applied")
            audit.record("case.create", f"case:{case.number}", actor=current_user.username, role=current_user.role,
                         county_code="150626", payload={"item": ITEM, "version": record.version})
        return redirect(f"/cases/{case.id}/receipt")

    app.add_url_rule("/-/bench/cases", "bench_hand_list", hand_list)
    app.add_url_rule("/-/bench/cases/new", "bench_hand_submit", hand_submit, methods=["POST"])
    return app


def launch(argv):
    """``bangban serve`` (the same command, options and server) whose app
    also has the hand-written endpoints: every worker builds it through the
    patched factory."""
    import core.app
    from core.cli import main

    factory = core.app.create_app

    def create_app(*args, **kwargs):
        return install_hand_endpoints(factory(*args, **kwargs))

    core.app.create_app = create_app
    main(argv)


# --- the clients ------------------------------------------------------------------------------------

class User:
    """One signed-in person: a keep-alive connection and a cookie jar, like
    a browser (a connection the server closed while idle is opened again,
    as browsers do; any other failure is an error)."""

    def __init__(self, port):
        self.port, self.cookies, self.conn, self.token = port, {}, None, None

    def request(self, method, path, form=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if not reused or attempt:
                    raise
        if response.will_close:
            self.conn.close()
            self.conn = None
        for header in response.headers.get_all("Set-Cookie") or ():
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response.status, text.decode("utf-8", "replace")

    def sign_in(self, username):
        status, html = self.request("GET", "/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        status, _ = self.request("POST", "/sign-in", {"username": username, "password": PASSWORD,
                                                      "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"sign-in of {username}: {status}")
        status, html = self.request("GET", f"/cases/new/{ITEM}")
        if status != 200:
            raise RuntimeError(f"the form of {ITEM}: {status}")
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def sign_in_all(port, n):
    users = [User(port) for _ in range(n)]
    errors = []

    def work(i):
        try:
            users[i].sign_in(ACCOUNTS[i % len(ACCOUNTS)])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    run_threads(work, n, width=10)
    if errors:
        raise RuntimeError(f"{len(errors)} users could not sign in: {errors[:3]}")
    return users


def run_threads(work, n, width=None):
    pending = list(range(n))
    lock = threading.Lock()

    def loop():
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop(0)
            work(i)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(width or n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


APPLICANT = {}
REQUESTS = {
    "list": ("GET", "/cases", None, 200),
    "hand_list": ("GET", "/-/bench/cases", None, 200),
    "submit": ("POST", f"/cases/new/{ITEM}", "form", 302),
    "hand_submit": ("POST", "/-/bench/cases/new", "form", 302),
}


def applicant():
    """A valid applicant (the demo's own generator: a real ID checksum)."""
    from core.cases.demo import _form

    return {k: ("true" if v is True else str(v)) for k, v in _form(3, "150626100201").items()}


def one(user, kind, case_ids=()):
    """Send one request of ``kind``; (ok, seconds, what went wrong)."""
    if kind == "detail":
        method, path, form, expected = "GET", f"/cases/{random.choice(case_ids)}", None, 200  # noqa: S311
    else:
        method, path, form, expected = REQUESTS[kind]
    if form:
        form = {**APPLICANT, **FORM, "csrf_token": user.token}
    started = time.perf_counter()
    try:
        status, _text = user.request(method, path, form)
    except Exception as exc:  # noqa: BLE001 - counted as an error
        user.close()
        user.conn = None
        return False, time.perf_counter() - started, type(exc).__name__
    return status == expected, time.perf_counter() - started, "" if status == expected else f"HTTP {status}"


def saturate(users, kind, seconds):
    """Every user sends ``kind`` back to back for ``seconds``: completed
    requests per second and the errors."""
    stop = time.perf_counter() + seconds
    done, errors = [0] * len(users), []

    def work(i):
        while time.perf_counter() < stop:
            ok, _t, why = one(users[i], kind)
            if ok:
                done[i] += 1
            else:
                errors.append(why)

    started = time.perf_counter()
    run_threads(work, len(users))
    return sum(done) / (time.perf_counter() - started), errors


def paced(users, rate, seconds, case_ids, submit_share=0.2):
    """``rate`` requests/s offered in all, each user after a think time of
    about len(users)/rate seconds: reads (list, detail) and submissions.
    Returns latencies by class and the errors."""
    period = len(users) / rate
    stop = time.perf_counter() + seconds
    lat = {"read": [], "submit": []}
    errors = []

    def work(i):
        rnd = random.Random(i)
        due = time.perf_counter() + rnd.uniform(0, period)
        while due < stop:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            roll = rnd.random()
            kind = "submit" if roll < submit_share else ("list" if roll < submit_share + 0.3 else "detail")
            ok, took, why = one(users[i], kind, case_ids)
            lat["submit" if kind == "submit" else "read"].append(took)
            if not ok:
                errors.append(why)
            due += rnd.uniform(0.5 * period, 1.5 * period)

    started = time.perf_counter()
    run_threads(work, len(users))
    elapsed = time.perf_counter() - started
    return lat, errors, (len(lat["read"]) + len(lat["submit"])) / elapsed


def p95(values):
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else float("inf"))


# --- servers ------------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(data_dir, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")}
    env.update(BANGBAN_DATA_DIR=str(data_dir), BANGBAN_DATABASE_URL=database_url,
               BANGBAN_PLUGINS="wushen,bank_partnership", BANGBAN_SECRET_KEY="bench-secret",
               # a hundred people behind one loopback address: the per-address sign-in limit is for attackers
               BANGBAN_SIGN_IN_RATE_LIMIT="100000/minute")
    return env


class Server:
    """``bangban serve`` in a subprocess (its own process group: stopping it
    stops its workers)."""

    def __init__(self, env, log, module="core.cli", extra=()):
        self.env, self.log, self.module, self.extra = env, log, module, list(extra)

    def __enter__(self):
        self.port = free_port()
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", self.module, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 *self.extra], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server stopped\n" + Path(self.log).read_text()[-3000:])
            try:
                if User(self.port).request("GET", "/sign-in")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("the server did not come up\n" + Path(self.log).read_text()[-3000:])

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def cli(env, *args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True,  # noqa: S603
                          env=env, cwd=ROOT, timeout=timeout, check=True)


def case_ids(user):
    status, html = user.request("GET", "/cases")
    ids = [int(i) for i in re.findall(r'href="/cases/(\d+)"', html)]
    if status != 200 or not ids:
        raise RuntimeError(f"the case list answered {status} with {len(ids)} cases")
    return ids


CASE_LINK = re.compile(r'<a href="/cases/(\d+)">([^<]+)</a>')


def same_rows(user, folder):
    """Whether the hand-written list shows the product's rows (case links and
    receipt numbers, in order); both pages are kept in ``folder``."""
    _s, product = user.request("GET", "/cases")
    _s, hand = user.request("GET", "/-/bench/cases")
    (folder / "list-product.html").write_text(product, encoding="utf-8")
    (folder / "list-hand.html").write_text(hand, encoding="utf-8")
    ours, theirs = CASE_LINK.findall(product), CASE_LINK.findall(hand)
    if ours == theirs and ours:
        return ""
    missing = [n for _i, n in ours if (_i, n) not in theirs][:3]
    extra = [n for _i, n in theirs if (_i, n) not in ours][:3]
    return f"; NOT THE SAME ROWS: {len(ours)} vs {len(theirs)}, only in the product {missing}, only by hand {extra}"


# --- the section ---------------------------------------------------------------------------------------

def run(ctx):
    from bench.report import Row, fresh_pg, pg_url

    APPLICANT.update(applicant())

    history = 200 if ctx.quick else 2000
    phase = 3 if ctx.quick else 8
    rounds = 1 if ctx.quick else max(2, min(ctx.repeat, 3))
    paced_seconds = 8 if ctx.quick else 30
    users_n = 20 if ctx.quick else USERS
    rate = 10 if ctx.quick else 50
    rows = []
    for db in ctx.dbs:
        folder = ctx.tmp / f"serve-{db}"
        folder.mkdir(parents=True, exist_ok=True)
        if db == "postgresql":
            url = pg_url("serve")
            fresh_pg(url)
        else:
            url = f"sqlite:///{folder / 'bangban.db'}"
        env = environment(folder / "var", url)
        cli(env, "demo", "--history", str(history))
        log = folder / "server.log"

        # 1. saturation: the product's endpoints vs the hand-written ones, same server, interleaved
        rates = {k: [] for k in REQUESTS}
        errors = []
        with Server(env, log, module="bench.serve_bench") as server:
            users = sign_in_all(server.port, users_n)
            differs = same_rows(users[0], folder)
            for kind in REQUESTS:  # warm every worker
                saturate(users, kind, 1)
            for _ in range(rounds):
                for kind in REQUESTS:
                    got, errs = saturate(users, kind, phase)
                    rates[kind].append(got)
                    errors += errs
            for u in users:
                u.close()
        med = {k: statistics.median(v) for k, v in rates.items()}
        note = f"; {len(errors)} errors {sorted(set(errors))[:3]}" if errors else ""
        for measure, kind in (("served case list throughput vs hand-written", "list"),
                              ("served case submission throughput vs hand-written", "submit")):
            value = med[kind] / med["hand_" + kind]
            unlike = differs if kind == "list" else ""
            rows.append(Row(measure, db, value, ">= 0.8x", value >= 0.8 and not errors and not unlike,
                            f"{med[kind]:.0f}/s vs {med['hand_' + kind]:.0f}/s, {users_n} users{note}{unlike}"))

        # 2. the same list under waitress, one process (the server before this one)
        waitress_rates, werrors = [], []
        with Server(env, log, extra=["--server", "waitress"]) as server:
            users = sign_in_all(server.port, users_n)
            saturate(users, "list", 1)
            for _ in range(rounds):
                got, errs = saturate(users, "list", phase)
                waitress_rates.append(got)
                werrors += errs
            for u in users:
                u.close()
        w = statistics.median(waitress_rates)
        rows.append(Row("served case list throughput: gunicorn (chosen) vs waitress", db, med["list"] / w, ">= 1.0x",
                        med["list"] >= w, f"{med['list']:.0f}/s vs {w:.0f}/s; waitress errors: {len(werrors)}"))

        # 3. paced load through the README's command: latency and errors
        with Server(env, log) as server:
            users = sign_in_all(server.port, users_n)
            ids = case_ids(users[0])
            paced(users, rate, 3, ids)  # warm
            lat, errs, achieved = paced(users, rate, paced_seconds, ids)
            for u in users:
                u.close()
        note = f"; errors: {len(errs)} {sorted(set(errs))[:3]}" if errs else ""
        for kind, limit in (("read", 0.3), ("submit", 0.5)):
            values = lat[kind]
            value = p95(values) * 1000
            rows.append(Row(f"p95 {kind}s at {rate} req/s offered by {users_n} users", db, value,
                            f"< {limit * 1000:.0f} ms", value < limit * 1000 and not errs,
                            f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {value:.0f} ms, {len(values)} "
                            f"requests, {achieved:.1f} req/s served{note}"))
    return rows


if __name__ == "__main__":  # the bench's server: ``python -m bench.serve_bench serve --port N``
    launch(sys.argv[1:])
