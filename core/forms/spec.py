"""Turn an item's metadata into a form spec: plain JSON-serialisable data
from which the marshmallow schema (:mod:`.schema`) and the HTML form
(``forms/macros.html``) are both generated.

Layout::

    {"item": {code, name, kind, promised_days},
     "sections": [{"key": "applicant", "title", "fields"},
                  {"key": "item", "title", "fields"},
                  {"key": "materials", "title", "fields"}],
     "materials": [{index, name, form, count, key, fill_instructions, sample}]}

Every field is ``{name, type, label, required, options, show_if,
required_if, help}`` with texts already picked for ``locale``, plus
``pattern`` (a regular expression the whole answer must match) and
``max_length`` where the metadata sets them (text fields). The
materials checklist becomes fields ``material_<index>`` (1-based) of type
``"material"`` (a "received" checkbox; the entry also carries ``material``,
the checklist row). A key material is ``required``: the form is complete
only when it is ticked. Tolerant acceptance (容缺受理) is the caller's
decision: it may drop the ``material_<n>`` errors and record what is owed.
"""
from __future__ import annotations

from flask_babel import force_locale, gettext

from ..i18n import localized
from .expressions import ExpressionError, compile_expression

SECTION_KEYS = ("applicant", "item", "materials")
MATERIAL_PREFIX = "material_"
_LOCALES = {"zh": "zh_Hans_CN", "mn": "mn_Mong_CN", "en": "en"}


class FormSpecError(ValueError):
    """The item's or the guide field set's form definition is unusable."""


def _titles(locale: str) -> dict:
    # UI strings, translated through the Babel catalogs like any other.
    with force_locale(_LOCALES.get(locale.split("_")[0], locale)):
        return {
            "applicant": gettext("Applicant and principal"),
            "item": gettext("Details of the item"),
            "materials": gettext("Materials received"),
        }


def _options(options, locale) -> list[dict]:
    out = []
    for option in options or ():
        if isinstance(option, dict):
            value = option.get("value")
            label = localized(option.get("label"), locale) if option.get("label") else str(value)
        else:
            value, label = option, str(option)
        out.append({"value": value, "label": label})
    return out


def _field(raw: dict, locale: str) -> dict:
    field = {
        "name": raw["name"],
        "type": raw["type"],
        "label": localized(raw.get("label"), locale) or raw["name"],
        "required": bool(raw.get("required")),
        "options": _options(raw.get("options"), locale),
        "show_if": raw.get("show_if") or None,
        "required_if": raw.get("required_if") or None,
        "help": localized(raw.get("help"), locale) or None,
    }
    for key in ("pattern", "max_length"):  # a text answer's shape, checked by the schema
        if raw.get(key):
            field[key] = raw[key]
    return field


def _material(index: int, raw: dict, locale: str) -> dict:
    return {
        "index": index,
        "name": localized(raw.get("name"), locale),
        "form": raw.get("form"),
        "count": raw.get("count") or 1,
        "key": bool(raw.get("key")),
        "fill_instructions": localized(raw.get("fill_instructions"), locale) or None,
        "sample": localized(raw.get("sample"), locale) or None,
    }


def _material_field(material: dict) -> dict:
    return {
        "name": f"{MATERIAL_PREFIX}{material['index']}",
        "type": "material",
        "label": material["name"],
        "required": material["key"],
        "options": [],
        "show_if": None,
        "required_if": None,
        "help": material["fill_instructions"],
        "material": material,
    }


def _check_names(item_code, guide_code, applicant, own, materials):
    seen = {}
    for origin, fields in (("applicant field", applicant), ("item field", own), ("material", materials)):
        for f in fields:
            where = (f"{origin} {f['name']!r} of guide field set {guide_code!r}" if origin == "applicant field"
                     else f"{origin} {f['name']!r} of item {item_code!r}")
            if f["name"] in seen:
                raise FormSpecError(f"{where} collides with {seen[f['name']]}; rename one of them")
            seen[f["name"]] = where
    return set(seen)


def _check_expressions(item_code, fields, known):
    for f in fields:
        for key in ("show_if", "required_if"):
            if not f[key]:
                continue
            try:
                expr = compile_expression(f[key])
            except ExpressionError as exc:
                raise FormSpecError(f"item {item_code!r}, field {f['name']!r}: {key} {f[key]!r}: {exc}") from None
            unknown = sorted(expr.names - known)
            if unknown:
                raise FormSpecError(f"item {item_code!r}, field {f['name']!r}: {key} names unknown "
                                    f"field(s) {', '.join(unknown)}")


def build_form_spec(item: dict, guide_field_set: dict, *, locale: str = "zh", extra_names=()) -> dict:
    """Build the commission-form spec for ``item``.

    ``guide_field_set`` supplies the applicant part (``applicant_fields``).
    Raise :class:`FormSpecError` when an item field's name collides with an
    applicant field (or another field), or a ``show_if``/``required_if`` is
    invalid or names a field the form does not have (``extra_names`` lists
    further names the caller will provide when evaluating).
    """
    code = item.get("code", "?")
    guide_field_set = guide_field_set or {}
    applicant = [_field(f, locale) for f in guide_field_set.get("applicant_fields") or ()]
    own = [_field(f, locale) for f in item.get("fields") or item.get("fields_") or ()]
    materials = [_material(i, m, locale) for i, m in enumerate(item.get("materials") or (), start=1)]
    material_fields = [_material_field(m) for m in materials]
    known = _check_names(code, guide_field_set.get("code", "?"), applicant, own, material_fields)
    _check_expressions(code, applicant + own, known | set(extra_names))
    titles = _titles(locale)
    return {
        "item": {
            "code": code,
            "name": localized(item.get("name"), locale),
            "kind": item.get("kind"),
            "promised_days": item.get("promised_days"),
        },
        "sections": [
            {"key": "applicant", "title": titles["applicant"], "fields": applicant},
            {"key": "item", "title": titles["item"], "fields": own},
            {"key": "materials", "title": titles["materials"], "fields": material_fields},
        ],
        "materials": materials,
    }


def prepare_form_spec(item: dict, guide_field_set: dict, county_code, *, locale: str = "zh", pm=None) -> dict:
    """The commission-form spec of ``item`` for a county: :func:`build_form_spec`,
    then the ``prepare_form_spec`` hook (through ``pm.hook``: every
    implementation, ``tryfirst``/``trylast`` decide the order) changes it in
    place. Callers cache the result per item version, guide
    field set, county and language. A field a plugin adds must not collide
    with another, and its ``show_if``/``required_if`` are checked like the
    item's."""
    from flask import current_app

    spec = build_form_spec(item, guide_field_set, locale=locale)
    pm = pm or current_app.extensions["bangban"].pm
    pm.hook.prepare_form_spec(spec=spec, item=item, county_code=county_code, locale=locale)
    _check_prepared(item.get("code", "?"), spec)
    return spec


def _check_prepared(code, spec):
    seen = set()
    for f in spec_fields(spec):
        if f["name"] in seen:
            raise FormSpecError(f"item {code!r}: a plugin's prepare_form_spec adds field {f['name']!r} twice")
        seen.add(f["name"])
    _check_expressions(code, [f for f in spec_fields(spec) if f["type"] != "material"], seen)


def spec_fields(spec: dict):
    """Every field of ``spec``, in form order."""
    for section in spec.get("sections", ()):
        yield from section.get("fields", ())
