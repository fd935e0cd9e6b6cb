"""Languages: Chinese first and English in the core; others (traditional
Mongolian, vertical) come from plugins through ``register_languages``.

The locale is chosen per request: ``?lang=`` (remembered in the session),
then the signed-in user's choice, then the browser's Accept-Language, then
the default (zh_Hans_CN); a locale no loaded plugin offers is never chosen.
The page layout follows the language's ``direction``: ``vertical-lr`` runs
top to bottom with lines left to right.
"""
from __future__ import annotations

import functools

import re
from collections.abc import Mapping

from babel import Locale, support
from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_locale, get_translations
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from markupsafe import Markup

from .paths import LOCALES

DIRECTIONS = ("ltr", "vertical-lr")


def _core_languages():
    """The core's own languages (registered by the built-in registries
    plugin), for use outside an app."""
    from .builtins import registries

    out = {}
    registries.register_languages(lambda code, **kw: out.__setitem__(code, {"locale": code, **kw}))
    return out


CORE_LANGUAGES = _core_languages()


def _collect_languages(pm):
    """Every language the loaded plugins register (the core's built-ins
    included), checked by the one registry."""
    from . import registry

    found = registry.languages(pm)
    order = [c for c in CORE_LANGUAGES if c in found] + sorted(c for c in found if c not in CORE_LANGUAGES)
    return {code: found[code] for code in order}


def languages() -> dict:
    """``{locale: entry}`` of the current app's languages (the core's alone
    outside an app)."""
    if has_app_context():
        return current_app.extensions.get("bangban_languages", CORE_LANGUAGES)
    return CORE_LANGUAGES


class _LanguageNames(Mapping):
    """``{locale: its own name}`` of the current app: what the switcher and
    the account page offer and what a chosen locale is checked against."""

    def __getitem__(self, code):
        return languages()[code]["name"]

    def __iter__(self):
        return iter(languages())

    def __len__(self):
        return len(languages())


#: code -> the language's own name (what a speaker looks for).
LANGUAGES = _LanguageNames()


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
    tags = _browser_tags(tuple(LANGUAGES))
    best = request.accept_languages.best_match(list(tags))
    return tags[best] if best else None


@functools.lru_cache(maxsize=8)
def _browser_tags(codes):
    """The browser's tags: "mn" and "mn-CN" for mn_Mong_CN, "zh", "zh-CN"
    for zh_Hans_CN … (once per set of languages, not per request)."""
    tags = {}
    for code in codes:
        parts = code.split("_")
        tags.setdefault(parts[0], code)
        if len(parts) > 1:
            tags.setdefault(f"{parts[0]}-{parts[-1]}", code)
    return tags


def _current_user():
    try:
        from flask_login import current_user

        return current_user if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - no login manager (bare tests)
        return None


def current_language() -> dict:
    """The entry of the current locale (the default's if it is not offered)."""
    known = languages()
    return known.get(str(get_locale() or ""), known.get("zh_Hans_CN", next(iter(known.values()))))


def writing_mode(locale=None) -> str:
    """CSS writing-mode for a locale: ``vertical-lr`` for top-to-bottom
    scripts (lines left to right), ``horizontal-tb`` otherwise."""
    entry = languages().get(str(locale)) if locale else current_language()
    return "vertical-lr" if entry and entry["direction"] == "vertical-lr" else "horizontal-tb"


def text_direction(locale=None) -> str:
    locale = locale or get_locale() or Locale.parse("zh_Hans_CN")
    return "rtl" if locale.character_order == "right-to-left" else "ltr"


_DATE_TOKENS = re.compile(r"y+|M+|d+|E+")


