"""Operating a county server (issue 14): backup while serving and restore
into the other database, transfer, the health endpoint, jobs and their
locks, the request log, migrate's refusals, audit key epochs.

Each test runs with the source on SQLite and on PostgreSQL; backup, restore
and transfer go into the *other* database on a fresh data directory."""
from __future__ import annotations

import datetime
import json
import re
import threading
import time
from pathlib import Path

import peewee
import pytest

from core import create_app, db as dbmod
from core.cases.models import Case
from core.models import AuditEntry, UserSession
from tests.conftest import BUILTIN, _reset_pg
from tests.helpers import csrf_token, sign_in

PASSPHRASE = "correct horse battery staple"
AGENT = "galutu.agent"  # 乌审旗's 嘎鲁图镇 agent, who may reveal (tests/test_personal_data.py)


@pytest.fixture
def other_url(request, database_url, tmp_path):
    """The database a backup is restored (or transferred) into: the other kind."""
    if database_url.startswith("sqlite"):
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
        return url
    return f"sqlite:///{tmp_path / 'fresh' / 'db.sqlite3'}"


@pytest.fixture
def fresh(tmp_path, other_url):
    """Build apps on the other database with a fresh data directory."""
    made = []

    def make(**kw):
        settings = dict(data_dir=str(tmp_path / "fresh"), database_url=other_url, plugins=BUILTIN,
                        secret_key="fresh-secret")
        settings.update(kw)
        app = create_app(**settings)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        database = app.extensions["bangban"].db
        if hasattr(database, "close_all"):
            database.close_all()
        elif not database.is_closed():
            database.close()


def _reveal(app, case_id):
    """The commission page's revealed ID number, through HTTP (audited)."""
    client = app.test_client()
    assert sign_in(client, AGENT).status_code == 302
    token = csrf_token(client, f"/cases/{case_id}/commission")
    html = client.post(f"/cases/{case_id}/commission", data={"csrf_token": token}).get_data(as_text=True)
    found = re.findall(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])", html)
    assert found, "no full ID number on the revealed commission page"
    return found[0]


def _counts(db, names):
    return {n: peewee.Table(n).bind(db).select(peewee.fn.COUNT(peewee.SQL("*"))).scalar() for n in names}


def _agent_case(app):
    with app.app_context():
        return Case.select().where(Case.township_code == "150626100").order_by(Case.id).first()


def test_backup_while_serving_then_restore_into_the_other_database(demo_app, fresh, tmp_path):
    from core.ops.backup import backup
    from core.ops.keys import export_keys, import_keys
    from core.ops.restore import restore

    case = _agent_case(demo_app)
    original = _reveal(demo_app, case.id)
    with demo_app.app_context():
        states = {c.state for c in Case.select()}
    assert len(states) >= 8  # the demo has cases in (nearly) every state

    # requests are served (each reveal writes an audit entry) while the backup runs
    stop, served, errors = threading.Event(), [], []

    def serve():
        client = demo_app.test_client()
        sign_in(client, AGENT)
        while not stop.is_set():
            token = csrf_token(client, f"/cases/{case.id}/commission")
            response = client.post(f"/cases/{case.id}/commission", data={"csrf_token": token})
            (served if response.status_code == 200 else errors).append((time.monotonic(), response.status_code))

    worker = threading.Thread(target=serve)
    worker.start()
    while not served:
        time.sleep(0.01)
    started = time.monotonic()
    manifest = backup(demo_app, tmp_path / "backup")
    ended = time.monotonic()
    time.sleep(0.2)
    stop.set()
    worker.join()
    assert errors == []
    assert any(started <= t <= ended for t, _s in served) or len(served) > 2
    assert not any(p.name in ("data.key", "audit.key", "secret.key") for p in (tmp_path / "backup").rglob("*"))
    export_keys(demo_app.config["BANGBAN"], tmp_path / "keys.export", PASSPHRASE)

    # the manifest counted what it holds: the chain's head is the last entry in the file
    lines = (tmp_path / "backup" / "tables" / "audit_entry.jsonl").read_text().splitlines()
    assert len(lines) == manifest["tables"]["audit_entry"]["rows"]
    assert manifest["audit_head"]["seq"] == json.loads(lines[-1])[manifest["tables"]["audit_entry"]["columns"].index("seq")]

    # a fresh machine: the keys come from the export, the data from the backup
    conf = {"DATA_KEY_FILE": str(tmp_path / "fresh" / "data.key"), "AUDIT_KEY_FILE": str(tmp_path / "fresh" / "audit.key"),
            "DATA_DIR": str(tmp_path / "fresh")}
    assert sorted(import_keys(conf, tmp_path / "keys.export", PASSPHRASE)) == ["audit_key", "data_key"]
    target = fresh()
    report = restore(target, tmp_path / "backup")
    assert report.rows == sum(t["rows"] for t in manifest["tables"].values())
    assert report.decrypted > 0
    with target.app_context():
        db = dbmod.proxy.obj
        counts = _counts(db, manifest["order"])
        for name in manifest["order"]:
            extra = 1 if name == "audit_entry" else 0  # the restore's own audit entry
            assert counts[name] == manifest["tables"][name]["rows"] + extra, name
        verified = target.extensions["bangban"].audit.verify()
        assert verified.ok, verified.message
        assert verified.count == manifest["tables"]["audit_entry"]["rows"] + 1
        assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 0
        assert dbmod.pending_migrations() == []
    # ids and sequences: the case has the same id, and a new row takes the next id
    assert _reveal(target, case.id) == original
    with target.app_context():
        newest = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
        assert newest.action == "personal_data.reveal"
        assert newest.id == newest.seq  # ids continue past the restored rows


