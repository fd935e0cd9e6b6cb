"""Operating a county server: backup and restore, transfer to PostgreSQL,
keys, the periodic jobs, ``/-/health`` and the JSON request log
(:mod:`core.ops`)."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_blueprints(register):
    from ..ops.health import bp

    register(bp)


@hookimpl
def startup(app):
    from ..ops.logs import init_app

    init_app(app)


@hookimpl
def register_commands(cli):
    from ..ops.cli import register

    register(cli)


def _sla_scan(app):
    from ..cases import service

    return service.sla_scan()


def _audit_anchor(app):
    path = app.extensions["bangban"].audit.write_anchor()
    return {"anchor": path.name if path else None}


def _audit_purge(app):
    days = app.config["BANGBAN"]["AUDIT_RETENTION_DAYS"]
    removed = app.extensions["bangban"].audit.purge(days, actor="jobs", role="system")
    return {"removed": removed, "days": days}


def _backup(app):
    import datetime
    from pathlib import Path

    from ..ops.backup import backup, prune

    conf = app.config["BANGBAN"]
    folder = Path(conf["BACKUP_DIR"])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    manifest = backup(app, folder / f"backup-{stamp}")
    removed = prune(folder, conf["BACKUP_KEEP"])
    return {"backup": f"backup-{stamp}", "rows": sum(t["rows"] for t in manifest["tables"].values()),
            "removed": len(removed)}


@hookimpl
def register_jobs(register):
    from flask_babel import lazy_gettext as _l

    register("sla_scan", label=_l("Escalate overdue cases"), run=_sla_scan, every=15 * 60)
    register("audit_anchor", label=_l("Anchor the audit chain"), run=_audit_anchor, every=10 * 60)
    register("audit_purge", label=_l("Purge audit entries past the retention period"), run=_audit_purge,
             every=24 * 3600)
    register("backup", label=_l("Back up the database and the uploads"), run=_backup, every=24 * 3600)
