"""A demo appointment: a citizen's booking at the township's own site (the service
center) of the township where the demo cases are, on the first bookable day after today,
so the appointment page, the agents' work list and the back office show
one. Run once per county (nothing if it has an appointment)."""
from __future__ import annotations

from ..cases.models import Case
from ..models import Site
from . import service
from .models import Appointment

NAME, PHONE = "斯琴", "13847709801"


def load_demo_appointments(county) -> int:
    if Appointment.select().where(Appointment.county_code == county).exists():
        return 0
    first = Case.select(Case.township_code).where(Case.county_code == county).order_by(Case.id).first()
    if first is None:
        return 0
    from .. import registry

    kinds = registry.site_kinds()
    # the township's own site (a service center) before a partner's point there
    sites = sorted(Site.select().where((Site.county_code == county) & (Site.region == first.township_code)),
                   key=lambda s: (kinds.get(s.kind, {}).get("level") != "township", s.code))
    today = service.now().date()
    for site in sites:
        for day in [d for d in service.bookable_days(site, today) if d > today]:
            free = service.free_slots(site, day)
            if free:
                items = service.site_items(site)
                service.book(site, day, free[0]["start"], NAME, PHONE, item_code=items[0]["code"] if items else None)
                return 1
    return 0
