"""A logical, database-neutral copy of every table: one JSON-lines file per
table, rows in primary-key order, each file's SHA-256 in the manifest.

Why logical rather than ``pg_dump`` / a copy of the SQLite file: one format
restores into either database, so the same code backs up, restores and
moves a county from SQLite to PostgreSQL (``transfer`` is a dump and a load
without the files in between), and the restore runs the schema through our
own migrations, so a backup of an older release is upgraded like any
database. The snapshot is consistent: SQLite's online backup API copies the
database to a temporary file first (the app keeps serving), PostgreSQL is
read in one ``REPEATABLE READ READ ONLY`` transaction.

Values are JSON; what JSON has no type for is tagged: ``{"$dt": iso}``
(timestamps), ``{"$d": iso}`` (dates), ``{"$dec": "1.5"}``, ``{"$b64": …}``.
Loading converts by the target column's type (booleans are 0/1 in SQLite).
"""
from __future__ import annotations

import base64
import datetime
import decimal
import hashlib
import json
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

import peewee

from .. import db as dbmod

#: tables that are not data: the migration ledger is recorded as a list, the
#: purge window is empty in every committed state
SKIP = {"schema_migration", "audit_purge_window"}
BATCH = 500


class DumpError(RuntimeError):
    pass


def _encode(value):
    if isinstance(value, datetime.datetime):
        return {"$dt": value.isoformat(sep=" ")}
    if isinstance(value, datetime.date):
        return {"$d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$dec": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value, kind: str, postgres: bool):
    if isinstance(value, dict):
        if "$dt" in value:
            text = value["$dt"]
            return datetime.datetime.fromisoformat(text) if postgres else text
        if "$d" in value:
            return datetime.date.fromisoformat(value["$d"]) if postgres else value["$d"]
        if "$dec" in value:
            return decimal.Decimal(value["$dec"])
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
    if value is not None and kind.startswith("bool"):
        return bool(value)
    return value


def tables(db) -> list[str]:
    """The data tables, referenced tables before the ones referring to them."""
    names = sorted(t for t in db.get_tables() if t not in SKIP)
    deps = {t: {fk.dest_table for fk in db.get_foreign_keys(t) if fk.dest_table != t and fk.dest_table in names}
            for t in names}
    ordered, done = [], set()
    while len(ordered) < len(names):
        ready = [t for t in names if t not in done and deps[t] <= done]
        if not ready:
            raise DumpError(f"circular foreign keys among {sorted(set(names) - done)}")
        for t in ready:
            ordered.append(t)
            done.add(t)
    return ordered


def _columns(db, table) -> list:
    return db.get_columns(table)


def _order(db, table, columns) -> list[str]:
    keys = db.get_primary_keys(table)
    return keys or [c.name for c in columns]


@contextmanager
def snapshot(db):
    """A consistent read-only view of ``db``: yields a database to read.
    SQLite: a copy made with the online backup API (closed and removed
    after); PostgreSQL: one repeatable-read transaction on ``db``."""
    if dbmod.is_postgres(db):
        if db.in_transaction():
            raise DumpError("a snapshot cannot be taken inside a transaction")
        was_closed = db.is_closed()
        db.connect(reuse_if_open=True)  # an open connection stays open (it may hold a job's lock)
        try:
            db.execute_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield db
            finally:
                db.execute_sql("ROLLBACK")
        finally:
            if was_closed:
                db.close()
        return
    with tempfile.TemporaryDirectory(prefix="bangban-snapshot-") as tmp:
        copy_path = Path(tmp) / "snapshot.sqlite3"
        source = sqlite3.connect(db.database, timeout=30)
        target = sqlite3.connect(str(copy_path))
        try:
            source.backup(target)  # one step: a read snapshot (WAL keeps writers going)
        finally:
            target.close()
            source.close()
        copy = peewee.SqliteDatabase(str(copy_path))
        copy.connect()
        try:
            yield copy
        finally:
            copy.close()


def migrations_of(db) -> list[str]:
    if "schema_migration" not in db.get_tables():
        return []
    table = peewee.Table("schema_migration", ("name",)).bind(db)
    return sorted(r[0] for r in table.select(table.name).tuples())


