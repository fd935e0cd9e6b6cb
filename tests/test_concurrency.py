"""Concurrent writers through real HTTP against the app's own server
(``bangban serve`` as the README runs it: gunicorn, several worker
processes, in a subprocess), every process of it killed with SIGKILL in the
middle of the load and restarted, a few rounds, on SQLite and PostgreSQL:
no response but the receipt's 302, every case the client was told about
is there after the restart, receipt numbers run without duplicates or
gaps, and ``bangban audit verify`` passes. Loopback only, bounded loops."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from core.cases.models import Case
from tests.test_bad_input import fill

ROOT = Path(__file__).parent.parent
ITEM = "150626-ybj-003"  # its required text field "destination" carries a marker per submission
WRITERS, ROUNDS = 8, 3
ACKS_BEFORE_KILL = 40  # per round: the kill lands while every writer is busy
ROUND_LIMIT = 40  # seconds; a round that has not reached its acknowledgements by then fails the test
NUMBER = re.compile(r"^(150626)-([0-9]{8})-([0-9]{4})$")


class Browser:
    """One client with its own cookies, over plain http.client (no retries,
    no redirects followed)."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, form=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or ():
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, text

    def csrf(self, path):
        status, _headers, html = self.request("GET", path)
        assert status == 200, (path, status)
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(data_dir, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")}
    env.update(BANGBAN_DATA_DIR=str(data_dir), BANGBAN_DATABASE_URL=database_url, BANGBAN_PLUGINS="wushen,bank_partnership",
               BANGBAN_SECRET_KEY="test-secret")
    return env


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


class Server:
    def __init__(self, env, log):
        self.env, self.log = env, log

    def start(self):
        self.port = free_port()
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(  # its own process group: the master and its workers
                [sys.executable, "-m", "core.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.tail()
            try:
                if Browser(self.port).request("GET", "/sign-in")[0] == 200:
                    return self.port
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not come up in 60 s\n" + self.tail())

    def processes(self):
        """Live processes of the server's group (the master and its workers)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.getpgid(int(entry.name)) == self.process.pid:
                    found.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
        return found

    def kill(self):
        """SIGKILL to every process of the server at once (a power cut, the OOM killer on the service)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)

    def tail(self):
        return Path(self.log).read_text()[-3000:]


def writer(number, round_no, browser, form, token, stop, results):
    """File cases until the server goes away (or ``stop``); record what
    each request answered."""
    n = 0
    while not stop.is_set() and n < 1000:
        marker = f"w{number}-r{round_no}-{n}"
        try:
            status, headers, _html = browser.request("POST", f"/cases/new/{ITEM}",
                                                     {**form, "destination": marker, "csrf_token": token})
        except (OSError, http.client.HTTPException):
            results.append(("interrupted", marker, None))
            return
        results.append((status, marker, headers.get("Location")))
        n += 1


def test_writers_survive_kill_9_without_errors_or_lost_cases(make_app, database_url, tmp_path):
    data_dir = tmp_path / "var"
    env = environment(data_dir, database_url)
    demo = cli(env, "demo", "--history", "0")
    assert demo.returncode == 0, demo.stderr
    server = Server(env, tmp_path / "server.log")
    port = server.start()
    assert len(server.processes()) >= 3, "the writers must meet several worker processes"
    browsers, tokens = [], []
    for _ in range(WRITERS):
        browser = Browser(port)
        token = browser.csrf("/sign-in")
        status, _h, _t = browser.request("POST", "/sign-in", {"username": "galutu.agent", "password": "Bangban@2026",
                                                               "csrf_token": token})
        assert status == 302
        browsers.append(browser)
        tokens.append(browser.csrf(f"/cases/new/{ITEM}"))
    status, _h, spec = browsers[0].request("GET", f"/api/items/{ITEM}/form")
    form = fill(json.loads(spec))
    results, started = [], time.monotonic()
    for round_no in range(ROUNDS):
        if round_no:
            port = server.start()  # the same database and data directory, after a SIGKILL
            for browser in browsers:
                browser.port = port
        stop, round_results = threading.Event(), []
        threads = [threading.Thread(target=writer, args=(i, round_no, b, form, t, stop, round_results), daemon=True)
                   for i, (b, t) in enumerate(zip(browsers, tokens))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + ROUND_LIMIT
        while sum(r[0] == 302 for r in round_results) < ACKS_BEFORE_KILL and time.monotonic() < deadline:
            if any(r[0] not in (302,) for r in round_results):
                break
            time.sleep(0.02)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        answered = [r for r in round_results if r[0] != "interrupted"]
        assert all(r[0] == 302 for r in answered), (sorted({r[0] for r in answered}), server.tail())
        assert len(answered) >= ACKS_BEFORE_KILL, f"round {round_no}: only {len(answered)} answers\n{server.tail()}"
        results.extend(round_results)
    elapsed = time.monotonic() - started
    acknowledged = [(marker, location) for status, marker, location in results if status == 302]
    interrupted = sum(r[0] == "interrupted" for r in results)
    assert interrupted >= 1, "no request was in flight or refused when the server was killed"

    server.start()  # comes back once more: what was acknowledged is there
    server.kill()
    app = make_app()  # the same data directory and database
    with app.app_context():
        for marker, location in acknowledged:
            case_id = int(re.fullmatch(r"(?:http://127\.0\.0\.1:\d+)?/cases/(\d+)/receipt", location).group(1))
            case = Case.get_or_none(Case.id == case_id)
            assert case is not None and case.data["destination"] == marker, (marker, location)
        numbers = [c.number for c in Case.select(Case.number)]
    per_day = {}
    for number in numbers:
        county, day, seq = NUMBER.fullmatch(number).groups()
        per_day.setdefault(day, []).append(int(seq))
    for day, seqs in per_day.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"{day}: duplicates or gaps"
    verify = cli(env, "audit", "verify")
    assert verify.returncode == 0 and "audit chain ok" in verify.stdout, verify.stdout + verify.stderr
    print(f"{database_url.split(':')[0]}: {len(acknowledged)} cases acknowledged, {interrupted} requests cut by "
          f"SIGKILL, {ROUNDS} rounds in {elapsed:.1f} s")


def test_served_to_more_connections_than_users_with_one_rate_limit(database_url, tmp_path):
    """``bangban serve`` keeps 150 connections open at once and answers each
    (one process with 100 connections at most refused some of 100 users);
    a per-address rate limit holds across its worker processes: 24
    simultaneous requests on separate connections against a limit of 6 let
    exactly 6 through, not 6 per worker."""
    env = environment(tmp_path / "var", database_url)
    env["BANGBAN_TRACK_RATE_LIMIT"] = "6/minute"
    demo = cli(env, "demo", "--history", "0")
    assert demo.returncode == 0, demo.stderr
    server = Server(env, tmp_path / "server.log")
    port = server.start()
    try:
        connections = []
        for _ in range(150):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.connect()
            connections.append(connection)
        statuses, lock = [], threading.Lock()

        def ask(connection):
            try:
                connection.request("GET", "/sign-in")
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=ask, args=(c,)) for c in connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for connection in connections:
            connection.close()
        assert statuses == [200] * 150, sorted(set(map(str, statuses)))

        start, results = threading.Barrier(24), []

        def track():
            start.wait()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("GET", "/track/150626-20990101-0001")
                response = connection.getresponse()
                response.read()
            finally:
                connection.close()
            with lock:
                results.append(response.status)

        threads = [threading.Thread(target=track) for _ in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == 24 and results.count(429) == 18, sorted(results)
    finally:
        server.stop()
