"""``bangban catalog export|import``: the service catalog as an Excel workbook
(``*.xlsx``, see :mod:`core.catalog_io` for the layout) or as YAML packs (a
directory). Import validates everything first; on any problem it prints every
one and exits 1 with nothing changed."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .cli import metadata_kinds, pass_ctx

STAGES = {"export": "导出 export", "read": "读取 read", "validate": "校验 validate", "store": "保存 store"}


class Progress:
    """The ``progress(done, total, stage)`` callback: a progress bar on a
    terminal, otherwise a line when a stage starts and when it ends."""

    def __init__(self, stream=None):
        self.stream = stream or click.get_text_stream("stderr")
        self.tty = self.stream.isatty()
        self.stage, self.bar, self.done = None, None, 0

    def label(self, stage):
        head, _, rest = stage.partition(" ")
        return (STAGES.get(head, head) + (f" {rest}" if rest else "")).strip()

    def __call__(self, done, total, stage):
        if stage != self.stage:
            self.close()
            self.stage, self.done = stage, 0
            if self.tty:
                self.bar = click.progressbar(length=max(total, 1), label=self.label(stage), file=self.stream)
                self.bar.__enter__()
            else:
                click.echo(f"{self.label(stage)} …", file=self.stream)
        if self.bar is not None:
            self.bar.length = max(total, 1)
            self.bar.update(max(done - self.bar.pos, 0))
        elif done >= total and self.done < total:
            click.echo(f"{self.label(stage)}: {done}/{total}", file=self.stream)
        self.done = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
        self.stage = None


def _is_workbook(path):
    suffix = Path(path).suffix.lower()
    if suffix in (".xls", ".xlsm", ".csv", ".ods"):
        raise click.UsageError(f"{path}: only .xlsx workbooks or YAML pack directories are supported")
    return suffix == ".xlsx"


def _problems(problems):
    for problem in problems:
        click.echo(str(problem), err=True)
    click.echo(f"{len(problems)} problem(s); nothing was changed", err=True)
    sys.exit(1)


def register(cli):
    """Add the ``catalog`` group to ``cli`` (once)."""
    if "catalog" in getattr(cli, "commands", {}):
        return

    @cli.group("catalog")
    def catalog():
        """Export and import the service catalog (Excel workbook or YAML packs)."""

    @catalog.command("export")
    @click.argument("target", type=click.Path())
    @click.option("--pack", "packs", multiple=True, help="Only the items of this pack (workbooks; repeatable).")
    @pass_ctx
    def catalog_export(ctx, target, packs):
        """Write the current catalog to TARGET: FILE.xlsx, or a directory of YAML packs."""
        from . import catalog_io, db

        progress = Progress()
        with ctx.app.app_context():
            db.migrate()
            try:
                if _is_workbook(target):
                    items = catalog_io.current_items(packs)
                    catalog_io.export_xlsx(target, items, progress=progress)
                    message = f"wrote {len(items)} item(s) to {target}"
                elif Path(target).exists() and any(Path(target).iterdir()):
                    progress.close()
                    click.echo(f"{target} is not empty; export YAML packs into a new or empty directory", err=True)
                    sys.exit(1)
                else:
                    message = f"wrote {len(catalog_io.export_yaml(target))} file(s) under {target}"
            finally:
                progress.close()
        click.echo(message)

    @catalog.command("import")
    @click.argument("source", type=click.Path(exists=True))
    @click.option("--dry-run", is_flag=True, help="Validate only; store nothing.")
    @pass_ctx
    def catalog_import(ctx, source, dry_run):
        """Validate SOURCE (FILE.xlsx or a directory of YAML packs) and store what changed."""
        from . import catalog_io, db

        progress = Progress()
        with ctx.app.app_context():
            db.migrate()
            try:
                if _is_workbook(source):
                    result = catalog_io.import_xlsx(source, progress=progress)
                else:
                    result = catalog_io.import_yaml(source, kinds=metadata_kinds(ctx.pm), progress=progress)
                if result.problems:
                    progress.close()
                    _problems(result.problems)
                if dry_run:
                    progress.close()
                    click.echo(f"ok: {len(result.items)} item(s); nothing stored (--dry-run)")
                    return
                counts = catalog_io.apply_import(result, actor=os.environ.get("USER", "cli"), role="cli",
                                                 progress=progress)
            except catalog_io.CatalogImportError as exc:
                progress.close()
                _problems(exc.problems)
            finally:
                progress.close()
        click.echo(f"{len(result.items)} item(s): " + ", ".join(f"{v} {k}" for k, v in counts.items()))