def dump(db, folder: Path) -> dict:
    """Write every table of ``db`` (a snapshot) under ``folder``; return the
    manifest part: ``{"migrations": [...], "tables": {name: {...}}, "order": [...]}``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"migrations": migrations_of(db), "order": tables(db), "tables": {}}
    for name in out["order"]:
        columns = _columns(db, name)
        col_names = [c.name for c in columns]
        t = peewee.Table(name, col_names).bind(db)
        query = t.select(*[getattr(t, c) for c in col_names]).order_by(
            *[getattr(t, c) for c in _order(db, name, columns)])
        digest, rows = hashlib.sha256(), 0
        path = folder / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            for row in query.tuples().iterator():
                line = json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":")) + "\n"
                fh.write(line)
                digest.update(line.encode("utf-8"))
                rows += 1
        out["tables"][name] = {"columns": col_names, "rows": rows, "file": f"tables/{name}.jsonl",
                               "sha256": digest.hexdigest()}
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def has_data(db) -> list[str]:
    """Tables of ``db`` holding rows (the migration ledger aside)."""
    full = []
    for name in db.get_tables():
        if name in SKIP:
            continue
        t = peewee.Table(name).bind(db)
        if t.select(peewee.SQL("1")).limit(1).exists():
            full.append(name)
    return full


def load(db, folder: Path, part: dict):
    """Insert the dumped rows into ``db`` (schema already at the dump's
    migrations, tables empty), in one transaction; self-references are
    filled in after their table's rows; PostgreSQL's sequences are reset."""
    postgres = dbmod.is_postgres(db)
    with db.atomic():
        for name in part["order"]:
            info = part["tables"][name]
            if name not in db.get_tables():
                raise DumpError(f"table {name} of the backup does not exist in the migrated schema")
            target = {c.name: c.data_type.lower() for c in _columns(db, name)}
            missing = [c for c in info["columns"] if c not in target]
            if missing:
                raise DumpError(f"table {name}: columns {missing} of the backup are not in the schema")
            selfref = [fk.column for fk in db.get_foreign_keys(name) if fk.dest_table == name]
            cols = info["columns"]
            t = peewee.Table(name, cols).bind(db)
            fields = [getattr(t, c) for c in cols]
            kinds = [target[c] for c in cols]
            later, batch = [], []
            keys = db.get_primary_keys(name)
            with open(folder / f"{name}.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    values = [_decode(v, k, postgres) for v, k in zip(json.loads(line), kinds)]
                    row = dict(zip(cols, values))
                    if selfref and any(row.get(c) is not None for c in selfref):
                        later.append(({k: row[k] for k in keys}, {c: row[c] for c in selfref}))
                        row.update({c: None for c in selfref})
                    batch.append(tuple(row[c] for c in cols))
                    if len(batch) >= BATCH:
                        t.insert(batch, columns=fields).execute()
                        batch = []
            if batch:
                t.insert(batch, columns=fields).execute()
            for key, values in later:
                cond = None
                for k, v in key.items():
                    cond = (getattr(t, k) == v) if cond is None else (cond & (getattr(t, k) == v))
                t.update({getattr(t, c): v for c, v in values.items()}).where(cond).execute()
        if postgres:
            reset_sequences(db, part["order"])


def reset_sequences(db, names):
    """Point each serial column's sequence past the largest id loaded."""
    for name in names:
        for column in db.get_columns(name):
            if not (column.default or "").startswith("nextval("):
                continue
            t = peewee.Table(name, (column.name,)).bind(db)
            col = getattr(t, column.name)
            seq = peewee.fn.pg_get_serial_sequence(name, column.name)
            biggest = peewee.fn.MAX(col)
            t.select(peewee.fn.setval(seq, peewee.fn.COALESCE(biggest, 1), biggest.is_null(False))).scalar()


def count_rows(db, names) -> dict:
    return {name: peewee.Table(name).bind(db).select(peewee.fn.COUNT(peewee.SQL("*"))).scalar() for name in names}


def truncate_for_load(db, names):
    """Empty tables that the migrations seeded, so the load starts clean
    (the audit chain is never seeded by a migration and is not touched)."""
    for name in reversed(names):
        if name == "audit_entry":
            continue
        t = peewee.Table(name).bind(db)
        if t.select(peewee.SQL("1")).limit(1).exists():
            t.delete().execute()
