"""The KPI report and the rule sets' targets: the numbers the dashboard,
its print view and ``bangban report kpi|targets`` all show (one source).

Units: the county, its townships (regions) and its sites. A case belongs
to the township it was filed for and to the site it was filed at
(``site_code``); a case filed at no site counts for its township and the
county only. The period is the filing date (``created_at``), both ends
included.

Metrics come from the registry (:mod:`core.registry`). Those given as
conditions are counted for every township and site in ONE grouped scan of
the covering index (migration 0014) and summed up the levels; a
``compute_by`` metric (not additive: distinct items) is asked once per
level, grouped in SQL; a ``compute`` metric once per unit; a catalog or
sites metric (``source="catalog"|"sites"``: items, sites, staff) once per
unit with the unit in ``scope``.

Targets (``rulesets[].targets``: metric, level, min, due) are evaluated on
the units of their level (``township``/``village``: the sites of that
level, else the township regions; ``county``/none: the county):

* ``met``: the value reaches the minimum;
* ``missed``: below it and the due date has passed;
* ``on_track``: below it, not yet due, and within the rule set's
  ``rules.on_track_share`` (default 0.9) of the minimum;
* ``behind``: below that, not yet due;
* ``no_data``: nothing to measure yet (no denominator);

The rolled-up value of a rate target pools its units' numerators and
denominators; of a count target it is the lowest unit's;
* ``not_measured``: no plugin registers the target's metric.

A target rolls up to the worst status of its units (missed > behind >
on_track > met; units without data do not count unless all lack it).
"""
from __future__ import annotations

import datetime


from . import catalog, registry
from .i18n import localized

STATUSES = ("met", "on_track", "behind", "missed", "no_data", "not_measured")
WORST_FIRST = ("missed", "behind", "on_track", "met")
ON_TRACK_SHARE = 0.9


class ReportError(ValueError):
    """Bad report input (an unknown county, a period the wrong way round)."""


# --- period and units ----------------------------------------------------------

def default_period(today=None):
    """The rolling year up to ``today``."""
    end = today or datetime.date.today()
    return end - datetime.timedelta(days=364), end


def parse_period(start, end, today=None):
    """``(start, end)`` dates from ISO strings or dates (either may be
    missing); a bad date or start after end is a :class:`ReportError`."""
    default_start, default_end = default_period(today)
    try:
        end = _date(end) or default_end
        start = _date(start) or (end - (default_end - default_start))
    except ValueError as exc:
        raise ReportError(str(exc)) from exc
    if start > end:
        raise ReportError("the period's start is after its end")
    return start, end


def _date(value):
    if value is None or value == "":
        return None
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def period_cases(county, period, user=None):
    """The cases of ``county`` filed in ``period`` (in ``user``'s scope
    when given)."""
    from . import scope
    from .cases.models import Case

    start, end = period
    query = Case.select().where((Case.county_code == county)
                                & (Case.created_at >= datetime.datetime.combine(start, datetime.time()))
                                & (Case.created_at < datetime.datetime.combine(end + datetime.timedelta(days=1),
                                                                               datetime.time())))
    return scope.cases_for(user, query) if user is not None else query


def units(county, user=None):
    """``(county_unit, townships, sites)``: dicts with ``level``, ``code``,
    ``name`` (a localized-able mapping), ``township``; a site also has its
    ``kind`` and ``site_level``. Townships and sites outside ``user``'s
    scope are left out."""
    from . import scope
    from .models import Region, Site

    county_region = Region.get_or_none((Region.code == county) & (Region.level == "county"))
    if county_region is None:
        raise ReportError(f"no county {county}")
    townships = Region.select().where((Region.county_code == county) & (Region.level == "township"))
    if user is not None:
        townships = scope.scoped(user, townships, Region)
    township_rows = [{"level": "township", "code": r.code, "name": r.name, "township": r.code}
                     for r in townships.order_by(Region.code)]
    visible = {t["code"] for t in township_rows}
    kinds = registry.site_kinds()
    sites = []
    for site in Site.select().where(Site.county_code == county).order_by(Site.region, Site.code):
        township = site.region[:9]
        if user is not None and township not in visible:
            continue
        sites.append({"level": "site", "code": site.code, "name": site.name, "township": township,
                      "region": site.region, "kind": site.kind,
                      "site_level": kinds.get(site.kind, {}).get("level", "village")})
    county_row = {"level": "county", "code": county, "name": county_region.name, "township": None}
    return county_row, township_rows, sites


