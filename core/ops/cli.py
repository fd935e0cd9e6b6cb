"""The operations commands (added by core.builtins.operations):
``backup``, ``restore``, ``transfer``, ``keys …`` and ``jobs …``."""
from __future__ import annotations

import os
import sys

import click

from ..cli import pass_ctx

PASSPHRASE_ENV = "BANGBAN_KEYS_PASSPHRASE"


def _fail(message, code=1):
    click.echo(message, err=True)
    sys.exit(code)


def _passphrase(confirm=False):
    return os.environ.get(PASSPHRASE_ENV) or click.prompt("Passphrase", hide_input=True,
                                                         confirmation_prompt=confirm)


def register(cli):
    cli.add_command(backup_cmd)
    cli.add_command(restore_cmd)
    cli.add_command(transfer_cmd)
    cli.add_command(keys)
    cli.add_command(jobs)


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@pass_ctx
def backup_cmd(ctx, dest):
    """A consistent backup into the new directory DEST while the app serves:
    every table, the uploads, the anchors and a manifest with checksums.
    The key files are not included."""
    from .backup import KEYS_NOTE, BackupError, backup

    try:
        manifest = backup(ctx.app, dest)
    except BackupError as exc:
        _fail(f"bangban backup: {exc}")
    rows = sum(t["rows"] for t in manifest["tables"].values())
    head = manifest["audit_head"]
    click.echo(f"backup written to {dest}: {len(manifest['tables'])} tables, {rows} rows, "
               f"{len(manifest['uploads'])} uploads; audit chain head {head['seq'] if head else '-'}")
    click.echo(KEYS_NOTE)


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--replace", is_flag=True, help="drop the data of the configured database first")
@click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False),
              help="a 'bangban keys export' file: its keys become this server's")
@click.option("--replace-keys", is_flag=True, help="set aside key files of this server that differ from --keys")
@pass_ctx
def restore_cmd(ctx, src, replace, keys_file, replace_keys):
    """Restore the backup SRC into the configured database (SQLite or
    PostgreSQL), which must be empty unless --replace; then verify the audit
    chain and decrypt a sample of personal fields."""
    from .. import config as configmod
    from .backup import BackupError, check
    from .keys import KeysError, import_keys
    from .restore import RestoreError, restore

    try:
        problems = check(src)
    except BackupError as exc:
        _fail(f"bangban restore: {exc}")
    if problems:
        _fail("bangban restore: the backup is damaged, nothing was restored:\n  " + "\n  ".join(problems))
    if keys_file:
        try:
            written = import_keys(configmod.from_env(), keys_file, _passphrase(), replace=replace_keys)
        except KeysError as exc:
            _fail(f"bangban restore: {exc}")
        click.echo(f"keys written: {', '.join(written) or 'none (this server has them already)'}")
    try:
        report = restore(ctx.app, src, replace=replace)
    except (RestoreError, BackupError) as exc:
        _fail(f"bangban restore: {exc}")
    click.echo("restored from " + src)
    for line in report.lines():
        click.echo("  " + line)


@click.command("transfer")
@click.option("--to", "url", required=True, help="the empty target database, postgresql://user@host/name")
@pass_ctx
def transfer_cmd(ctx, url):
    """Copy everything into an empty PostgreSQL database, ids and the audit
    chain preserved; verify counts, the chain and decryption there. Stop the
    server first: what it writes after the snapshot is not copied."""
    from .transfer import TransferError, transfer

    try:
        report = transfer(ctx.app, url)
    except TransferError as exc:
        _fail(f"bangban transfer: {exc}")
    click.echo("transferred and verified:")
    for line in report.lines()[:1] + report.lines()[2:]:
        click.echo("  " + line)
    click.echo("Now set BANGBAN_DATABASE_URL to the target and restart the server; keep the SQLite file "
               "until the new server has run for a while.")


# --- keys ---------------------------------------------------------------------------

@click.group()
def keys():
    """Export, import and rotate the keys."""


@keys.command("export")
@click.argument("target", type=click.Path(dir_okay=False))
@pass_ctx
def keys_export(ctx, target):
    """Write the data key, the audit key and the secret key to TARGET,
    encrypted under a passphrase (BANGBAN_KEYS_PASSPHRASE or asked)."""
    from .. import config as configmod
    from .keys import KeysError, export_keys

    try:
        path = export_keys(configmod.from_env(), target, _passphrase(confirm=True))
    except KeysError as exc:
        _fail(f"bangban keys export: {exc}")
    click.echo(f"keys exported to {path}. Keep it apart from the backups, and the passphrase apart from both.")


@keys.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace-keys", is_flag=True, help="set aside key files that differ")
def keys_import(source, replace_keys):
    """Write the keys of a 'keys export' file to this server's key files."""
    from .. import config as configmod
    from .keys import KeysError, import_keys

    try:
        written = import_keys(configmod.from_env(), source, _passphrase(), replace=replace_keys)
    except KeysError as exc:
        _fail(f"bangban keys import: {exc}")
    click.echo(f"keys written: {', '.join(written) or 'none (this server has them already)'}")


@keys.command("rotate-data")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 100000))
@pass_ctx
def keys_rotate_data(ctx, batch_size):
    """Rotate the data-encryption and lookup keys while the app serves,
    re-encrypting personal fields in batches; run it again after a crash
    and it resumes. Export the keys afterwards."""
    from .keys import KeysError, rotate_data_key

    try:
        result = rotate_data_key(ctx.app, batch_size=batch_size, echo=click.echo)
    except KeysError as exc:
        _fail(f"bangban keys rotate-data: {exc}")
    click.echo(f"data key rotated: {result['changed']} values re-encrypted in {result['passes']} pass(es); "
               f"{result['unreadable']} unreadable")
    click.echo("Export the keys now ('bangban keys export FILE'): older exports lack the new key.")


@keys.command("rotate-audit")
@pass_ctx
def keys_rotate_audit(ctx):
    """Start a new audit key epoch; the chain records it."""
    from .keys import rotate_audit_key

    epoch = rotate_audit_key(ctx.app)
    click.echo(f"audit key epoch {epoch} started. Export the keys now ('bangban keys export FILE').")


# --- jobs ---------------------------------------------------------------------------

@click.group()
def jobs():
    """The periodic jobs (SLA scan, audit anchor and purge, backup, …)."""


@jobs.command("run")
@click.argument("codes", nargs=-1)
@click.option("--due", is_flag=True, help="only jobs whose last successful run is older than their period")
@pass_ctx
def jobs_run(ctx, codes, due):
    """Run every job (or CODES) once; each under its own lock."""
    from .. import db
    from .jobs import run_jobs

    with ctx.app.app_context():
        db.migrate()
    try:
        results = run_jobs(ctx.app, codes, due_only=due)
    except KeyError as exc:
        _fail(f"bangban jobs run: {exc.args[0]}")
    for r in results:
        summary = ", ".join(f"{k}={v}" for k, v in r["summary"].items())
        click.echo(f"{r['code']:<14} {r['status']:<8} {summary}")
    if any(r["status"] == "failed" for r in results):
        sys.exit(1)


@jobs.command("list")
@pass_ctx
def jobs_list(ctx):
    """The jobs, their periods and last runs."""
    from .jobs import status

    with ctx.app.app_context():
        rows = status(ctx.app)
    for r in rows:
        last = r["last_started"].strftime("%Y-%m-%d %H:%M") if r["last_started"] else "never"
        flag = "OVERDUE" if r["overdue"] else "ok"
        click.echo(f"{r['code']:<14} every {int(r['every']):>6}s  last {last:<16} {flag}")
