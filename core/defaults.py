"""The core's own hook implementations. Always registered, and ``trylast``
where a plugin may want to come first."""
from __future__ import annotations

from .hookspecs import hookimpl
from .paths import METADATA


@hookimpl(trylast=True)
def register_metadata_packs(register):
    register(METADATA / "core")


@hookimpl
def register_blueprints(register):
    from .auth import bp as auth_bp
    from .cases.ledger import bp as ledger_bp
    from .cases.track import bp as track_bp
    from .cases.views import bp as cases_bp
    from .web import bp as web_bp

    for bp in (web_bp, auth_bp, cases_bp, track_bp, ledger_bp):
        register(bp)


@hookimpl
def register_admin_views(register):
    from flask_babel import lazy_gettext as _l

    from .admin_views import metadata, models
    from .admin_views.catalog_io import CatalogIOView
    from .admin_views.settings import PluginSettingsView

    for view in [*metadata.views(), *models.views()]:
        register(view)
    register(PluginSettingsView(name=_l("Plugin settings"), category=_l("Settings"), endpoint="plugin_settings",
                                url="/admin/plugin-settings"))
    register(CatalogIOView(name=_l("Import and export"), category=_l("Catalog"), endpoint="catalog_io",
                           url="/admin/catalog-io"))
