"""Every migration reverses completely, and the migrated schema is the one
the models declare.

On SQLite and PostgreSQL: apply the migrations one at a time, recording the
schema after each; revert them one at a time, and after each revert the
schema must be exactly the one recorded before that migration; apply them all
again and the schema must equal the first one. Whatever migrations exist are
run (none is listed here). The final schema is then compared with every peewee
model of the core and the plugins: tables, columns (type and nullability),
indexes (columns and uniqueness) and foreign keys (target and ON DELETE).
"""
from __future__ import annotations

import importlib
import pkgutil

import peewee
import pytest
from playhouse.migrations import Runner

from core import db as dbmod

# Tables no model describes, and why.
UNMODELLED = {
    "schema_migration": "the migration runner's ledger",
    "audit_purge_window": "the open purge window (migration 0005), written in SQL by `bangban audit purge`",
}
LEDGER = "schema_migration"


@pytest.fixture
def database(database_url):
    database = dbmod.open_database(database_url, pool_size=1)
    database.connect()
    yield database
    if isinstance(database, peewee.PostgresqlDatabase):
        database.close_all()
    else:
        database.close()


def _rows(database, sql, params=()):
    return database.execute_sql(sql, params).fetchall()


def _snapshot_sqlite(database):
    objects = {}
    for kind, name, table, sql in _rows(database, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                                                  "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"):
        if table == LEDGER:
            continue
        objects[(kind, name)] = " ".join((sql or "").split()) if kind in ("trigger", "view") else table
    tables = {}
    for (kind, name) in list(objects):
        if kind != "table":
            continue
        columns = {c[1]: (c[2].upper(), bool(c[3]) or bool(c[5]), c[4])
                   for c in _rows(database, f'PRAGMA table_xinfo("{name}")')}
        indexes = {}
        for _seq, index, unique, origin, _partial in _rows(database, f'PRAGMA index_list("{name}")'):
            if origin == "pk":
                continue
            cols = tuple(r[2] for r in _rows(database, f'PRAGMA index_info("{index}")'))
            indexes[index] = (cols, bool(unique))
        fks = {(r[3], r[2], r[4], r[6].upper()) for r in _rows(database, f'PRAGMA foreign_key_list("{name}")')}
        tables[name] = {"columns": columns, "indexes": indexes, "fks": fks}
    return {"objects": objects, "tables": tables}