def long_date(day, locale=None) -> str:
    """``day`` written out with the language's own month and weekday names
    and date pattern (LDML letters y, M, MMMM, d, EEEE), which a plugin
    ships where CLDR has none (Mongolian in China)."""
    entry = languages().get(str(locale)) if locale else current_language()
    if not (entry.get("month_names") and entry.get("weekday_names") and entry.get("date_format")):
        from babel.dates import format_date

        return format_date(day, "long", locale=entry["locale"])  # CLDR's own words

    def token(match):
        t = match.group(0)
        if t[0] == "y":
            return f"{day.year:0{len(t)}d}" if len(t) > 2 else f"{day.year % 100:02d}"
        if t[0] == "M":
            return entry["month_names"][day.month - 1] if len(t) >= 3 else f"{day.month:0{len(t)}d}"
        if t[0] == "d":
            return f"{day.day:0{len(t)}d}"
        return entry["weekday_names"][day.weekday()]

    return _DATE_TOKENS.sub(token, entry["date_format"])


def format_date(value, fmt="long", locale=None) -> str:
    """The one way a date or time is written for a person, in every
    language: ``long`` (the language's own month and weekday names and
    pattern, which a plugin ships where CLDR has none — Mongolian in China),
    ``short`` (2026-09-30), ``datetime`` (2026-09-30 14:05) or ``time``;
    ``weekday``: the short form with the weekday's name, for the dates
    people plan by (deadlines, appointments: 2026-09-30 星期三).
    Numeric forms are the same in every language (GB/T 7408)."""
    if value is None or value == "":
        return ""
    if fmt == "weekday":
        entry = languages().get(str(locale)) if locale else current_language()
        names = entry.get("weekday_names") or CORE_LANGUAGES["en"]["weekday_names"]
        return f"{format_date(value, 'short')} {names[value.weekday()]}"
    if fmt == "long":
        return long_date(value.date() if hasattr(value, "hour") else value, locale)
    if fmt == "short":
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if fmt == "datetime":
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"
    if fmt == "time":
        return f"{value.hour:02d}:{value.minute:02d}"
    raise ValueError(f"unknown date format {fmt!r}: long, short, weekday, datetime or time")


def normalize_input(text: str) -> str:
    """A submitted text through every language's input normaliser (e.g.
    Menksoft private-use glyphs to Unicode Mongolian)."""
    for entry in languages().values():
        fn = entry.get("normalize_input")
        if fn is not None and text:
            text = fn(text)
    return text


def _normalize_request():
    """Rewrite the request's form and query values through the languages'
    normalisers before any view reads them (a no-op without one)."""
    from werkzeug.datastructures import ImmutableMultiDict

    if not any(e.get("normalize_input") for e in languages().values()):
        return
    for attr in ("args", "form"):
        data = getattr(request, attr)
        if not data:
            continue
        fixed = [(k, normalize_input(v)) for k, v in data.items(multi=True)]
        if any(v != old for (_k, v), (_k2, old) in zip(fixed, data.items(multi=True))):
            setattr(request, attr, ImmutableMultiDict(fixed))


def localized(value, locale=None):
    """Pick the text for the current language from metadata text
    (a plain string or ``{zh, mn, en}``); fall back to Chinese."""
    if value is None:
        return ""
    if locale is None:
        lang, overrides = _request_language()
    else:
        lang = _short(str(locale))
        overrides = text_overrides().get(lang)
    if overrides:  # a reviewer's correction, live before it is exported to the packs
        zh = value if isinstance(value, str) else value.get("zh")
        if zh in overrides:
            return overrides[zh]
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get("zh") or next(iter(value.values()), "")


def _for_locale(attr, compute, outside):
    """``compute(locale)`` for the request's locale, kept on Flask-Babel's
    per-request context under ``attr`` until the locale changes (as
    ``force_locale`` does) or :func:`set_text_overrides` renews it;
    ``outside`` without an app context."""
    try:
        space = g._flask_babel
        memo = getattr(space, attr)
        if memo is not None and memo[0] is space.babel_locale:
            return memo[1]
    except AttributeError:
        pass
    except RuntimeError:  # outside an app context: no language chosen
        return outside
    locale = get_locale()
    value = compute(locale)
    if locale is not None:
        setattr(g._flask_babel, attr, (locale, value))
    return value


def _language_and_overrides(locale):
    lang = _short(str(locale or "zh"))
    return lang, text_overrides().get(lang)


