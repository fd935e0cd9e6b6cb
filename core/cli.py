"""The ``bangban`` command."""
from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path

import click

from . import config as configmod
from .plugins import PluginError, collect, describe, make_manager


class Context:
    """Lazily built plugin manager and app, shared by one invocation."""

    def __init__(self):
        self._pm = None
        self._app = None

    @property
    def pm(self):
        if self._pm is None:
            conf = configmod.from_env()
            self._pm = make_manager(allow=conf["PLUGINS"], trace=conf["TRACE_HOOKS"])
        return self._pm

    @property
    def app(self):
        if self._app is None:
            from .app import create_app

            self._app = create_app(pm=self.pm)
        return self._app


pass_ctx = click.make_pass_decorator(Context, ensure=True)


@click.group()
@click.version_option(package_name="bangban", prog_name="bangban")
def cli():
    """Bangban: a platform for grassroots government service centers."""


def _fail(message, code=1):
    click.echo(message, err=True)
    sys.exit(code)


@cli.group()
def report():
    """Accounts from the command line: the same numbers the dashboard shows
    (subcommands are added by the built-in reporting plugins)."""


# --- plugins --------------------------------------------------------------

@cli.command("plugins")
@pass_ctx
def plugins_cmd(ctx):
    """List loaded plugins, their versions and the hooks each implements."""
    for row in describe(ctx.pm):
        click.echo(f"{row['name']:<20} {row['distribution']} {row['version']}")
        click.echo(f"{'':<20} {', '.join(row['hooks']) or '(no hooks)'}")


# --- database -------------------------------------------------------------

@cli.command("migrate")
@click.option("--down", "down_to", metavar="MIGRATION",
              help="Revert the applied migrations instead, newest first, back through MIGRATION "
                   "(e.g. 0007_totp_last_step); 'all' reverts every one.")
@click.option("--backup/--no-backup", "take_backup", default=True, show_default=True,
              help="back up the database (into BANGBAN_BACKUP_DIR) before applying migrations to it")
@pass_ctx
def migrate_cmd(ctx, down_to, take_backup):
    """Apply pending database migrations (or revert them with --down).
    Refuses a database migrated by a newer release; backs up first."""
    from playhouse.migrations import MigrationError

    from . import db

    with ctx.app.app_context():
        if down_to:
            try:
                reverted = db.rollback(target=None if down_to == "all" else down_to)
            except MigrationError as exc:
                raise click.BadParameter(str(exc), param_hint="--down") from exc
            click.echo("reverted: " + ", ".join(reverted) if reverted else "no migration is applied")
            return
        newer = db.unknown_migrations()
        if newer:
            _fail(f"bangban migrate: the database was migrated by a newer release ({', '.join(newer)} unknown "
                  "here); nothing was changed. Install that release (or restore a backup of this one).")
        pending = db.pending_migrations()
        if pending and take_backup:
            from .ops.backup import backup
            from .ops.dump import has_data

            if has_data(db.proxy.obj):
                import datetime

                stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
                target = Path(ctx.app.config["BANGBAN"]["BACKUP_DIR"]) / f"backup-{stamp}-before-migrate"
                backup(ctx.app, target)
                click.echo(f"backup written to {target} (the key files are not in it)")
        applied = db.migrate()
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


# --- metadata -------------------------------------------------------------

def pack_paths(pm):
    return [Path(args[0]) for _plugin, args, _kw in collect(pm, "register_metadata_packs")]


def metadata_kinds(pm):
    """Every metadata kind (the core's and the plugins'): :mod:`core.registry`."""
    from .registry import metadata_kinds as registered

    return registered(pm)


def load_catalog(pm, paths=(), previous=None):
    from .metadata.loader import load
    from .permissions import known_permissions

    return load([Path(p) for p in paths] or pack_paths(pm), metadata_kinds(pm), permissions=known_permissions(pm),
                previous=previous)


