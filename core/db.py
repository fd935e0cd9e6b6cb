"""Database connection, transactions and migrations (peewee).

SQLite (WAL) is the embedded default; PostgreSQL is reached through a
``postgresql://`` URL and always pooled. Models bind to one proxy, so a
process serves one database at a time (tests re-point it per app).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as url_connect
from playhouse.migrations import Runner

proxy = peewee.DatabaseProxy()
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
}


def open_database(url: str, pool_size: int = 8) -> peewee.Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread, kept open: closing the last WAL
        # connection checkpoints, which costs every request.
        return peewee.SqliteDatabase(path or ":memory:", pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    if parsed.scheme in ("postgres", "postgresql"):
        url = url.replace(parsed.scheme + "://", "postgresql+pool://", 1)
    if parsed.scheme.startswith("postgres"):
        return url_connect(url, max_connections=pool_size, stale_timeout=300, timeout=10)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def bind(db: peewee.Database):
    proxy.initialize(db)


def is_postgres(db=None) -> bool:
    db = db or proxy.obj
    return isinstance(db, peewee.PostgresqlDatabase)


@contextlib.contextmanager
def transaction():
    """A write transaction. On SQLite it takes the write lock at once
    (``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing on
    a stale snapshot; nested calls become savepoints."""
    db = proxy.obj
    if isinstance(db, peewee.SqliteDatabase) and not db.in_transaction():
        with db.atomic("IMMEDIATE") as txn:
            yield txn
    else:
        with db.atomic() as txn:
            yield txn


class SchemaNewer(RuntimeError):
    """The database has migrations this code does not know (a newer release wrote it)."""


def unknown_migrations(db=None) -> list[str]:
    """Applied migrations whose files this code lacks: the schema is newer."""
    db = db or proxy.obj
    return [m.name for m in Runner(db, str(MIGRATIONS)).status() if m.applied and m.path is None]


def migrate(db=None) -> list[str]:
    """Apply pending migrations; return their names. Refuses a database
    whose schema is newer than this code (:class:`SchemaNewer`)."""
    db = db or proxy.obj
    newer = unknown_migrations(db)
    if newer:
        raise SchemaNewer(f"the database was migrated by a newer release ({', '.join(newer)} unknown here): "
                          "install that release; this one would not understand its data")
    return Runner(db, str(MIGRATIONS)).up()


def pending_migrations(db=None) -> list[str]:
    db = db or proxy.obj
    return [m.name for m in Runner(db, str(MIGRATIONS)).status() if not m.applied and m.path]


def rollback(db=None, target: str | None = None) -> list[str]:
    """Revert applied migrations, newest first, back through ``target`` (a
    migration name) or, without one, all of them; return their names."""
    db = db or proxy.obj
    runner = Runner(db, str(MIGRATIONS))
    applied = [m.name for m in runner.status() if m.applied]
    if not applied:
        return []
    return runner.down(target or applied[0])


#: (model, database class, column names) -> INSERT statement: written once, not compiled by peewee per row
_INSERT_SQL = {}


def insert_row(model, **values):
    """``model.create(**values)`` without peewee's per-call query compiling:
    the instance is made the same way (defaults, foreign keys), its fields
    converted by their ``db_value``, and inserted by a statement written
    once per model and column set; the new primary key is set as ``create``
    sets it. For the hot writes (a case's rows); the model must not
    override ``save``."""
    instance = model(**values)
    meta = model._meta
    data = instance.__data__
    pk_field = meta.primary_key
    if meta.auto_increment and data.get(pk_field.name) is None:
        data.pop(pk_field.name, None)
    database = proxy.obj
    names = tuple(data)
    key = (model, type(database), names)
    sql = _INSERT_SQL.get(key)
    if sql is None:
        fields = [meta.fields[n] for n in names]
        opening, closing = database.quote

        def quote(name):
            return f"{opening}{name}{closing}"

        # names from the model's own definition, never from input; the values are parameters
        columns = ", ".join(quote(f.column_name) for f in fields)
        marks = ", ".join([database.param] * len(fields))
        sql = f"INSERT INTO {quote(meta.table_name)} ({columns}) VALUES ({marks})"  # nosec B608
        if meta.auto_increment and database.returning_clause:
            sql += f" RETURNING {quote(pk_field.column_name)}"
        _INSERT_SQL[key] = sql
    fields = meta.fields
    cursor = database.execute_sql(sql, [fields[n].db_value(data[n]) for n in names])
    if meta.auto_increment and instance._pk is None:
        instance._pk = cursor.fetchone()[0] if database.returning_clause else cursor.lastrowid
    instance._dirty.clear()
    return instance


class Param:
    """A value given when a :func:`prepared` statement runs (see :func:`param`)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def param(name):
    """A placeholder in a query built for :func:`prepared`: compiled as a
    parameter, filled in by ``run_prepared(…, name=value)``."""
    return peewee.Value(Param(name), converter=False)


#: (database class, key) -> (query, SQL, params) of the statements compiled once (:func:`prepared`)
_PREPARED = {}


def prepared(key, build):
    """The query ``build()`` makes, compiled to SQL once per ``key`` and
    database class, not per request: compiling a peewee query with a few
    dozen columns costs more than running it by its primary key. ``key``
    must name everything the query depends on (the user's scope …);
    values that change per call are :func:`param` placeholders."""
    plan_key = (type(proxy.obj), key)
    plan = _PREPARED.get(plan_key)
    if plan is None:
        if len(_PREPARED) > 4096:
            _PREPARED.clear()
        query = build()
        sql, params = query.sql()
        plan = _PREPARED[plan_key] = (query, sql, tuple(params))
    return plan


def run_prepared(key, build, **values):
    """Run the :func:`prepared` statement with its placeholders' ``values``;
    rows come as the query would give them (model objects, dicts, tuples),
    its columns converted by their fields."""
    query, sql, params = prepared(key, build)
    cursor = proxy.obj.execute_sql(sql, [values[p.name] if isinstance(p, Param) else p for p in params])
    return query._get_cursor_wrapper(cursor)
