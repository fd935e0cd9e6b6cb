"""``bangban demo`` through the real command line."""
import os
import subprocess
import sys
from pathlib import Path

import peewee
import pytest

from core.models import MetadataRecord, Region, Staff

ROOT = Path(__file__).parent.parent


def bangban(*args, data, database_url):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")},
           "BANGBAN_DATA_DIR": str(data), "BANGBAN_DATABASE_URL": database_url,
           "BANGBAN_PLUGINS": "wushen,bank_partnership"}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)


@pytest.fixture
def demo(tmp_path, database_url):
    result = bangban("demo", data=tmp_path, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return result


def test_demo_county_catalog_staff_and_logins(demo, app):
    with app.app_context():
        townships = {r.code: r.name for r in Region.select().where(Region.level == "township")}
        assert set(townships) == {"150626100", "150626101", "150626102", "150626103", "150626104", "150626200"}
        assert "嘎鲁图镇" in str(townships["150626100"]) and "苏力德苏木" in str(townships["150626200"])
        assert Region.select().where(Region.level == "village").count() >= 12
        items = [r.content for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "items") & MetadataRecord.current)]
        assert sum("township" in i["levels"] for i in items) >= 80
        assert sum("village" in i["levels"] for i in items) >= 50
        roles = {r.key for r in MetadataRecord.select().where(
            (MetadataRecord.kind == "roles") & MetadataRecord.current)}
        staffed = {s.role for s in Staff.select()}
        assert roles <= staffed, f"roles without a demo account: {roles - staffed}"
        for staff in Staff.select():
            assert staff.username in demo.stdout
            assert staff.password_hash.startswith("$argon2id$")
    assert "Bangban@2026" in demo.stdout


def test_demo_twice_changes_nothing(demo, tmp_path, database_url, app):
    with app.app_context():
        before = MetadataRecord.select().count(), Staff.select().count()
    again = bangban("demo", data=tmp_path, database_url=database_url)
    assert again.returncode == 0, again.stderr
    with app.app_context():
        assert (MetadataRecord.select().count(), Staff.select().count()) == before
    verify = bangban("audit", "verify", data=tmp_path, database_url=database_url)
    assert verify.returncode == 0 and "audit chain ok" in verify.stdout


def test_demo_without_region_plugin_says_why(tmp_path, database_url):
    env = {**os.environ, "BANGBAN_DATA_DIR": str(tmp_path), "BANGBAN_DATABASE_URL": database_url,
           "BANGBAN_PLUGINS": ""}
    result = subprocess.run([sys.executable, "-m", "core.cli", "demo"], capture_output=True, text=True, env=env,
                            cwd=ROOT)
    assert result.returncode == 1
    assert "no loaded plugin offers a demo" in result.stderr and "BANGBAN_PLUGINS" in result.stderr


def test_sqlite_runs_in_wal_mode(tmp_path):
    result = bangban("migrate", data=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}")
    assert result.returncode == 0, result.stderr
    db = peewee.SqliteDatabase(str(tmp_path / "w.db"))
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
