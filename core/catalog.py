"""Cached reads of the current metadata.

Metadata changes only through ``metadata sync`` (and the admin, which goes
through the same store), each change adding a ``metadata_sync`` row. The
newest sync id is the catalog's version: one cheap query per request, and
everything read for that version is cached until it changes, in every
worker process alike.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context
from peewee import fn

from .models import MetadataRecord, MetadataSync


def version() -> int:
    if has_request_context() and "_bangban_catalog_version" in g:
        return g._bangban_catalog_version
    value = MetadataSync.select(fn.MAX(MetadataSync.id)).scalar() or 0
    if has_request_context():
        g._bangban_catalog_version = value
    return value


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


def current(kind, key):
    """The current record of one entry (read-only), or None."""
    return cached("current", (kind, key), lambda: MetadataRecord.select().where(
        (MetadataRecord.kind == kind) & (MetadataRecord.key == key) & MetadataRecord.current).first())


def all_current(kind):
    """Every current record of a kind, ordered by key (read-only)."""
    return cached("all", kind, lambda: tuple(MetadataRecord.select().where(
        (MetadataRecord.kind == kind) & MetadataRecord.current).order_by(MetadataRecord.key)))
