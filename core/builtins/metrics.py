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
  delegated (下放) to a township or village.
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
    from ..models import MetadataRecord

    Case = _case()
    pairs = cases.select(*by, Case.item_record).distinct().tuples()
    rows = [(tuple(row[:-1]), row[-1]) for row in pairs]
    versions = {r.id: (r.county_code, r.key, bool(r.content.get("online")))
                for r in MetadataRecord.select(MetadataRecord.id, MetadataRecord.county_code, MetadataRecord.key,
                                               MetadataRecord.content)
                .where(MetadataRecord.id.in_(sorted({version for _key, version in rows})))} if rows else {}
    items = {}
    for key, version in rows:
        county, item, online = versions[version]
        group = items.setdefault(key, {})
        group[(county, item)] = group.get((county, item), False) or online
    return {key: (sum(group.values()), len(group)) for key, group in items.items()}


def _items(scope):
    from .. import catalog

    return [r.content for r in catalog.all_current("items", county=(scope or {}).get("county_code"))]


def item_count(cases, period=None, scope=None):
    scope = scope or {}
    level = scope.get("site_level") or scope.get("level")
    items = _items(scope)
    if level in ("township", "village"):
        items = [i for i in items if level in i.get("levels", [])]
    return len(items), None


def high_frequency_delegated(cases, period=None, scope=None):
    items = [i for i in _items(scope) if i.get("high_frequency") and i.get("delegated")]
    return len(items), None


@hookimpl
def register_metrics(register):
    register("one_window_rate", label=_l("One-window rate"), numerator=at_comprehensive_window,
             denominator=accepted, unit="rate")
    register("on_time_rate", label=_l("On-time rate"), numerator=finished_by_deadline,
             denominator=finished_with_deadline, unit="rate")
    register("rating_coverage", label=_l("Rating coverage"), numerator=rated, denominator=finished, unit="rate")
    register("satisfaction", label=_l("Satisfaction"), numerator=rated_well, denominator=rated, unit="rate")
    register("online_rate", label=_l("Online rate"), compute_by=online_rate_by, unit="rate")
    register("item_count", label=_l("Items offered"), compute=item_count, unit="count", source="catalog")
    register("high_frequency_delegated", label=_l("High-frequency items delegated"),
             compute=high_frequency_delegated, unit="count", levels=("county",), source="catalog")
