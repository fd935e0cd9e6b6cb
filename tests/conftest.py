"""Shared fixtures.

Every database test runs twice: on SQLite (a file in a temporary directory)
and on PostgreSQL (``BANGBAN_TEST_PG_URL``, default the local ``test``
database's server, each xdist worker in a database of its own). A missing
PostgreSQL is an error, never a skip.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import peewee
import pytest
from hypothesis import settings as hypothesis_settings

from core import create_app, db as dbmod
from flask.testing import FlaskClient

# A real WSGI server closes every response it sends. The test client leaves
# an unread streamed response (the ledger exports) open, and its
# stream_with_context keeps that request's context pushed: the next request
# of the same thread then ran as the previous request's user. So the test
# client reads and closes every response, unless a test asks for the stream
# itself with buffered=False (tests/test_ledger_export.py).
_open = FlaskClient.open


def _buffered_open(self, *args, buffered=True, **kwargs):
    return _open(self, *args, buffered=buffered, **kwargs)


FlaskClient.open = _buffered_open
from core.paths import METADATA
from werkzeug.serving import make_server

# Hypothesis's 200 ms default deadline fails tests whose examples are slow only
# because the machine is busy (xdist workers, a shared CI host); timing is not
# what any of these tests checks.
hypothesis_settings.register_profile("bangban", deadline=None)
hypothesis_settings.load_profile("bangban")

PG_URL = os.environ.get("BANGBAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BUILTIN = "wushen,bank_partnership,mongolian"


def _admin_db():
    return peewee.PostgresqlDatabase(PG_URL.rsplit("/", 1)[1], **_pg_params(PG_URL))


def _pg_database_for_worker(worker_id, run_id):
    """A database of this worker's own in this test run (two runs at once
    on one machine never share one), created on first use."""
    base = PG_URL.rsplit("/", 1)[0]
    name = f"bangban_test_{run_id}_{worker_id}"
    admin = _admin_db()
    try:
        admin.connect()
    except peewee.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL is required for the tests and is not reachable at {PG_URL}: {exc}") from exc
    admin.connection().autocommit = True
    exists = admin.execute_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not exists:
        admin.execute_sql(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"{base}/{name}"


def _pg_params(url):
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return {"host": parsed.hostname, "port": parsed.port or 5432, "user": parsed.username or "postgres"}


def _reset_pg(url):
    from urllib.parse import urlparse

    database = peewee.PostgresqlDatabase(urlparse(url).path.lstrip("/"), **_pg_params(url))
    database.connect()
    database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
    database.execute_sql("CREATE SCHEMA public")
    database.close()


@pytest.fixture(scope="session")
def pg_url(worker_id, request):
    run_id = getattr(request.config, "workerinput", {}).get("testrunuid", "")[:8] or f"p{os.getpid()}"
    url = _pg_database_for_worker(worker_id, run_id)
    yield url
    admin = _admin_db()
    admin.connect()
    admin.connection().autocommit = True
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url = request.getfixturevalue("pg_url")
    _reset_pg(url)
    return url


@pytest.fixture
def make_app(tmp_path, database_url):
    """Build apps on the test database; close them at the end."""
    made = []

    def make(**overrides):
        settings = dict(data_dir=str(tmp_path / "var"), database_url=database_url, plugins=BUILTIN,
                        secret_key="test-secret")
        settings.update(overrides)
        app = create_app(**settings)
        app.config["TESTING"] = True
        with app.app_context():
            dbmod.migrate()
        made.append(app)
        return app

    yield make
    for app in made:
        database = app.extensions["bangban"].db
        if isinstance(database, peewee.PostgresqlDatabase) and hasattr(database, "close_all"):
            database.close_all()
        elif not database.is_closed():
            database.close()


@pytest.fixture
def pg_app(tmp_path, pg_url):
    """An app on PostgreSQL only (for what SQLite has no twin of)."""
    _reset_pg(pg_url)
    app = create_app(data_dir=str(tmp_path / "var"), database_url=pg_url, plugins=BUILTIN, secret_key="t")
    with app.app_context():
        dbmod.migrate()
    yield app
    app.extensions["bangban"].db.close_all()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def demo_app(app):
    """The app with the demo county loaded (password Bangban@2026)."""
    from core.demo import load_demo

    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def packs(tmp_path):
    """A copy of the shipped packs that a test may edit."""
    target = tmp_path / "packs"
    for name in ("core", "wushen", "demo"):
        shutil.copytree(METADATA / name, target / name)
    # 乌审旗 names the bank partnership's site standard (政银合作 points)
    shutil.copytree(BANK_PACK, target / "bank_partnership")
    return target


BANK_PACK = Path(__file__).parent.parent / "plugins" / "bank_partnership" / "metadata"


def pack_dirs(root: Path, names=("core", "bank_partnership", "wushen", "demo")):
    return [root / n for n in names]


# --- a real server and a real browser (Debian's chromium, Playwright) ----------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(demo_app):
    app = demo_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        yield context.new_page()
        browser.close()


