"""Keys: export and import (passphrase-protected), rotation of the data key
and of the audit key.

Export: the data key file, the audit key file and the app's secret key in
one JSON file, encrypted with AES-256-GCM under a key derived from the
passphrase with scrypt (n=2^15, r=8, p=1). Keep it away from the backups.

Data key rotation (``bangban keys rotate-data``) while the app serves:

1. a new key pair (encryption and lookup) becomes the current one in the
   key file, the old ones stay listed as ``previous`` (so every token opens
   during and after the rotation; running apps notice the changed file
   within ``BANGBAN_KEY_RELOAD_SECONDS`` and encrypt new values under the
   new key); the rotation waits twice that before it starts rewriting;
2. every personal column (:data:`COLUMNS`) is read in batches by id; each
   token that does not open under the new key is decrypted under an old one
   and encrypted again under the new; the lookup hashes are recomputed. A
   row is written only if it still holds what was read (a request that
   changed it meanwhile wins; the next pass sees it). Each batch commits
   with the progress (``ops_state``), so after a crash (``kill -9``) the
   command is run again and goes on from the last committed batch;
3. passes repeat until one finds nothing left under an old key.

Audit payloads keep their tokens: the chain is append-only and each
entry's MAC covers its payload. So the old keys are never removed from the
key file; a rotation limits what the *new* key exposes, it does not make
an old key harmless. Losing the key file loses every encrypted field (and
audit verification): that is what ``keys export`` is for.
"""
from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .. import db as dbmod
from ..security import CryptoError, FieldCipher, Keys, keyring_json, load_keyring

BUNDLE_FORMAT = "bangban-keys/1"
ROTATION = "keys.rotation"
MIN_PASSPHRASE = 12
#: (table, column, encryption context, shape): every column holding tokens
COLUMNS = [
    ("cases", "applicant_id_number", "cases.applicant_id_number", "text"),
    ("cases", "applicant_phone", "cases.applicant_phone", "text"),
    ("cases", "data", "cases.data", "json"),
    ("cases", "delivery", "cases.delivery", "json"),
    ("cases", "tolerance", "cases.tolerance", "json"),
    ("cases", "rating_comment", "cases.rating_comment", "text"),
    ("commission", "principal", "commission.principal", "json"),
    ("case_event", "note", "case_event.note", "text"),
    ("case_event", "data", "case_event.data", "json"),
    ("subtask", "note", "subtask.note", "text"),
    ("handover", "note", "handover.note", "text"),
    ("staff", "totp_secret", "staff.totp_secret", "text"),
    ("staff", "phone_enc", "staff.phone", "text"),
]
#: lookup hash columns: (table, hash column, token column, its context, kind)
HASHES = [
    ("cases", "applicant_id_hash", "applicant_id_number", "cases.applicant_id_number", "id_number"),
    ("cases", "applicant_phone_hash", "applicant_phone", "cases.applicant_phone", "mobile"),
]