def _request_language():
    """``(language, its text overrides)`` of the request's locale, worked
    out once per request and locale (a page localizes a few hundred texts:
    naming the locale and finding the overrides each time was most of it)."""
    return _for_locale("bangban_language", _language_and_overrides, ("zh", None))


def set_text_overrides(lang, texts, app=None):
    """Replace the ``{Chinese text: text}`` overrides of ``lang`` (a
    plugin's live corrections); the request's own lookup is renewed."""
    (app or current_app).extensions.setdefault("bangban_text_overrides", {})[lang] = texts
    space = g.get("_flask_babel") if has_app_context() else None
    if space is not None:
        space.bangban_language = None


def text_overrides() -> dict:
    """``{lang: {Chinese text: text}}``: corrections of metadata texts that
    a plugin (the translation review) applies before they reach the packs."""
    if has_app_context():
        return current_app.extensions.setdefault("bangban_text_overrides", {})
    return {}


#: Every code vocabulary that is not metadata: kind -> code -> lazy label.
#: (Workflow states and steps, roles and departments are named in metadata.)
LABELS = {
    "item_type": {
        "licensing": _l("Administrative licensing"),
        "payment": _l("Administrative payment"),
        "confirmation": _l("Administrative confirmation"),
        "reward": _l("Administrative reward"),
        "adjudication": _l("Administrative adjudication"),
        "other_power": _l("Other administrative power"),
        "public_service": _l("Public service"),
    },
    "item_kind": {"instant": _l("Instant"), "promised": _l("Promised"), "major": _l("Major")},
    "level": {"county": _l("County"), "township": _l("Township"), "village": _l("Village"), "group": _l("Group")},
    "material_form": {"original": _l("original"), "copy": _l("copy"), "original_and_copy": _l("original and copy"),
                      "electronic": _l("electronic")},
    "field_type": {
        "text": _l("Text"), "long_text": _l("Long text"), "integer": _l("Whole number"),
        "decimal": _l("Decimal number"), "date": _l("Date"), "choice": _l("Choice"),
        "multi_choice": _l("Multiple choice"), "yes_no": _l("Yes or no"), "id_number": _l("ID number"),
        "mobile": _l("Mobile phone"), "division": _l("Administrative division"), "file": _l("File"),
    },
    "channel": {"window": _l("Window"), "online": _l("Online"), "mobile": _l("Mobile app"),
                "bank": _l("Partner bank"), "self_service": _l("Self-service terminal"),
                "door_to_door": _l("Door-to-door"), "mail": _l("Mail"),
                "comprehensive_window": _l("Comprehensive window"), "post": _l("Post office"),
                "phone": _l("Telephone"), "home_visit": _l("Home visit")},
    "delivery_method": {"pickup": _l("Pick-up at the window"), "mail": _l("Mail"), "door": _l("Door-to-door")},
    "input": {  # what a step requires (service.take lists the missing ones)
        "reason": _l("Reason"), "note": _l("Note"), "missing_materials": _l("Missing materials"),
        "missing_material": _l("Material to follow"), "promise_due": _l("Promised by"),
        "department": _l("Department"), "helper": _l("Helper"), "joint": _l("Departments handling jointly"),
        "delivery": _l("Result delivered by"), "rating": _l("Rating"), "comment": _l("Comment"),
    },
    "event": {  # ledger entries that are not workflow steps
        "apply": _l("Applied"), "complete_part": _l("Department part done"), "urge": _l("Urged"),
        "extend": _l("Deadline extended"), "reassign_owner": _l("Owner reassigned"),
        "reassign_assignee": _l("Department helper reassigned"), "escalate": _l("Escalated"),
        "supply_material": _l("Promised material arrived"), "handover": _l("Handed over"),
    },
    # 好差评 (core.ratings): the five levels of GB/T 39734-2020, 1 and 2 are 差评
    "rating_level": {5: _l("Very satisfied"), 4: _l("Satisfied"), 3: _l("Fairly satisfied"),
                     2: _l("Dissatisfied"), 1: _l("Very dissatisfied")},
    "rating_stage": {"acceptance": _l("At acceptance"), "completion": _l("At completion")},
    "rating_channel": {"qr": _l("Receipt QR code"), "track": _l("Tracking page"),
                       "paper": _l("Paper form entered by staff")},
    "rater": {"real_name": _l("Real name"), "anonymous": _l("Anonymous")},
    "rectification_state": {"verify": _l("To verify"), "rectify": _l("To rectify"), "appeal": _l("Appealed"),
                            "callback": _l("To call back"), "closed": _l("Closed")},
    "appeal_outcome": {"upheld": _l("Appeal upheld"), "rejected": _l("Appeal rejected")},
    "callback_way": {"phone": _l("Telephone"), "visit": _l("Visit"), "sms": _l("Text message"), "other": _l("Other")},
    "system_note": {"overdue": _l("Overdue"), "rectification overdue": _l("A bad rating's rectification is overdue"),
                    "tolerant acceptance promise not met": _l("The promised material did not arrive in time")},
    "appointment_state": {"booked": _l("Booked"), "cancelled": _l("Cancelled"), "no_show": _l("No-show"),
                          "served": _l("Served")},
    "appointment_action": {"served": _l("Came"), "no_show": _l("Did not come"), "cancel": _l("Cancel")},
    "session_kind": {"regular": _l("Regular hours"), "extended": _l("Extended hours"),
                     "appointment": _l("By appointment")},
    "home_visit_state": {"requested": _l("Requested"), "scheduled": _l("Scheduled"),
                         "case_created": _l("Became a case"), "consulted": _l("Consultation done"),
                         "cancelled": _l("Cancelled")},
    "holiday_kind": {"holiday": _l("Holiday (day off)"), "workday": _l("Make-up workday")},
    "holiday_source": {"package": _l("Official calendar"), "admin": _l("Set by an administrator")},
    "target_status": {"met": _l("met"), "on_track": _l("on track"), "behind": _l("behind"),
                      "missed": _l("missed"), "no_data": _l("no data yet"), "not_measured": _l("not measured")},
    "subtask_state": {"open": _l("open"), "done": _l("done")},
    "deadline_part": {"noon": _l("noon"), "end": _l("end of day")},
    "site_kind": {"service_center": _l("Service center"), "service_station": _l("Service station"),
                  "service_point": _l("Service point"), "bank_branch": _l("Bank branch"), "post_office": _l("Post office"),
                  "window": _l("Window")},
    "compliance_status": {"met": _l("Met"), "pending": _l("Awaiting review"), "not_met": _l("Not met"),
                          "rejected": _l("Rejected"), "unanswered": _l("Unanswered")},
    "assessment_state": {"draft": _l("Draft"), "submitted": _l("Submitted"), "reviewed": _l("Reviewed")},
    "review_verdict": {"accepted": _l("Accepted"), "rejected": _l("Rejected")},
}


