"""Slots from a site's sessions, booking under the capacity, and home-visit
requests assigned to the grid agent of the village or group."""
from __future__ import annotations

import datetime
import re

import peewee
from flask_babel import lazy_gettext as _l

from .. import audit, catalog, personal
from ..db import transaction
from ..models import Region, Site, Staff, utcnow
from .models import Appointment, HomeVisit

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLOT_MINUTES = 30
DEFAULT_CAPACITY = 1
BOOKING_DAYS = 14  # how far ahead a citizen may book
MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)
NAME_MAX = 40


class HallError(ValueError):
    """A citizen's or agent's request that cannot be done (shown as 4xx)."""


class SlotTaken(HallError):
    """The slot is full (409)."""


def now():
    return datetime.datetime.now()


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _closed(day, calendar) -> bool:
    """An official holiday (or one an administrator set): the site is shut."""
    from ..workdays import package_days

    kind = calendar.overrides.get(day) or package_days(day.year).get(day, (None,))[0]
    return kind == "holiday"


def slots(site: Site, day: datetime.date, calendar=None) -> list[dict]:
    """The slots of ``site`` on ``day``: ``{start, end, kind, capacity}``,
    cut from the site's sessions (``sessions`` of its metadata, 延时 and
    appointment-only sessions included) in ``slot_minutes`` steps; none on
    a holiday."""
    from ..workdays import from_db

    profile = site.profile or {}
    calendar = calendar or from_db()
    if _closed(day, calendar):
        return []
    length = int(profile.get("slot_minutes") or DEFAULT_SLOT_MINUTES)
    default_capacity = int(profile.get("capacity") or DEFAULT_CAPACITY)
    weekday = WEEKDAYS[day.weekday()]
    out = []
    for session in profile.get("sessions") or []:
        if weekday not in session.get("days", []):
            continue
        start, end = _minutes(session["start"]), _minutes(session["end"])
        capacity = int(session.get("capacity") or default_capacity)
        while start + length <= end:
            out.append({"start": _hhmm(start), "end": _hhmm(start + length),
                        "kind": session.get("kind") or "regular", "capacity": capacity})
            start += length
    return sorted(out, key=lambda s: s["start"])


def free_slots(site: Site, day: datetime.date, at=None) -> list[dict]:
    """The slots of the day still bookable: not begun and not full."""
    at = at or now()
    taken = {}
    for row in (Appointment.select(Appointment.start, peewee.fn.COUNT(Appointment.id).alias("n"))
                .where((Appointment.county_code == site.county_code) & (Appointment.site_code == site.code)
                       & (Appointment.day == day) & Appointment.seat.is_null(False))
                .group_by(Appointment.start)):
        taken[row.start] = row.n
    out = []
    for slot in slots(site, day):
        begins = datetime.datetime.combine(day, datetime.time.fromisoformat(slot["start"]))
        if begins <= at:
            continue
        left = slot["capacity"] - taken.get(slot["start"], 0)
        if left > 0:
            out.append({**slot, "left": left})
    return out


def bookable_days(site: Site, today=None) -> list[datetime.date]:
    from ..workdays import from_db

    today = today or now().date()
    calendar = from_db()  # one read of the holiday rows for the fortnight
    return [d for d in (today + datetime.timedelta(days=i) for i in range(BOOKING_DAYS)) if slots(site, d, calendar)]


def site_items(site: Site) -> list[dict]:
    """The items offered at a site: its own list if its metadata has one,
    else the county's items of the site's level (a partner point: the items
    delegated to its kind's channel)."""
    records = catalog.all_current("items", county=site.county_code)
    listed = (site.profile or {}).get("items")
    if listed:
        by_code = {r.key: r.content for r in records}
        return [by_code[c] for c in listed if c in by_code]
    level = {9: "township", 12: "village", 15: "village"}.get(len(site.region), "county")
    from .. import registry

    kinds = registry.get("site_kinds")
    if kinds.get(site.kind, {}).get("level") == "partner":
        channels = {c for c, entry in registry.get("intake_channels").items() if site.kind in entry["site_kinds"]}
        return [r.content for r in records if channels & set(r.content.get("channels", []))]
    return [r.content for r in records if level in r.content.get("levels", [])]


