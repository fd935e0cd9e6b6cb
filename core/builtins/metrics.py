"""The core's metrics (指标). Case metrics are conditions on a case, so the
KPI report (:mod:`core.kpi`) counts them per township and site in one
grouped scan and lists the cases behind a number:

* ``one_window_rate`` (一窗综办率): accepted cases that came in at a
  comprehensive window / accepted cases;
* ``on_time_rate``: finished cases that had a deadline and finished on or
  before it / finished cases that had a deadline;
* ``rating_coverage``: finished cases with a rating / finished cases;
* ``satisfaction``: rated cases rated 5 (非常满意) or 4 (满意) / rated
  cases;
* ``online_rate`` (网上可办率): distinct items of the cases whose version
  can be applied for online / distinct items of the cases (grouped in SQL
  by item version, the flag read once per version).

Catalog metrics (``source="catalog"``), per unit:

* ``item_count``: the county's current items offered at the unit's level
  (a site's level from its kind: center → township, station → village);
* ``high_frequency_delegated``: the county's high-frequency items
  delegated (下放) to a township or village;
* ``mobile_item_rate``: the county's items extended to townships or
  villages (``levels``) that can be handled on the mobile app (channel
  ``mobile``) / those items;
* ``one_door_rate`` (一门式): the items of the departments the county's rule
  set names under ``rules.one_door.fields[].departments`` that are offered
  at township level (stationed in the service centers) / those items; no
  such rule, no data;
* ``materials_with_sample_rate``: materials of the county's items with both
  fill instructions and a filled sample / materials.

A catalog metric's value is the county's, the same for every unit.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl


def _case():
    from ..cases.models import Case

    return Case


def accepted():
    return _case().accepted_on.is_null(False)


def at_comprehensive_window():
    return _case().intake_channel == "comprehensive_window"


def finished_with_deadline():
    Case = _case()
    return Case.finished_on.is_null(False) & Case.due_day.is_null(False)


def finished_by_deadline():
    Case = _case()
    return Case.finished_on <= Case.due_day


def finished():
    return _case().finished_on.is_null(False)


def rated():
    return _case().rating.is_null(False)


def rated_well():
    return _case().rating >= 4


def online_rate_by(cases, period=None, scope=None, by=()):
    """Per group: distinct items, and those with a version (among the
    group's cases') that can be applied for online, in one query: the
    group's distinct item versions (from the covering index) joined to the
    versions, the few online versions named by id."""
    from peewee import Case as SqlCase, fn

    from ..models import MetadataRecord

    from .. import catalog

    Case = _case()
    county = (scope or {}).get("county_code")

    def online_versions():
        versions = MetadataRecord.select(MetadataRecord.id, MetadataRecord.content).where(
            MetadataRecord.kind == "items")
        if county:
            versions = versions.where(MetadataRecord.county_code.in_(["", county]))
        return [r.id for r in versions if r.content.get("online")]

    # every version of every item (old ones too: a case names the version it
    # was filed under), decoded once per catalog version (a sync adds one)
    online = catalog.cached("online_versions", county, online_versions)
    names = [f"g{i}" for i in range(len(by))]
    groups = cases.select(*[field.alias(name) for field, name in zip(by, names)],
                          Case.item_record.alias("v")).distinct().alias("d")
    keys = [groups.c[name] for name in names]
    flagged = SqlCase(None, [(MetadataRecord.id.in_(online or [0]), MetadataRecord.key)], None)
    query = (MetadataRecord.select(*keys, fn.COUNT(fn.DISTINCT(MetadataRecord.key)), fn.COUNT(fn.DISTINCT(flagged)))
             .from_(groups).join(MetadataRecord, on=(MetadataRecord.id == groups.c.v)))
    if keys:
        query = query.group_by(*keys)
    return {tuple(row[:len(keys)]): (int(row[-1] or 0), int(row[-2] or 0)) for row in query.tuples()}


def _items(scope):
    """The county's current items, read once per report (``scope["memo"]``)."""
    from .. import catalog

    scope = scope or {}
    county = scope.get("county_code")
    memo = scope.get("memo")
    if memo is not None and ("items", county) in memo:
        return memo[("items", county)]
    items = [r.content for r in catalog.all_current("items", county=county)]
    if memo is not None:
        memo[("items", county)] = items
    return items


def _memo(scope, key, compute):
    memo = (scope or {}).get("memo")
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def item_count(cases, period=None, scope=None):
    scope = scope or {}
    level = scope.get("site_level") or scope.get("level")

    def count():
        items = _items(scope)
        if level in ("township", "village"):
            items = [i for i in items if level in i.get("levels", [])]
        return len(items)

    return _memo(scope, ("item_count", scope.get("county_code"), level), count), None


def high_frequency_delegated(cases, period=None, scope=None):
    def count():
        return sum(1 for i in _items(scope) if i.get("high_frequency") and i.get("delegated"))

    return _memo(scope, ("high_frequency_delegated", (scope or {}).get("county_code")), count), None


def _rate(scope, key, compute):
    num, den = _memo(scope, (key, (scope or {}).get("county_code")), compute)
    return num, den


def mobile_item_rate(cases, period=None, scope=None):
    def compute():
        extended = [i for i in _items(scope) if {"township", "village"} & set(i.get("levels") or ())]
        return sum(1 for i in extended if "mobile" in (i.get("channels") or ())), len(extended)

    return _rate(scope, "mobile_item_rate", compute)


def one_door_rate(cases, period=None, scope=None):
    from ..kpi import rulesets

    county = (scope or {}).get("county_code")

    def compute():
        departments = set()
        for ruleset in rulesets(county):
            for field in ((ruleset.get("rules") or {}).get("one_door") or {}).get("fields") or ():
                departments.update(field.get("departments") or ())
        items = [i for i in _items(scope) if i.get("department") in departments]
        return sum(1 for i in items if "township" in (i.get("levels") or ())), len(items)

    return _rate(scope, "one_door_rate", compute)


def materials_with_sample_rate(cases, period=None, scope=None):
    def compute():
        materials = [m for i in _items(scope) for m in (i.get("materials") or ())]
        return sum(1 for m in materials if m.get("fill_instructions") and m.get("sample")), len(materials)

    return _rate(scope, "materials_with_sample_rate", compute)


@hookimpl
def register_metrics(register):
    register("one_window_rate", label=_l("One-window rate"), numerator=at_comprehensive_window,
             denominator=accepted, unit="rate")
    register("on_time_rate", label=_l("On-time rate"), numerator=finished_by_deadline,
             denominator=finished_with_deadline, unit="rate")
    register("rating_coverage", label=_l("Rating coverage"), numerator=rated, denominator=finished, unit="rate")
    register("satisfaction", label=_l("Satisfaction"), numerator=rated_well, denominator=rated, unit="rate")
    register("online_rate", label=_l("Online rate"), compute_by=online_rate_by, unit="rate")
    register("item_count", label=_l("Proxy-service items offered"), compute=item_count, unit="count", source="catalog")
    register("high_frequency_delegated", label=_l("High-frequency items delegated"),
             compute=high_frequency_delegated, unit="count", levels=("county",), source="catalog")
    register("mobile_item_rate", label=_l("Extended items on the mobile app"), compute=mobile_item_rate,
             unit="rate", source="catalog")
    register("one_door_rate", label=_l("One-door rate"), compute=one_door_rate, unit="rate", source="catalog")
    register("materials_with_sample_rate", label=_l("Materials with fill instructions and a sample"),
             compute=materials_with_sample_rate, unit="rate", source="catalog")
