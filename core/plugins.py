"""The plugin manager: discovery, allowlist, tracing and listing.

Built-in plugins (``plugins/``) and third-party packages are found the same
way, through the ``bangban`` entry-point group. ``BANGBAN_PLUGINS`` selects
which of them load: unset loads every installed plugin, an empty value loads
none, a comma-separated list loads exactly those names. The core's own
features are small built-in plugins (:data:`core.builtins.DEFAULT_PLUGINS`),
always registered, named ``core.*``.

Every hook is called through ``pm.hook``, so ``tryfirst``/``trylast`` and
wrappers take effect. Each implementation runs with the name of the plugin
that registered it in :func:`current_plugin`, which is how a ``register``
callback knows whom to blame for a bad entry.
"""
from __future__ import annotations

import contextvars
import functools
import importlib
import logging
from importlib.metadata import entry_points

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "bangban"
log = logging.getLogger("bangban.plugins")

_CURRENT = contextvars.ContextVar("bangban_plugin", default=None)
_SINK = contextvars.ContextVar("bangban_results", default=None)


class PluginError(RuntimeError):
    """A plugin could not be loaded; the message names it and the cause."""


def current_plugin():
    """The name of the plugin whose hook implementation is running (None
    outside a hook call)."""
    return _CURRENT.get()


class Manager(pluggy.PluginManager):
    """A plugin manager whose hook implementations run with their plugin's
    name set (see :func:`current_plugin`)."""

    def __init__(self):
        super().__init__(ENTRY_POINT_GROUP)
        self.bangban_trace = False
        self.bangban_dists = {}
        self.bangban_registries = {}

    def register(self, plugin, name=None):
        name = super().register(plugin, name)
        if name is None:
            return None
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    named = _named_generator if impl.wrapper or impl.hookwrapper else _named_function
                    object.__setattr__(impl, "function", named(self, impl.function, name, caller.name))
        self.bangban_registries.clear()
        return name

    def unregister(self, plugin=None, name=None):
        self.bangban_registries.clear()
        return super().unregister(plugin, name)


def _named_function(pm, function, name, hook_name):
    @functools.wraps(function)
    def run(*args, **kwargs):
        if pm.bangban_trace:
            log.info("%s.%s()", name, hook_name)
        token = _CURRENT.set(name)
        try:
            result = function(*args, **kwargs)
        except Exception as exc:
            if not getattr(exc, "bangban_plugin", None):
                exc.bangban_plugin = name
                exc.add_note(f"(raised by plugin {name!r} in hook {hook_name})")
            raise
        finally:
            _CURRENT.reset(token)
        sink = _SINK.get()
        if sink is not None and result is not None:
            sink.setdefault(id(result), name)
        return result

    return run


def _named_generator(pm, function, name, hook_name):
    """A wrapper's generator, driven step by step with its plugin's name set
    around each step (and only then)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        token = _CURRENT.set(name)
        try:
            inner = function(*args, **kwargs)
        finally:
            _CURRENT.reset(token)
        value, error = None, None
        while True:
            token = _CURRENT.set(name)
            try:
                step = inner.throw(error) if error is not None else inner.send(value)
            except StopIteration as stop:
                sink = _SINK.get()
                if sink is not None and isinstance(stop.value, list):
                    for result in stop.value:
                        sink.setdefault(id(result), name)
                return stop.value
            finally:
                _CURRENT.reset(token)
            try:
                value, error = (yield step), None
            except GeneratorExit:
                inner.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the wrapper, as pluggy does
                value, error = None, exc

    return run


def _allowlist(value):
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def make_manager(allow=None, trace=False, extra=()):
    """Build a plugin manager.

    ``allow`` is the raw ``BANGBAN_PLUGINS`` value (None: all installed).
    ``extra`` are already imported plugin objects (used by tests).
    """
    from .builtins import register_builtins

    pm = Manager()
    pm.add_hookspecs(hookspecs)
    pm.bangban_trace = bool(trace)
    register_builtins(pm)
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
    loaded = []
    for ep in selected:
        try:
            loaded.append((ep, ep.load()))
        except Exception as exc:  # noqa: BLE001 - re-raised with the plugin's name
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    # pluggy calls the last registered first: registering in reverse name
    # order makes hooks run in plugin-name order (then the built-ins), never
    # in the order of BANGBAN_PLUGINS or of installation.
    for ep, plugin in sorted(loaded, key=lambda pair: pair[0].name, reverse=True):
        pm.register(plugin, name=ep.name)
        dist = getattr(ep, "dist", None)
        if dist is not None:
            pm.bangban_dists[ep.name] = (dist.name, dist.version)
    for plugin in extra:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"unknown hook: {exc}") from exc
    if trace:
        pm.trace.root.setwriter(log.info)
        pm.enable_tracing()
    return pm


def describe(pm):
    """One dict per loaded plugin: name, distribution, version, hooks."""
    dists = getattr(pm, "bangban_dists", {})
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
    """Call a ``register_*`` hook through ``pm.hook``; return
    ``[(plugin_name, args, kwargs)]`` in the order the hook called its
    implementations (``tryfirst``/``trylast`` decide, wrappers run).

    The callback learns which plugin is calling from :func:`current_plugin`,
    so errors can name it.
    """
    results = []

    def register(*args, **kw):
        results.append((current_plugin() or "?", args, kw))

    _trace(pm, hook_name)
    getattr(pm.hook, hook_name)(register=register, **kwargs)
    return results


def call_each(pm, hook_name, **kwargs):
    """Call a hook through ``pm.hook``; return ``[(plugin_name, result)]``
    for its non-None results, in the hook's order (a wrapper may add, drop
    or replace results: what it adds is credited to the wrapper)."""
    _trace(pm, hook_name)
    sink = {}
    token = _SINK.set(sink)
    try:
        results = getattr(pm.hook, hook_name)(**kwargs)
    finally:
        _SINK.reset(token)
    return [(sink.get(id(result), "?"), result) for result in results or ()]


def call_isolated(pm, hook_name, **kwargs):
    """Call each plugin's implementation of a hook on its own (wrappers
    still wrap each call), in the hook's order; an exception is logged with
    the plugin's name and never stops the others. For after-the-fact hooks
    such as ``case_committed``. Returns the names of the plugins that failed."""
    _trace(pm, hook_name)
    caller = getattr(pm.hook, hook_name)
    impls = caller.get_hookimpls()
    wrappers = {i.plugin for i in impls if i.wrapper or i.hookwrapper}
    failed = []
    for impl in reversed([i for i in impls if not (i.wrapper or i.hookwrapper)]):
        others = [p for _n, p in pm.list_name_plugin() if p is not impl.plugin and p not in wrappers]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
        except Exception:  # noqa: BLE001 - logged: such a hook must never undo what is done
            log.exception("plugin %r failed in hook %s", impl.plugin_name, hook_name)
            failed.append(impl.plugin_name)
    return failed


def _trace(pm, hook_name):
    if getattr(pm, "bangban_trace", False):
        names = [i.plugin_name for i in getattr(pm.hook, hook_name).get_hookimpls()]
        log.info("hook %s: %s", hook_name, ", ".join(names) or "no implementations")
