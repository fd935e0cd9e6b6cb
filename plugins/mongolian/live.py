"""Reviewers' corrections take effect at once, before any export: a
metadata text through :func:`core.i18n.text_overrides`, an interface
string by patching the Mongolian catalog Flask-Babel has loaded (the
``messages`` domain; Flask-Admin's and WTForms' words change on export).
Each process checks the newest correction once per Mongolian request.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import get_locale, get_translations
from peewee import fn

from core.i18n import set_text_overrides

from .models import TranslationCorrection
from .review import LOCALE


def refresh(app):
    stamp = TranslationCorrection.select(fn.MAX(TranslationCorrection.id)).scalar()
    state = app.extensions.setdefault("mongolian_corrections", {"stamp": None, "catalog": {}})
    if stamp != state["stamp"]:
        from .views import latest_corrections

        latest = latest_corrections()
        set_text_overrides("mn", {key: row.text for (source, key), row in latest.items() if source == "metadata"},
                           app)
        state.update(stamp=stamp, catalog={key: row.text for (source, key), row in latest.items()
                                           if source == "catalog"})
    return state


def _apply():
    if str(get_locale() or "") != LOCALE:
        return
    state = refresh(current_app)
    if state["catalog"]:
        translations = get_translations()
        if getattr(translations, "_mongolian_stamp", None) != state["stamp"] and hasattr(translations, "_catalog"):
            translations._catalog.update(state["catalog"])
            translations._mongolian_stamp = state["stamp"]


def install(app):
    app.before_request(_apply)
