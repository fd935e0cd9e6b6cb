"""Store merged metadata as versioned records, and write it back as YAML.

``sync`` compares each entry's canonical hash with its current record: an
unchanged entry writes nothing, a changed one gets a new version (the old
stays readable), a vanished one is retired (kept, no longer current). The
whole sync, its materialised regions and sites and its audit entry commit in
one transaction or not at all.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import yaml

from .. import audit
from ..db import transaction
from ..models import MetadataFile, MetadataRecord, MetadataSync, Region, Site, current_metadata
from .loader import Catalog, canonical_json
from .schemas import BUILTIN_KINDS


def _hash(data) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _county_of(pack, entry, by_name=None) -> str:
    from .loader import tenant_of

    return tenant_of(pack, entry, by_name)


def manifests(catalog: Catalog) -> dict:
    return {
        p.name: {k: v for k, v in (("name", p.name), ("title", p.title), ("version", p.version),
                                    ("county", p.county), ("overrides", p.overrides)) if v}
        for p in catalog.packs
    }


def sync(catalog: Catalog, actor="system", role="system", files=None) -> dict:
    """Store ``catalog``; return counts ``{added, changed, retired, unchanged}``.

    ``files`` (a :func:`fingerprint`): also record what each pack file
    produced, for the next sync to parse only the changed files
    (:func:`previous_files`). A ``catalog.partial`` one (read so) is
    compared by its changed entries only: the others' files are unchanged
    since the last sync, and no other sync ran since."""
    with transaction():
        counts = _sync(catalog, actor, role)
        if files is not None:
            _record_files(catalog, files)
    return counts


def _sync(catalog, actor, role):
    packs = {p.name: p for p in catalog.packs}
    # the entries read from their files (a partial catalog's few), in (kind, key) order
    fresh = [(kind, entry) for (kind, _key), entry in sorted(
        ((kind, key), entry) for kind, entries in catalog.kinds.items()
        for key, entry in entries.items() if not entry.reused)]
    # what the comparison needs, as plain tuples: not the (large) content of every entry
    columns = (MetadataRecord.id, MetadataRecord.county_code, MetadataRecord.kind, MetadataRecord.key,
               MetadataRecord.version, MetadataRecord.content_hash, MetadataRecord.pack)
    if catalog.partial:
        # by the (county_code, kind, key, version) index: the few changed entries' rows only
        groups, current = {}, {}
        for kind, entry in fresh:
            groups.setdefault((_county_of(packs[entry.pack], entry, packs), kind), set()).add(entry.key)
        for (county, kind), keys in sorted(groups.items()):
            keys = sorted(keys)
            for start in range(0, len(keys), 500):
                light = MetadataRecord.select(*columns).where(
                    (MetadataRecord.county_code == county) & (MetadataRecord.kind == kind)
                    & MetadataRecord.key.in_(keys[start:start + 500]) & MetadataRecord.current).namedtuples()
                current.update({(r.county_code, r.kind, r.key): r for r in light})
    else:
        light = MetadataRecord.select(*columns).where(MetadataRecord.current).namedtuples()
        current = {(r.county_code, r.kind, r.key): r for r in light}
    plan, seen = [], set()
    for kind, entry in fresh:
        county = _county_of(packs[entry.pack], entry, packs)
        ident = (county, kind, entry.key)
        seen.add(ident)
        digest = _hash(entry.data)
        old = current.get(ident)
        if old is None or old.content_hash != digest or old.pack != entry.pack:
            plan.append((ident, entry, digest, old))
    # A sync speaks for the packs it was given: entries of other packs stay.
    # (A partial one has the same keys in the same files as the last sync.)
    retired = [] if catalog.partial else [r for ident, r in current.items() if ident not in seen and r.pack in packs]
    counts = {
        "added": sum(1 for p in plan if p[3] is None),
        "changed": sum(1 for p in plan if p[3] is not None),
        "retired": len(retired),
        "unchanged": (catalog.count() if catalog.partial else len(seen)) - len(plan),
    }
    if not plan and not retired:
        return counts
    run = MetadataSync.create(actor=actor, packs=manifests(catalog), added=counts["added"],
                              changed=counts["changed"], retired=counts["retired"])
    from .. import catalog as _catalog

    _catalog.forget_version()  # this request's remembered version is older now
    if retired:
        MetadataRecord.update(current=False).where(MetadataRecord.id.in_([r.id for r in retired])).execute()
    changed_ids = [old.id for _, _, _, old in plan if old is not None]
    if changed_ids:
        MetadataRecord.update(current=False).where(MetadataRecord.id.in_(changed_ids)).execute()
    # a changed entry follows its current version; an added one may follow a retired one
    latest = _latest_versions([ident for ident, _, _, old in plan if old is None])
    rows = []
    for (county, kind, key), entry, digest, old in plan:
        version = old.version if old is not None else latest.get((county, kind, key), 0)
        rows.append(dict(county_code=county, kind=kind, key=key, version=version + 1,
                         pack=entry.pack, content=entry.data, content_hash=digest, current=True, sync=run))
    for start in range(0, len(rows), 200):
        MetadataRecord.insert_many(rows[start:start + 200]).execute()
    touched = {ident[1] for ident, *_ in plan} | {r.kind for r in retired}
    if touched & {"regions", "sites"}:
        materialise()
    if "items" in touched:
        _refresh_item_search(run, plan, retired)
    audit.record("metadata.sync", f"metadata_sync:{run.id}", actor=actor, role=role,
                 payload={**counts, "packs": sorted(packs)})
    return counts


# --- what each pack file produced ----------------------------------------------

def _sync_mark() -> int:
    from peewee import fn

    return MetadataSync.select(fn.MAX(MetadataSync.id)).scalar() or 0


def fingerprint(kinds, permissions=None, paths=()) -> str:
    """What a file's recorded entries depend on besides its bytes: the kinds
    (their schemas' source), the known permissions, the loader's code, and
    the packs synced together (which pack overrides which)."""
    import inspect

    sources = {str(p) for p in Path(__file__).parent.glob("*.py")}
    described = []
    for name, (schema_cls, key) in sorted(kinds.items()):
        described.append([name, key, f"{schema_cls.__module__}.{schema_cls.__qualname__}"])
        try:
            sources.add(inspect.getsourcefile(schema_cls))
        except TypeError:
            pass
    return hashlib.sha256(json.dumps([described, sorted(permissions or []), _sources_digest(tuple(sorted(sources))),
                                      [str(Path(p)) for p in paths]])
                          .encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=8)
def _sources_digest(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def previous_files(paths, fingerprint_) -> dict | None:
    """``{file path: (sha256, [[kind, key, index], …], "size:mtime_ns")}`` of
    every file of the packs at ``paths`` at their last sync, for
    ``loader.load(previous=)``;
    None when that record can't be trusted (another sync ran since, the
    kinds, permissions or code changed, a pack never synced so)."""
    dirs = [str(Path(p)) for p in paths]
    rows = list(MetadataFile.select(MetadataFile.path, MetadataFile.pack_dir, MetadataFile.digest,
                                    MetadataFile.entries, MetadataFile.fingerprint, MetadataFile.sync_mark,
                                    MetadataFile.stat)
                .where(MetadataFile.pack_dir.in_(dirs)).namedtuples())
    mark = _sync_mark()
    if not rows or {r.pack_dir for r in rows} != set(dirs) or any(
            r.fingerprint != fingerprint_ or r.sync_mark != mark for r in rows):
        return None
    return {r.path: (r.digest, r.entries, r.stat) for r in rows}  # entries: JSON lists [kind, key, index]


def _record_files(catalog, fingerprint_):
    mark = _sync_mark()
    produced, dirs = {}, {}
    for pack in catalog.packs:
        for file, digest in pack.files.items():
            produced[file] = (digest, [], str(pack.path), str(pack.county or ""), pack.stats.get(file, ""))
            dirs[str(pack.path)] = True
        for entry in pack.entries:
            if entry.file in produced:
                produced[entry.file][1].append([entry.kind, entry.key, entry.index])
    if not produced:
        return
    existing = {r.path: r for r in MetadataFile.select(MetadataFile.id, MetadataFile.path, MetadataFile.digest,
                                                       MetadataFile.pack_dir, MetadataFile.fingerprint,
                                                       MetadataFile.stat)
                .where(MetadataFile.pack_dir.in_(list(dirs)) | MetadataFile.path.in_(list(produced))).namedtuples()}
    stale = [r.id for path, r in existing.items()
             if path not in produced or r.digest != produced[path][0] or r.fingerprint != fingerprint_
             or r.pack_dir != produced[path][2] or r.stat != produced[path][4]]
    if stale:
        MetadataFile.delete().where(MetadataFile.id.in_(stale)).execute()
    kept = {path for path, r in existing.items() if r.id not in stale}
    rows = [dict(county_code=county, pack_dir=pack_dir, path=path, digest=digest, entries=entries,
                 fingerprint=fingerprint_, sync_mark=mark, stat=stat)
            for path, (digest, entries, pack_dir, county, stat) in produced.items() if path not in kept]
    for start in range(0, len(rows), 200):
        MetadataFile.insert_many(rows[start:start + 200]).execute()
    MetadataFile.update(sync_mark=mark).where(MetadataFile.pack_dir.in_(list(dirs))).execute()


def _latest_versions(idents):
    """{(county, kind, key): newest version} of the given entries (retired
    versions included)."""
    from peewee import fn

    out, keys = {}, sorted({key for _county, _kind, key in idents})
    for start in range(0, len(keys), 500):
        query = (MetadataRecord.select(MetadataRecord.county_code, MetadataRecord.kind, MetadataRecord.key,
                                       fn.MAX(MetadataRecord.version).alias("v"))
                 .where(MetadataRecord.key.in_(keys[start:start + 500]))
                 .group_by(MetadataRecord.county_code, MetadataRecord.kind, MetadataRecord.key))
        out.update({(r.county_code, r.kind, r.key): r.v for r in query})
    return out


def _refresh_item_search(run, plan, retired):
    """The search rows of the items this sync added, changed or retired."""
    from .. import item_search

    removed = [(r.county_code, r.key) for r in retired if r.kind == "items"]
    removed += [(ident[0], ident[2]) for ident, *_ in plan if ident[1] == "items"]
    # the new current records, by the (county, kind, key, version) index: SQLite's statistics
    # call ``sync_id`` unselective (a catalog's first sync wrote every row) and would scan
    by_county, added = {}, []
    for (county, kind, key), *_ in plan:
        if kind == "items":
            by_county.setdefault(county, []).append(key)
    for county, keys in sorted(by_county.items()):
        for start in range(0, len(keys), 500):
            added.extend(MetadataRecord.select(MetadataRecord.id, MetadataRecord.county_code, MetadataRecord.content)
                         .where((MetadataRecord.county_code == county) & (MetadataRecord.kind == "items")
                                & MetadataRecord.key.in_(keys[start:start + 500]) & (MetadataRecord.sync == run))
                         .tuples())
    item_search.refresh(added, removed)


def materialise():
    """Refresh the region and site tables from the current records (same
    transaction): upsert what exists, drop what was retired."""
    for model, kind, row in ((Region, "regions", _region_row), (Site, "sites", _site_row)):
        rows = [row(r.content) for r in current_metadata(kind)]
        keep = [r["code"] for r in rows]
        model.delete().where(model.code.not_in(keep) if keep else True).execute()
        columns = [f for f in model._meta.sorted_field_names if f != "code"]
        for start in range(0, len(rows), 200):
            (model.insert_many(rows[start:start + 200])
             .on_conflict(conflict_target=[model.code], preserve=[getattr(model, c) for c in columns])
             .execute())


def _region_row(data):
    return dict(code=data["code"], county_code=data["code"][:6], level=data["level"], name=data["name"],
                parent=data.get("parent"), demonstration=bool(data.get("demonstration")))


def _site_row(data):
    return dict(code=data["code"], county_code=data["region"][:6], kind=data["kind"], name=data["name"],
                region=data["region"], standard=data.get("standard"),
                profile={k: v for k, v in data.items() if k not in ("code", "kind", "name", "region", "standard")})


# --- export ---------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def registered_kinds(kinds=None) -> dict:
    """``kinds``, else the app's metadata kind registry (core and plugins),
    else (outside an app) the core's own kinds."""
    from flask import has_app_context

    if kinds:
        return kinds
    if has_app_context():
        from ..registry import metadata_kinds

        return metadata_kinds()
    return BUILTIN_KINDS