# --- metrics ---------------------------------------------------------------------

def _value(entry, num, den):
    if entry["unit"] == "count":
        return num
    return (num / den) if den else None


def _cell(entry, pair):
    num, den = pair if pair is not None else (0, 0 if entry["unit"] == "rate" else None)
    return {"num": num, "den": den, "value": _value(entry, num, den)}


def _scope_of(unit, county):
    out = {"county_code": county, "level": unit["level"], "code": unit["code"]}
    if unit["level"] == "site":
        out.update(site_kind=unit["kind"], site_level=unit["site_level"])
    return out


def kpi(county, period=None, user=None, metrics=None):
    """The KPI report: every registered metric for the county, each
    township and each site (``{"county", "period", "metrics", "units"}``;
    a unit's ``values`` map metric → ``{num, den, value}``).

    The number of statements does not grow with the number of units: the
    condition metrics are one grouped scan, an ``additive`` ``compute_by``
    metric one query grouped by township and site, any other ``compute_by``
    metric one grouped query per level; catalog and sites metrics read what
    they need once per report (``scope["memo"]``). Only a plain
    ``compute`` case metric (a plugin's without a grouped form) is still
    asked once per unit."""
    from . import catalog as catalog_module

    with catalog_module.pinned():
        return _kpi(county, period, user, metrics)


def _summed_up(rows, county, width):
    """``{(level, code): [sums]}`` of rows ``(township, site, *counts)``
    grouped by township and site: each row counts for its site, its
    township and the county."""
    totals = {}
    for row in rows:
        township, site, counts = row[0], row[1], row[2:]
        for key in (("county", county), ("township", township), ("site", site)):
            if key[1] is None:
                continue
            bucket = totals.setdefault(key, [0] * width)
            for i, n in enumerate(counts):
                bucket[i] += int(n or 0)
    return totals