def test_restore_refuses_a_damaged_backup_and_a_database_with_data(demo_app, fresh, tmp_path):
    from core.ops.backup import backup
    from core.ops.restore import RestoreError, restore

    backup(demo_app, tmp_path / "backup")
    keys = Path(demo_app.config["BANGBAN"]["DATA_KEY_FILE"]).read_text()
    audit_key = Path(demo_app.config["BANGBAN"]["AUDIT_KEY_FILE"]).read_text()
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "data.key").write_text(keys)
    (tmp_path / "fresh" / "audit.key").write_text(audit_key)

    damaged = tmp_path / "backup" / "tables" / "cases.jsonl"
    good = damaged.read_bytes()
    damaged.write_bytes(good.replace(b"150626", b"150627", 1))
    target = fresh()
    with pytest.raises(RestoreError, match="cases.jsonl does not match its checksum"):
        restore(target, tmp_path / "backup")
    with target.app_context():
        assert dbmod.proxy.obj.get_tables() == []  # nothing was written
    damaged.write_bytes(good)

    restore(target, tmp_path / "backup")
    with pytest.raises(RestoreError, match="a restore never merges"):
        restore(target, tmp_path / "backup")
    report = restore(target, tmp_path / "backup", replace=True)
    with target.app_context():
        assert Case.select().count() == _counts(demo_app.extensions["bangban"].db, ["cases"])["cases"]
        assert target.extensions["bangban"].audit.verify().ok
    assert report.decrypted > 0


def test_restore_with_the_wrong_keys_fails_on_decryption(demo_app, fresh, tmp_path):
    from core.ops.backup import backup
    from core.ops.restore import RestoreError, restore

    backup(demo_app, tmp_path / "backup")
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "audit.key").write_text(Path(demo_app.config["BANGBAN"]["AUDIT_KEY_FILE"]).read_text())
    target = fresh()  # a fresh data key is generated: not the one the data was encrypted with
    with pytest.raises(RestoreError, match="does not open the restored data"):
        restore(target, tmp_path / "backup")


def test_transfer_copies_everything_and_verifies(demo_app, fresh, other_url, tmp_path):
    from core.ops.transfer import TransferError, transfer

    case = _agent_case(demo_app)
    original = _reveal(demo_app, case.id)
    client = demo_app.test_client()
    sign_in(client, AGENT)  # an open session, to be ended by the move
    source_db = demo_app.extensions["bangban"].db
    names = [t for t in source_db.get_tables() if t not in ("schema_migration", "audit_purge_window")]
    with demo_app.app_context():
        before = _counts(source_db, names)
        head = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
        states = sorted({c.state for c in Case.select()})
    report = transfer(demo_app, other_url)
    assert report.rows == sum(before.values())
    with pytest.raises(TransferError, match="holds data"):
        transfer(demo_app, other_url)

    # the source is untouched; the target has the same rows plus the transfer's audit entry
    with demo_app.app_context():
        assert _counts(source_db, names) == before
    target = fresh(data_dir=demo_app.config["BANGBAN"]["DATA_DIR"])  # the same server, the other database
    with target.app_context():
        after = _counts(dbmod.proxy.obj, names)
        assert after == {**before, "audit_entry": before["audit_entry"] + 1}
        moved = AuditEntry.get(AuditEntry.seq == head.seq)
        assert (moved.id, moved.mac) == (head.id, head.mac)
        assert AuditEntry.select().order_by(AuditEntry.seq.desc()).first().action == "ops.transfer"
        assert target.extensions["bangban"].audit.verify().ok
        assert sorted({c.state for c in Case.select()}) == states
        assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 0
    assert _reveal(target, case.id) == original


