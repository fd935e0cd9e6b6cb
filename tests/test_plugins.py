"""The plugin manager, in process."""
import logging

import pytest

from core import create_app
from core.hookspecs import hookimpl
from core.plugins import PluginError, make_manager


class Misspelled:
    @hookimpl
    def register_metadata_pack(register):  # sic: the hook is register_metadata_packs
        pass


def test_misspelled_hook_fails_loudly():
    with pytest.raises(PluginError, match="register_metadata_pack"):
        make_manager(allow="", extra=[Misspelled()])


def _not_builtin(pm):
    return sorted(n for n, _ in pm.list_name_plugin() if not n.startswith("core."))


def test_allowlist_selects_plugins():
    from core.builtins import DEFAULT_PLUGINS

    builtins = sorted("core." + d.rsplit(".", 1)[1] for d in DEFAULT_PLUGINS)
    assert sorted(n for n, _ in make_manager(allow="").list_name_plugin()) == builtins
    assert _not_builtin(make_manager(allow="wushen")) == ["wushen"]
    assert {"wushen", "bank_partnership"} <= set(_not_builtin(make_manager(allow=None)))


def test_unknown_plugin_is_an_error():
    with pytest.raises(PluginError, match="not installed: nope"):
        make_manager(allow="wushen,nope")


def test_trace_logs_every_hook_call(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="bangban.plugins"):
        create_app(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path}/x.db", plugins="bank_partnership",
                   trace_hooks=True, secret_key="x")
    text = caplog.text
    for hook in ("register_blueprints", "template_dirs", "static_dirs", "translation_dirs", "startup"):
        assert hook in text, f"{hook} not traced"


def test_untraced_by_default(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="bangban.plugins"):
        create_app(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path}/x.db", plugins="", secret_key="x")
    assert "register_blueprints" not in caplog.text


class Shadowing:
    @hookimpl
    def extra_template_vars(self):
        return {"counts": "shadowed"}


def test_template_vars_must_be_namespaced(make_app):
    pm = make_manager(allow="wushen", extra=[Shadowing()])
    app = make_app(pm=pm)
    with pytest.raises(PluginError, match="must start with"):
        app.test_client().get("/")


class Themed:
    def __init__(self, folder):
        self.folder = folder

    @hookimpl
    def template_dirs(self):
        return self.folder


def test_template_override_order(make_app, tmp_path):
    plugin_dir = tmp_path / "plugin_templates"
    plugin_dir.mkdir()
    (plugin_dir / "home.html").write_text(
        '{% extends "default:home.html" %}{% block content %}<p id="from-plugin">P</p>{{ super() }}{% endblock %}')
    pm = make_manager(allow="", extra=[Themed(str(plugin_dir))])
    html = make_app(pm=pm).test_client().get("/").get_data(as_text=True)
    assert 'id="from-plugin"' in html and "<h1>" in html  # extends the core's original

    theme = tmp_path / "theme"
    (theme / "templates").mkdir(parents=True)
    (theme / "templates" / "home.html").write_text(
        '{% extends "default:home.html" %}{% block content %}<p id="from-theme">T</p>{% endblock %}')
    pm = make_manager(allow="", extra=[Themed(str(plugin_dir))])
    html = make_app(pm=pm, theme_dir=str(theme)).test_client().get("/").get_data(as_text=True)
    assert 'id="from-theme"' in html and 'id="from-plugin"' not in html


def test_plugins_page_lists_plugins_and_hooks(client):
    html = client.get("/-/plugins?lang=en").get_data(as_text=True)
    assert "bank_partnership" in html and "register_blueprints" in html
    rows = client.get("/-/plugins?format=json").get_json()
    by_name = {r["name"]: r for r in rows}
    assert {n for n in by_name if not n.startswith("core.")} == {"wushen", "bank_partnership", "mongolian"}
    assert by_name["core.cases"]["hooks"] == ["register_admin_views", "register_blueprints"]
    assert by_name["wushen"]["hooks"] == ["register_demo_packs", "register_metadata_packs"]
    assert by_name["bank_partnership"]["version"]


def test_hook_order_follows_plugin_names_not_the_allowlist():
    """pluggy calls the last registered plugin first: plugins are registered
    in reverse name order whatever order BANGBAN_PLUGINS gives, so hooks
    run in plugin-name order."""
    def registered(allow):
        return [name for name, _p in make_manager(allow=allow).list_name_plugin() if not name.startswith("core.")]

    assert registered("bank_partnership,wushen") == registered("wushen,bank_partnership") == \
        ["wushen", "bank_partnership"]
