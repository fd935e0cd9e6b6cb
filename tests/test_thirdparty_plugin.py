"""A real third-party plugin package, installed into a fresh virtualenv
together with a non-editable ``pip install .`` of Bangban, and discovered
through its entry point.

No network: the new venv sees the test environment's already installed
dependencies through a ``.pth`` line, and pip installs only Bangban and the
plugin (``--no-deps --no-index``).
"""
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.helpers import make_venv

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    return make_venv(tmp_path_factory, ROOT, FIXTURES / "bangban_hello", FIXTURES / "bangban_broken")


def run(venv, *args, plugins="hello,wushen", data=None, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")}
    env.update(BANGBAN_PLUGINS=plugins, PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    if data:
        env["BANGBAN_DATA_DIR"] = str(data)
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                          cwd=venv, **kw)


def test_installed_copy_is_used_not_the_checkout(venv):
    out = run(venv, "python", "-c", "import core.paths as p; print(p.ROOT)").stdout.strip()
    assert str(venv) in out and str(ROOT) != out


def test_plugin_is_listed_with_version_and_hooks(venv):
    result = run(venv, "bangban", "plugins")
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout and "bangban-hello 1.2.3" in result.stdout
    hooks_line = result.stdout.split("bangban-hello 1.2.3", 1)[1].splitlines()[1]
    for hook in ("register_metadata_packs", "register_blueprints", "register_admin_views", "template_dirs",
                 "static_dirs", "translation_dirs", "extra_template_vars", "register_commands"):
        assert hook in hooks_line
    assert "bank_partnership" not in result.stdout  # not in the allowlist


def test_empty_allowlist_loads_no_plugin(venv):
    result = run(venv, "bangban", "plugins", plugins="")
    names = [line.split()[0] for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert names and all(name.startswith("core.") for name in names)  # the built-in plugins only


def test_plugin_command_and_metadata(venv, tmp_path):
    assert run(venv, "bangban", "hello").stdout.strip() == "hello from the plugin command"
    check = run(venv, "bangban", "metadata", "check")
    assert check.returncode == 0, check.stderr
    assert "3 pack(s)" in check.stdout


def test_broken_plugin_stops_startup_naming_it(venv):
    result = run(venv, "bangban", "plugins", plugins="hello,broken")
    assert result.returncode == 2
    assert "plugin 'broken'" in result.stderr
    assert "bangban_missing_dependency" in result.stderr and "ModuleNotFoundError" in result.stderr


def test_unknown_plugin_name_is_refused(venv):
    result = run(venv, "bangban", "plugins", plugins="helo")
    assert result.returncode == 2 and "helo" in result.stderr and "hello" in result.stderr


def test_web_app_uses_plugin_templates_static_translations_and_admin(venv, tmp_path):
    data = tmp_path / "data"
    demo = run(venv, "bangban", "demo", data=data, plugins="hello,wushen,bank_partnership")
    assert demo.returncode == 0, demo.stderr
    assert "county.admin" in demo.stdout
    script = textwrap.dedent("""
        import json, re
        from core import create_app
        app = create_app()
        c = app.test_client()
        out = {}
        home = c.get("/?lang=en").get_data(as_text=True)
        out["banner"] = 'id="hello-banner">greetings from hello<' in home
        out["core_home_still_there"] = "service items" in home
        out["hello_zh"] = c.get("/hello?lang=zh_Hans_CN").get_data(as_text=True)
        out["static"] = c.get("/-/static-plugins/hello/hello.css").status_code
        out["css"] = c.get("/static/bangban.css").status_code
        out["admin_anonymous"] = c.get("/admin/hello_admin/").status_code
        import sys
        sys.path.insert(0, ROOT)  # the test helpers (second factor included); the code under test stays the installed copy
        from tests.helpers import sign_in
        assert sign_in(c, "county.admin").status_code == 302
        out["admin"] = c.get("/admin/hello_admin/").get_data(as_text=True)
        out["guide"] = c.get("/guides/hello-001?lang=zh_Hans_CN").status_code
        print(json.dumps(out))
    """)
    script = script.replace("ROOT", repr(str(ROOT)))
    result = run(venv, "python", "-c", script, data=data, plugins="hello,wushen,bank_partnership")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"banner": True, "core_home_still_there": True, "hello_zh": "来自插件的问候", "static": 200,
                   "css": 200, "admin": "hello admin", "guide": 200, "admin_anonymous": 302}
