"""Registries built from the ``register_*`` hooks: metadata kinds, metrics,
compliance criteria, intake channels, site kinds and languages.

One mechanism for all: each registry calls its hook once per plugin
manager (that is, once per app) and keeps the result on the manager; an
entry is checked as it arrives, and a code registered twice is an error
naming both plugins. The core's own entries come from built-in plugins
(:mod:`core.builtins`) through the same hooks.
"""
from __future__ import annotations

from flask import current_app, has_app_context

from .plugins import PluginError, collect

UNITS = ("rate", "count")
LEVELS = ("site", "township", "county")
SITE_LEVELS = ("township", "village", "partner")
DIRECTIONS = ("ltr", "vertical-lr")


class RegistryError(PluginError):
    """A plugin registered a bad or duplicate entry; the message names it."""


def _metadata_kind(plugin, args, kw):
    kind, schema = args[0], args[1]
    key = kw.get("key", args[2] if len(args) > 2 else "code")
    if not isinstance(schema, type):
        raise RegistryError(f"plugin {plugin!r}: metadata kind {kind!r} needs a schema class")
    return kind, (schema, key)


# what a metric measures: the cases (per unit from a grouped scan), or, per
# unit with the unit in ``scope``, the catalog or the sites and their staff
SOURCES = ("cases", "catalog", "sites")


def _metric(plugin, args, kw):
    """A metric is computed one of three ways, the registry deriving the
    rest (see the ``register_metrics`` hookspec):

    * ``numerator=fn()`` / ``denominator=fn()``: peewee conditions on a
      case (the numerator's cases are the denominator's that also pass it);
      the KPI report counts every such metric for every township and site
      in one grouped scan, and the cases behind a number are those passing
      the conditions (drill-down);
    * ``compute_by=fn(cases, period, scope, by)``: ``{key: (num, den)}``,
      ``key`` the tuple of the values of the case fields ``by`` (one query
      grouped in SQL, whatever the number of groups);
    * ``compute=fn(cases, period, scope)``: ``(num, den)`` of one unit.

    ``additive=True`` (with ``compute_by``): a unit's numbers are the sums
    of its parts' (counts of cases, not of distinct things), so the KPI
    report asks once, grouped by township and site, and sums up the levels.
    """
    code = args[0]
    entry = {"code": code, "label": kw.get("label", code), "compute": kw.get("compute"),
             "compute_by": kw.get("compute_by"), "numerator": kw.get("numerator"),
             "denominator": kw.get("denominator"), "unit": kw.get("unit", "rate"),
             "levels": tuple(kw.get("levels", LEVELS)), "source": kw.get("source", "cases"),
             "additive": bool(kw.get("additive", False))}
    conditions = entry["numerator"] is not None
    if conditions and not (callable(entry["numerator"]) and (entry["denominator"] is None
                                                            or callable(entry["denominator"]))):
        raise RegistryError(f"plugin {plugin!r}: metric {code!r}: numerator and denominator are fn() -> condition")
    if entry["compute_by"] is not None and not callable(entry["compute_by"]):
        raise RegistryError(f"plugin {plugin!r}: metric {code!r}: compute_by is fn(cases, period, scope, by)")
    if entry["additive"] and entry["compute_by"] is None and not conditions:
        raise RegistryError(f"plugin {plugin!r}: metric {code!r}: additive=True goes with compute_by")
    if conditions:
        entry["compute_by"] = _by_conditions(entry)
    if entry["compute"] is None and entry["compute_by"] is not None:
        entry["compute"] = _one_of(entry["compute_by"])
    if not callable(entry["compute"]):
        raise RegistryError(f"plugin {plugin!r}: metric {code!r} needs compute=fn(cases, period, scope), "
                            "compute_by=… or numerator=…")
    if entry["unit"] not in UNITS or not set(entry["levels"]) <= set(LEVELS):
        raise RegistryError(f"plugin {plugin!r}: metric {code!r}: unit is one of {UNITS}, levels of {LEVELS}")
    if entry["source"] not in SOURCES:
        raise RegistryError(f"plugin {plugin!r}: metric {code!r}: source is one of {SOURCES}")
    return code, entry


