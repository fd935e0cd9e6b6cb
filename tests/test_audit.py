"""The audit chain on SQLite and PostgreSQL: append-only in the database,
and every kind of tampering found by ``audit verify``."""
import datetime
import json

import peewee
import pytest
from click.testing import CliRunner

from core import audit, cli as climod
from core.db import is_postgres, proxy, transaction
from core.models import AuditEntry


def write_entries(n=5):
    with transaction():
        for i in range(n):
            audit.record("test.action", f"thing:{i}", actor="tester", role="county_admin",
                         payload={"n": i, "名字": "乌审旗"}, county_code="150626")


def tamper(sql, params=()):
    """What an intruder with database access could do: switch the guard off."""
    db = proxy.obj
    if is_postgres(db):
        with db.atomic():
            db.execute_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
            db.execute_sql(sql, params)
            db.execute_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")
    else:
        db.execute_sql("DROP TRIGGER audit_entry_no_update")
        db.execute_sql("DROP TRIGGER audit_entry_no_delete")
        db.execute_sql(sql.replace("%s", "?"), params)


def test_record_requires_a_transaction(app):
    with app.app_context(), pytest.raises(audit.AuditError):
        audit.record("x", "y")


def test_chain_verifies_and_links(app):
    with app.app_context():
        write_entries(5)
        rows = list(AuditEntry.select().order_by(AuditEntry.seq))
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.mac for a, b in zip(rows, rows[1:]))
        assert "乌审旗" in rows[0].payload  # stored as text, not \\u escapes
        result = app.extensions["bangban"].audit.verify()
        assert result.ok and result.count == 5


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2",
    "DELETE FROM audit_entry WHERE seq = 5",
])
def test_database_refuses_update_and_delete(app, statement):
    with app.app_context():
        write_entries(5)
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with proxy.obj.atomic():
                proxy.obj.execute_sql(statement)
        assert AuditEntry.select().count() == 5
        assert AuditEntry.get(AuditEntry.seq == 2).actor == "tester"


def test_postgres_refuses_truncate(pg_app):
    app = pg_app
    with app.app_context():
        assert is_postgres()
        write_entries(2)
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with proxy.obj.atomic():
                proxy.obj.execute_sql("TRUNCATE audit_entry")
        assert AuditEntry.select().count() == 2


def verify(app):
    return app.extensions["bangban"].audit.verify()


def test_edited_entry_is_found(app):
    with app.app_context():
        write_entries(5)
        tamper("UPDATE audit_entry SET payload = %s WHERE seq = 3", ('{"n": 99}',))
        result = verify(app)
        assert not result.ok and result.first_bad == 3 and "edited" in result.message


def test_deleted_entry_is_found(app):
    with app.app_context():
        write_entries(5)
        tamper("DELETE FROM audit_entry WHERE seq = 2")
        result = verify(app)
        assert not result.ok and result.first_bad == 3


def test_reordered_entries_are_found(app):
    with app.app_context():
        write_entries(5)
        # swap the content of entries 2 and 4 (keeping each row's seq)
        cols = "created_at, actor, role, action, entity, payload, prev_hash, mac"
        two = proxy.obj.execute_sql(f"SELECT {cols} FROM audit_entry WHERE seq = 2").fetchone()
        four = proxy.obj.execute_sql(f"SELECT {cols} FROM audit_entry WHERE seq = 4").fetchone()
        assign = ", ".join(f"{c.strip()} = %s" for c in cols.split(","))
        tamper(f"UPDATE audit_entry SET {assign} WHERE seq = 2", four)
        if is_postgres():
            tamper(f"UPDATE audit_entry SET {assign} WHERE seq = 4", two)
        else:
            proxy.obj.execute_sql(f"UPDATE audit_entry SET {assign.replace('%s', '?')} WHERE seq = 4", two)
        result = verify(app)
        assert not result.ok and result.first_bad == 2


def test_truncated_tail_is_found_through_the_anchor(app):
    with app.app_context():
        write_entries(5)
        assert app.extensions["bangban"].audit.write_anchor() is not None
        tamper("DELETE FROM audit_entry WHERE seq >= 4")
        result = verify(app)
        assert not result.ok and result.first_bad == 4 and "truncated" in result.message