class KeysError(RuntimeError):
    pass


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def _write_secret_file(path: Path, text: str):
    """Replace ``path`` atomically with ``text`` (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --- export / import -----------------------------------------------------------

def _kdf(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2 ** 15, r=8, p=1).derive(passphrase.encode("utf-8"))


def key_files(conf) -> dict:
    return {"data_key": Path(conf["DATA_KEY_FILE"]), "audit_key": Path(conf["AUDIT_KEY_FILE"]),
            "secret_key": Path(conf["DATA_DIR"]) / "secret.key"}


def export_keys(conf, target, passphrase: str) -> Path:
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeysError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    target = Path(target)
    if target.exists():
        raise KeysError(f"{target} exists: export into a new file")
    contents = {name: path.read_text() for name, path in key_files(conf).items() if path.is_file()}
    for name in ("data_key", "audit_key"):
        if name not in contents:
            raise KeysError(f"the {name.replace('_', ' ')} file {key_files(conf)[name]} does not exist")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    plain = json.dumps({"created_at": now().isoformat(timespec="seconds"), **contents}).encode("utf-8")
    sealed = AESGCM(_kdf(passphrase, salt)).encrypt(nonce, plain, BUNDLE_FORMAT.encode())
    bundle = {"format": BUNDLE_FORMAT, "kdf": "scrypt", "n": 2 ** 15, "r": 8, "p": 1,
              "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
              "sealed": base64.b64encode(sealed).decode()}
    _write_secret_file(target, json.dumps(bundle) + "\n")
    return target


def read_bundle(path, passphrase: str) -> dict:
    try:
        bundle = json.loads(Path(path).read_text())
        if bundle.get("format") != BUNDLE_FORMAT:
            raise KeysError(f"{path} is not a Bangban key export")
        key = _kdf(passphrase, base64.b64decode(bundle["salt"]))
        plain = AESGCM(key).decrypt(base64.b64decode(bundle["nonce"]), base64.b64decode(bundle["sealed"]),
                                    BUNDLE_FORMAT.encode())
    except InvalidTag:
        raise KeysError("wrong passphrase, or the key export is damaged") from None
    except (OSError, ValueError, KeyError) as exc:
        raise KeysError(f"cannot read the key export {path}: {exc}") from None
    return json.loads(plain)


def import_keys(conf, path, passphrase: str, *, replace=False) -> list[str]:
    """Write the exported keys to this server's key files. A key file that
    exists with other keys is refused unless ``replace`` (then it is kept
    beside as ``<name>.replaced-<time>``). Returns what was written."""
    contents = read_bundle(path, passphrase)
    written = []
    for name, target in key_files(conf).items():
        text = contents.get(name)
        if text is None:
            continue
        if target.exists():
            if target.read_text() == text:
                continue
            if not replace:
                raise KeysError(f"{target} exists with other keys: give --replace-keys to set it aside")
            os.replace(target, target.with_name(f"{target.name}.replaced-{now():%Y%m%dT%H%M%S}"))
        _write_secret_file(target, text)
        written.append(name)
    return written


# --- the audit key --------------------------------------------------------------

def rotate_audit_key(app, actor="cli") -> int:
    """Start a new audit key epoch; the chain records it. Returns the epoch."""
    from .. import audit as auditmod

    log = app.extensions["bangban"].audit
    path = Path(app.config["BANGBAN"]["AUDIT_KEY_FILE"])
    epoch, keys = auditmod.load_audit_keys(path, create=False)
    new_epoch = max(keys) + 1
    keys[new_epoch] = secrets.token_bytes(32)
    text = json.dumps({"epoch": new_epoch, "keys": {str(k): v.hex() for k, v in sorted(keys.items())}}) + "\n"
    with app.app_context():
        with dbmod.transaction():
            _write_secret_file(path, text)
            log.reload_keys()
            auditmod.record("keys.rotate_audit", "audit_key", actor=actor, role="cli",
                            payload={"epoch": new_epoch})
    return new_epoch


# --- the data key --------------------------------------------------------------

def _state():
    from .models import OpsState

    return OpsState.get_or_none(OpsState.name == ROTATION)


def _save_state(value):
    from ..models import utcnow
    from .models import OpsState

    updated = OpsState.update(value=value, updated_at=utcnow()).where(OpsState.name == ROTATION).execute()
    if not updated:
        OpsState.create(name=ROTATION, value=value, updated_at=utcnow())


class Rekeyer:
    """Re-encrypts tokens under the cipher's current key."""

    def __init__(self, cipher: FieldCipher):
        self.cipher = cipher
        self.changed = 0
        self.unreadable = 0

    def token(self, token, context):
        try:
            self.cipher.decrypt(token, context=context, only_current=True)
            return token
        except CryptoError:
            pass
        try:
            plain = self.cipher.decrypt(token, context=context)
        except CryptoError:
            self.unreadable += 1
            return token
        self.changed += 1
        return self.cipher.encrypt(plain, context=context)

    def text(self, text, context):
        from ..personal import INLINE_RE, OPEN, CLOSE, WHOLE_TOKEN_RE

        if not isinstance(text, str) or not text:
            return text
        if WHOLE_TOKEN_RE.fullmatch(text):
            return self.token(text, context)
        if OPEN not in text:
            return text
        return INLINE_RE.sub(lambda m: f"{OPEN}{self.token(m.group(1), context)}{CLOSE}", text)

    def value(self, value, context):
        if isinstance(value, str):
            return self.text(value, context)
        if isinstance(value, list):
            return [self.value(v, context) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v, f"{context}.{k}") for k, v in value.items()}
        return value

    def column(self, raw, context, shape):
        if raw is None:
            return raw
        if shape == "text":
            return self.text(raw, context)
        data = json.loads(raw)
        new = self.value(data, context)
        return raw if new == data else json.dumps(new, ensure_ascii=False, sort_keys=True)


def _tables(db):
    present = set(db.get_tables())
    out = {}
    for table, column, context, shape in COLUMNS:
        if table in present:
            out.setdefault(table, []).append((column, context, shape))
    return out


def _batch(db, rekeyer, table, columns, after, size):
    """Rewrite one batch of ``table`` after id ``after``; the last id seen (None: done)."""
    import peewee

    names = [c for c, _x, _s in columns]
    hashes = [h for h in HASHES if h[0] == table]
    t = peewee.Table(table, ["id", *names, *[h[1] for h in hashes]]).bind(db)
    fields = [t.id, *[getattr(t, c) for c in names], *[getattr(t, h[1]) for h in hashes]]
    rows = list(t.select(*fields).where(t.id > after).order_by(t.id).limit(size).dicts())
    if not rows:
        return None
    for row in rows:
        changes = {}
        for column, context, shape in columns:
            new = rekeyer.column(row[column], context, shape)
            if new != row[column]:
                changes[column] = new
        for _t, hash_col, token_col, context, kind in hashes:
            token = changes.get(token_col, row[token_col])
            try:
                plain = rekeyer.cipher.decrypt(token, context=context) if token else None
            except CryptoError:
                continue
            expected = rekeyer.cipher.keyed_hash(plain, kind=kind) if plain else None
            if expected != row[hash_col]:
                changes[hash_col] = expected
        if changes:
            cond = t.id == row["id"]
            for column in changes:  # only if nobody changed the row since it was read
                cond &= getattr(t, column).is_null() if row[column] is None else (getattr(t, column) == row[column])
            t.update({getattr(t, c): v for c, v in changes.items()}).where(cond).execute()
    return rows[-1]["id"]