def label(kind, code, workflow=None):
    """What a person reads for ``code`` of vocabulary ``kind``, in the
    current language. ``state`` and ``step`` take their names from the
    workflow (a ``Workflow`` or its code); ``role`` and ``department`` from
    metadata; the rest from :data:`LABELS`. An unknown code is shown as is."""
    if code is None or code == "":
        return ""
    if kind in ("state", "step"):
        from .cases import workflow as wf

        try:
            flow = wf.load(workflow) if isinstance(workflow, str) else workflow
        except wf.TransitionError:
            return str(code)
        if kind == "state" and code in flow.states:
            return localized(flow.state_name(code))
        if kind == "step" and code in flow.transitions:
            return localized(flow.transitions[code].name)
        return label("event", code)
    if kind in ("role", "department", "site_standard"):
        from flask import has_request_context
        from flask_login import current_user

        from . import catalog

        county = getattr(current_user, "county_code", None) if has_request_context() else None
        record = catalog.current(kind + "s", code, county=county)
        return localized(record.content.get("name")) if record else str(code)
    text = LABELS[kind].get(code)
    return str(text) if text is not None else str(code)


def labels(kind, codes, workflow=None, sep="、"):
    """Several codes of one vocabulary, labelled and joined."""
    return sep.join(label(kind, c, workflow) for c in codes or ())