def test_health_needs_a_person_until_the_jobs_ran(demo_app):
    from core.ops.jobs import run_jobs

    client = demo_app.test_client()
    response = client.get("/-/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["backup"] == {"ok": False, "age_seconds": None}
    assert sorted(body["checks"]["jobs"]["overdue"]) == ["audit_anchor", "audit_purge", "backup", "outbox",
                                                          "rating_invitations", "sla_scan"]

    results = run_jobs(demo_app)
    assert [(r["code"], r["status"]) for r in results] == [
        ("sla_scan", "ok"), ("audit_anchor", "ok"), ("audit_purge", "ok"), ("backup", "ok"), ("outbox", "ok"),
        ("rating_invitations", "ok")]
    response = client.get("/-/health")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["backup"]["age_seconds"] < 60
    assert body["checks"]["audit_anchor"]["entries_after"] == 0
    text = response.get_data(as_text=True)
    assert not re.search(r"[0-9]{11}", text)  # no ID number, no phone
    with demo_app.app_context():
        names = {s.name for s in __import__("core.models", fromlist=["Staff"]).Staff.select()}
    assert not any(name in text for name in names)

    # a run "--due" right after does nothing; the backup job kept BACKUP_KEEP backups
    again = run_jobs(demo_app, due_only=True)
    assert {r["status"] for r in again} == {"not due"}


def test_a_job_runs_once_at_a_time(demo_app):
    from core.ops.jobs import job_lock, registered, run_one

    holding, release = threading.Event(), threading.Event()

    def hold():
        with demo_app.app_context():
            with job_lock(demo_app, "sla_scan") as held:
                assert held
                holding.set()
                release.wait(10)
            if dbmod.is_postgres():
                dbmod.proxy.obj.close()

    other = threading.Thread(target=hold)
    other.start()
    holding.wait(10)
    with demo_app.app_context():
        job = registered(demo_app)["sla_scan"]
        assert run_one(demo_app, job)["status"] == "skipped"
        release.set()
        other.join()
        first = run_one(demo_app, job)
        second = run_one(demo_app, job)
    assert first["status"] == second["status"] == "ok"
    assert second["summary"] == {"opened": 0, "stopped": 0, "rectifications_escalated": 0}  # idempotent: the first did the work


def test_backup_job_keeps_the_configured_number(make_app, tmp_path):
    from core.ops.jobs import registered, run_one

    app = make_app(backup_keep=2)
    with app.app_context():
        job = registered(app)["backup"]
        for _ in range(3):
            assert run_one(app, job)["status"] == "ok"
            time.sleep(1.1)  # backups are named by the second
    kept = sorted(p.name for p in (Path(app.config["BANGBAN"]["BACKUP_DIR"])).iterdir())
    assert len(kept) == 2


def test_request_log_is_json_without_personal_data(make_app, tmp_path):
    from core.demo import load_demo

    log_file = tmp_path / "requests.log"
    app = make_app(request_log=str(log_file))
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
    client = app.test_client()
    sign_in(client, AGENT)
    case = _agent_case(app)
    with app.app_context():
        phone = case.phone()
    response = client.get(f"/cases/{case.id}?phone={phone}", headers={"X-Request-Id": "monitor-12345678"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "monitor-12345678"
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    mine = [line for line in lines if line["request_id"] == "monitor-12345678"]
    assert len(mine) == 1
    line = mine[0]
    with app.app_context():
        from core.models import Staff

        agent_id = Staff.get(Staff.username == AGENT).id
    assert line["route"] == "/cases/<int:case_id>" and line["status"] == 200 and line["method"] == "GET"
    assert line["user_id"] == agent_id and line["duration_ms"] >= 0
    text = log_file.read_text()
    assert phone not in text and AGENT not in text and str(case.id) not in json.dumps(line["route"])


def test_migrate_refuses_a_newer_schema(app):
    from click.testing import CliRunner

    from core.cli import Context, build

    with app.app_context():
        table = peewee.Table("schema_migration", ("name", "applied")).bind(dbmod.proxy.obj)
        table.insert(name="9999_from_the_future", applied=datetime.datetime.now()).execute()
        with pytest.raises(dbmod.SchemaNewer):
            dbmod.migrate()
    group, _ctx = build()
    ctx = Context()
    ctx._app = app
    result = CliRunner().invoke(group, ["migrate"], obj=ctx)
    assert result.exit_code == 1
    assert "9999_from_the_future" in result.output and "nothing was changed" in result.output


def test_audit_key_rotation_starts_an_epoch(app, tmp_path):
    from core import audit
    from core.audit import AuditLog, load_audit_keys
    from core.ops.keys import rotate_audit_key

    log = app.extensions["bangban"].audit
    key_file = Path(app.config["BANGBAN"]["AUDIT_KEY_FILE"])
    old_epoch, old_keys = load_audit_keys(key_file)
    with app.app_context():
        with dbmod.transaction():
            audit.record("test.before", "x")
        # a second process that read the key file before the rotation
        stale = AuditLog((old_epoch, dict(old_keys)), log.anchor_dir, key_file=key_file)
        assert rotate_audit_key(app) == 1
        with dbmod.transaction():
            audit.record("test.after", "x")
        app.extensions["bangban"].audit = stale
        try:
            with dbmod.transaction():
                audit.record("test.stale_process", "x")  # finds the chain ahead: re-reads the key file
        finally:
            app.extensions["bangban"].audit = log
        assert stale.epoch == 1
        rows = [(e.action, e.key_epoch) for e in AuditEntry.select().order_by(AuditEntry.seq)]
        assert rows[-5:] == [("test.before", None), ("audit.key_epoch", 1), ("keys.rotate_audit", 1),
                             ("test.after", 1), ("test.stale_process", 1)]
        assert log.verify().ok
        # someone holding only the old key appends an entry of epoch 0: refused
        thief = AuditLog(old_keys[0], log.anchor_dir)
        head = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
        fields = dict(seq=head.seq + 1, created_at=head.created_at, county_code="", actor="x", role="x",
                      action="test.forged", entity="x", payload="{}", prev_hash=head.mac)
        with dbmod.transaction():
            AuditEntry.create(mac=thief.mac(**fields), **fields)
        result = log.verify()
        assert not result.ok and "retired key" in result.message


def test_the_commands_end_to_end(demo_app, other_url, tmp_path):
    """backup, keys export, then restore --keys on a fresh machine, as an operator types them."""
    from click.testing import CliRunner

    from core.cli import Context, build

    case = _agent_case(demo_app)
    original = _reveal(demo_app, case.id)
    conf = demo_app.config["BANGBAN"]
    source_env = {"BANGBAN_DATA_DIR": conf["DATA_DIR"], "BANGBAN_DATABASE_URL": conf["DATABASE_URL"],
                  "BANGBAN_PLUGINS": BUILTIN, "BANGBAN_SECRET_KEY": "test-secret",
                  "BANGBAN_KEYS_PASSPHRASE": PASSPHRASE}
    group, _ = build()
    runner = CliRunner()
    done = runner.invoke(group, ["backup", str(tmp_path / "b")], obj=Context(), env=source_env)
    assert done.exit_code == 0, done.output
    assert "NOT in this backup" in done.output
    done = runner.invoke(group, ["keys", "export", str(tmp_path / "k")], obj=Context(), env=source_env)
    assert done.exit_code == 0, done.output

    fresh_env = {**source_env, "BANGBAN_DATA_DIR": str(tmp_path / "new"), "BANGBAN_DATABASE_URL": other_url,
                 "BANGBAN_SECRET_KEY": "new-secret"}
    ctx = Context()
    done = runner.invoke(group, ["restore", str(tmp_path / "b"), "--keys", str(tmp_path / "k")], obj=ctx,
                         env=fresh_env)
    assert done.exit_code == 0, done.output
    assert "counts match" in done.output and "audit chain ok" in done.output
    try:
        assert _reveal(ctx.app, case.id) == original
        again = runner.invoke(group, ["restore", str(tmp_path / "b")], obj=Context(), env=fresh_env)
        assert again.exit_code == 1 and "never merges" in again.output
    finally:
        database = ctx.app.extensions["bangban"].db
        database.close_all() if hasattr(database, "close_all") else database.close()


def test_health_answers_503_when_the_database_is_unreachable(tmp_path):
    app = create_app(data_dir=str(tmp_path / "var"), database_url="postgresql://postgres@127.0.0.1:9/none",
                     plugins=BUILTIN, secret_key="t")
    response = app.test_client().get("/-/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "attention", "checks": {"database": {"ok": False}}}


def test_jobs_commands(demo_app):
    from click.testing import CliRunner

    from core.cli import Context, build

    group, _ = build()
    ctx = Context()
    ctx._app = demo_app
    runner = CliRunner()
    done = runner.invoke(group, ["jobs", "run", "sla_scan", "audit_anchor"], obj=ctx)
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert [line.split()[:2] for line in lines] == [["sla_scan", "ok"], ["audit_anchor", "ok"]]
    listed = runner.invoke(group, ["jobs", "list"], obj=ctx).output.splitlines()
    assert [line.split()[0] for line in listed] == ["sla_scan", "audit_anchor", "audit_purge", "backup", "outbox",
                                                    "rating_invitations"]
    assert "OVERDUE" not in listed[0] and "OVERDUE" in listed[3]
    unknown = runner.invoke(group, ["jobs", "run", "nightly_magic"], obj=ctx)
    assert unknown.exit_code == 1 and "unknown job(s) nightly_magic" in unknown.output
