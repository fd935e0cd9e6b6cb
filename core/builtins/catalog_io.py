"""Catalog import and export (xlsx and YAML) in the back office."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_admin_views(register):
    from flask_babel import lazy_gettext as _l

    from ..admin_views.catalog_io import CatalogIOView

    register(CatalogIOView(name=_l("Import and export"), category=_l("Catalog"), endpoint="catalog_io",
                           url="/admin/catalog-io"))
