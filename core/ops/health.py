"""``/-/health``: for a monitor, no sign-in, no personal data.

Reports whether the database answers, whether the migrations are current,
the age of the newest audit anchor (and how many entries came after it),
the age of the newest backup and the jobs' backlog (jobs whose last
successful run is older than twice their period, or failed last time).
Answers 200 when all is well and 503 when something needs a person.
"""
from __future__ import annotations

import datetime
import time
from pathlib import Path

from flask import Blueprint, current_app, jsonify

bp = Blueprint("ops", __name__)


def _anchor(state, conf):
    audit = state.audit
    files = audit.anchor_files()
    newest = max((p.stat().st_mtime for p in files), default=None)
    latest = audit.latest_anchor()
    from ..models import AuditEntry

    head = AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).first()
    behind = (head.seq - (latest["seq"] if latest else 0)) if head else 0
    age = None if newest is None else max(0, int(time.time() - newest))
    limit = conf["ANCHOR_MAX_AGE_MINUTES"] * 60
    ok = behind == 0 or (age is not None and age <= limit)
    return {"ok": ok, "age_seconds": age, "entries_after": max(behind, 0)}


def _backup(conf, every):
    from .backup import newest

    found = newest(conf["BACKUP_DIR"])
    if found is None:
        return {"ok": False, "age_seconds": None}
    created = datetime.datetime.fromisoformat(found[1]["created_at"])
    age = int((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds())
    return {"ok": age <= 2 * every, "age_seconds": age}


def report(app) -> tuple[dict, bool]:
    from .. import db as dbmod
    from . import jobs as jobsmod

    state = app.extensions["bangban"]
    conf = app.config["BANGBAN"]
    checks = {}
    try:
        state.db.connect(reuse_if_open=True)
        state.db.execute_sql("SELECT 1").fetchone()
        checks["database"] = {"ok": True}
    except Exception:  # noqa: BLE001 - whatever the driver raises, the answer is "unreachable"
        checks["database"] = {"ok": False}
        return {"status": "attention", "checks": checks}, False
    try:
        from playhouse.migrations import Runner

        rows = Runner(state.db, str(dbmod.MIGRATIONS)).status()
        pending = [m.name for m in rows if not m.applied and m.path]
        newer = [m.name for m in rows if m.applied and m.path is None]
        checks["migrations"] = {"ok": not pending and not newer, "pending": len(pending), "unknown": len(newer)}
        checks["audit_anchor"] = _anchor(state, conf)
        status = jobsmod.status(app)
        every = {s["code"]: s["every"] for s in status}
        checks["backup"] = _backup(conf, every.get("backup", 86400))
        overdue = sorted(s["code"] for s in status if s["overdue"])
        failed = sorted(s["code"] for s in status if s["last_ok"] is False)
        checks["jobs"] = {"ok": not overdue and not failed, "overdue": overdue, "failed": failed,
                          "running": sorted(s["code"] for s in status if s["running"])}
    except Exception as exc:  # noqa: BLE001 - e.g. the ops tables are not migrated yet
        checks["error"] = {"ok": False, "what": type(exc).__name__}
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "attention", "checks": checks}, ok


@bp.route("/-/health")
def health():
    body, ok = report(current_app)
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
