"""The application factory."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import peewee
from flask import Flask, abort, request, send_from_directory
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from werkzeug.routing import Rule

from . import config as configmod
from . import db as dbmod
from . import hardening, i18n
from .audit import AuditLog
from .paths import DEFAULT_THEME
from .plugins import PluginError, call_each, collect, make_manager

log = logging.getLogger("bangban")


@dataclass
class Bangban:
    """Everything the app holds, kept in ``app.extensions['bangban']``."""

    conf: dict
    pm: object
    db: peewee.Database
    audit: AuditLog
    cipher: object = None
    plugin_static: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # see core.catalog.cached
    cipher_stamp: tuple = ()  # the data key file's (mtime, size) when ``cipher`` was built
    cipher_checked: float = 0.0

    def current_cipher(self):
        """The field cipher, rebuilt when the data key file changed (a key
        rotation in another process); the file is looked at most every
        ``BANGBAN_KEY_RELOAD_SECONDS``."""
        import os
        import time

        now = time.monotonic()
        if now - self.cipher_checked < self.conf.get("KEY_RELOAD_SECONDS", 2):
            return self.cipher
        self.cipher_checked = now
        path = self.conf["DATA_KEY_FILE"]
        try:
            st = os.stat(path)
        except OSError:
            return self.cipher
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self.cipher_stamp:
            from .security import FieldCipher, load_keyring

            current, previous = load_keyring(path)
            self.cipher = FieldCipher(current, self.conf["CRYPTO_PROFILE"], previous)
            self.cipher_stamp = stamp
        return self.cipher


class LazyRule(Rule):
    """A URL rule whose builder functions (what ``url_for`` runs) are
    compiled by the first ``url_for`` of the rule, not when the rule is
    added: Werkzeug compiles two Python functions per rule, about a tenth of
    start-up for the app's ~160 rules, most of which a worker never builds a
    URL for. Matching is compiled as before; built URLs are the same."""

    def _compile_builder(self, append_unknown=True):
        compile_real = super()._compile_builder
        name = "_build_unknown" if append_unknown else "_build"

        def first_build(rule, *args, **kwargs):
            real = compile_real(append_unknown).__get__(rule, None)
            setattr(rule, name, real)  # later builds call the compiled function directly
            return real(*args, **kwargs)

        return first_build


def create_app(pm=None, **overrides) -> Flask:
    """Build the app. Settings come from ``BANGBAN_*`` variables, then
    ``overrides`` (e.g. ``create_app(database_url=..., plugins="")``)."""
    conf = configmod.from_env(**overrides)
    data_dir = Path(conf["DATA_DIR"])
    if pm is None:
        pm = make_manager(allow=conf["PLUGINS"], trace=conf["TRACE_HOOKS"])

    app = Flask("core", static_folder=str(DEFAULT_THEME / "static"), static_url_path="/static",
                template_folder=None)
    app.url_rule_class = LazyRule
    app.url_map.converters.update(hardening.CONVERTERS)  # before the first route: ids are bounded
    secret = conf["SECRET_KEY"] or configmod.read_or_create_secret(data_dir / "secret.key").hex()
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=conf["SESSION_COOKIE_SECURE"],
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        BANGBAN=conf,
    )

    database = dbmod.open_database(conf["DATABASE_URL"], conf["DB_POOL_SIZE"])
    dbmod.bind(database)
    from .audit import load_audit_keys

    audit_key = load_audit_keys(Path(conf["AUDIT_KEY_FILE"]))
    from .security import FieldCipher, load_keyring

    current_keys, previous_keys = load_keyring(Path(conf["DATA_KEY_FILE"]), create=True)
    cipher = FieldCipher(current_keys, conf["CRYPTO_PROFILE"], previous_keys)
    state = Bangban(conf, pm, database, AuditLog(audit_key, Path(conf["AUDIT_ANCHOR_DIR"]), pm,
                                                    key_file=Path(conf["AUDIT_KEY_FILE"])), cipher)
    app.extensions["bangban"] = state

    _templates(app, pm, conf)
    _plugin_static(app, state)
    i18n.init_app(app, list(_results(r for _n, r in call_each(pm, "translation_dirs"))))
    _database_lifecycle(app, database)
    state.audit.init_app(app)

    from .auth import init_app as init_auth
    from .admin import init_app as init_admin

    from .hardening import init_app as init_hardening

    init_hardening(app)
    init_auth(app)
    for plugin, args, _kw in collect(pm, "register_blueprints"):
        for bp in args:
            app.register_blueprint(bp)
    init_admin(app, pm)
    _template_vars(app, pm)
    with app.app_context():
        pm.hook.startup(app=app)
    return app


def _results(results):
    """Flatten hook results that may be a path or a list of paths."""
    for result in results:
        for item in (result if isinstance(result, (list, tuple)) else [result]):
            if item:
                yield str(item)


def _templates(app, pm, conf):
    core_loader = FileSystemLoader(str(DEFAULT_THEME / "templates"))
    loaders = []
    if conf["THEME_DIR"]:
        loaders.append(FileSystemLoader(str(Path(conf["THEME_DIR"]) / "templates")))
    loaders.extend(FileSystemLoader(d) for d in _results(r for _n, r in call_each(pm, "template_dirs")))
    loaders.append(core_loader)
    app.jinja_loader = ChoiceLoader([PrefixLoader({"default": core_loader}, delimiter=":"), *loaders])


def _plugin_static(app, state):
    for name, result in call_each(state.pm, "static_dirs"):
        if result:
            state.plugin_static[name] = str(result)

    @app.route("/-/static-plugins/<plugin>/<path:filename>")
    def plugin_static(plugin, filename):
        folder = state.plugin_static.get(plugin)
        if folder is None:
            abort(404)
        return send_from_directory(folder, filename)

    theme = state.conf["THEME_DIR"]
    if theme and (Path(theme) / "static").is_dir():
        @app.route("/-/theme/<path:filename>")
        def theme_static(filename):
            return send_from_directory(str(Path(theme) / "static"), filename)


def _database_lifecycle(app, database):
    pooled = dbmod.is_postgres(database)

    @app.before_request
    def _connect():
        if request.endpoint == "ops.health":
            return  # the health check connects itself, and answers 503 if it cannot
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _release(exc):
        # SQLite keeps its per-thread connection open (a WAL checkpoint on
        # every close costs); PostgreSQL returns its connection to the pool.
        if pooled and not database.is_closed():
            database.close()


def _template_vars(app, pm):
    @app.context_processor
    def _extra():
        merged = {}
        for name, result in call_each(pm, "extra_template_vars", request=request):
            for key, value in (result or {}).items():
                if not key.startswith(name.replace("-", "_") + "_"):
                    raise PluginError(f"plugin {name!r}: template variable {key!r} must start with '{name}_'")
                merged[key] = value
        return merged

    def menu():
        return [link for _n, links in call_each(pm, "menu_links", request=request) for link in (links or [])]

    app.jinja_env.globals["bangban_menu"] = menu
    _permission_globals(app)


def _permission_globals(app):
    """``can(action, resource)`` and ``role_name(code)`` for templates: what
    a page offers follows the same decision as what its routes allow."""
    from flask_login import current_user

    from . import catalog
    from .i18n import localized
    from .permissions import can

    def role_name(code, county_code=None):
        record = catalog.current("roles", code, county=county_code)
        return localized(record.content["name"]) if record else code

    app.jinja_env.globals["can"] = lambda action, resource=None: can(current_user, action, resource)

    def may_use_workbench():
        from .workbench import may_use

        return may_use(current_user)

    app.jinja_env.globals["may_use_workbench"] = may_use_workbench
    app.jinja_env.globals["role_name"] = role_name


__all__ = ["create_app", "PluginError"]