class FormTranslations:
    """WTForms' messages ("This field is required." …) in the user's
    language: WTForms' own catalogs, completed by ours and the plugins'
    (``wtforms`` domain, e.g. Mongolian's, which WTForms does not ship)."""

    def _catalog(self):
        if not has_request_context():
            return None
        cached = getattr(request, "bangban_wtforms", None)
        if cached is None:
            from babel import support
            from wtforms.i18n import messages_path

            locale = get_locale() or Locale.parse("zh_Hans_CN")
            cached = support.Translations()
            for dirname in (messages_path(), *translation_dirs()):
                cached.merge(support.Translations.load(dirname, [locale], "wtforms"))
            request.bangban_wtforms = cached
        return cached

    def gettext(self, string):
        catalog = self._catalog()
        return string if catalog is None else catalog.ugettext(string)

    def ngettext(self, singular, plural, n):
        catalog = self._catalog()
        if catalog is None:
            return singular if n == 1 else plural
        return catalog.ungettext(singular, plural, n)


form_translations = FormTranslations()


def translation_dirs() -> list:
    """The current app's catalog directories: the plugins' first, the core's
    last (a later catalog overrides an earlier one when merged)."""
    if has_app_context():
        return current_app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    return [str(LOCALES)]


def catalog_dir(domain, locale=None):
    """The first catalog directory holding ``domain`` (``admin`` …) for the
    current locale, or None: where Flask-Admin, which reads one directory,
    finds its words in a language it does not ship."""
    import os

    locale = str(locale or get_locale() or "")
    for dirname in translation_dirs():
        if os.path.isfile(os.path.join(dirname, locale, "LC_MESSAGES", domain + ".mo")):
            return dirname
    return None


_NO_TRANSLATIONS = support.NullTranslations()


def current_translations():
    """Flask-Babel's catalog for the request's locale, looked up once per
    request and locale (:func:`_for_locale`). Flask-Babel's own
    ``get_translations`` walks the context and names the locale on every
    string a page translates: about half the cost of each ``_()`` in a
    template."""
    return _for_locale("bangban_translations", lambda locale: get_translations(), _NO_TRANSLATIONS)


@pass_context
def _template_gettext(context, string, **variables):
    """``{{ _("…") }}`` and ``{% trans %}``: Jinja's new-style gettext
    (escaped, always a format string) over :func:`current_translations`."""
    text = current_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        # the interface's own catalogs are markup as Jinja's gettext takes them; the values are escaped by %
        text = Markup(text)  # nosec B704
    return text % variables if variables or "%" in text else text


@pass_context
def _template_ngettext(context, singular, plural, num, **variables):
    variables.setdefault("num", num)
    text = current_translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # nosec B704 - as in _template_gettext
    return text % variables


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
    # Flask-Babel's callables, through Jinja's wrappers, cost ~12 µs a string; these ~4 µs, same output
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
    app.extensions["bangban_languages"] = _collect_languages(app.extensions["bangban"].pm)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES,
        current_language=current_language,
        writing_mode=writing_mode,
        text_direction=text_direction,
        lang_attr=lang_attr,
        current_locale=lambda: str(get_locale()),
        # every language's script stylesheet (a font limited by unicode-range): the
        # language switcher names each language in its own script
        script_css=lambda: [e["script_css"] for e in languages().values() if e.get("script_css")],
    )
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["long_date"] = long_date
    # {{ case.created_at|format_date("datetime") }}: every date a page shows
    app.jinja_env.filters["format_date"] = lambda value, fmt="long": format_date(value, fmt)
    app.before_request(_normalize_request)
    # {{ code|label("item_type") }}, {{ case.state|label("state", case.workflow) }}
    app.jinja_env.filters["label"] = lambda code, kind, workflow=None: label(kind, code, workflow)
    app.jinja_env.filters["labels"] = lambda codes, kind, workflow=None: labels(kind, codes, workflow)
