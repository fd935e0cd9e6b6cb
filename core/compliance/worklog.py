"""The work log (工作日志) of each station, one row per site and day.

Counted from the cases (through the reader's case scope), for the staff
posted to the site's region (a group's grid agent to the village's), by
the events they wrote that day:
``consultations`` cases filed (every case begins as a consultation);
``acceptances`` accept and tolerant_accept; ``reports_up`` dispatch,
dispatch_joint and report_up (handed upward to a department);
``finished`` cases of the site's staff finished that day (finished_on);
``home_visits`` home visits (:mod:`core.hall`) done that day by the
site's staff (assigned; closed with a case or a consultation note, on the
visit day or else the day closed; a visit with no assignee counts for its
village), plus cases filed that day with a home visit asked for on the
form (``home_visit`` answer) that no such home visit row led to, so a
visit that became a case counts once. Entered by hand: the person on
duty, the problems met and the coordination asked for.
"""
from __future__ import annotations

import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import audit, personal, sharding
from ..db import transaction
from ..i18n import localized
from ..models import Site, Staff, utcnow
from .models import WorkLog

KINDS = ("service_center", "service_station")
COUNTED = {"consultations": ("apply",), "acceptances": ("accept", "tolerant_accept"),
           "reports_up": ("dispatch", "dispatch_joint", "report_up")}
COLUMNS = [("day", _l("Date")), ("site_name", _l("Site")), ("on_duty", _l("On duty")),
           ("consultations", _l("Consultations")), ("acceptances", _l("Acceptances")),
           ("reports_up", _l("Reported upward")), ("finished", _l("Finished")), ("home_visits", _l("Home visits")),
           ("problems", _l("Problems")), ("coordination", _l("Coordination"))]
MAX_DAYS = 92


class WorkLogError(ValueError):
    pass


def _days(start, end):
    return [start + datetime.timedelta(days=i) for i in range((end - start).days + 1)]


def rows(sites, start, end, case_condition=None) -> list[dict]:
    """The log of ``sites`` (a list of Site) from ``start`` to ``end``; the
    counts use only cases matching ``case_condition`` (the reader's scope)."""
    from ..cases.models import Case, CaseEvent

    if (end - start).days >= MAX_DAYS:
        raise WorkLogError(_("A work log covers at most %(n)d days.", n=MAX_DAYS))
    if not sites:
        return []
    county = sites[0].county_code
    counts = {}
    since = datetime.datetime.combine(start, datetime.time.min)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min)
    # a group's grid agent works for the village's station
    region_of = {s.id: s.region[:12] if len(s.region) == 15 else s.region
                 for s in Staff.select(Staff.id, Staff.region).where(Staff.county_code == county)}
    wanted = {a: k for k, actions in COUNTED.items() for a in actions}
    events = (CaseEvent.select(CaseEvent.actor, CaseEvent.action, CaseEvent.at, Case.data, Case.id)
              .join(Case, on=sharding.join_on(CaseEvent.case))
              .where((CaseEvent.county_code == county) & (CaseEvent.at >= since) & (CaseEvent.at < until)
                     & CaseEvent.action.in_(list(wanted))))
    if case_condition is not None:
        events = events.where(case_condition)
    from ..hall.models import HomeVisit
    from .common import home_visits_done

    visited = home_visits_done(county, start, end)
    from_visits = {row[3] for row in visited if row[3] is not None}
    from_visits |= {c for (c,) in HomeVisit.select(HomeVisit.case).where(
        (HomeVisit.county_code == county) & HomeVisit.case.is_null(False)).tuples()}
    for assignee, region_code, day, _case in visited:
        region = region_of.get(assignee) if assignee is not None else None
        if region is None:
            region = region_code[:12] if len(region_code) == 15 else region_code
        bucket = counts.setdefault((region, day), {})
        bucket["home_visits"] = bucket.get("home_visits", 0) + 1
    for actor, action, at, data, case_id in events.tuples():
        region = region_of.get(actor)
        if region is None:
            continue
        key = (region, at.date())
        bucket = counts.setdefault(key, {})
        bucket[wanted[action]] = bucket.get(wanted[action], 0) + 1
        if action == "apply":
            if isinstance(data, str):
                import json

                data = json.loads(data)
            if (data or {}).get("home_visit") is True and case_id not in from_visits:
                bucket["home_visits"] = bucket.get("home_visits", 0) + 1
    done = Case.select(Case.owner, Case.finished_on).where(
        (Case.county_code == county) & Case.finished_on.between(start, end))
    if case_condition is not None:
        done = done.where(case_condition)
    for owner, day in done.tuples():
        region = region_of.get(owner)
        if region is not None:
            bucket = counts.setdefault((region, day), {})
            bucket["finished"] = bucket.get("finished", 0) + 1
    entries = {(w.site_code, w.day): w for w in WorkLog.select().where(
        (WorkLog.county_code == county) & WorkLog.site_code.in_([s.code for s in sites])
        & WorkLog.day.between(start, end))}
    out = []
    for day in _days(start, end):
        for site in sites:
            n = counts.get((site.region, day), {})
            entry = entries.get((site.code, day))
            out.append({"day": day.isoformat(), "site": site.code, "site_name": localized(site.name),
                        "on_duty": personal.masked_text(entry.on_duty, "work_log.on_duty") if entry else "",
                        "consultations": n.get("consultations", 0), "acceptances": n.get("acceptances", 0),
                        "reports_up": n.get("reports_up", 0), "finished": n.get("finished", 0),
                        "home_visits": n.get("home_visits", 0),
                        "problems": personal.masked_text(entry.problems, "work_log.problems") if entry else "",
                        "coordination": personal.masked_text(entry.coordination, "work_log.coordination")
                        if entry else ""})
    return out


def sites_of(query):
    return list(query.where(Site.kind.in_(KINDS)).order_by(Site.region, Site.code))


def write(site, day, on_duty, problems, coordination, actor):
    on_duty = (on_duty or "").strip()
    if len(on_duty) > 80:
        raise WorkLogError(_("The name on duty is at most 80 characters."))
    if day > datetime.date.today():
        raise WorkLogError(_("A work log is written for today or a past day."))
    fields = dict(on_duty=personal.protect_text(on_duty, "work_log.on_duty"),
                  problems=personal.protect_text((problems or "").strip()[:4000], "work_log.problems"),
                  coordination=personal.protect_text((coordination or "").strip()[:4000], "work_log.coordination"),
                  author=actor.id, updated_at=utcnow())
    with transaction():
        entry = WorkLog.get_or_none((WorkLog.county_code == site.county_code) & (WorkLog.site_code == site.code)
                                    & (WorkLog.day == day))
        if entry is None:
            WorkLog.create(county_code=site.county_code, site_code=site.code, day=day, **fields)
        else:
            WorkLog.update(**fields).where((WorkLog.id == entry.id)
                                           & (WorkLog.county_code == site.county_code)).execute()
        audit.record("work_log.write", f"site:{site.code}", actor=actor.username, role=actor.role,
                     county_code=site.county_code, payload={"day": day.isoformat()})