def condition_sums(entry):
    """The two SQL aggregates ``(SUM(numerator), SUM(denominator))`` of a
    metric given by conditions (a count: the denominator is None)."""
    from peewee import Case as SqlCase, fn

    den = entry["denominator"]() if entry["denominator"] is not None else None
    num = entry["numerator"]()
    if den is not None:
        num = den & num
    ones = (lambda cond: fn.SUM(SqlCase(None, [(cond, 1)], 0)))
    return ones(num), (ones(den) if den is not None else None)


def _by_conditions(entry):
    def compute_by(cases, period=None, scope=None, by=()):
        num, den = condition_sums(entry)
        columns = [*by, num.alias("n")] + ([den.alias("d")] if den is not None else [])
        query = cases.select(*columns).group_by(*by) if by else cases.select(*columns)
        out = {}
        for row in query.tuples():
            key = tuple(row[:len(by)])
            out[key] = (int(row[len(by)] or 0), int(row[len(by) + 1] or 0) if den is not None else None)
        return out

    return compute_by


def _one_of(compute_by):
    def compute(cases, period=None, scope=None):
        return compute_by(cases, period, scope, ()).get((), (0, 0))

    return compute


def _criterion(plugin, args, kw):
    code = args[0]
    check = kw.get("check")
    if check is not None and not callable(check):
        raise RegistryError(f"plugin {plugin!r}: criterion {code!r}: check must be fn(site, standard, requirement)")
    return code, {"code": code, "label": kw.get("label", code), "check": check}


def _channel(plugin, args, kw):
    code = args[0]
    return code, {"code": code, "label": kw.get("label", code), "site_kinds": tuple(kw.get("site_kinds", ())),
                  "roles": tuple(kw.get("roles", ()))}


def _site_kind(plugin, args, kw):
    code = args[0]
    level = kw.get("level", "township")
    if level not in SITE_LEVELS:
        raise RegistryError(f"plugin {plugin!r}: site kind {code!r}: level is one of {SITE_LEVELS}")
    return code, {"code": code, "label": kw.get("label", code), "level": level}


def _language(plugin, args, kw):
    locale = args[0]
    entry = {"locale": locale, "name": kw.get("name", locale), "direction": kw.get("direction", "ltr"),
             "script": kw.get("script"), "font_css": kw.get("font_css"),
             "script_css": kw.get("script_css"), "month_names": kw.get("month_names"),
             "weekday_names": kw.get("weekday_names"), "date_format": kw.get("date_format"),
             "font_preload": list(kw.get("font_preload") or ()), "normalize_input": kw.get("normalize_input")}
    if entry["normalize_input"] is not None and not callable(entry["normalize_input"]):
        raise RegistryError(f"plugin {plugin!r}: language {locale!r}: normalize_input must be a function of a string")
    if entry["direction"] not in DIRECTIONS:
        raise RegistryError(f"plugin {plugin!r}: language {locale!r}: direction is one of {DIRECTIONS}")
    for key, size in (("month_names", 12), ("weekday_names", 7)):
        if entry[key] is not None and len(entry[key]) != size:
            raise RegistryError(f"plugin {plugin!r}: language {locale!r}: {key} needs {size} names")
    return locale, entry


def _indicator(plugin, args, kw):
    code = args[0]
    entry = {"code": code, "label": kw.get("label", code), "compute": kw.get("compute"),
             "better": kw.get("better", "higher")}
    if not callable(entry["compute"]) or entry["better"] not in ("higher", "lower"):
        raise RegistryError(f"plugin {plugin!r}: indicator {code!r} needs compute=fn(staff, period) "
                            "and better='higher'|'lower'")
    return code, entry


def _job(plugin, args, kw):
    code = args[0]
    entry = {"code": code, "label": kw.get("label", code), "run": kw.get("run"), "every": kw.get("every", 3600)}
    if not callable(entry["run"]) or not isinstance(entry["every"], (int, float)) or entry["every"] <= 0:
        raise RegistryError(f"plugin {plugin!r}: job {code!r} needs run=fn(app) and every=seconds > 0")
    return code, entry


def _staffing_check(plugin, args, kw):
    code = args[0]
    entry = {"code": code, "label": kw.get("label", code), "check": kw.get("check")}
    if not callable(entry["check"]):
        raise RegistryError(f"plugin {plugin!r}: staffing check {code!r} needs check=fn(county, requirement)")
    return code, entry


