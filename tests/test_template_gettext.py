"""Templates translate through one catalog lookup per request.

``{{ _("…") }}`` in a template used Flask-Babel's callables: each string
walked the request context, named the locale and looked the catalog up
again (about 12 µs a string; a commission form renders some thirty).
``core.i18n`` installs Jinja's new-style gettext over a catalog kept for
the request, refreshed when the locale changes (``force_locale``).
"""
from __future__ import annotations

import flask_babel
from flask import render_template_string
from flask_babel import force_locale


PAGE = ('{% for n in range(30) %}{{ _("Yes") }}/{% endfor %}'
        '|{{ _("Please correct the fields marked below.") }}'
        '|{{ ngettext("%(num)d item", "%(num)d items", 3) }}'
        '|{% trans %}Yes{% endtrans %}'
        '|{{ _("%(a)s & %(b)s", a="<x>", b="y") }}|{{ _("100%% done") }}')


def test_a_page_of_strings_is_translated_with_one_catalog_lookup_and_follows_a_forced_locale(make_app, monkeypatch):
    app = make_app()
    looked_up = []
    real = flask_babel.get_translations

    def counting():
        looked_up.append(1)
        return real()

    monkeypatch.setattr("core.i18n.get_translations", counting, raising=False)
    monkeypatch.setattr("flask_babel.get_translations", counting)
    with app.test_request_context("/?lang=zh_Hans_CN"):
        zh = render_template_string(PAGE)
        assert zh.count("是/") == 30
        assert zh.split("|")[1] == "请修改下方标出的错误项。"
        assert zh.split("|")[2] == "3 个事项"
        assert zh.split("|")[3] == "是"
        # the variables are escaped (the text itself is trusted), the text's own "%%" is a "%"
        assert zh.split("|")[4] == "&lt;x&gt; & y"
        assert zh.split("|")[5] == "100% done"
        assert len(looked_up) == 1, f"{len(looked_up)} catalog lookups for one page"
        with force_locale("en"):
            en = render_template_string(PAGE)
        assert en.count("Yes/") == 30 and "Please correct the fields marked below." in en
        assert en.split("|")[2] == "3 items"
        again = render_template_string(PAGE)
        assert again == zh
    with app.test_request_context("/?lang=en"):
        assert render_template_string(PAGE).count("Yes/") == 30


def test_metadata_texts_follow_the_locale_and_the_overrides_within_a_request(make_app):
    """``localized`` names the request's language once; a forced locale and
    a plugin's new overrides (a reviewer's correction) are seen at once."""
    from core.i18n import localized, set_text_overrides

    app = make_app()
    name = {"zh": "异地就医备案", "en": "Registration for medical treatment elsewhere"}
    with app.test_request_context("/?lang=zh_Hans_CN"):
        assert localized(name) == "异地就医备案"
        with force_locale("en"):
            assert localized(name) == "Registration for medical treatment elsewhere"
            set_text_overrides("en", {"异地就医备案": "Medical treatment elsewhere: registration"})
            assert localized(name) == "Medical treatment elsewhere: registration"
        assert localized(name) == "异地就医备案"
        assert localized(name, "en") == "Medical treatment elsewhere: registration"
        set_text_overrides("en", {})
        with force_locale("en"):
            assert localized(name) == "Registration for medical treatment elsewhere"