def export(directory, kinds=None) -> list[Path]:
    """Write the current records as packs under ``directory``; return files.
    ``kinds`` (default: :func:`registered_kinds`) gives each kind's field order."""
    directory = Path(directory)
    schemas = registered_kinds(kinds)
    packs = {}
    for run in MetadataSync.select(MetadataSync.packs).order_by(MetadataSync.id):
        packs.update(run.packs)
    records = MetadataRecord.select().where(MetadataRecord.current).order_by(
        MetadataRecord.pack, MetadataRecord.kind, MetadataRecord.key)
    grouped = {}
    for rec in records:
        grouped.setdefault(rec.pack, {}).setdefault(rec.kind, []).append(rec.content)
    written = []
    for pack, kinds in sorted(grouped.items()):
        folder = directory / pack
        folder.mkdir(parents=True, exist_ok=True)
        manifest = packs.get(pack, {"name": pack, "version": "1"})
        written.append(_dump(folder / "pack.yaml", manifest))
        for kind, entries in sorted(kinds.items()):
            schema = schemas.get(kind, (None,))[0]
            entries = [_schema_order(e, schema) for e in entries]
            written.append(_dump(folder / f"{kind}.yaml", {kind: entries}))
    return written


def _schema_order(data, schema_cls):
    """Keys in the order the schema declares them (as a person writes them),
    unknown ones last; nested lists of mappings likewise."""
    if schema_cls is None or not isinstance(data, dict):
        return data
    schema = schema_cls()
    order = {}
    for name, field in schema.fields.items():
        order[field.data_key or name] = field
    out = {}
    for key in [k for k in order if k in data] + [k for k in data if k not in order]:
        value, field = data[key], order.get(key)
        inner = getattr(getattr(field, "inner", None), "nested", None)
        if isinstance(value, list) and isinstance(inner, type):
            value = [_schema_order(v, inner) for v in value]
        out[key] = value
    return out