def rotate_data_key(app, **kw) -> dict:
    """Rotate (or resume rotating) the data key; returns the counts. One
    rotation at a time (the jobs' lock, under the name ``keys.rotate``)."""
    from .jobs import job_lock

    with app.app_context():
        with job_lock(app, "keys.rotate") as held:
            if not held:
                raise KeysError("another key rotation is running")
            return _rotate_data_key(app, **kw)


def _rotate_data_key(app, *, batch_size=200, actor="cli", echo=print, max_passes=5) -> dict:
    from .. import audit as auditmod

    conf = app.config["BANGBAN"]
    state_obj = app.extensions["bangban"]
    path = Path(conf["DATA_KEY_FILE"])
    slow = float(os.environ.get("BANGBAN_TEST_ROTATION_SLOW", "0") or 0)
    with app.app_context():
        db = dbmod.proxy.obj
        row = _state()
        state = row.value if row is not None else None
        if state is None or state.get("status") != "running":
            current, previous = load_keyring(path)
            with dbmod.transaction():
                _write_secret_file(path, keyring_json(Keys.generate(), [current, *previous]))
                state = {"status": "running", "started_at": now().isoformat(timespec="seconds"), "pass": 1,
                         "cursor": {}, "changed": 0, "generation": len(previous) + 1}
                _save_state(state)
                auditmod.record("keys.rotate_data.start", "data_key", actor=actor, role="cli",
                                payload={"generation": state["generation"]})
            echo(f"new data key written to {path}; the earlier keys stay readable")
            time.sleep(2 * conf.get("KEY_RELOAD_SECONDS", 2))  # running apps switch to the new key
        else:
            echo(f"resuming the rotation started at {state['started_at']} (pass {state['pass']})")
        current, previous = load_keyring(path)
        cipher = FieldCipher(current, conf["CRYPTO_PROFILE"], previous)
        state_obj.cipher, state_obj.cipher_checked = cipher, 0.0
        tables = _tables(db)
        while True:
            rekeyer = Rekeyer(cipher)
            for table, columns in tables.items():
                after = state["cursor"].get(table, 0)
                while after is not None:
                    with dbmod.transaction():
                        last = _batch(db, rekeyer, table, columns, after, batch_size)
                        state["cursor"][table] = last if last is not None else 2 ** 62
                        state["changed"] += rekeyer.changed
                        rekeyer.changed = 0
                        _save_state(state)
                    after = last
                    if slow and last is not None:
                        time.sleep(slow)
            if state["pass"] >= max_passes or _pass_clean(db, cipher, tables, batch_size):
                break
            state.update({"pass": state["pass"] + 1, "cursor": {}})
            with dbmod.transaction():
                _save_state(state)
        result = {"changed": state["changed"], "passes": state["pass"], "unreadable": rekeyer.unreadable}
        with dbmod.transaction():
            state.update({"status": "done", "finished_at": now().isoformat(timespec="seconds"), **result})
            _save_state(state)
            auditmod.record("keys.rotate_data.done", "data_key", actor=actor, role="cli", payload=result)
    return result


def _pass_clean(db, cipher, tables, batch_size) -> bool:
    """Whether every token opens under the current key (nothing left to do)."""
    probe = Rekeyer(cipher)
    import peewee

    for table, columns in tables.items():
        t = peewee.Table(table, ["id", *[c for c, _x, _s in columns]]).bind(db)
        for row in t.select(t.id, *[getattr(t, c) for c, _x, _s in columns]).dicts().iterator():
            for column, context, shape in columns:
                probe.column(row[column], context, shape)
            if probe.changed:
                return False
    return True


def stale_tokens(app) -> int:
    """How many tokens (outside the audit chain) do not open under the current key."""
    with app.app_context():
        db = dbmod.proxy.obj
        probe = Rekeyer(app.extensions["bangban"].current_cipher())
        import peewee

        for table, columns in _tables(db).items():
            t = peewee.Table(table, ["id", *[c for c, _x, _s in columns]]).bind(db)
            for row in t.select(t.id, *[getattr(t, c) for c, _x, _s in columns]).dicts().iterator():
                for column, context, shape in columns:
                    probe.column(row[column], context, shape)
        return probe.changed + probe.unreadable