def _kpi(county, period, user, metrics):
    from .cases.models import Case

    period = period or default_period()
    county_row, townships, sites = units(county, user)
    entries = metrics or registry.metrics()
    cases = period_cases(county, period, user)
    memo = {}  # what catalog and sites metrics read once per report
    values = {("county", county): {}, **{("township", t["code"]): {} for t in townships},
              **{("site", s["code"]): {} for s in sites}}
    by_unit = Case.township_code, Case.site_code
    every = {(u["level"], u["code"]): u for u in (county_row, *townships, *sites)}

    # 1. every metric given by conditions: one grouped scan, summed up the levels
    summed = [e for e in entries.values() if e["numerator"] is not None and e["source"] == "cases"]
    if summed:
        columns, at = list(by_unit), []  # at: each metric's (numerator, denominator or None) column
        for entry in summed:
            num, den = registry.condition_sums(entry)
            at.append((len(columns) - 2, None if den is None else len(columns) - 1))
            columns += [num] + ([den] if den is not None else [])
        totals = _summed_up(cases.select(*columns).group_by(*by_unit).tuples(), county, len(columns) - 2)
        for key, cells in values.items():
            counts = totals.get(key) or [0] * (len(columns) - 2)
            for entry, (num_at, den_at) in zip(summed, at):
                cells[entry["code"]] = _cell(entry, (counts[num_at], None if den_at is None else counts[den_at]))

    # 2. the others: additive ones grouped by township and site and summed
    # up; other grouped ones per level in SQL; catalog/sites ones per unit
    # from what they read once (memo); plain compute ones per unit
    for entry in entries.values():
        if entry in summed:
            continue
        code = entry["code"]
        if entry["source"] != "cases":  # the catalog, the sites: per unit, from the memo
            for (level, unit_code), cells in values.items():
                unit = every[(level, unit_code)]
                cells[code] = _cell(entry, entry["compute"](cases, period, {**_scope_of(unit, county),
                                                                             "memo": memo}))
            continue
        if entry["compute_by"] is not None and entry["additive"]:
            grouped = entry["compute_by"](cases, period, {"county_code": county, "level": "site", "memo": memo},
                                          by_unit)
            rows = [(key[0], key[1], num, den) for key, (num, den) in grouped.items()]
            totals = _summed_up(rows, county, 2)
            for key, cells in values.items():
                num, den = totals.get(key, (0, 0))
                cells[code] = _cell(entry, (num, None if entry["unit"] == "count" else den))
            continue
        for level, field, rows in (("county", None, [county_row]), ("township", Case.township_code, townships),
                                   ("site", Case.site_code, sites)):
            if entry["compute_by"] is not None:
                by = (field,) if field is not None else ()
                grouped = entry["compute_by"](cases, period, {"county_code": county, "level": level, "memo": memo},
                                              by)
                for unit in rows:
                    key = (unit["code"],) if field is not None else ()
                    values[(level, unit["code"])][code] = _cell(entry, grouped.get(key))
            else:
                for unit in rows:
                    narrowed = cases if field is None else cases.where(field == unit["code"])
                    values[(level, unit["code"])][code] = _cell(
                        entry, entry["compute"](narrowed, period, _scope_of(unit, county)))

    out_units = [{**county_row, "values": values[("county", county)]}]
    out_units += [{**t, "values": values[("township", t["code"])]} for t in townships]
    out_units += [{**s, "values": values[("site", s["code"])]} for s in sites]
    return {"county": county, "period": [period[0].isoformat(), period[1].isoformat()],
            "metrics": [{"code": e["code"], "label": str(e["label"]), "unit": e["unit"], "levels": list(e["levels"]),
                         "drill": e["numerator"] is not None and e["source"] == "cases"}
                        for e in entries.values()],
            "units": out_units}


# --- targets ---------------------------------------------------------------------

def rulesets(county):
    return [r.content for r in catalog.all_current("rulesets", county=county)
            if r.content.get("region") == county]


def status_of(value, minimum, due, today, on_track_share=ON_TRACK_SHARE):
    if value is None:
        return "no_data"
    if minimum is None or value >= minimum:
        return "met"
    if due is not None and today > due:
        return "missed"
    return "on_track" if value >= minimum * on_track_share else "behind"


def roll_up(statuses):
    measured = [s for s in statuses if s in WORST_FIRST]
    if not measured:
        return "no_data"
    return next(s for s in WORST_FIRST if s in measured)


def _target_units(level, report):
    by_level = {"county": [u for u in report["units"] if u["level"] == "county"]}
    sites = [u for u in report["units"] if u["level"] == "site"]
    if level in ("township", "village"):
        chosen = [u for u in sites if u.get("site_level") == level]
        if not chosen and level == "township":
            chosen = [u for u in report["units"] if u["level"] == "township"]
        return chosen
    return by_level["county"] if level in (None, "county") else []