def clean_person(name: str, phone: str):
    name, phone = (name or "").strip(), (phone or "").strip()
    if not name or len(name) > NAME_MAX:
        raise HallError(_l("Write the name (at most %(n)s characters).", n=NAME_MAX))
    if not MOBILE.fullmatch(phone):
        raise HallError(_l("Write an 11-digit mobile number."))
    return name, phone


def book(site: Site, day: datetime.date, start: str, name: str, phone: str, item_code=None, actor=None,
         at=None) -> Appointment:
    """Book a seat of a slot; raises :class:`HallError` when the slot is not
    offered, begun or full. The unique (site, day, start, seat) index makes
    two concurrent bookings of the last seat end with one refused."""
    name, phone = clean_person(name, phone)
    slot = next((s for s in slots(site, day) if s["start"] == start), None)
    if slot is None:
        raise HallError(_l("The site offers no such time."))
    at = at or now()
    today = at.date()
    if datetime.datetime.combine(day, datetime.time.fromisoformat(start)) <= at:
        raise HallError(_l("This time has passed; choose a later one."))
    if day > today + datetime.timedelta(days=BOOKING_DAYS - 1):
        raise HallError(_l("Appointments can be booked at most %(n)s days ahead.", n=BOOKING_DAYS))
    if item_code and item_code not in {i["code"] for i in site_items(site)}:
        raise HallError(_l("This item is not offered at this site."))
    for seat in range(1, slot["capacity"] + 1):
        try:
            with transaction():
                appointment = Appointment.create(
                    county_code=site.county_code, region_code=site.region, site_code=site.code,
                    item_code=item_code or None, day=day, start=start, session_kind=slot["kind"], seat=seat,
                    name_enc=personal.encrypt(name, "appointment.name"),
                    phone_enc=personal.encrypt(phone, "appointment.phone"),
                    created_by=getattr(actor, "id", None))
                audit.record("appointment.book", f"appointment:{appointment.id}",
                             actor=getattr(actor, "username", "citizen"), role=getattr(actor, "role", "citizen"),
                             county_code=site.county_code,
                             payload={"site": site.code, "day": day.isoformat(), "start": start, "item": item_code})
                return appointment
        except peewee.IntegrityError:
            continue  # this seat was taken meanwhile: try the next
    raise SlotTaken(_l("This time is fully booked; choose another."))


TRANSITIONS = {"cancel": "cancelled", "no_show": "no_show", "served": "served"}


def set_state(appointment: Appointment, action: str, actor=None) -> Appointment:
    """Cancel (citizen or agent), or record a no-show or a visit (agent)."""
    if action not in TRANSITIONS:
        raise HallError(_l("Unknown action."))
    if appointment.state != "booked":
        raise HallError(_l("This appointment is no longer open."))
    if action != "cancel" and actor is None:
        raise HallError(_l("Unknown action."))
    with transaction():
        changed = (Appointment.update(state=TRANSITIONS[action], updated_at=utcnow(),
                                      seat=None if action == "cancel" else Appointment.seat)
                   .where((Appointment.id == appointment.id) & (Appointment.county_code == appointment.county_code)
                          & (Appointment.state == "booked")).execute())
        if not changed:
            raise HallError(_l("This appointment is no longer open."))
        audit.record(f"appointment.{action}", f"appointment:{appointment.id}",
                     actor=getattr(actor, "username", "citizen"), role=getattr(actor, "role", "citizen"),
                     county_code=appointment.county_code, payload={"site": appointment.site_code,
                                                                  "day": appointment.day.isoformat()})
    return Appointment.get((Appointment.id == appointment.id) & (Appointment.county_code == appointment.county_code))


