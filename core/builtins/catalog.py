"""The core metadata kinds and the back-office catalog (items, guides and
the other kinds)."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_metadata_kinds(register):
    from ..metadata.schemas import BUILTIN_KINDS

    for kind, (schema, key) in BUILTIN_KINDS.items():
        register(kind, schema, key=key)


@hookimpl
def register_admin_views(register):
    from ..admin_views import metadata

    for view in metadata.views():
        register(view)
