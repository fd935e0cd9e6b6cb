"""The audit chain on SQLite and PostgreSQL: append-only in the database,
and every kind of tampering found by ``audit verify``."""
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
