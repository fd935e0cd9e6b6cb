"""Every hook a Bangban plugin can implement, declared once.

Rules (see README "Plugins"):

* hooks are called with keyword arguments; an implementation takes only the
  arguments it needs, and hooks only ever grow by new arguments;
* ``register_*`` hooks contribute things through a ``register`` callback, so
  the core validates each entry as it arrives and can name the plugin that
  sent a bad one;
* nothing here depends on the order plugins were registered in: collections
  are merged by explicit rules (metadata packs by their ``overrides``), and
  the few first-result hooks say so.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("bangban")
hookimpl = pluggy.HookimplMarker("bangban")


# --- metadata -------------------------------------------------------------

@hookspec
def register_metadata_packs(register):
    """Fires when packs are collected (``metadata check|sync``, ``demo``).

    Call ``register(path)`` with the directory of each metadata pack the
    plugin ships. All results are used; merging follows the packs' own
    ``overrides`` declarations, never plugin order.
    """


@hookspec
def register_metadata_kinds(register):
    """Fires when the metadata schema registry is built.

    Call ``register(kind, schema_class, key="code")`` to add a new kind of
    metadata (a top-level YAML key). All results are used; a kind registered
    twice is an error naming both plugins.
    """


@hookspec
def register_plugin_settings(register):
    """Fires when the settings registry is built (admin, ``plugin_setting``).
    Call ``register(key, default=…, label=…, type="text"|"integer"|"boolean"|
    "choice", choices=[…])`` for each setting; county admins set values per
    scope and :func:`core.settings.get` resolves site → township → county →
    root → default. All results are used; keys are namespaced by plugin."""


# --- web ------------------------------------------------------------------

@hookspec
def register_blueprints(register):
    """Fires once in ``create_app``. Call ``register(blueprint)`` for each
    Flask blueprint the plugin serves. All results are used."""


@hookspec
def register_admin_views(admin, register):
    """Fires once in ``create_app`` after the admin is built. Call
    ``register(view)`` with Flask-Admin views. All results are used."""


@hookspec
def template_dirs():
    """Fires once in ``create_app``. Return a directory (or list of them)
    whose templates override the core's. The deployer's theme directory still
    comes first; use ``{% extends "default:NAME" %}`` to extend the core's
    original. All results are used."""


@hookspec
def static_dirs():
    """Fires once in ``create_app``. Return a directory of static files; it
    is served under ``/-/static-plugins/<plugin name>/``. All results are
    used."""


@hookspec
def translation_dirs():
    """Fires once in ``create_app``. Return a directory holding gettext
    catalogs (``<locale>/LC_MESSAGES/messages.mo``). Catalogs are merged; the
    core's own strings win over a plugin's for the same msgid. All results
    are used."""


@hookspec
def extra_template_vars(request):
    """Fires for every rendered template. Return a dict of extra variables;
    keys must be prefixed with the plugin's name plus ``_`` so that no plugin
    can shadow a page's own names. All results are used."""


@hookspec
def menu_links(request):
    """Fires when a page renders its top menu. Return a list of
    ``{"href": ..., "label": ...}`` links (label already translated). All
    results are used, in plugin-name order."""


@hookspec
def startup(app):
    """Fires at the end of ``create_app``, inside an app context. Return
    value ignored."""


# --- command line ---------------------------------------------------------

@hookspec
def register_commands(cli):
    """Fires when the ``bangban`` command is built. Add click commands to the
    ``cli`` group (``@cli.command()``). All results are used."""


# --- audit ----------------------------------------------------------------

@hookspec
def audit_recorded(entry):
    """Fires after an audit entry is written, inside the same transaction.
    Raising aborts the change. Return value ignored."""


# --- permissions ----------------------------------------------------------

@hookspec
def register_permissions(register):
    """Fires when the known permissions are listed (``metadata check``, the
    back office). Call ``register(code, label)`` for each permission the
    plugin checks with :func:`core.permissions.can`, so that roles may grant
    it. All results are used."""


@hookspec
def permission_allowed(actor, action, resource):
    """Fires on every :func:`core.permissions.can` decision. Return ``False``
    to deny, ``True`` to allow what the role does not grant, ``None`` for no
    opinion. Any ``False`` wins over every ``True``; a resource must still
    be in the actor's scope. All results are used."""
