"""The audit chain: one append-only table, each entry HMAC-linked to the last.

``record()`` must run inside the transaction of the change it records, so
the entry and the change commit or vanish together. The HMAC key lives in a
file outside the database; anchors (the head's sequence number and MAC) are
exported to files so that truncating the table's tail is detected too.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, has_app_context

from . import db as dbmod
from .models import AuditEntry

GENESIS = "0" * 64
MIN_RETENTION_DAYS = 184


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class AuditError(RuntimeError):
    pass


class AuditLog:
    """Per-app audit service, kept in ``app.extensions['bangban'].audit``."""

    def __init__(self, key: bytes, anchor_dir: Path, pm=None):
        self.key = key
        self.anchor_dir = Path(anchor_dir)
        self.pm = pm

    # -- writing -----------------------------------------------------------
    def mac(self, seq, created_at, county_code, actor, role, action, entity, payload, prev_hash):
        message = json.dumps(
            [seq, created_at, county_code, actor, role, action, entity, payload, prev_hash],
            ensure_ascii=False, separators=(",", ":"),
        ).encode("utf-8")
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def record(self, action, entity, *, actor="system", role="system", payload=None, county_code=""):
        from .personal import protect_payload  # ID numbers and phones become tokens before the MAC

        payload = protect_payload(payload)
        db = dbmod.proxy.obj
        if not db.in_transaction():
            raise AuditError("audit.record() must run inside the transaction of the change it records")
        if dbmod.is_postgres(db):
            db.execute_sql("SELECT pg_advisory_xact_lock(4242001)")
        last = AuditEntry.select(AuditEntry.seq, AuditEntry.mac).order_by(AuditEntry.seq.desc()).first()
        seq = (last.seq + 1) if last else 1
        prev = last.mac if last else GENESIS
        created_at = now().isoformat(timespec="microseconds")
        body = json.dumps(payload or {}, ensure_ascii=False, sort_keys=True, default=str)
        fields = dict(seq=seq, created_at=created_at, county_code=county_code or "", actor=actor, role=role,
                      action=action, entity=str(entity), payload=body, prev_hash=prev)
        entry = AuditEntry.create(mac=self.mac(**fields), **fields)
        if self.pm is not None:
            self.pm.hook.audit_recorded(entry=entry)
        return entry

    # -- anchors -----------------------------------------------------------
    def write_anchor(self) -> Path | None:
        head = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
        if head is None:
            return None
        self.anchor_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.anchor_dir / f"anchor-{stamp}-{head.seq:012d}.json"
        path.write_text(json.dumps({"seq": head.seq, "mac": head.mac, "created_at": head.created_at}))
        return path

    def latest_anchor(self):
        files = sorted(self.anchor_dir.glob("anchor-*.json")) if self.anchor_dir.is_dir() else []
        return json.loads(files[-1].read_text()) if files else None

    # -- retention -----------------------------------------------------------
    def purge(self, retention_days: int, *, actor="system", role="system") -> int:
        """Remove entries older than ``retention_days`` (at least 184: six
        months); never a younger one. Returns how many were removed."""
        from .models import AuditCheckpoint

        if retention_days < MIN_RETENTION_DAYS:
            raise AuditError(f"audit entries are kept at least {MIN_RETENTION_DAYS} days")
        cutoff = (now() - datetime.timedelta(days=retention_days)).isoformat(timespec="microseconds")
        db = dbmod.proxy.obj
        with dbmod.transaction():
            last = (AuditEntry.select().where(AuditEntry.created_at < cutoff)
                    .order_by(AuditEntry.seq.desc()).first())
            if last is None:
                return 0
            db.execute_sql("INSERT INTO audit_purge_window (before) VALUES (%s)" if dbmod.is_postgres(db)
                           else "INSERT INTO audit_purge_window (before) VALUES (?)", (cutoff,))
            removed = AuditEntry.delete().where(AuditEntry.seq <= last.seq).execute()
            db.execute_sql("DELETE FROM audit_purge_window")
            AuditCheckpoint.create(seq=last.seq, mac=last.mac, created_at=last.created_at)
            self.record("audit.purge", "audit_entry", actor=actor, role=role,
                        payload={"through_seq": last.seq, "removed": removed, "cutoff": cutoff})
        return removed

    # -- checking ----------------------------------------------------------
    def verify(self) -> VerifyResult:
        from .models import AuditCheckpoint

        prev, expected_seq, count, head = GENESIS, 1, 0, None
        checkpoint = AuditCheckpoint.select().order_by(AuditCheckpoint.seq.desc()).first()
        if checkpoint is not None:
            prev, expected_seq = checkpoint.mac, checkpoint.seq + 1
        anchor = self.latest_anchor()
        anchor_seen = False
        query = AuditEntry.select().order_by(AuditEntry.id)
        for entry in query.iterator():
            count += 1
            if entry.seq != expected_seq:
                return VerifyResult(False, count, entry.seq,
                                    f"entry {entry.seq}: expected sequence {expected_seq} (entries deleted or reordered)")
            if entry.prev_hash != prev:
                return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: does not link to entry {entry.seq - 1}")
            fields = {f: getattr(entry, f) for f in ("seq", "created_at", "county_code", "actor", "role",
                                                     "action", "entity", "payload", "prev_hash")}
            if not hmac.compare_digest(self.mac(**fields), entry.mac):
                return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: content does not match its MAC (edited)")
            if anchor and entry.seq == anchor["seq"]:
                anchor_seen = True
                if entry.mac != anchor["mac"]:
                    return VerifyResult(False, count, entry.seq, f"entry {entry.seq}: differs from the exported anchor")
            prev, expected_seq, head = entry.mac, expected_seq + 1, entry
        purged_past_anchor = anchor and checkpoint is not None and anchor["seq"] <= checkpoint.seq
        if anchor and not anchor_seen and not purged_past_anchor:
            return VerifyResult(False, count, (head.seq + 1) if head else 1,
                                f"entry {(head.seq + 1) if head else 1}: missing; the anchor names entry "
                                f"{anchor['seq']} but the log ends at {head.seq if head else 0} (truncated)")
        note = "" if anchor else "no anchor exported yet: run 'bangban audit anchor' to detect truncation"
        return VerifyResult(True, count, None, note)


@dataclass
class VerifyResult:
    ok: bool
    count: int
    first_bad: int | None
    message: str


def get_audit() -> AuditLog:
    if not has_app_context():
        raise AuditError("no application context")
    return current_app.extensions["bangban"].audit


def record(action, entity, **kw):
    """Shortcut: ``audit.record("metadata.sync", "catalog", actor=...)``."""
    return get_audit().record(action, entity, **kw)