@contextlib.contextmanager
def _collector_paused():
    """No cyclic garbage collection while a sync parses and compares: its
    YAML trees and entries are freed by reference counting, and each pass
    of the collector walks the whole process (in a server, every catalog
    and cache it holds: a one-item sync in a 5,000-item county took 1.5x
    the time of the same in a 100-item one, half of it in the collector)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sync_packs(pm, paths=(), full=False, actor="cli", role="cli"):
    """``metadata sync``: read the packs (only the files changed since their
    last sync, unless ``full``) and store them (app context needed). Raises
    ``MetadataInvalid`` (nothing stored) with every error."""
    from .metadata import store
    from .permissions import known_permissions

    paths = [Path(p) for p in paths] or pack_paths(pm)
    with _collector_paused():
        fingerprint = store.fingerprint(metadata_kinds(pm), known_permissions(pm), paths)
        previous = None if full else store.previous_files(paths, fingerprint)
        catalog = load_catalog(pm, paths, previous=previous)
        return store.sync(catalog, actor=actor, role=role, files=fingerprint)


@cli.group()
def metadata():
    """Check, store and export metadata packs."""


@metadata.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False))
@pass_ctx
def metadata_check(ctx, paths):
    """Validate packs (default: every loaded plugin's). Changes nothing."""
    from .metadata.loader import MetadataInvalid

    try:
        catalog = load_catalog(ctx.pm, paths)
    except MetadataInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        _fail(f"{len(exc.errors)} error(s)")
    per_kind = ", ".join(f"{len(v)} {k}" for k, v in sorted(catalog.kinds.items()))
    click.echo(f"ok: {len(catalog.packs)} pack(s), {per_kind}")


@metadata.command("sync")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--full", is_flag=True, help="Read every file, not only those changed since the last sync.")
@pass_ctx
def metadata_sync(ctx, paths, full):
    """Store packs as versioned records (only what changed)."""
    from . import db
    from .metadata.loader import MetadataInvalid

    with ctx.app.app_context():
        db.migrate()
        try:
            counts = sync_packs(ctx.pm, paths, full=full, actor=os.environ.get("USER", "cli"), role="cli")
        except MetadataInvalid as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            _fail(f"{len(exc.errors)} error(s); nothing was stored")
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@metadata.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@pass_ctx
def metadata_export(ctx, directory):
    """Write the database's current metadata as YAML packs."""
    from .metadata import store

    with ctx.app.app_context():
        files = store.export(directory)
    click.echo(f"wrote {len(files)} file(s) under {directory}")


# --- audit ----------------------------------------------------------------

@cli.group()
def audit():
    """Verify and anchor the audit chain."""


@audit.command("verify")
@pass_ctx
def audit_verify(ctx):
    """Recompute the chain, check the purge checkpoint and compare the head
    with the latest anchor; report how many entries came after it."""
    with ctx.app.app_context():
        result = ctx.app.extensions["bangban"].audit.verify()
    if not result.ok:
        where = f" at entry {result.first_bad}" if result.first_bad is not None else ""
        _fail(f"audit chain BROKEN{where}: {result.message}")
    anchored = (f"the last anchor names entry {result.anchor_seq}" if result.anchor_seq is not None
                else "no anchor exported yet")
    click.echo(f"audit chain ok: {result.count} entries, {result.unanchored} after the last anchor ({anchored})")


@audit.command("purge")
@click.option("--days", type=int, default=None, help="retention in days (default BANGBAN_AUDIT_RETENTION_DAYS, >= 184)")
@pass_ctx
def audit_purge(ctx, days):
    """Remove audit entries older than the retention period (never younger),
    after verifying the chain; a sealed checkpoint and an audit.purge entry vouch for them."""
    from .audit import AuditError

    days = days or ctx.app.config["BANGBAN"]["AUDIT_RETENTION_DAYS"]
    with ctx.app.app_context():
        try:
            removed = ctx.app.extensions["bangban"].audit.purge(days, actor="cli", role="cli")
        except AuditError as exc:
            _fail(f"bangban audit purge: {exc}")
    click.echo(f"removed {removed} entries older than {days} days")


@audit.command("anchor")
@pass_ctx
def audit_anchor(ctx):
    """Export the head of the chain to the anchor directory (the app also
    does this itself at least every BANGBAN_AUDIT_ANCHOR_SECONDS)."""
    with ctx.app.app_context():
        path = ctx.app.extensions["bangban"].audit.write_anchor()
    click.echo(f"anchor written: {path}" if path else "the audit log is empty")


# --- working days and deadlines ---------------------------------------------

@cli.group()
def calendar():
    """The working-day calendar (official holidays and make-up workdays)."""


@calendar.command("deadline")
@click.argument("start", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("days", type=float)
@pass_ctx
def calendar_deadline(ctx, start, days):
    """Finish date of a case accepted on START with DAYS promised working days."""
    from . import db, workdays

    with ctx.app.app_context():
        db.migrate()
        try:
            text = workdays.format_deadline(start.date(), days, workdays.from_db())
        except ValueError as exc:
            _fail(f"bangban calendar deadline: {exc}")
    click.echo(text)


@calendar.command("seed")
@click.argument("years", nargs=-1, type=int, required=True)
@pass_ctx
def calendar_seed(ctx, years):
    """Write the official holidays of YEARS into the editable table."""
    from . import db, workdays

    with ctx.app.app_context():
        db.migrate()
        written = workdays.seed_holidays(list(years), actor="cli")
    click.echo(f"{written} day(s) written")


@cli.group()
def sla():
    """Deadlines and escalation."""


@sla.command("scan")
@pass_ctx
def sla_scan(ctx):
    """Escalate overdue cases and stop unmet tolerant acceptances (idempotent)."""
    from . import db
    from .cases import service

    with ctx.app.app_context():
        db.migrate()
        result = service.sla_scan()
    extra = "".join(f", {key.replace('_', ' ')}: {value}" for key, value in result.items()
                    if key not in ("opened", "stopped"))
    click.echo(f"escalations opened: {result['opened']}, cases stopped: {result['stopped']}{extra}")


# --- counties -------------------------------------------------------------

@cli.group()
def county():
    """A county's accounts."""


@county.command("init")
@click.argument("code")
@pass_ctx
def county_init(ctx, code):
    """Create a county's first administrators (system, security, audit and
    county administrator) with one-time passwords, printed once. Accounts
    that exist already are left alone. Sync the county's pack first."""
    from . import db
    from .accounts import AccountError, init_county

    with ctx.app.app_context():
        db.migrate()
        try:
            made = init_county(code, actor=os.environ.get("USER", "cli"))
        except AccountError as exc:
            _fail(f"bangban county init: {exc}")
    if not made:
        click.echo(f"county {code}: every first account exists already; nothing created")
        return
    click.echo(f"county {code}: accounts created. Each password works once and must be changed at the first "
               "sign-in; administrators then enrol their second factor.")
    for username, role, password in made:
        click.echo(f"  {username:<24} {role:<16} {password}")


# --- demo and serving -----------------------------------------------------

@cli.command()
@click.option("--password", default="Bangban@2026", show_default=True, help="password of every demo account")
@click.option("--county", default=None, help="load only this county's demo (default: every loaded region's)")
@click.option("--history", default=600, show_default=True, type=click.IntRange(min=0),
              help="cases of the past year per county, written in bulk, behind the dashboard's numbers")
@pass_ctx
def demo(ctx, password, county, history):
    """Load the demo counties of the loaded region plugins and print their logins."""
    from .demo import DemoError, load_demo
    from .metadata.loader import MetadataInvalid

    try:
        with ctx.app.app_context():
            logins = load_demo(ctx.pm, password, county=county, history=history)
    except DemoError as exc:
        _fail(f"bangban demo: {exc}")
    except MetadataInvalid as exc:
        _fail(f"bangban demo: the metadata is invalid:\n{exc}")
    click.echo("Demo loaded. Logins (password for all: %s):" % password)
    for username, role, name in logins:
        click.echo(f"  {username:<24} {role:<20} {name}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(1, 64), envvar="BANGBAN_WORKERS",
              help="worker processes (default: one per core, at least 2; env BANGBAN_WORKERS)")
@click.option("--threads", type=click.IntRange(1, 256), envvar="BANGBAN_THREADS",
              help="threads per worker (default 8; waitress: 16; env BANGBAN_THREADS)")
@click.option("--server", type=click.Choice(["gunicorn", "waitress"]), default="gunicorn", show_default=True,
              envvar="BANGBAN_SERVER", help="waitress: one process (no fork, e.g. Windows)")
@pass_ctx
def serve(ctx, host, port, workers, threads, server):
    """Serve the app (migrating the database first): gunicorn, threaded
    workers, one per core, 8 threads each (see the README's "Serving")."""
    from . import db, serving

    app = ctx.app
    with app.app_context():
        try:
            db.migrate()
        except db.SchemaNewer as exc:
            _fail(f"bangban serve: {exc}")
    if server == "waitress":
        click.echo(f"Bangban is serving at http://{host}:{port}/  (waitress, 1 process; Ctrl+C to stop)")
        serving.run_waitress(host, port, threads or 16, app)
        return
    workers = workers or serving.default_workers()
    threads = threads or serving.THREADS
    serving.release_connections(app.extensions["bangban"].db)  # the workers open their own
    click.echo(f"Bangban is serving at http://{host}:{port}/  ({workers} processes x {threads} threads; "
               "Ctrl+C to stop)")
    from .app import create_app

    serving.run_gunicorn(host, port, workers, threads, lambda: create_app(pm=ctx.pm))


def build():
    """The ``cli`` group with the catalog commands and every plugin's added."""
    from .cli_catalog import register as register_catalog

    register_catalog(cli)
    ctx = Context()
    try:
        ctx.pm.hook.register_commands(cli=cli)
    except PluginError:
        raise
    return cli, ctx


def main(argv=None):
    try:
        group, ctx = build()
        group.main(args=argv, prog_name="bangban", obj=ctx, standalone_mode=True)
    except PluginError as exc:
        _fail(f"bangban: {exc}", 2)


if __name__ == "__main__":  # pragma: no cover - ``python -m core.cli``
    from core.cli import main as canonical_main  # one copy of the module, not this __main__ one

    canonical_main()