PG_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _snapshot_pg(database):
    objects = {}
    for kind, name in _rows(database, "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n "
                                      "ON n.oid = c.relnamespace WHERE n.nspname = 'public'"):
        objects[({"r": "table", "i": "index", "S": "sequence", "v": "view", "m": "view"}.get(kind, kind), name)] = kind
    for name, definition in _rows(database, "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                                            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"):
        objects[("function", name)] = " ".join(definition.split())
    for name, definition in _rows(database, "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                                            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n "
                                            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                                            "AND NOT t.tgisinternal"):
        objects[("trigger", name)] = definition
    for name, kind in _rows(database, "SELECT t.typname, t.typtype FROM pg_type t JOIN pg_namespace n "
                                      "ON n.oid = t.typnamespace WHERE n.nspname = 'public' "
                                      "AND t.typtype IN ('e', 'd', 'r')"):
        objects[("type", name)] = kind
    for name, table, definition in _rows(database, "SELECT conname, conrelid::regclass::text, "
                                                   "pg_get_constraintdef(oid) FROM pg_constraint "
                                                   "WHERE connamespace = 'public'::regnamespace"):
        objects[("constraint", name)] = (table, definition)
    for key in [k for k in objects if k[1].startswith(LEDGER)]:  # its table, key, sequence and index
        del objects[key]
    tables = {}
    for (kind, name) in list(objects):
        if kind != "table":
            continue
        columns = {r[0]: (r[1], r[2], r[3]) for r in _rows(
            database, "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                      "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a LEFT JOIN pg_attrdef d "
                      "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                      "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped", (f'"{name}"',))}
        indexes = {}
        for index, unique, primary, cols in _rows(
                database, "SELECT i.relname, x.indisunique, x.indisprimary, ARRAY(SELECT a.attname FROM "
                          "unnest(x.indkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = x.indrelid "
                          "AND a.attnum = k.n ORDER BY k.o) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                          "WHERE x.indrelid = %s::regclass", (f'"{name}"',)):
            if not primary:
                indexes[index] = (tuple(cols), unique)
        fks = set()
        for cols, target, target_cols, on_delete in _rows(
                database, "SELECT ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) "
                          "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), "
                          "c.confrelid::regclass::text, ARRAY(SELECT a.attname FROM unnest(c.confkey) "
                          "WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid "
                          "AND a.attnum = k.n ORDER BY k.o), c.confdeltype FROM pg_constraint c "
                          "WHERE c.contype = 'f' AND c.conrelid = %s::regclass", (f'"{name}"',)):
            fks.add((",".join(cols), target.strip('"'), ",".join(target_cols), PG_DELETE[on_delete]))
        tables[name] = {"columns": columns, "indexes": indexes, "fks": fks}
    return {"objects": objects, "tables": tables}


def snapshot(database):
    """Everything of ours in the database, except the runner's ledger."""
    return _snapshot_pg(database) if dbmod.is_postgres(database) else _snapshot_sqlite(database)


def test_every_migration_reverses_completely(database):
    runner = Runner(database, str(dbmod.MIGRATIONS))
    names = [m.name for m in runner.migrations()]
    assert len(names) >= 7
    before = [snapshot(database)]
    assert before[0]["objects"] == {}
    for name in names:
        assert runner.up(name) == [name]
        before.append(snapshot(database))
    first_up = before[-1]
    for name, expected in zip(reversed(names), reversed(before[:-1])):
        assert runner.down() == [name]
        assert snapshot(database) == expected, f"{name}: down() does not undo up()"
    assert snapshot(database)["objects"] == {}
    assert _rows(database, f"SELECT count(*) FROM {LEDGER}") == [(0,)]
    assert dbmod.migrate(database) == names
    assert snapshot(database) == first_up


def test_rollback_reverts_every_migration_and_migrate_restores_them(database):
    names = dbmod.migrate(database)
    first_up = snapshot(database)
    assert dbmod.pending_migrations(database) == []
    assert dbmod.rollback(database, names[-2]) == names[:-3:-1]
    assert dbmod.pending_migrations(database) == names[-2:]
    assert dbmod.rollback(database) == names[-3::-1]
    assert snapshot(database)["objects"] == {}
    assert dbmod.rollback(database) == []
    assert dbmod.migrate(database) == names
    assert snapshot(database) == first_up


# --- the migrated schema against the models ---------------------------------------

def all_models():
    """Every peewee model of the core and the plugins (their modules are
    imported, so a model in a new module is found too)."""
    import core
    import plugins
    from core.models import BaseModel

    for package in (core, plugins):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations." not in info.name:
                importlib.import_module(info.name)
    found, todo = [], [peewee.Model]
    while todo:
        for model in todo.pop().__subclasses__():
            todo.append(model)
            if model.__module__.startswith(("core.", "plugins.")) and model is not BaseModel \
                    and model._meta.database is dbmod.proxy:
                found.append(model)
    return found


PG_TYPES = {"character varying": "VARCHAR", "timestamp without time zone": "TIMESTAMP", "integer": "INTEGER",
            "bigint": "BIGINT", "text": "TEXT", "date": "DATE", "boolean": "BOOLEAN", "real": "REAL",
            "double precision": "DOUBLE PRECISION", "numeric": "NUMERIC", "smallint": "SMALLINT", "uuid": "UUID",
            "bytea": "BYTEA", "time without time zone": "TIME", "jsonb": "JSONB"}


def _db_type(database, column_type):
    if not dbmod.is_postgres(database):
        return column_type
    base, _, size = column_type.partition("(")
    return PG_TYPES.get(base, base.upper()) + ("(" + size if size else "")


def _model_type(database, field):
    ctx = database.get_sql_context()
    sql, _ = ctx.sql(field.ddl_datatype(ctx)).query()
    return {"SERIAL": "INTEGER", "BIGSERIAL": "BIGINT"}.get(sql.upper(), sql.upper())


def _model_schema(model, postgres=False):
    """A model's columns, indexes and foreign keys; on PostgreSQL, with the
    keys of tenant tables as migration 0025 made them (core.sharding)."""
    from core import sharding

    meta = model._meta
    table = meta.table_name
    columns = {f.column_name: f for f in meta.sorted_fields}
    indexes = set()
    for index in meta.fields_to_index():
        parts = index._expressions
        assert index._where is None and all(isinstance(p, peewee.Field) for p in parts), \
            f"{meta.table_name}: compare index {index._name} by hand"
        names = tuple(p.column_name for p in parts)
        if postgres:
            names = sharding.pg_index_columns(table, names, bool(index._unique))
        indexes.add((names, bool(index._unique)))
    fks = set()
    for f in meta.sorted_fields:
        if isinstance(f, peewee.ForeignKeyField):
            cols, target, target_cols = (((f.column_name,), f.rel_model._meta.table_name, (f.rel_field.column_name,))
                                         if not postgres else
                                         sharding.pg_foreign_key(table, f.column_name, f.rel_model._meta.table_name,
                                                                 f.rel_field.column_name))
            fks.add((",".join(cols), target, ",".join(target_cols), (f.on_delete or "NO ACTION").upper()))
    return columns, indexes, fks


def test_migrated_schema_is_the_models_schema(database):
    dbmod.migrate(database)
    tables = snapshot(database)["tables"]
    models = all_models()
    assert {"staff", "cases", "audit_entry", "plugin_setting", "audit_checkpoint"} <= {m._meta.table_name
                                                                                      for m in models}
    problems = []
    for model in models:
        table = model._meta.table_name
        if table not in tables:
            problems.append(f"{table}: no such table")
            continue
        columns, indexes, fks = _model_schema(model, dbmod.is_postgres(database))
        found = tables[table]
        if set(found["columns"]) != set(columns):
            problems.append(f"{table}: columns {sorted(found['columns'])} != model {sorted(columns)}")
        for name, field in columns.items():
            if name not in found["columns"]:
                continue
            column_type, not_null, _default = found["columns"][name]
            if _db_type(database, column_type) != _model_type(database, field):
                problems.append(f"{table}.{name}: type {column_type} != model {_model_type(database, field)}")
            if not_null != (not field.null):
                problems.append(f"{table}.{name}: NOT NULL is {not_null}, model null={field.null}")
        signatures = sorted(found["indexes"].values())
        if signatures != sorted(indexes):
            problems.append(f"{table}: indexes {signatures} != model {sorted(indexes)}")
        if found["fks"] != fks:
            problems.append(f"{table}: foreign keys {sorted(found['fks'])} != model {sorted(fks)}")
    modelled = {m._meta.table_name for m in models}
    for table in set(tables) - modelled - set(UNMODELLED):
        problems.append(f"{table}: a table no model describes")
    assert problems == []


def test_covers_is_a_foreign_key_that_clears_when_the_covered_staffer_goes(make_app):
    """staff.covers_id references staff.id in the database (ON DELETE SET
    NULL), as the model says: a dangling id cannot be stored."""
    from core.models import Staff

    app = make_app()
    with app.app_context():
        a = Staff.create(username="a.post", name="A", role="grassroots_agent", region="150626100",
                         county_code="150626", password_hash="x")
        b = Staff.create(username="b.post", name="B", role="grassroots_agent", region="150626100",
                         county_code="150626", password_hash="x", covers=a)
        with pytest.raises(peewee.IntegrityError):
            with dbmod.transaction():
                Staff.update(covers=10 ** 6).where(Staff.id == b.id).execute()
        Staff.delete().where(Staff.id == a.id).execute()
        assert Staff.get_by_id(b.id).covers_id is None



def test_cli_migrate_down_reverts_back_through_a_migration(app):
    from click.testing import CliRunner

    from core import cli as climod

    ctx = climod.Context()
    ctx._app, ctx._pm = app, app.extensions["bangban"].pm
    with app.app_context():
        names = [m.name for m in Runner(dbmod.proxy.obj, str(dbmod.MIGRATIONS)).migrations()]
    runner = CliRunner()
    result = runner.invoke(climod.cli, ["migrate", "--down", names[-2]], obj=ctx)
    assert (result.exit_code, result.output) == (0, f"reverted: {names[-1]}, {names[-2]}\n")
    with app.app_context():
        assert dbmod.pending_migrations() == names[-2:]
    unknown = runner.invoke(climod.cli, ["migrate", "--down", "0099_nothing"], obj=ctx)
    assert unknown.exit_code == 2 and '"0099_nothing" is not an applied migration' in unknown.output
    result = runner.invoke(climod.cli, ["migrate"], obj=ctx)
    assert (result.exit_code, result.output) == (0, f"applied: {names[-2]}, {names[-1]}\n")
    result = runner.invoke(climod.cli, ["migrate", "--down", "all"], obj=ctx)
    assert (result.exit_code, result.output) == (0, "reverted: " + ", ".join(reversed(names)) + "\n")
    with app.app_context():
        assert snapshot(dbmod.proxy.obj)["objects"] == {}
    assert runner.invoke(climod.cli, ["migrate", "--down", "all"], obj=ctx).output == "no migration is applied\n"
