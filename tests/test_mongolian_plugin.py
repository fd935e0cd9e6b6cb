"""Traditional Mongolian as one plugin (plugins/mongolian): without it the
interface offers Chinese and English only and every page still renders;
with it the language, its catalogs, calendar words and vertical layout come
from the plugin. Real HTTP requests, SQLite and PostgreSQL."""
import datetime
import re

import pytest

from core import create_app, i18n
from core.hookspecs import hookimpl
from core.plugins import PluginError, make_manager
from tests.helpers import csrf_token, sign_in

WITHOUT = "wushen,bank_partnership"
WITH = "wushen,bank_partnership,mongolian"


def switcher(html):
    nav = re.search(r'<nav class="langs"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return re.findall(r'href="\?lang=([^"]+)"', nav)


def test_without_the_plugin_only_chinese_and_english_are_offered(make_app):
    from core.demo import load_demo

    app = make_app(plugins=WITHOUT)
    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
    client = app.test_client()
    html = client.get("/?lang=mn_Mong_CN").get_data(as_text=True)
    assert switcher(html) == ["zh_Hans_CN", "en"]
    # the unknown language falls back to the default, laid out horizontally
    assert '<html lang="zh-Hans-CN"' in html and 'class="wm-horizontal-tb"' in html
    assert "mongolian.css" not in html
    assert client.get("/-/static-plugins/mongolian/mongolian.css").status_code == 404
    # a browser asking for Mongolian first gets the next language it accepts
    asked = client.get("/", headers={"Accept-Language": "mn-CN, mn;q=0.9, en;q=0.5"})
    assert '<html lang="en"' in asked.get_data(as_text=True)
    guides = client.get("/guides")
    assert guides.status_code == 200
    code = re.search(r'href="/guides/([^"?]+)"', guides.get_data(as_text=True)).group(1)
    assert client.get(f"/guides/{code}").status_code == 200
    assert sign_in(client, "galutu.agent").status_code == 302
    for path in ("/cases", "/cases/new", "/account", "/bank/"):
        assert client.get(path).status_code == 200, path
    token = csrf_token(client, "/account")
    assert client.post("/account/language", data={"csrf_token": token, "locale": "mn_Mong_CN"}).status_code == 400
    with app.app_context():
        assert "mn_Mong_CN" not in i18n.LANGUAGES and set(i18n.languages()) == {"zh_Hans_CN", "en"}


def test_with_the_plugin_mongolian_is_vertical_with_its_own_calendar_words(make_app):
    app = make_app(plugins=WITH)
    client = app.test_client()
    html = client.get("/?lang=mn_Mong_CN").get_data(as_text=True)
    assert switcher(html) == ["zh_Hans_CN", "en", "mn_Mong_CN"]
    assert '<html lang="mn-Mong-CN"' in html and 'class="wm-vertical-lr"' in html
    assert 'href="/-/static-plugins/mongolian/mongolian.css"' in html
    css = client.get("/-/static-plugins/mongolian/mongolian.css").get_data(as_text=True)
    assert "html.wm-vertical-lr body { writing-mode: vertical-lr" in css and "Noto Sans Mongolian" in css
    # the core's stylesheet holds nothing Mongolian any more
    core_css = client.get("/static/bangban.css").get_data(as_text=True)
    assert "vertical-lr" not in core_css and "Mongolian" not in core_css
    # Chinese pages do not load the Mongolian stylesheet
    assert "mongolian.css" not in client.get("/?lang=zh_Hans_CN").get_data(as_text=True)
    with app.test_request_context("/?lang=mn_Mong_CN"):
        written = i18n.long_date(datetime.date(2026, 12, 2))
    # CLDR has only Cyrillic Mongolian (декабрь); the plugin ships the script's own names
    assert written.startswith("2026 ") and "ᠠᠷᠪᠠᠨ ᠬᠣᠶᠠᠷ ᠰᠠᠷ᠎ᠠ 2" in written
    assert not re.search("[\u0400-\u04ff]", written)
    with app.test_request_context("/?lang=zh_Hans_CN"):
        assert i18n.long_date(datetime.date(2026, 12, 2)) == "2026年12月2日"


class Again:
    """A second plugin registering Mongolian."""

    @hookimpl
    def register_languages(self, register):
        register("mn_Mong_CN", name="ᠮᠣᠩᠭᠣᠯ", direction="vertical-lr")


def test_a_language_registered_twice_is_an_error_naming_the_plugin(tmp_path, database_url):
    pm = make_manager(allow=WITH, extra=[Again()])
    with pytest.raises(PluginError, match="mn_Mong_CN"):
        create_app(pm=pm, data_dir=str(tmp_path / "var"), database_url=database_url, secret_key="t")
