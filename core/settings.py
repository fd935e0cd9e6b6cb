"""Plugin settings: declared by plugins (``register_plugin_settings``),
set by administrators per scope, read by plugins with :func:`get`, which
resolves from the narrowest scope outward: site → village → township →
county → root → the declared default. Data, not code."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from .models import PluginSetting, Site
from .plugins import collect

TYPES = ("text", "integer", "boolean", "choice")


class SettingError(ValueError):
    pass


@dataclass
class Declared:
    plugin: str
    key: str
    default: object = None
    label: object = ""
    type: str = "text"
    choices: list = field(default_factory=list)

    def parse(self, raw):
        if self.type == "integer":
            try:
                return int(raw)
            except (TypeError, ValueError) as exc:
                raise SettingError(f"{self.key}: a whole number is needed") from exc
        if self.type == "boolean":
            return str(raw).lower() in ("1", "true", "yes", "on", "是")
        if self.type == "choice" and raw not in self.choices:
            raise SettingError(f"{self.key}: one of {', '.join(map(str, self.choices))}")
        return raw


def declared(pm=None) -> dict:
    """``{(plugin, key): Declared}`` from every loaded plugin."""
    pm = pm or current_app.extensions["bangban"].pm
    out = {}
    for plugin, args, kw in collect(pm, "register_plugin_settings"):
        item = Declared(plugin, args[0], **kw)
        if item.type not in TYPES:
            raise SettingError(f"plugin {plugin!r}: setting {item.key!r} has unknown type {item.type!r}")
        out[(plugin, item.key)] = item
    return out


def scopes_for(site_code=None, region=None, county_code=""):
    """Scopes from narrowest to root."""
    chain = []
    if site_code:
        chain.append(f"site:{site_code}")
        site = Site.get_or_none(Site.code == site_code)
        region = region or (site.region if site else None)
    region = region or county_code
    for length in (15, 12, 9, 6):
        if region and len(region) >= length:
            chain.append(region[:length])
    chain.append("")
    return list(dict.fromkeys(chain))


def get(plugin, key, *, site_code=None, region=None, county_code=""):
    item = declared().get((plugin, key))
    if item is None:
        raise SettingError(f"plugin {plugin!r} declares no setting {key!r}")
    chain = scopes_for(site_code, region, county_code)
    rows = {r.scope: r.value for r in PluginSetting.select().where(
        (PluginSetting.plugin == plugin) & (PluginSetting.key == key) & PluginSetting.scope.in_(chain))}
    for scope in chain:
        if scope in rows:
            return rows[scope]
    return item.default
