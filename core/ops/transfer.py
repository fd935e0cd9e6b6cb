"""``bangban transfer --to postgresql://…``: move a county that outgrew
SQLite onto PostgreSQL.

A consistent snapshot of the configured database is dumped (core.ops.dump)
and loaded into the target, which must be empty: ids, the audit chain,
metadata versions, accounts and everything else as they are; open sessions
are ended (staff sign in again on the new server); the uploaded files stay
where they are (the same data directory) and every one the cases name is
checked to exist. Success is reported only after the counts match, the chain
verifies on the target and a sample of personal fields decrypts there.
Then point ``BANGBAN_DATABASE_URL`` at the target and restart.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .. import db as dbmod
from . import dump
from .restore import Report, RestoreError, end_sessions, plan, sample_decrypt, schema_at, verify_chain


class TransferError(RuntimeError):
    pass


def missing_uploads(app) -> list[str]:
    """Uploads the cases name whose file is not in the data directory."""
    import re

    from ..cases.models import Case

    folder = Path(app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
    digest = re.compile(r"^[0-9a-f]{64}$")
    missing = []
    from .. import sharding

    cases = (case for county in sharding.counties()
             for case in Case.select(Case.number, Case.data).where(Case.county_code == county).iterator())
    for case in cases:
        for value in (case.data or {}).values():
            for entry in (value if isinstance(value, list) else [value]):
                sha = entry.get("sha256") if isinstance(entry, dict) else None
                if isinstance(sha, str) and digest.match(sha) and \
                        not (folder / f"{sha}.{entry.get('type')}").is_file():
                    missing.append(f"{case.number}: {sha}")
    return missing


def transfer(app, url: str, *, pool_size: int = 4) -> Report:
    source = app.extensions["bangban"].db
    if not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
        raise TransferError("the target must be a postgresql:// (or sqlite:///) URL")
    if url == app.config["BANGBAN"]["DATABASE_URL"]:
        raise TransferError("the target is the configured database itself")
    with app.app_context():
        pending = dbmod.pending_migrations(source)
        if pending:
            raise TransferError(f"run 'bangban migrate' first: {', '.join(pending)} pending")
        missing = missing_uploads(app)
    target = dbmod.open_database(url, pool_size)
    report = Report()
    try:
        target.connect(reuse_if_open=True)
        full = dump.has_data(target)
        if full:
            raise TransferError(f"the target database holds data (tables {', '.join(sorted(full)[:5])}): "
                                "transfer only into an empty database")
        with tempfile.TemporaryDirectory(prefix="bangban-transfer-") as tmp:
            with dump.snapshot(source) as snap:
                part = dump.dump(snap, Path(tmp))
            goal = plan(part["migrations"])
            dbmod.bind(target)
            try:
                with app.app_context():
                    schema_at(target, goal)
                    dump.truncate_for_load(target, part["order"])
                    dump.load(target, Path(tmp), part)
                    counts = dump.count_rows(target, part["order"])
                    wrong = {n: (counts[n], part["tables"][n]["rows"]) for n in part["order"]
                             if counts[n] != part["tables"][n]["rows"]}
                    if wrong:
                        raise TransferError(f"row counts differ on the target (table: found, expected): {wrong}")
                    report.tables, report.rows = len(counts), sum(counts.values())
                    report.sessions_ended = end_sessions(target, "moved")
                    report.chain = verify_chain(app)
                    report.decrypted = sample_decrypt(app)
                    from .. import audit

                    with dbmod.transaction():
                        audit.record("ops.transfer", "database", actor="cli", role="cli",
                                     payload={"rows": report.rows, "tables": report.tables,
                                              "to": "postgresql" if dbmod.is_postgres(target) else "sqlite"})
                    report.chain = verify_chain(app)
            finally:
                dbmod.bind(source)
        report.files = -len(missing) if missing else 0
    except RestoreError as exc:
        raise TransferError(str(exc)) from None
    finally:
        if hasattr(target, "close_all"):
            target.close_all()
        elif not target.is_closed():
            target.close()
    if missing:
        raise TransferError(f"copied and verified, but {len(missing)} uploaded files the cases name are missing "
                            f"from the data directory: {missing[:5]}")
    return report
