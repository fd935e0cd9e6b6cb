"""Data key rotation: killed with SIGKILL half-way, run again, it finishes
with every personal field readable under the new key alone; the lookup
hashes follow the new key; key export/import round-trips."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import create_app, personal
from core.cases.models import Case, CaseEvent, Commission
from core.models import Staff
from core.ops.keys import stale_tokens
from core.ops.models import OpsState
from core.security import FieldCipher, keyring_json, load_keyring
from tests.conftest import BUILTIN

ROOT = Path(__file__).resolve().parent.parent


def _plain(app):
    """Every personal value, decrypted, by row (what must survive the rotation)."""
    with app.app_context():
        out = {}
        for c in Case.select().order_by(Case.id):
            out[f"case:{c.id}"] = (c.id_number(), c.phone(), personal.reveal_mapping(c.data, "cases.data"),
                                   personal.reveal_value(c.delivery, "cases.delivery"),
                                   personal.reveal_value(c.tolerance, "cases.tolerance"),
                                   personal.reveal_text(c.rating_comment, "cases.rating_comment"))
        for m in Commission.select().order_by(Commission.id):
            out[f"commission:{m.id}"] = personal.reveal_mapping(m.principal, "commission.principal")
        for e in CaseEvent.select().order_by(CaseEvent.id):
            out[f"event:{e.id}"] = (personal.reveal_text(e.note, "case_event.note"),
                                    personal.reveal_value(e.data, "case_event.data"))
        for s in Staff.select().order_by(Staff.id):
            out[f"staff:{s.id}"] = personal.decrypt(s.phone_enc, "staff.phone")
        return out


def _env(app, **extra):
    conf = app.config["BANGBAN"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), BANGBAN_DATA_DIR=conf["DATA_DIR"],
               BANGBAN_DATABASE_URL=conf["DATABASE_URL"], BANGBAN_PLUGINS=BUILTIN,
               BANGBAN_SECRET_KEY="test-secret", BANGBAN_KEY_RELOAD_SECONDS="0")
    env.update(extra)
    return env


def _rotation(app):
    with app.app_context():
        row = OpsState.get_or_none(OpsState.name == "keys.rotation")
        return row.value if row else None


def test_rotation_killed_midway_resumes_and_every_field_opens_with_the_new_key(demo_app, tmp_path):
    app = demo_app
    before = _plain(app)
    assert any(v[0] and len(v[0]) == 18 for k, v in before.items() if k.startswith("case:"))
    key_file = Path(app.config["BANGBAN"]["DATA_KEY_FILE"])
    old_keys, _ = load_keyring(key_file)
    command = [sys.executable, "-m", "core.cli", "keys", "rotate-data", "--batch-size", "2"]

    proc = subprocess.Popen(command, cwd=ROOT, env=_env(app, BANGBAN_TEST_ROTATION_SLOW="0.3"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = _rotation(app)
        if state and state["cursor"].get("cases", 0) >= 4:
            break
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the rotation made no progress")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    state = _rotation(app)
    assert state["status"] == "running" and state["cursor"] and state["changed"] > 0
    new_keys, previous = load_keyring(key_file)
    assert previous[0] == old_keys and new_keys != old_keys
    app.extensions["bangban"].cipher_checked = 0.0
    app.config["BANGBAN"]["KEY_RELOAD_SECONDS"] = 0
    assert stale_tokens(app) > 0  # half-way: some values are still under the old key
    assert _plain(app) == before  # … and everything reads meanwhile (old and new keys)

    done = subprocess.run(command, cwd=ROOT, env=_env(app), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming the rotation" in done.stdout
    assert load_keyring(key_file)[0] == new_keys  # the resumed run did not make yet another key
    assert _rotation(app)["status"] == "done"
    assert stale_tokens(app) == 0

    # with the new key alone (the old one removed from a copy of the key file) every field opens
    only_new = tmp_path / "only-new.key"
    only_new.write_text(keyring_json(new_keys, []))
    alone = create_app(data_dir=app.config["BANGBAN"]["DATA_DIR"], database_url=app.config["BANGBAN"]["DATABASE_URL"],
                       plugins=BUILTIN, secret_key="t", data_key_file=str(only_new))
    after = _plain(alone)
    assert after == before
    assert personal.UNREADABLE not in json.dumps(after, ensure_ascii=False)
    cipher = FieldCipher(new_keys)
    with alone.app_context():
        for case in Case.select():
            assert case.applicant_id_hash == cipher.keyed_hash(case.id_number(), kind="id_number")
            assert case.applicant_phone_hash == cipher.keyed_hash(case.phone(), kind="mobile")
        actions = [e.action for e in __import__("core.models", fromlist=["AuditEntry"]).AuditEntry.select()]
        assert actions.count("keys.rotate_data.start") == 1 and actions.count("keys.rotate_data.done") == 1
        assert alone.extensions["bangban"].audit.verify().ok


def test_keys_export_needs_the_passphrase(app, tmp_path):
    from core.ops.keys import KeysError, export_keys, import_keys, read_bundle

    conf = app.config["BANGBAN"]
    with pytest.raises(KeysError, match="at least 12"):
        export_keys(conf, tmp_path / "short", "short")
    export_keys(conf, tmp_path / "keys", "a long enough passphrase")
    text = (tmp_path / "keys").read_text()
    assert Path(conf["DATA_KEY_FILE"]).read_text().strip() not in text
    with pytest.raises(KeysError, match="wrong passphrase"):
        read_bundle(tmp_path / "keys", "another long passphrase")
    other = {"DATA_KEY_FILE": str(tmp_path / "b" / "data.key"), "AUDIT_KEY_FILE": str(tmp_path / "b" / "audit.key"),
             "DATA_DIR": str(tmp_path / "b")}
    import_keys(other, tmp_path / "keys", "a long enough passphrase")
    assert Path(other["DATA_KEY_FILE"]).read_text() == Path(conf["DATA_KEY_FILE"]).read_text()
    Path(other["DATA_KEY_FILE"]).write_text(keyring_json(load_keyring(conf["DATA_KEY_FILE"])[0].generate(), []))
    with pytest.raises(KeysError, match="exists with other keys"):
        import_keys(other, tmp_path / "keys", "a long enough passphrase")
    assert import_keys(other, tmp_path / "keys", "a long enough passphrase", replace=True) == ["data_key"]
    assert len(list((tmp_path / "b").glob("data.key.replaced-*"))) == 1


def test_the_app_serves_and_writes_during_a_rotation(demo_app):
    """While another process rotates, the running app reveals every number
    right (old and new keys), notices the new key file and writes under it."""
    from tests.helpers import csrf_token, sign_in

    app = demo_app
    app.config["BANGBAN"]["KEY_RELOAD_SECONDS"] = 0
    with app.app_context():
        case = Case.select().where(Case.township_code == "150626100").order_by(Case.id).first()
        original = case.id_number()
    client = app.test_client()
    sign_in(client, "galutu.agent")
    stale = FieldCipher(load_keyring(Path(app.config["BANGBAN"]["DATA_KEY_FILE"]))[0])
    command = [sys.executable, "-m", "core.cli", "keys", "rotate-data", "--batch-size", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(app, BANGBAN_TEST_ROTATION_SLOW="0.1"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reveals, wrote = 0, False
    try:
        while proc.poll() is None:
            token = csrf_token(client, f"/cases/{case.id}/commission")
            html = client.post(f"/cases/{case.id}/commission", data={"csrf_token": token}).get_data(as_text=True)
            assert original in html
            reveals += 1
            state = _rotation(app)
            if not wrote and state and state["status"] == "running" and state["cursor"].get("cases", 0) > case.id:
                # the rotation has passed this row: a server that has not noticed the new key yet
                # writes it again under the old one (the rotation's verifying pass must catch it)
                with app.app_context():
                    from core import db as dbmod

                    with dbmod.transaction():
                        Case.update(applicant_phone=stale.encrypt("13900001111", context="cases.applicant_phone"),
                                    applicant_phone_hash=stale.keyed_hash("13900001111", kind="mobile")) \
                            .where(Case.id == case.id).execute()
                wrote = True
    finally:
        out = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, out
    assert wrote and reveals > 3
    assert "2 pass(es)" in out  # the first pass left the stale write; the second fixed it
    new_keys, _ = load_keyring(Path(app.config["BANGBAN"]["DATA_KEY_FILE"]))
    cipher = FieldCipher(new_keys)
    with app.app_context():
        row = Case.get_by_id(case.id)
        assert cipher.decrypt(row.applicant_phone, context="cases.applicant_phone") == "13900001111"
        assert row.applicant_phone_hash == cipher.keyed_hash("13900001111", kind="mobile")
    assert stale_tokens(app) == 0
