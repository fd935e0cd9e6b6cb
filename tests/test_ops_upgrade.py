"""Upgrading a database written by the previous release (migrations up to
0012, the demo loaded; tests/fixtures/release_0012, made by its make.sh)
to the current code, on SQLite and on PostgreSQL: ``bangban migrate``
backs up first, applies the new migrations, and the data is intact."""
from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import peewee
import pytest
from click.testing import CliRunner

from core import create_app, db as dbmod
from core.cli import Context, build
from core.ops import dump
from core.ops.restore import schema_at
from core.security import FieldCipher, load_keys
from tests.conftest import BUILTIN

FIXTURE = Path(__file__).parent / "fixtures" / "release_0012"
RELEASE_LAST = "0012_staff_profile"
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _valid_id(number):
    check = "10X98765432"[sum(int(c) * w for c, w in zip(number[:17], WEIGHTS)) % 11]
    return len(number) == 18 and number[17] == check


@pytest.fixture
def release_db(tmp_path, database_url):
    """The fixture's database on the test database; its data directory."""
    var = tmp_path / "var"
    var.mkdir()
    for name in ("data.key", "audit.key"):
        shutil.copy(FIXTURE / name, var / name)
    shutil.copytree(FIXTURE / "anchors", var / "anchors")
    sqlite_file = tmp_path / "release.sqlite3"
    with gzip.open(FIXTURE / "bangban.sqlite3.gz") as src, open(sqlite_file, "wb") as out:
        shutil.copyfileobj(src, out)
    if database_url.startswith("sqlite"):
        shutil.copy(sqlite_file, database_url[len("sqlite:///"):])
    else:  # PostgreSQL at the release's schema, the same rows (ids kept)
        source = peewee.SqliteDatabase(str(sqlite_file))
        target = dbmod.open_database(database_url, 2)
        with source.connection_context():
            part = dump.dump(source, tmp_path / "tables")
        with target.connection_context():
            schema_at(target, RELEASE_LAST)
            dump.truncate_for_load(target, part["order"])
            dump.load(target, tmp_path / "tables", part)
        target.close_all()
    return var, sqlite_file


def _raw_ids(sqlite_file):
    """The ID numbers as the release stored them, decrypted here directly."""
    cipher = FieldCipher(load_keys(FIXTURE / "data.key"))
    with sqlite3.connect(sqlite_file) as con:
        rows = con.execute("SELECT id, applicant_id_number FROM cases ORDER BY id").fetchall()
    return {i: cipher.decrypt(token, context="cases.applicant_id_number") for i, token in rows}


#: every migration newer than the release's last (0012): what the upgrade applies
AFTER_RELEASE = sorted(p.stem for p in (Path(__file__).parent.parent / "core" / "migrations").glob("0*.py")
                       if p.stem > "0012_staff_profile")


def test_release_database_upgrades(release_db, database_url, tmp_path):
    var, sqlite_file = release_db
    expected_ids = _raw_ids(sqlite_file)
    assert expected_ids and all(_valid_id(n) for n in expected_ids.values())
    with sqlite3.connect(sqlite_file) as con:
        expected = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]  # noqa: S608 - test, fixed names
                    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                            "AND name NOT LIKE 'sqlite_%'").fetchall()
                    if t not in ("schema_migration", "audit_purge_window")}
        states = sorted(r[0] for r in con.execute("SELECT DISTINCT state FROM cases"))

    app = create_app(data_dir=str(var), database_url=database_url, plugins=BUILTIN, secret_key="t")
    app.config["TESTING"] = True
    try:
        with app.app_context():
            assert dbmod.pending_migrations() == AFTER_RELEASE
        group, _ = build()
        ctx = Context()
        ctx._app = app
        result = CliRunner().invoke(group, ["migrate"], obj=ctx)
        assert result.exit_code == 0, result.output
        assert "backup written to" in result.output and "0016_operations" in result.output
        backups = list((var / "backups").glob("backup-*-before-migrate"))
        assert len(backups) == 1
        from core.ops.backup import read_manifest

        manifest = read_manifest(backups[0])
        assert manifest["migrations"][-1] == RELEASE_LAST
        assert {n: t["rows"] for n, t in manifest["tables"].items()} == expected

        with app.app_context():
            db = dbmod.proxy.obj
            assert dbmod.pending_migrations() == []
            counts = {t: peewee.Table(t).bind(db).select(peewee.fn.COUNT(peewee.SQL("*"))).scalar() for t in expected}
            assert counts == expected
            assert {"job_run", "ops_state"} <= set(db.get_tables())
            verified = app.extensions["bangban"].audit.verify()
            assert verified.ok, verified.message
            assert verified.count == expected["audit_entry"]
            from core.cases.models import Case

            assert {c.id: c.id_number() for c in Case.select()} == expected_ids
            assert sorted({c.state for c in Case.select()}) == states
            # the upgraded database goes on: a new entry joins the old chain
            from core import audit

            with dbmod.transaction():
                entry = audit.record("test.after_upgrade", "x")
            assert entry.seq == expected["audit_entry"] + 1
            assert app.extensions["bangban"].audit.verify().ok

        # the pre-migrate backup (a backup of the release) restores into this code, migrated on the way
        from core.ops.restore import restore

        fresh = tmp_path / "fresh"
        fresh.mkdir()
        for name in ("data.key", "audit.key"):
            shutil.copy(FIXTURE / name, fresh / name)
        other = create_app(data_dir=str(fresh), database_url=f"sqlite:///{fresh / 'db.sqlite3'}",
                           plugins=BUILTIN, secret_key="t")
        report = restore(other, backups[0])
        assert report.migrated == AFTER_RELEASE
        assert report.rows == sum(expected.values())
        other.extensions["bangban"].db.close()
    finally:
        database = app.extensions["bangban"].db
        if hasattr(database, "close_all"):
            database.close_all()
