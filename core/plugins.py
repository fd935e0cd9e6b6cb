"""The plugin manager: discovery, allowlist, tracing and listing.

Built-in plugins (``plugins/``) and third-party packages are found the same
way, through the ``bangban`` entry-point group. ``BANGBAN_PLUGINS`` selects
which of them load: unset loads every installed plugin, an empty value loads
none, a comma-separated list loads exactly those names. The core's own
defaults (``core.defaults``) are always registered.
"""
from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "bangban"
log = logging.getLogger("bangban.plugins")


class PluginError(RuntimeError):
    """A plugin could not be loaded; the message names it and the cause."""


def _allowlist(value):
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def make_manager(allow=None, trace=False, extra=()):
    """Build a plugin manager.

    ``allow`` is the raw ``BANGBAN_PLUGINS`` value (None: all installed).
    ``extra`` are already imported plugin objects (used by tests).
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    from . import defaults

    pm.register(defaults, name="core")
    wanted = _allowlist(allow)
    available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if wanted is not None:
        missing = [name for name in wanted if name not in available]
        if missing:
            raise PluginError(
                "plugin(s) not installed: %s (installed: %s)"
                % (", ".join(missing), ", ".join(sorted(available)) or "none")
            )
        selected = [available[name] for name in wanted]
    else:
        selected = [available[name] for name in sorted(available)]
    for ep in selected:
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - re-raised with the plugin's name
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        pm.register(plugin, name=ep.name)
        dist = getattr(ep, "dist", None)
        if dist is not None:
            pm._bangban_dists = getattr(pm, "_bangban_dists", {})
            pm._bangban_dists[ep.name] = (dist.name, dist.version)
    for plugin in extra:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"unknown hook: {exc}") from exc
    pm._bangban_trace = bool(trace)
    if trace:
        pm.trace.root.setwriter(log.info)
        pm.enable_tracing()
    return pm


def describe(pm):
    """One dict per loaded plugin: name, distribution, version, hooks."""
    dists = getattr(pm, "_bangban_dists", {})
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda p: p[0]):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        dist, version = dists.get(name, ("bangban", _own_version()))
        rows.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", repr(plugin)),
                "distribution": dist,
                "version": version,
                "hooks": hooks,
            }
        )
    return rows


def _own_version():
    try:
        return importlib.metadata.version("bangban")
    except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
        return "0"


def plugin_name(pm, hookimpl_plugin):
    return pm.get_name(hookimpl_plugin) or repr(hookimpl_plugin)


def collect(pm, hook_name, **kwargs):
    """Call a ``register_*`` hook; return ``[(plugin_name, args, kwargs)]``.

    The callback remembers which plugin is calling, so errors can name it.
    """
    results = []
    caller = getattr(pm.hook, hook_name)
    _trace(pm, hook_name, caller)
    for impl in caller.get_hookimpls():
        name = pm.get_name(impl.plugin)

        def register(*args, _name=name, **kw):
            results.append((_name, args, kw))

        call_kwargs = {k: v for k, v in kwargs.items() if k in impl.argnames}
        if "register" in impl.argnames:
            call_kwargs["register"] = register
        if getattr(pm, "_bangban_trace", False):
            log.info("%s.%s(%s)", name, hook_name, ", ".join(sorted(call_kwargs)))
        impl.function(**call_kwargs)
    return results


def call_each(pm, hook_name, **kwargs):
    """Call a hook plugin by plugin, sorted by plugin name (so the result
    never depends on registration order); return ``[(name, result)]``."""
    caller = getattr(pm.hook, hook_name)
    _trace(pm, hook_name, caller)
    out = []
    for impl in sorted(caller.get_hookimpls(), key=lambda i: pm.get_name(i.plugin) or ""):
        name = pm.get_name(impl.plugin)
        if getattr(pm, "_bangban_trace", False):
            log.info("%s.%s()", name, hook_name)
        out.append((name, impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})))
    return out


def _trace(pm, hook_name, caller):
    if getattr(pm, "_bangban_trace", False):
        names = [pm.get_name(i.plugin) for i in caller.get_hookimpls()]
        log.info("hook %s: %s", hook_name, ", ".join(names) or "no implementations")
