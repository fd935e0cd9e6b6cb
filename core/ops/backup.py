"""``bangban backup DEST``: a consistent online backup while the app serves.

A backup is a directory::

    DEST/manifest.json        versions, migrations, row counts, checksums, the chain's head
    DEST/tables/<table>.jsonl every table (core.ops.dump)
    DEST/uploads/…            the uploaded files (content-addressed)
    DEST/anchors/…            the audit anchors up to the backed-up head

It never holds the key files (data key, audit key, secret key): whoever has
a backup and its keys has every citizen's ID number. ``bangban keys export``
writes the keys, passphrase-protected, for a separate safe place.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import socket
from pathlib import Path

import peewee

from .. import db as dbmod
from . import dump

FORMAT = "bangban-backup/1"
KEYS_NOTE = ("The key files are NOT in this backup: keep them elsewhere ('bangban keys export FILE' writes them "
             "passphrase-protected). Without the data key no ID number or phone can be read; without the audit "
             "key the chain cannot be verified.")


class BackupError(RuntimeError):
    pass


def version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("bangban")
    except Exception:  # noqa: BLE001 - running from a checkout
        return "0+unknown"


def _head(db, columns):
    names = ["seq", "mac"] + (["key_epoch"] if "key_epoch" in columns else [])
    t = peewee.Table("audit_entry", names).bind(db)
    row = t.select(*[getattr(t, n) for n in names]).order_by(t.seq.desc()).limit(1).tuples().first()
    return {"seq": row[0], "mac": row[1], "key_epoch": (row[2] if len(row) > 2 else 0) or 0} if row else None


def _copy_tree(source: Path, target: Path, only=None) -> dict:
    """Copy the files under ``source``; return ``{relative path: sha256}``."""
    sums = {}
    if not source.is_dir():
        return sums
    for path in sorted(source.rglob("*")):
        if not path.is_file() or (only is not None and not only(path)):
            continue
        rel = path.relative_to(source).as_posix()
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        sums[rel] = dump.file_sha256(dest)
    return sums


def _anchor_filter(head):
    from ..audit import ANCHOR_NAME

    def keep(path):
        match = ANCHOR_NAME.fullmatch(path.name)
        return bool(match) and head is not None and int(match.group(2)) <= head["seq"]
    return keep


def backup(app, dest) -> dict:
    """Back up ``app``'s database and files into the new directory ``dest``."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} exists and is not empty: a backup goes into a new directory")
    conf = app.config["BANGBAN"]
    db = app.extensions["bangban"].db
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        with dump.snapshot(db) as snap:
            part = dump.dump(snap, partial / "tables")
            head = _head(snap, part["tables"]["audit_entry"]["columns"]) if "audit_entry" in part["tables"] else None
        pending = dbmod.pending_migrations(db)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "bangban_version": version(),
            "python": platform.python_version(),
            "peewee": peewee.__version__,
            "database": "postgresql" if dbmod.is_postgres(db) else "sqlite",
            "migrations": part["migrations"],
            "pending_migrations": pending,
            "order": part["order"],
            "tables": part["tables"],
            "audit_head": head,
            "uploads": _copy_tree(Path(conf["DATA_DIR"]) / "uploads", partial / "uploads"),
            "anchors": _copy_tree(Path(conf["AUDIT_ANCHOR_DIR"]), partial / "anchors", _anchor_filter(head)),
            "keys": KEYS_NOTE,
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True),
                                               encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        os.replace(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def read_manifest(src) -> dict:
    path = Path(src) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src} is not a backup: it has no manifest.json") from None
    except ValueError as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: unknown backup format {manifest.get('format')!r}")
    return manifest


def check(src) -> list[str]:
    """Every checksum of the backup at ``src``; the problems found (none: [])."""
    src = Path(src)
    manifest = read_manifest(src)
    problems = []
    for name, info in manifest["tables"].items():
        path = src / info["file"]
        if not path.is_file():
            problems.append(f"table {name}: {info['file']} is missing")
            continue
        if dump.file_sha256(path) != info["sha256"]:
            problems.append(f"table {name}: {info['file']} does not match its checksum")
            continue
        with open(path, encoding="utf-8") as fh:
            rows = sum(1 for _ in fh)
        if rows != info["rows"]:
            problems.append(f"table {name}: {rows} rows, the manifest says {info['rows']}")
    for folder in ("uploads", "anchors"):
        for rel, digest in manifest.get(folder, {}).items():
            path = src / folder / rel
            if not path.is_file():
                problems.append(f"{folder}/{rel} is missing")
            elif dump.file_sha256(path) != digest:
                problems.append(f"{folder}/{rel} does not match its checksum")
    return problems


def prune(folder, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest backups (``backup-*``) in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = sorted((p for p in folder.glob("backup-*") if p.is_dir() and (p / "manifest.json").is_file()),
                   key=lambda p: p.name, reverse=True)
    removed = []
    for old in found[max(keep, 1):]:
        shutil.rmtree(old)
        removed.append(old)
    return removed


def newest(folder):
    """``(path, manifest)`` of the newest complete backup in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("backup-*"), key=lambda p: p.name, reverse=True):
        if (path / "manifest.json").is_file():
            try:
                return path, read_manifest(path)
            except BackupError:
                continue
    return None