#: registry name -> (hook, what one entry is called, entry builder)
REGISTRIES = {
    "metadata_kinds": ("register_metadata_kinds", "metadata kind", _metadata_kind),
    "metrics": ("register_metrics", "metric", _metric),
    "compliance_criteria": ("register_compliance_criteria", "compliance criterion", _criterion),
    "intake_channels": ("register_intake_channels", "intake channel", _channel),
    "site_kinds": ("register_site_kinds", "site kind", _site_kind),
    "languages": ("register_languages", "language", _language),
    "assessment_indicators": ("register_assessment_indicators", "assessment indicator", _indicator),
    "jobs": ("register_jobs", "job", _job),
    "staffing_checks": ("register_staffing_checks", "staffing check", _staffing_check),
}


def _pm(pm):
    if pm is None:
        if not has_app_context():
            raise RuntimeError("a registry needs a plugin manager or an app context")
        pm = current_app.extensions["bangban"].pm
    return pm


def get(name, pm=None) -> dict:
    """``{code: entry}`` of registry ``name``, built once per manager; each
    entry also says which ``plugin`` registered it."""
    pm = _pm(pm)
    cache = pm.bangban_registries
    if name not in cache:
        hook, what, build = REGISTRIES[name]
        out, owners = {}, {}
        for plugin, args, kw in collect(pm, hook):
            if not args:
                raise RegistryError(f"plugin {plugin!r}: register() of {hook} needs a code first")
            code, entry = build(plugin, args, kw)
            if code in out:
                raise RegistryError(f"plugin {plugin!r} registers {what} {code!r}, "
                                    f"already registered by {owners[code]!r}")
            out[code], owners[code] = entry, plugin
        cache[name] = (out, owners)
    return cache[name][0]


def owner(name, code, pm=None):
    """The plugin that registered ``code`` in registry ``name``."""
    get(name, pm)
    return _pm(pm).bangban_registries[name][1].get(code)


def metadata_kinds(pm=None) -> dict:
    """``{kind: (schema class, key field)}``: what the loader, the store,
    import/export, the admin and the CLI all read."""
    return get("metadata_kinds", pm)


def metrics(pm=None) -> dict:
    return get("metrics", pm)


def compliance_criteria(pm=None) -> dict:
    return get("compliance_criteria", pm)


def intake_channels(pm=None) -> dict:
    return get("intake_channels", pm)


def site_kinds(pm=None) -> dict:
    return get("site_kinds", pm)


def languages(pm=None) -> dict:
    return get("languages", pm)


def assessment_indicators(pm=None) -> dict:
    return get("assessment_indicators", pm)


def jobs(pm=None) -> dict:
    return get("jobs", pm)


def staffing_checks(pm=None) -> dict:
    return get("staffing_checks", pm)


def compute_metric(code, cases, period=None, scope=None, pm=None):
    """``(numerator, denominator)`` of metric ``code`` over ``cases``."""
    return metrics(pm)[code]["compute"](cases, period, scope)


def compute_metric_by(code, cases, by, period=None, scope=None, pm=None):
    """``{key: (numerator, denominator)}`` of metric ``code`` over ``cases``
    grouped by the case fields ``by`` (``key``: their values), in one
    grouped query when the metric can say it in SQL, else once per group."""
    entry = metrics(pm)[code]
    if entry["compute_by"] is not None:
        return entry["compute_by"](cases, period, scope, tuple(by))
    out = {}
    for key in cases.select(*by).distinct().tuples():
        narrowed = cases
        for field, value in zip(by, key):
            narrowed = narrowed.where(field.is_null() if value is None else field == value)
        out[tuple(key)] = entry["compute"](narrowed, period, {**(scope or {}), "key": tuple(key)})
    return out


def check_site(site, standard, requirement, pm=None):
    """``(status, evidence)`` of a requirement naming ``measure:``; a
    requirement without a registered check is ``not_measurable`` here (the
    site answers it with evidence)."""
    entry = compliance_criteria(pm).get(requirement.get("measure") or "")
    if entry is None or entry["check"] is None:
        return "not_measurable", ""
    return entry["check"](site, standard, requirement)
