"""Back-office pages of their own: plugin settings and the audit log."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_admin_views(register):
    from flask_babel import lazy_gettext as _l

    from ..admin_views.models import AuditView
    from ..admin_views.settings import PluginSettingsView
    from ..models import AuditEntry

    register(AuditView(AuditEntry, name=_l("Audit log"), endpoint="audit_admin"))
    register(PluginSettingsView(name=_l("Plugin settings"), category=_l("Settings"), endpoint="plugin_settings",
                                url="/admin/plugin-settings"))
