"""``bangban jobs run``: one entry point for everything periodic.

The jobs come from the ``register_jobs`` hook (:func:`core.registry.jobs`):
the built-in ones are the SLA scan, audit anchoring, the audit purge and
the backup (core.builtins.operations); other plugins add theirs (outbox
delivery). ``--due`` runs only those whose last successful run is older
than their period, so cron may call it every few minutes.

Each job is idempotent, and two runs at once never collide: a job runs
under a lock of its own, a session advisory lock on PostgreSQL (released
with the connection if the process dies) and an ``flock`` on a file in the
data directory on SQLite (released by the kernel likewise); a run that
finds the lock taken skips that job. Each run is a row of ``job_run``
(start, end, outcome, the job's summary), which ``/-/health`` reads.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import socket
import zlib
from pathlib import Path

from .. import db as dbmod

LOCK_CLASS = 4242100  # the first key of the two-key advisory locks


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@contextlib.contextmanager
def job_lock(app, code):
    """Yields True if this process holds the job's lock, False if another does."""
    db = dbmod.proxy.obj
    if dbmod.is_postgres(db):
        key = zlib.crc32(code.encode("utf-8")) - 2 ** 31
        db.connect(reuse_if_open=True)
        got = db.execute_sql("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, key)).fetchone()[0]
        try:
            yield bool(got)
        finally:
            if got:
                db.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, key))
        return
    import fcntl

    folder = Path(app.config["BANGBAN"]["DATA_DIR"]) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"job-{code}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def registered(app) -> dict:
    from ..registry import jobs

    return jobs(app.extensions["bangban"].pm)


def last_ok(code):
    from .models import JobRun

    return (JobRun.select().where((JobRun.code == code) & (JobRun.ok == True))  # noqa: E712
            .order_by(JobRun.started_at.desc()).first())


def is_due(job, at=None) -> bool:
    last = last_ok(job["code"])
    at = at or utcnow()
    return last is None or (at - last.started_at).total_seconds() >= job["every"]


def run_one(app, job) -> dict:
    """One run of ``job`` under its lock; ``{"code", "status", "summary"}``
    with status ``ok``, ``failed`` or ``skipped`` (locked by another run)."""
    from .models import JobRun

    code = job["code"]
    with job_lock(app, code) as held:
        if not held:
            return {"code": code, "status": "skipped", "summary": {"why": "running elsewhere"}}
        with dbmod.transaction():
            run = JobRun.create(code=code, started_at=utcnow(), host=socket.gethostname()[:120])
        try:
            summary = job["run"](app) or {}
            ok = True
        except Exception as exc:  # noqa: BLE001 - one job's failure is recorded; the others still run
            summary, ok = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}, False
        with dbmod.transaction():
            JobRun.update(finished_at=utcnow(), ok=ok, summary=summary).where(JobRun.id == run.id).execute()
    return {"code": code, "status": "ok" if ok else "failed", "summary": summary}


def run_jobs(app, codes=(), *, due_only=False) -> list[dict]:
    jobs = registered(app)
    unknown = [c for c in codes if c not in jobs]
    if unknown:
        raise KeyError(f"unknown job(s) {', '.join(unknown)}; known: {', '.join(sorted(jobs))}")
    results = []
    with app.app_context():
        for code, job in jobs.items():
            if codes and code not in codes:
                continue
            if due_only and not is_due(job):
                results.append({"code": code, "status": "not due", "summary": {}})
                continue
            results.append(run_one(app, job))
    return results


def status(app) -> list[dict]:
    """Each job with its period and last run (for ``jobs list`` and health)."""
    from .models import JobRun

    out = []
    now = utcnow()
    for code, job in registered(app).items():
        last = JobRun.select().where(JobRun.code == code).order_by(JobRun.started_at.desc()).first()
        ok = last_ok(code)
        age = (now - ok.started_at).total_seconds() if ok else None
        out.append({"code": code, "every": job["every"], "last_started": last.started_at if last else None,
                    "last_ok": last.ok if last else None, "ok_age_seconds": age,
                    "overdue": age is None or age > 2 * job["every"],
                    "running": bool(last and last.finished_at is None)})
    return out