def _dump(path: Path, data) -> Path:
    path.write_text(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100),
                    encoding="utf-8")
    return path


# --- editing from the back office --------------------------------------------

def catalog_from_db() -> Catalog:
    """The current records as a Catalog (packs from the sync manifests)."""
    from .loader import Entry, Pack, index_entries

    manifests_by_name = {}
    for run in MetadataSync.select(MetadataSync.packs).order_by(MetadataSync.id):
        manifests_by_name.update(run.packs)
    packs = {}
    for rec in MetadataRecord.select().where(MetadataRecord.current).order_by(MetadataRecord.id):
        if rec.pack not in packs:
            m = manifests_by_name.get(rec.pack, {"name": rec.pack})
            packs[rec.pack] = Pack(rec.pack, Path(f"<database>/{rec.pack}"), str(m.get("version", "1")),
                                   m.get("county"), list(m.get("overrides", [])), m.get("title"))
        entry = Entry(rec.kind, rec.key, rec.content, rec.pack, f"<database>/{rec.pack}/{rec.kind}", 0)
        packs[rec.pack].entries.append(entry)
    return Catalog(list(packs.values()), index_entries(packs.values()))


def save_entries(changes, actor, role, kinds=None):
    """Store edited entries (``[(kind, data, pack)]``) as new versions.

    Each entry is validated with its kind's schema, the whole catalog's
    references are checked with the change applied, and only what really
    changed gets a new version. Raises :class:`MetadataInvalid` (nothing
    written) with every problem; returns the sync counts otherwise.
    """
    from marshmallow import ValidationError

    from .loader import Entry, MetadataError, MetadataInvalid, _dotted, _flatten, check_references, index_entries

    kinds = registered_kinds(kinds)
    catalog = catalog_from_db()
    errors = []
    for kind, data, pack in changes:
        schema_cls, key_field = kinds[kind]
        try:
            schema_cls().load(data)
        except ValidationError as exc:
            for keys, message in _flatten(exc.messages):
                errors.append(MetadataError(f"{kind}", None, _dotted([*keys]), message))
            continue
        key = str(data[key_field])
        target = catalog.pack(pack) if pack else None
        county = str(target.county or "") if target is not None else ""
        old = catalog.lookup(kind, key, county)
        if old is not None and target is not None and catalog.pack(old.pack).county != target.county:
            old = None  # a national entry the county now shadows stays as it is
        pack = pack or (old.pack if old else None)
        if pack is None or pack not in {p.name for p in catalog.packs}:
            errors.append(MetadataError(kind, None, "pack", f"unknown pack {pack!r}"))
            continue
        target = catalog.pack(pack)
        if old is not None:
            owner = catalog.pack(old.pack)
            owner.entries = [e for e in owner.entries if e is not old]
        target.entries.append(Entry(kind, key, data, pack, f"<database>/{pack}/{kind}", 0))
        catalog.kinds = index_entries(catalog.packs)
    if not errors:
        check_references(catalog, errors)
        from .checks import check_forms

        check_forms(catalog, errors)
    if errors:
        raise MetadataInvalid(errors)
    return sync(catalog, actor=actor, role=role)
