"""The audit chain: one append-only table, each entry HMAC-linked to the last.

``record()`` must run inside the transaction of the change it records, so
the entry and the change commit or vanish together. The HMAC key lives in a
file outside the database; anchors (the head's sequence number and MAC) are
exported to files so that truncating the table's tail is detected too.

Retention purges and checkpoints
--------------------------------
The database cannot tell ``bangban audit purge`` from an intruder: both
speak SQL as the same role, and an intruder inserts a row in
``audit_purge_window`` (migration 0005) as easily as the purge does, or
drops the triggers. A MAC on the window row would prove nothing either: the
intruder deletes the row after use and ``verify()`` never sees it. So the
proof lives in the chain, which only the key holder can extend:

* A purge opens its window, deletes and closes the window in one
  transaction: no committed state holds a window row, and ``verify()``
  fails when it finds one.
* In that transaction the purge writes an ``audit.purge`` entry naming the
  last entry it removed (``through_seq``, ``through_mac``) and a checkpoint
  holding the same two values, the purge entry's seq (``purge_seq``) and a
  ``seal``: an HMAC of all four under the audit key. Older checkpoints are
  deleted (only the newest is read).
* ``verify()`` starts from the checkpoint (or from entry 1): its seal must
  verify, entry ``purge_seq`` must be in the verified chain, be an
  ``audit.purge`` and name the same ``through_seq``/``through_mac``, and the
  first remaining entry must follow it. Any other checkpoint row fails. So a
  range removed from the start is vouched for by a MACed purge entry, a
  range removed elsewhere breaks the sequence, and a removed tail is caught
  by the anchors. Without the key no one can remove entries undetected.
* A purge refuses a chain that does not verify (it would vouch for a
  tampered range) and checks that it removes exactly the verified range.

A checkpoint written before migration 0009 has no seal; it is accepted when
a purge entry of that time (which has no ``through_mac``) names its seq.

Key epochs
----------
``bangban keys rotate-audit`` starts a new epoch of the audit key: the key
file (``BANGBAN_AUDIT_KEY_FILE``) keeps every epoch's key, JSON
``{"epoch": n, "keys": {"0": "<hex>", …}}`` (a file of one hex key, the
original form, is epoch 0). Each entry records its epoch (``key_epoch``,
migration 0016; NULL is 0) and is MACed under that epoch's key, the epoch
included in the MACed list from epoch 1 on. The first entry of a new epoch
is an ``audit.key_epoch`` entry (``{"from": a, "to": b}``), written by the
first ``record()`` that finds the chain behind its key file; a process that
finds the chain ahead of its key re-reads the key file. ``verify()`` checks
each entry with its epoch's key and refuses an epoch that goes back or
changes anywhere but at an ``audit.key_epoch`` entry, so a leaked old key
cannot extend the chain after a rotation.

Anchors
-------
Anchors are files ``<AUDIT_ANCHOR_DIR>/<YYYY-MM-DD>/anchor-<time>-<seq>.json``,
created exclusively and never rewritten or deleted; ``verify()`` compares the
chain with the anchor of the highest seq. The app writes them itself: when
an app context (a request, a CLI command) that recorded entries ends, the
committed head is anchored if this process's last anchor is older than
``AUDIT_ANCHOR_SECONDS`` (default 30); otherwise one timer is armed for when
the interval is up (and a later context end that finds it due anchors at
once). So every entry is anchored within about the interval, and truncating
the tail later than that is found. The cost is one in-memory check per
context; a file write at most once per interval. ``bangban audit anchor``
from cron remains, for copies kept off the server.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, g, has_app_context

from . import db as dbmod
from .models import AuditEntry
from peewee import fn as peewee_fn

GENESIS = "0" * 64
MIN_RETENTION_DAYS = 184
ANCHOR_NAME = re.compile(r"anchor-(\d{8}T\d{12}Z)-(\d+)\.json")
DAY_DIR = re.compile(r"\d{4}-\d{2}-\d{2}")
_WROTE = "_bangban_audit_wrote"

log = logging.getLogger("bangban.audit")
EPOCH_ACTION = "audit.key_epoch"


def load_audit_keys(path, *, create: bool = True) -> tuple[int, dict]:
    """``(current epoch, {epoch: key})`` from the audit key file (a bare hex
    key is epoch 0); a missing file is created with a fresh key."""
    import os
    import secrets

    path = Path(path)
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_bytes(32).hex())
    text = path.read_text().strip()
    if text.startswith("{"):
        data = json.loads(text)
        return int(data["epoch"]), {int(k): bytes.fromhex(v) for k, v in data["keys"].items()}
    return 0, {0: bytes.fromhex(text)}


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class AuditError(RuntimeError):
    pass


class AuditLog:
    """Per-app audit service, kept in ``app.extensions['bangban'].audit``."""

    def __init__(self, key, anchor_dir: Path, pm=None, anchor_seconds: float = 30, key_file=None):
        """``key``: one key (epoch 0) or ``(epoch, {epoch: key})`` as
        :func:`load_audit_keys` returns; ``key_file`` is re-read when the
        chain is found at a newer epoch than this process knows."""
        self.epoch, self.keys = (0, {0: key}) if isinstance(key, bytes) else key
        self.key_file = key_file
        self.anchor_dir = Path(anchor_dir)
        self.pm = pm
        self.anchor_seconds = anchor_seconds
        self.clock = time.time  # when this process last anchored is kept by this clock
        self.anchored_at = None
        self.pending = None  # the armed timer, if any
        self._lock = threading.Lock()

    def init_app(self, app):
        """Anchor automatically after app contexts that recorded entries."""
        self.anchor_seconds = app.config["BANGBAN"].get("AUDIT_ANCHOR_SECONDS", self.anchor_seconds)
        app.teardown_appcontext(self._context_ended)

    # -- writing -----------------------------------------------------------
    @property
    def key(self) -> bytes:
        return self.keys[self.epoch]

    def reload_keys(self):
        if self.key_file is not None:
            self.epoch, self.keys = load_audit_keys(self.key_file, create=False)

    def _hmac(self, items, epoch=None):
        key = self.keys.get(epoch or 0)
        if key is None:
            raise AuditError(f"the audit key of epoch {epoch} is not in the key file")
        if epoch:
            items = [*items, epoch]
        message = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def mac(self, seq, created_at, county_code, actor, role, action, entity, payload, prev_hash, key_epoch=None):
        return self._hmac([seq, created_at, county_code, actor, role, action, entity, payload, prev_hash],
                          key_epoch)

    def seal(self, seq, mac, created_at, purge_seq, key_epoch=None):
        """The checkpoint's own HMAC (a list of another shape than an entry's)."""
        return self._hmac(["audit.checkpoint", seq, mac, created_at, purge_seq], key_epoch)

    def record(self, action, entity, *, actor="system", role="system", payload=None, county_code=""):
        from .personal import protect_payload  # ID numbers and phones become tokens before the MAC

        payload = protect_payload(payload)
        db = dbmod.proxy.obj
        if not db.in_transaction():
            raise AuditError("audit.record() must run inside the transaction of the change it records")
        if dbmod.is_postgres(db):
            db.execute_sql("SELECT pg_advisory_xact_lock(4242001)")
        last = AuditEntry.select(AuditEntry.seq, AuditEntry.mac, AuditEntry.key_epoch) \
            .order_by(AuditEntry.seq.desc()).first()
        if last is None:  # empty: new, or a purge removed every entry and the chain goes on from its checkpoint
            from .models import AuditCheckpoint

            last = AuditCheckpoint.select().order_by(AuditCheckpoint.seq.desc()).first()
        last_epoch = (last.key_epoch or 0) if last else 0
        if last_epoch > self.epoch:  # another process rotated the key: read the file again
            self.reload_keys()
            if last_epoch > self.epoch:
                raise AuditError(f"the chain is at key epoch {last_epoch}; the key file has {self.epoch}")
        if last_epoch < self.epoch and action != EPOCH_ACTION:
            self.record(EPOCH_ACTION, "audit_key", payload={"from": last_epoch, "to": self.epoch})
            return self.record(action, entity, actor=actor, role=role, payload=payload, county_code=county_code)
        seq = (last.seq + 1) if last else 1
        prev = last.mac if last else GENESIS
        created_at = now().isoformat(timespec="microseconds")
        body = json.dumps(payload or {}, ensure_ascii=False, sort_keys=True, default=str)
        fields = dict(seq=seq, created_at=created_at, county_code=county_code or "", actor=actor, role=role,
                      action=action, entity=str(entity), payload=body, prev_hash=prev, key_epoch=self.epoch or None)
        entry = AuditEntry.create(mac=self.mac(**fields), **fields)
        if has_app_context():
            setattr(g, _WROTE, True)
        if self.pm is not None:
            self.pm.hook.audit_recorded(entry=entry)
        return entry

    # -- anchors -----------------------------------------------------------
    def write_anchor(self, db=None, *, discard_connection=False) -> Path | None:
        """Export the committed head to a new file (never overwriting one).
        A connection opened here is closed again (``discard_connection``:
        not kept in the pool, for the timer's short-lived thread)."""
        db = db or dbmod.proxy.obj
        was_closed = db.is_closed()
        try:
            head = db.execute_sql("SELECT seq, mac, created_at FROM audit_entry ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            if was_closed and not db.is_closed():
                if discard_connection and hasattr(db, "manual_close"):
                    db.manual_close()
                else:
                    db.close()
        if head is None:
            return None
        seq, mac, created_at = head
        stamp = datetime.datetime.now(datetime.timezone.utc)
        folder = self.anchor_dir / stamp.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"anchor-{stamp:%Y%m%dT%H%M%S%fZ}-{seq:012d}.json"
        try:
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(json.dumps({"seq": seq, "mac": mac, "created_at": created_at}))
        except FileExistsError:
            pass  # written at this very microsecond, for this very head
        self.anchored_at = self.clock()
        return path

    def anchor_files(self) -> list[Path]:
        """Anchors of the newest day folder, and any from before day folders."""
        if not self.anchor_dir.is_dir():
            return []
        files = list(self.anchor_dir.glob("anchor-*.json"))
        days = sorted((d for d in self.anchor_dir.iterdir() if d.is_dir() and DAY_DIR.fullmatch(d.name)),
                      reverse=True)
        for day in days:
            found = list(day.glob("anchor-*.json"))
            if found:
                return files + found
        return files

    def latest_anchor(self):
        """The anchor naming the highest seq (the newest, on one machine)."""
        named = [(int(m.group(2)), m.group(1), p) for p in self.anchor_files()
                 if (m := ANCHOR_NAME.fullmatch(p.name))]
        return json.loads(max(named)[2].read_text()) if named else None

    def _context_ended(self, exc=None):
        """Teardown of an app context: anchor if it recorded and one is due."""
        wrote = g.pop(_WROTE, False)
        if not wrote and self.pending is None:
            return
        db = current_app.extensions["bangban"].db
        left = 0 if self.anchored_at is None else self.anchor_seconds - (self.clock() - self.anchored_at)
        if left <= 0 and not db.in_transaction():
            with self._lock:
                timer, self.pending = self.pending, None
            if timer is not None:
                timer.cancel()
            self._anchor_quietly(db)
        elif wrote:
            with self._lock:
                if self.pending is None:
                    self.pending = threading.Timer(max(left, 0.01), self._timer_fired, args=(db,))
                    self.pending.daemon = True
                    self.pending.start()

    def _timer_fired(self, db):
        with self._lock:
            if self.pending is threading.current_thread():
                self.pending = None
        self._anchor_quietly(db, discard_connection=True)

    def _anchor_quietly(self, db, **kw):
        try:
            self.write_anchor(db, **kw)
        except Exception:  # noqa: BLE001 - a failed anchor must not fail the request; it is logged
            log.exception("could not write an audit anchor under %s", self.anchor_dir)

    # -- retention -----------------------------------------------------------
    def purge(self, retention_days: int, *, actor="system", role="system") -> int:
        """Remove entries older than ``retention_days`` (at least 184: six
        months); never a younger one. Returns how many were removed."""
        from .models import AuditCheckpoint

        if retention_days < MIN_RETENTION_DAYS:
            raise AuditError(f"audit entries are kept at least {MIN_RETENTION_DAYS} days")
        checked = self.verify()
        if not checked.ok:
            raise AuditError(f"the audit chain does not verify, nothing was removed: {checked.message}")
        cutoff = (now() - datetime.timedelta(days=retention_days)).isoformat(timespec="microseconds")
        db = dbmod.proxy.obj
        with dbmod.transaction():
            if dbmod.is_postgres(db):
                db.execute_sql("SELECT pg_advisory_xact_lock(4242001)")  # as record(): one writer of the chain
            last = (AuditEntry.select().where(AuditEntry.created_at < cutoff)
                    .order_by(AuditEntry.seq.desc()).first())
            if last is None:
                return 0
            previous = AuditCheckpoint.select().order_by(AuditCheckpoint.seq.desc()).first()
            db.execute_sql("INSERT INTO audit_purge_window (before) VALUES (%s)" if dbmod.is_postgres(db)
                           else "INSERT INTO audit_purge_window (before) VALUES (?)", (cutoff,))
            removed = AuditEntry.delete().where(AuditEntry.seq <= last.seq).execute()
            db.execute_sql("DELETE FROM audit_purge_window")
            if removed != last.seq - (previous.seq if previous else 0):
                raise AuditError(f"entries up to {last.seq} changed since they were verified; nothing was removed")
            # the purge entry comes next (the chain is locked): its seq is sealed into the checkpoint
            head = AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).first()
            fields = dict(seq=last.seq, mac=last.mac, created_at=last.created_at,
                          purge_seq=(head.seq if head else last.seq) + 1, key_epoch=self.epoch or None)
            AuditCheckpoint.delete().execute()
            AuditCheckpoint.create(seal=self.seal(**fields), **fields)
            entry = self.record("audit.purge", "audit_entry", actor=actor, role=role,
                                payload={"through_seq": last.seq, "through_mac": last.mac, "removed": removed,
                                         "cutoff": cutoff})
            if entry.seq != fields["purge_seq"]:
                raise AuditError(f"the purge entry took seq {entry.seq}, not {fields['purge_seq']}; nothing was removed")
        return removed

    # -- checking ----------------------------------------------------------
    def _checkpoint_problem(self, checkpoints):
        """Why the checkpoints cannot be trusted (before reading the chain)."""
        if len(checkpoints) > 1:
            return f"checkpoint after entry {checkpoints[0].seq}: superseded, yet still there (no purge leaves one)"
        if checkpoints and checkpoints[-1].seal is not None:
            cp = checkpoints[-1]
            try:
                expected = self.seal(cp.seq, cp.mac, cp.created_at, cp.purge_seq, cp.key_epoch)
            except AuditError as exc:
                return f"checkpoint after entry {cp.seq}: {exc}"
            if not hmac.compare_digest(expected, cp.seal):
                return f"checkpoint after entry {cp.seq}: its seal does not verify (forged or edited)"
        return None

    @staticmethod
    def _vouches(entry, cp) -> bool:
        """Whether a verified entry is the purge that wrote checkpoint ``cp``."""
        if entry.action != "audit.purge":
            return False
        payload = json.loads(entry.payload)
        if cp.seal is None:  # written before migration 0009
            return payload.get("through_seq") == cp.seq and "through_mac" not in payload
        return (entry.seq == cp.purge_seq and payload.get("through_seq") == cp.seq
                and payload.get("through_mac") == cp.mac)

    def _epoch_problem(self, entry, epoch, entry_epoch):
        """Why an entry's key epoch may not follow ``epoch`` (None: it may)."""
        if entry_epoch < epoch:
            return f"key epoch {entry_epoch} after epoch {epoch} (written with a retired key)"
        if entry.action != EPOCH_ACTION or json.loads(entry.payload) != {"from": epoch, "to": entry_epoch}:
            return f"key epoch changes from {epoch} to {entry_epoch} outside an {EPOCH_ACTION} entry"
        if entry_epoch not in self.keys:
            return f"the audit key of epoch {entry_epoch} is not in the key file"
        return None

    def verify(self) -> VerifyResult:
        from .models import AuditCheckpoint

        db = dbmod.proxy.obj
        windows = db.execute_sql("SELECT COUNT(*) FROM audit_purge_window").fetchone()[0]
        if windows:
            return VerifyResult(False, 0, None, f"{windows} purge window(s) open: only a purge opens one, "
                                                "and closes it in its own transaction (entries deleted through it?)")
        checkpoints = list(AuditCheckpoint.select().order_by(AuditCheckpoint.seq))
        problem = self._checkpoint_problem(checkpoints)
        if problem:
            return VerifyResult(False, 0, None, problem)
        checkpoint = checkpoints[-1] if checkpoints else None
        prev, expected_seq, count, head, vouched = GENESIS, 1, 0, None, checkpoint is None
        epoch = 0
        if checkpoint is not None:
            prev, expected_seq, epoch = checkpoint.mac, checkpoint.seq + 1, checkpoint.key_epoch or 0
        if max(self.keys) < (AuditEntry.select(peewee_fn.MAX(AuditEntry.key_epoch)).scalar() or 0):
            self.reload_keys()  # rotated by another process since this one read the key file
        anchor = self.latest_anchor()
        anchor_seen, unanchored = False, 0
        query = AuditEntry.select().order_by(AuditEntry.id)
        for entry in query.iterator():
            count += 1
            if entry.seq != expected_seq:
                return VerifyResult(False, count, entry.seq,
                                    f"entry {entry.seq}: expected sequence {expected_seq} (entries deleted or reordered)")
            if entry.prev_hash != prev:
                return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: does not link to entry {entry.seq - 1}")
            entry_epoch = entry.key_epoch or 0
            if entry_epoch != epoch:
                problem = self._epoch_problem(entry, epoch, entry_epoch)
                if problem:
                    return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: {problem}")
                epoch = entry_epoch
            fields = {f: getattr(entry, f) for f in ("seq", "created_at", "county_code", "actor", "role",
                                                     "action", "entity", "payload", "prev_hash", "key_epoch")}
            if not hmac.compare_digest(self.mac(**fields), entry.mac):
                return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: content does not match its MAC (edited)")
            vouched = vouched or self._vouches(entry, checkpoint)
            if anchor and entry.seq == anchor["seq"]:
                anchor_seen = True
                if entry.mac != anchor["mac"]:
                    return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: differs from the exported anchor")
            if not anchor or entry.seq > anchor["seq"]:
                unanchored += 1
            prev, expected_seq, head = entry.mac, expected_seq + 1, entry
        if not vouched:
            return VerifyResult(False, count, None,
                                f"checkpoint after entry {checkpoint.seq}: no audit.purge entry in the chain vouches "
                                f"for it (entries up to {checkpoint.seq} removed outside a purge)")
        purged_past_anchor = anchor and checkpoint is not None and anchor["seq"] <= checkpoint.seq
        if anchor and not anchor_seen and not purged_past_anchor:
            return VerifyResult(False, count, (head.seq + 1) if head else 1,
                                f"entry {(head.seq + 1) if head else 1}: missing; the anchor names entry "
                                f"{anchor['seq']} but the log ends at {head.seq if head else 0} (truncated)")
        return VerifyResult(True, count, None, "", unanchored, anchor["seq"] if anchor else None)


@dataclass
class VerifyResult:
    ok: bool
    count: int
    first_bad: int | None
    message: str
    unanchored: int = 0  # entries after the last anchor (all of them when there is none)
    anchor_seq: int | None = None


def get_audit() -> AuditLog:
    if not has_app_context():
        raise AuditError("no application context")
    return current_app.extensions["bangban"].audit


def record(action, entity, **kw):
    """Shortcut: ``audit.record("metadata.sync", "catalog", actor=...)``."""
    return get_audit().record(action, entity, **kw)
