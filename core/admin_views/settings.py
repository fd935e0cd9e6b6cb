"""Plugin settings in the back office: every setting a loaded plugin
declares, its value at the administrator's county and below, and where the
value comes from."""
from __future__ import annotations

import json

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit, settings
from ..db import transaction
from ..models import PluginSetting, Region, Site, utcnow
from .metadata import PermissionView


class PluginSettingsView(PermissionView):
    permission = "settings.manage"

    def allowed_scopes(self):
        county = current_user.county_code
        scopes = [(county, _("County"))]
        scopes += [(r.code, r.code) for r in Region.select().where(
            (Region.county_code == county) & (Region.level == "township")).order_by(Region.code)]
        scopes += [(f"site:{s.code}", s.code) for s in Site.select().where(Site.county_code == county)
                   .order_by(Site.code)]
        return scopes

    @expose("/", methods=["GET", "POST"])
    def index(self):
        declared = settings.declared()
        scopes = dict(self.allowed_scopes())
        if request.method == "POST":
            plugin, key, scope = request.form.get("plugin"), request.form.get("key"), request.form.get("scope", "")
            item = declared.get((plugin, key))
            if item is None or scope not in scopes:
                return self.render("admin/bangban/not_found.html"), 404
            try:
                value = item.parse(request.form.get("value", ""))
            except settings.SettingError as exc:
                flash(str(exc), "error")
                return redirect(url_for(".index"))
            with transaction():
                row = PluginSetting.get_or_none((PluginSetting.plugin == plugin) & (PluginSetting.key == key)
                                                & (PluginSetting.scope == scope))
                if row is None:
                    PluginSetting.create(plugin=plugin, key=key, scope=scope, county_code=current_user.county_code,
                                         value=value)
                else:
                    row.value, row.updated_at = value, utcnow()
                    row.save()
                audit.record("admin.plugin_setting", f"{plugin}.{key}@{scope}", actor=current_user.username,
                             role=current_user.role, county_code=current_user.county_code,
                             payload={"value": json.dumps(value, ensure_ascii=False)})
            flash(_("Saved."), "success")
            return redirect(url_for(".index"))
        rows = {(r.plugin, r.key, r.scope): r.value for r in PluginSetting.select().where(
            PluginSetting.scope.in_(list(scopes) + [""]))}
        return self.render("admin/bangban/plugin_settings.html", declared=sorted(declared.values(),
                           key=lambda d: (d.plugin, d.key)), rows=rows, scopes=scopes,
                           county=current_user.county_code)