def test_cli_verify_exit_codes(app, monkeypatch):
    with app.app_context():
        write_entries(3)
    runner = CliRunner()
    ctx = climod.Context()
    ctx._app, ctx._pm = app, app.extensions["bangban"].pm
    ok = runner.invoke(climod.cli, ["audit", "verify"], obj=ctx)
    assert ok.exit_code == 0 and "3 entries" in ok.output
    with app.app_context():
        tamper("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 1")
    bad = runner.invoke(climod.cli, ["audit", "verify"], obj=ctx)
    assert bad.exit_code == 1
    assert "entry 1" in bad.output


def test_concurrent_writers_keep_one_chain(app):
    """Two threads appending at once never fork the chain."""
    import threading

    errors = []

    def worker():
        try:
            with app.app_context():
                proxy.obj.connect(reuse_if_open=True)
                for _ in range(10):
                    write_entries(1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            if not proxy.obj.is_closed():
                proxy.obj.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        result = verify(app)
        assert result.ok and result.count == 30


def test_retention_purge_removes_only_old_entries_and_chain_still_verifies(app, monkeypatch):
    import datetime as dt

    with app.app_context():
        log = app.extensions["bangban"].audit
        real_now = audit.now
        monkeypatch.setattr(audit, "now", lambda: real_now() - dt.timedelta(days=200))
        write_entries(3)  # 200 days old
        monkeypatch.setattr(audit, "now", lambda: real_now() - dt.timedelta(days=100))
        write_entries(2)  # 100 days old: younger than the minimum retention
        monkeypatch.setattr(audit, "now", real_now)
        assert log.write_anchor() is not None
        with pytest.raises(audit.AuditError):
            log.purge(30)  # below six months: refused
        assert log.purge(184) == 3
        seqs = [e.seq for e in AuditEntry.select().order_by(AuditEntry.seq)]
        assert seqs == [4, 5, 6]  # 6 is the purge's own entry
        assert log.purge(184) == 0
        # the guard still refuses deleting a young entry outside a purge
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with proxy.obj.atomic():
                proxy.obj.execute_sql("DELETE FROM audit_entry WHERE seq = 4")
        result = log.verify()
        assert result.ok, result.message
        tamper("UPDATE audit_entry SET actor = 'x' WHERE seq = 4")
        assert log.verify().first_bad == 4


# --- purges must be vouched for; the app anchors the head itself -----------

def sql(statement, params=()):
    """A statement as an intruder with SQL access (but not the key) runs it."""
    proxy.obj.execute_sql(statement if is_postgres() else statement.replace("%s", "?"), params)


def delete_through_a_window(through_seq, close_window=True):
    """Delete the oldest entries the way a purge does, through a purge window
    opened by hand: the triggers stay on and let it through."""
    with proxy.obj.atomic():
        sql("INSERT INTO audit_purge_window (before) VALUES (%s)", ("9999",))
        sql("DELETE FROM audit_entry WHERE seq <= %s", (through_seq,))
        if close_window:
            sql("DELETE FROM audit_purge_window")


def forge_checkpoint(seq):
    """A checkpoint for entry ``seq`` (copied from the row before deleting it)."""
    entry = AuditEntry.get(AuditEntry.seq == seq)
    return lambda: sql("INSERT INTO audit_checkpoint (seq, mac, created_at) VALUES (%s, %s, %s)",
                       (entry.seq, entry.mac, entry.created_at))


@pytest.mark.parametrize("anchored", [False, True], ids=["no-anchor", "anchor-at-head"])
def test_oldest_entries_deleted_with_a_forged_checkpoint_are_found(app, anchored):
    with app.app_context():
        log = app.extensions["bangban"].audit
        write_entries(40)
        if anchored:
            assert log.write_anchor() is not None
        forge = forge_checkpoint(30)
        delete_through_a_window(30)
        forge()
        assert AuditEntry.select().count() == 10
        result = log.verify()
        assert not result.ok
        assert "no audit.purge entry in the chain vouches for it" in result.message


MIN_RETENTION = audit.MIN_RETENTION_DAYS


def purge_at(log, monkeypatch, days_ago, retention=MIN_RETENTION):
    """Run ``audit purge`` as if it were ``days_ago`` days ago."""
    real_now = audit.now
    monkeypatch.setattr(audit, "now", lambda: real_now() - datetime.timedelta(days=days_ago))
    try:
        return log.purge(retention)
    finally:
        monkeypatch.setattr(audit, "now", real_now)


def write_at(monkeypatch, days_ago, n):
    real_now = audit.now
    monkeypatch.setattr(audit, "now", lambda: real_now() - datetime.timedelta(days=days_ago))
    try:
        write_entries(n)
    finally:
        monkeypatch.setattr(audit, "now", real_now)


def test_a_legitimate_purge_is_vouched_by_its_entry_and_verifies(app, monkeypatch):
    from core.models import AuditCheckpoint

    with app.app_context():
        log = app.extensions["bangban"].audit
        write_at(monkeypatch, 400, 3)  # 1-3
        assert purge_at(log, monkeypatch, 200) == 3  # its entry is 4, 200 days old
        write_at(monkeypatch, 190, 2)  # 5-6
        write_at(monkeypatch, 10, 1)  # 7
        assert log.purge(MIN_RETENTION) == 3  # 4-6: the first purge's entry goes too; its entry is 8
        assert [e.seq for e in AuditEntry.select().order_by(AuditEntry.seq)] == [7, 8]
        rows = [(c.seq, c.purge_seq) for c in AuditCheckpoint.select()]
        assert rows == [(6, 8)]  # one checkpoint, tied to the purge that wrote it
        purge = AuditEntry.get(AuditEntry.seq == 8)
        assert purge.action == "audit.purge"
        assert json.loads(purge.payload)["through_seq"] == 6
        result = log.verify()
        assert result.ok, result.message
        assert result.count == 2
        # the seal is checked: an edited one fails
        sql("UPDATE audit_checkpoint SET seal = %s", ("0" * 64,))
        result = log.verify()
        assert not result.ok and "seal does not verify" in result.message
    runner, ctx = CliRunner(), climod.Context()
    ctx._app, ctx._pm = app, app.extensions["bangban"].pm
    assert runner.invoke(climod.cli, ["audit", "verify"], obj=ctx).exit_code == 1


def test_a_checkpoint_moved_past_more_deleted_entries_is_found(app, monkeypatch):
    with app.app_context():
        log = app.extensions["bangban"].audit
        write_at(monkeypatch, 400, 3)  # 1-3
        assert log.purge(MIN_RETENTION) == 3  # entry 4
        write_entries(40)  # 5-44
        assert log.write_anchor() is not None
        moved = AuditEntry.get(AuditEntry.seq == 30)
        delete_through_a_window(30)  # 4-30, the purge's entry among them
        sql("UPDATE audit_checkpoint SET seq = %s, mac = %s, created_at = %s",
            (moved.seq, moved.mac, moved.created_at))
        result = log.verify()
        assert not result.ok and "seal does not verify" in result.message


def test_a_checkpoint_sealed_with_another_key_is_found(app):
    import hashlib
    import hmac as hmac_mod

    with app.app_context():
        log = app.extensions["bangban"].audit
        write_entries(40)
        last = AuditEntry.get(AuditEntry.seq == 30)
        # a purge entry of the intruder's own cannot be MACed either: point at a real entry
        message = json.dumps(["audit.checkpoint", 30, last.mac, last.created_at, 40], separators=(",", ":"))
        forged = hmac_mod.new(b"not the key", message.encode(), hashlib.sha256).hexdigest()
        delete_through_a_window(30)
        sql("INSERT INTO audit_checkpoint (seq, mac, created_at, purge_seq, seal) VALUES (%s, %s, %s, %s, %s)",
            (30, last.mac, last.created_at, 40, forged))
        result = log.verify()
        assert not result.ok and "seal does not verify" in result.message


@pytest.mark.parametrize("deleted", [0, 2], ids=["window-only", "window-and-deleted"])
def test_a_purge_window_opened_by_hand_is_found(app, deleted):
    with app.app_context():
        log = app.extensions["bangban"].audit
        write_entries(5)
        if deleted:
            forge = forge_checkpoint(deleted)
            delete_through_a_window(deleted, close_window=False)
            forge()
        else:
            sql("INSERT INTO audit_purge_window (before) VALUES (%s)", ("9999",))
        result = log.verify()
        assert not result.ok and "purge window(s) open" in result.message


def test_purge_refuses_a_chain_that_does_not_verify(app, monkeypatch):
    with app.app_context():
        log = app.extensions["bangban"].audit
        write_at(monkeypatch, 400, 3)
        tamper("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2")
        with pytest.raises(audit.AuditError, match="does not verify"):
            log.purge(MIN_RETENTION)
        assert AuditEntry.select().count() == 3  # the tampered entry is kept as evidence


def failed_sign_in(client):
    from tests.helpers import csrf_token

    response = client.post("/sign-in", data={"username": "nobody", "password": "wrong",
                                             "csrf_token": csrf_token(client)})
    assert response.status_code == 200


def test_a_tail_truncated_a_minute_later_is_found_through_the_apps_own_anchor(app, monkeypatch):
    log = app.extensions["bangban"].audit
    assert log.anchor_seconds == 30  # the default
    clock = [1_000_000.0]
    monkeypatch.setattr(log, "clock", lambda: clock[0])
    client = app.test_client()
    for _ in range(3):
        failed_sign_in(client)  # each request writes one entry
    with app.app_context():
        assert AuditEntry.select().count() == 3
        assert log.latest_anchor()["seq"] == 1  # anchored after the first; the next ones within 30 s
    clock[0] += 61
    assert client.get("/sign-in").status_code == 200  # any later request: the anchor is due
    with app.app_context():
        assert log.latest_anchor()["seq"] == 3
        tamper("DELETE FROM audit_entry WHERE seq >= 2")
        result = log.verify()
        assert not result.ok and result.first_bad == 2 and "truncated" in result.message


def test_the_app_anchors_when_the_interval_is_up_without_further_requests(make_app, monkeypatch):
    app = make_app(audit_anchor_seconds=0.2)
    log = app.extensions["bangban"].audit
    monkeypatch.setattr(log, "clock", lambda: 1_000_000.0)  # no later request finds it due
    client = app.test_client()
    failed_sign_in(client)
    failed_sign_in(client)
    timer = log.pending
    assert timer is not None
    timer.join(10)  # it fires 0.2 s later on its own
    assert not timer.is_alive()
    with app.app_context():
        assert log.latest_anchor()["seq"] == 2
        tamper("DELETE FROM audit_entry WHERE seq = 2")
        result = log.verify()
        assert not result.ok and result.first_bad == 2 and "truncated" in result.message


def test_verify_reports_the_entries_after_the_last_anchor(app):
    runner, ctx = CliRunner(), climod.Context()
    ctx._app, ctx._pm = app, app.extensions["bangban"].pm
    with app.app_context():
        log = app.extensions["bangban"].audit
        write_entries(5)
        result = log.verify()
        assert result.ok and (result.unanchored, result.anchor_seq) == (5, None)
        assert log.write_anchor() is not None
        write_entries(3)
        result = log.verify()
        assert result.ok and (result.unanchored, result.anchor_seq) == (3, 5)
        out = runner.invoke(climod.cli, ["audit", "verify"], obj=ctx)
        assert out.exit_code == 0
        assert out.output.strip() == "audit chain ok: 8 entries, 3 after the last anchor (the last anchor names entry 5)"


def test_a_checkpoint_from_before_sealing_still_verifies(app, monkeypatch):
    """What a purge wrote before migration 0009: an unsealed checkpoint and a
    purge entry without ``through_mac``; the next purge seals its own."""
    from core.models import AuditCheckpoint

    with app.app_context():
        log = app.extensions["bangban"].audit
        write_at(monkeypatch, 400, 3)  # 1-3
        last = AuditEntry.get(AuditEntry.seq == 3)
        real_now = audit.now
        monkeypatch.setattr(audit, "now", lambda: real_now() - datetime.timedelta(days=250))
        with transaction():  # the purge as it was: entry 4, 250 days old
            delete_through_a_window(3)
            AuditCheckpoint.create(seq=last.seq, mac=last.mac, created_at=last.created_at)
            audit.record("audit.purge", "audit_entry", payload={"through_seq": 3, "removed": 3, "cutoff": "x"})
        monkeypatch.setattr(audit, "now", real_now)
        write_at(monkeypatch, 200, 1)  # 5
        write_entries(1)  # 6
        result = log.verify()
        assert result.ok, result.message
        assert result.count == 3
        assert log.purge(MIN_RETENTION) == 2  # 4-5, the old purge entry among them
        assert [(c.seq, c.purge_seq) for c in AuditCheckpoint.select()] == [(5, 7)]
        assert log.verify().ok