def targets(county, period=None, user=None, today=None, report=None):
    """Every target of the county's rule sets, evaluated per unit and rolled
    up: ``{"county", "period", "today", "targets": [...]}``."""
    period = period or default_period(today)
    today = today or datetime.date.today()
    report = report or kpi(county, period, user)
    entries = registry.metrics()
    out = []
    for ruleset in rulesets(county):
        share = (ruleset.get("rules") or {}).get("on_track_share", ON_TRACK_SHARE)
        for n, target in enumerate(ruleset.get("targets") or []):
            metric, level = target["metric"], target.get("level") or "county"
            due = _date(target.get("due"))
            minimum = target.get("min")
            row = {"ruleset": ruleset["code"], "index": n, "metric": metric, "level": level, "min": minimum,
                   "due": due.isoformat() if due else None, "note": target.get("note"),
                   "label": str(entries[metric]["label"]) if metric in entries else None,
                   "unit": entries[metric]["unit"] if metric in entries else None, "units": []}
            if metric not in entries:
                row.update(status="not_measured", value=None, gap=None, counts={})
                out.append(row)
                continue
            for unit in _target_units(level, report):
                cell = unit["values"][metric]
                status = status_of(cell["value"], minimum, due, today, share)
                row["units"].append({"level": unit["level"], "code": unit["code"], "name": unit["name"],
                                     "township": unit["township"], "num": cell["num"], "den": cell["den"],
                                     "value": cell["value"], "gap": _gap(cell["value"], minimum),
                                     "status": status})
            row["status"] = roll_up([u["status"] for u in row["units"]]) if row["units"] else "no_data"
            row["num"], row["den"], row["value"] = _pooled(entries[metric], row["units"])
            row["gap"] = _gap(row["value"], minimum)
            row["counts"] = {s: sum(1 for u in row["units"] if u["status"] == s) for s in STATUSES
                             if any(u["status"] == s for u in row["units"])}
            out.append(row)
    return {"county": county, "period": report["period"], "today": today.isoformat(), "targets": out}


def _pooled(entry, rows):
    """The rolled-up value of a target's units: a rate over their pooled
    numerators and denominators; a count, the lowest unit's (the one the
    minimum binds)."""
    if entry["unit"] == "count":
        counts = [u["num"] for u in rows if u["num"] is not None]
        low = min(counts) if counts else None
        return low, None, low
    num = sum(u["num"] or 0 for u in rows)
    den = sum(u["den"] or 0 for u in rows)
    return num, den, (num / den if den else None)


def _gap(value, minimum):
    """How far below the minimum (0 when reached), None without data."""
    if value is None or minimum is None:
        return None
    return max(minimum - value, 0)


# --- drill-down ------------------------------------------------------------------

def drill(query, metric, part="num"):
    """``query`` narrowed to the cases behind a number: the denominator's
    cases (``part="den"``) or the numerator's; None if the metric cannot
    name its cases."""
    entry = registry.metrics().get(metric)
    if entry is None or entry["numerator"] is None or entry["source"] != "cases":
        return None
    den = entry["denominator"]() if entry["denominator"] is not None else None
    if part == "den":
        return query if den is None else query.where(den)
    num = entry["numerator"]()
    return query.where(num if den is None else (den & num))


def drill_args(query, args):
    """The case list narrowed by a dashboard link's arguments: ``metric``,
    ``part`` (num|den), ``from``/``to`` (filing days), ``township``,
    ``site``. A bad argument is a :class:`ReportError`."""
    from .cases.models import Case

    metric = args.get("metric")
    period = parse_period(args.get("from"), args.get("to"))
    start, end = period
    query = query.where((Case.created_at >= datetime.datetime.combine(start, datetime.time()))
                        & (Case.created_at < datetime.datetime.combine(end + datetime.timedelta(days=1),
                                                                       datetime.time())))
    if args.get("township"):
        query = query.where(Case.township_code == args["township"])
    if args.get("site"):
        query = query.where(Case.site_code == args["site"])
    part = args.get("part") or "num"
    if part not in ("num", "den"):
        raise ReportError("part is num or den")
    narrowed = drill(query, metric, part)
    if narrowed is None:
        raise ReportError(f"no cases behind metric {metric!r}")
    return narrowed


# --- the text and JSON forms -----------------------------------------------------

def fmt(value, unit):
    if value is None:
        return "—"
    return f"{value * 100:.1f}%" if unit == "rate" else str(value)


def name_of(unit):
    return localized(unit["name"]) if isinstance(unit["name"], dict) else str(unit["name"])
