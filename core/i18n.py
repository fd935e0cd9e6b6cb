"""Languages: Chinese first, traditional Mongolian (vertical) and English.

The locale is chosen per request: ``?lang=`` (remembered in the session),
then the signed-in user's choice, then the browser's Accept-Language, then
the default (zh_Hans_CN). The page layout follows the locale's character
order: Mongolian runs top to bottom with lines left to right.
"""
from __future__ import annotations

from babel import Locale
from flask import has_request_context, request, session
from flask_babel import Babel, get_locale

from .paths import LOCALES

#: code -> the language's own name (what a speaker looks for).
LANGUAGES = {
    "zh_Hans_CN": "中文",
    "mn_Mong_CN": "ᠮᠣᠩᠭᠣᠯ",
    "en": "English",
}


def _short(code):
    return code.split("_")[0]


def select_locale():
    if not has_request_context():
        return None
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
        return wanted
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    user = _current_user()
    if user is not None and getattr(user, "locale", None) in LANGUAGES:
        return user.locale
    best = request.accept_languages.best_match(["zh", "mn", "en", "zh-CN", "mn-CN"])
    if best:
        return {"zh": "zh_Hans_CN", "zh-CN": "zh_Hans_CN", "mn": "mn_Mong_CN", "mn-CN": "mn_Mong_CN"}.get(best, "en")
    return None


def _current_user():
    try:
        from flask_login import current_user

        return current_user if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - no login manager (bare tests)
        return None


def writing_mode(locale=None) -> str:
    """CSS writing-mode for a locale: ``vertical-lr`` for top-to-bottom
    scripts (lines left to right), ``horizontal-tb`` otherwise."""
    locale = locale or get_locale() or Locale.parse("zh_Hans_CN")
    return "vertical-lr" if locale.character_order == "top-to-bottom" else "horizontal-tb"


def text_direction(locale=None) -> str:
    locale = locale or get_locale() or Locale.parse("zh_Hans_CN")
    return "rtl" if locale.character_order == "right-to-left" else "ltr"


def localized(value, locale=None):
    """Pick the text for the current language from metadata text
    (a plain string or ``{zh, mn, en}``); fall back to Chinese."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    lang = _short(str(locale or get_locale() or "zh"))
    return value.get(lang) or value.get("zh") or next(iter(value.values()), "")


def lang_attr(locale=None) -> str:
    locale = locale or get_locale()
    return str(locale).replace("_", "-") if locale else "zh-Hans-CN"


def init_app(app, plugin_dirs=()):
    # Flask-Babel merges catalogs in order, later ones overriding earlier:
    # plugins first, the core last, so a plugin cannot retranslate the core.
    dirs = [*plugin_dirs, str(LOCALES)]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["BANGBAN"]["DEFAULT_LOCALE"]
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES,
        writing_mode=writing_mode,
        text_direction=text_direction,
        lang_attr=lang_attr,
        current_locale=lambda: str(get_locale()),
    )
    app.jinja_env.filters["localized"] = localized