# --- home visits ------------------------------------------------------------------

def grid_agent_for(region_code: str, county_code: str):
    """The active staff member who handles home visits (``home_visit.handle``)
    posted to the group, else to its village; None when nobody is."""
    from ..auth import User
    from ..permissions import can

    for code in dict.fromkeys([region_code, region_code[:12]]):
        for staff in (Staff.select().where((Staff.county_code == county_code) & (Staff.region == code)
                                           & Staff.active).order_by(Staff.id)):
            if can(User(staff, None), "home_visit.handle"):
                return staff
    return None


def request_visit(region_code: str, name: str, phone: str, address: str, reason: str, special_group=None,
                  actor=None) -> HomeVisit:
    name, phone = clean_person(name, phone)
    region = Region.get_or_none(Region.code == region_code)
    if region is None or region.level not in ("village", "group"):
        raise HallError(_l("Choose the village or group where the person lives."))
    address, reason = (address or "").strip(), (reason or "").strip()
    if not address or len(address) > 200:
        raise HallError(_l("Write the address (at most %(n)s characters).", n=200))
    if not reason or len(reason) > 500:
        raise HallError(_l("Write what the person needs (at most %(n)s characters).", n=500))
    if special_group and catalog.current("special_groups", special_group, county=region.county_code) is None:
        raise HallError(_l("Unknown special group."))
    assignee = grid_agent_for(region.code, region.county_code)
    with transaction():
        visit = HomeVisit.create(
            county_code=region.county_code, region_code=region.code,
            name_enc=personal.encrypt(name, "home_visit.name"), phone_enc=personal.encrypt(phone, "home_visit.phone"),
            address=personal.protect_text(address, "home_visit.address"),
            reason=personal.protect_text(reason, "home_visit.reason"), special_group=special_group or None,
            assignee=assignee.id if assignee else None, requested_by=getattr(actor, "id", None))
        audit.record("home_visit.request", f"home_visit:{visit.id}", actor=getattr(actor, "username", "citizen"),
                     role=getattr(actor, "role", "citizen"), county_code=region.county_code,
                     payload={"region": region.code, "assignee": assignee.username if assignee else None,
                              "special_group": special_group or None})
    return visit


def record_visit(visit: HomeVisit, actor, *, visit_day=None, case=None, note=None, cancel=False) -> HomeVisit:
    """The agent schedules the visit, or closes it: with the case it became
    (one in their scope), a consultation note, or cancelled."""
    if visit.state not in ("requested", "scheduled"):
        raise HallError(_l("This home visit is already closed."))
    changes = {"updated_at": utcnow()}
    if cancel:
        changes["state"] = "cancelled"
        if not (note or "").strip():
            raise HallError(_l("Write why the visit is cancelled."))
        changes["note"] = personal.protect_text(note.strip(), "home_visit.note")
    elif case is not None:
        changes.update(state="case_created", case=case.id)
    elif (note or "").strip():
        changes.update(state="consulted", note=personal.protect_text(note.strip(), "home_visit.note"))
    elif visit_day is not None:
        changes.update(state="scheduled", visit_day=visit_day)
    else:
        raise HallError(_l("Give a visit date, the case it became or a consultation note."))
    with transaction():
        changed = (HomeVisit.update(**changes)
                   .where((HomeVisit.id == visit.id) & (HomeVisit.county_code == visit.county_code)
                          & HomeVisit.state.in_(["requested", "scheduled"])).execute())
        if not changed:
            raise HallError(_l("This home visit is already closed."))
        audit.record(f"home_visit.{changes.get('state')}", f"home_visit:{visit.id}", actor=actor.username,
                     role=actor.role, county_code=visit.county_code,
                     payload={"visit_day": visit_day.isoformat() if visit_day else None,
                              "case": case.number if case is not None else None})
    return HomeVisit.get((HomeVisit.id == visit.id) & (HomeVisit.county_code == visit.county_code))
