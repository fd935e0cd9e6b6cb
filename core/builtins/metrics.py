"""The core's metrics, each ``(numerator, denominator)`` over a peewee query
of the scoped cases of a period:

* ``on_time_rate``: finished cases that had a deadline and finished on or
  before it / finished cases that had a deadline;
* ``rating_coverage``: finished cases with a rating / finished cases;
* ``satisfaction``: rated cases rated 3 or better (1 and 2 are 差评) /
  rated cases;
* ``online_rate`` (网上可办率): distinct items of the cases whose version can
  be applied for online / distinct items of the cases.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl


def _finished(cases):
    from ..cases.models import Case

    return cases.where(Case.finished_on.is_null(False))


def on_time_rate(cases, period=None, scope=None):
    from ..cases.models import Case

    timed = _finished(cases).where(Case.due_day.is_null(False))
    return timed.where(Case.finished_on <= Case.due_day).count(), timed.count()


def rating_coverage(cases, period=None, scope=None):
    from ..cases.models import Case

    finished = _finished(cases)
    return finished.where(Case.rating.is_null(False)).count(), finished.count()


def satisfaction(cases, period=None, scope=None):
    from ..cases.models import Case

    rated = cases.where(Case.rating.is_null(False))
    return rated.where(Case.rating >= 3).count(), rated.count()


def online_rate(cases, period=None, scope=None):
    from ..cases.models import Case
    from ..models import MetadataRecord

    versions = (MetadataRecord.select(MetadataRecord.key, MetadataRecord.county_code, MetadataRecord.content)
                .where(MetadataRecord.id.in_(cases.select(Case.item_record))))
    online = {}
    for record in versions:
        item = (record.county_code, record.key)
        online[item] = online.get(item, False) or bool(record.content.get("online"))
    return sum(online.values()), len(online)


@hookimpl
def register_metrics(register):
    register("on_time_rate", label=_l("On-time rate"), compute=on_time_rate, unit="rate")
    register("rating_coverage", label=_l("Rating coverage"), compute=rating_coverage, unit="rate")
    register("satisfaction", label=_l("Satisfaction"), compute=satisfaction, unit="rate")
    register("online_rate", label=_l("Online rate"), compute=online_rate, unit="rate")
