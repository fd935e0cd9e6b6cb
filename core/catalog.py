"""Cached reads of the current metadata.

Metadata changes only through ``metadata sync`` (and the admin, which goes
through the same store), each change adding a ``metadata_sync`` row. The
newest sync id is the catalog's version: one cheap query per request, and
everything read for that version is cached until it changes, in every
worker process alike.

Codes are unique within a county: two counties may both have a department
``mzj``. National entries (``county_code`` "") are shared; a county's own
entry of the same code shadows the national one for that county. Callers
that act for a county pass ``county=``; without it a lookup sees national
entries first, then any county's (for national kinds such as workflows).
"""
from __future__ import annotations

from flask import current_app, g, has_request_context
from peewee import fn

from .models import MetadataRecord, MetadataSync


def version() -> int:
    """The newest sync id, read once per request: by the session check
    (:func:`version_query` in its statement, see core.sessions), else here."""
    if has_request_context() and "_bangban_catalog_version" in g:
        return g._bangban_catalog_version
    value = MetadataSync.select(fn.MAX(MetadataSync.id)).scalar() or 0
    remember_version(value)
    return value


def version_query():
    """The catalog's version as a scalar subquery, for a statement every
    request runs anyway (the session check), so that reading it costs no
    statement of its own."""
    return MetadataSync.select(fn.COALESCE(fn.MAX(MetadataSync.id), 0))


def remember_version(value):
    """Keep the version read by another statement for this request."""
    if has_request_context():
        g._bangban_catalog_version = int(value or 0)


def forget_version():
    """After a sync in this request: the next read asks the database."""
    if has_request_context():
        g.pop("_bangban_catalog_version", None)


def cached(namespace, key, compute):
    """Per-app cache of values derived from the current catalog; emptied
    whenever the catalog's version changes."""
    store = current_app.extensions["bangban"].cache
    current = version()
    if store.get("_version") != current:
        store.clear()
        store["_version"] = current
    space = store.setdefault(namespace, {})
    try:
        return space[key]
    except KeyError:
        value = space[key] = compute()
        return value


def _records(kind):
    """Every current record of a kind, ordered by key, national first."""
    return cached("all", kind, lambda: tuple(MetadataRecord.select().where(
        (MetadataRecord.kind == kind) & MetadataRecord.current).order_by(
        MetadataRecord.key, MetadataRecord.county_code)))


def _by_key(kind):
    def build():
        out = {}
        for record in _records(kind):
            out.setdefault(record.key, []).append(record)
        return out

    return cached("by_key", kind, build)


def current(kind, key, county=None):
    """The current record of one entry (read-only), or None: the county's
    own, else the national one (``county=None``: national, else the first)."""
    records = _by_key(kind).get(key)
    if not records:
        return None
    if county is None:
        return records[0]
    for wanted in (county, ""):
        for record in records:
            if record.county_code == wanted:
                return record
    return None


def all_current(kind, county=None):
    """Every current record of a kind, ordered by key (read-only); with
    ``county``, that county's and the national ones (its own shadowing)."""
    if county is None:
        return _records(kind)

    def build():
        return tuple(r for r in (current(kind, key, county) for key in _by_key(kind)) if r is not None)

    return cached("county", (kind, county), build)


def guide_fields_for(county_code):
    """The guide fields of a county: the ones its rule set names, else the
    national default (the first national entry)."""
    if county_code:
        for ruleset in all_current("rulesets", county=county_code):
            if ruleset.county_code == county_code and ruleset.content.get("guide_fields"):
                record = current("guide_fields", ruleset.content["guide_fields"], county=county_code)
                if record is not None:
                    return record
    return next((r for r in _records("guide_fields") if r.county_code == ""), None)
