"""What the accounts share: a county's rule sets, names of places, the
period of a report."""
from __future__ import annotations

import datetime

from flask_babel import gettext as _

from .. import catalog
from ..i18n import localized


class ReportError(ValueError):
    """Bad input to a report (a date, a county): shown to the person as is."""


def rulesets(county: str) -> list[dict]:
    """The county's own rule sets (their content), by code."""
    return [r.content for r in catalog.all_current("rulesets", county=county) if r.county_code == county]


def region_names(county: str) -> dict:
    from ..models import Region

    return {r.code: localized(r.name) for r in Region.select().where(Region.county_code == county)}


def place_name(names: dict, code: str) -> str:
    """A division code as its name (with the names of what contains it
    when the place itself is not known)."""
    return names.get(code) or code


def parse_day(text, default):
    if not text:
        return default
    try:
        day = datetime.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ReportError(_("Not a date: %(text)s (write YYYY-MM-DD).", text=str(text)[:20])) from None
    if not datetime.date(2000, 1, 1) <= day <= datetime.date(2100, 12, 31):
        raise ReportError(_("Not a date: %(text)s (write YYYY-MM-DD).", text=str(text)[:20]))
    return day


def period(start_text=None, end_text=None, today=None):
    """``(start, end)``: by default the current month up to today."""
    today = today or datetime.date.today()
    start = parse_day(start_text, today.replace(day=1))
    end = parse_day(end_text, today)
    if end < start:
        raise ReportError(_("The period ends before it starts."))
    if (end - start).days > 366 * 5:
        raise ReportError(_("A period is at most five years."))
    return start, end


DONE_VISITS = ("case_created", "consulted")


def home_visits_done(county: str, start, end):
    """The home visits (:class:`core.hall.models.HomeVisit`) closed as done
    (a case filed or a consultation recorded) on a day of ``[start, end]``:
    ``[(assignee_id or None, region_code, day, case_id or None)]``. The day
    is the visit day when one was set, else the day the visit was closed."""
    from ..hall.models import HomeVisit

    rows = HomeVisit.select(HomeVisit.assignee, HomeVisit.region_code, HomeVisit.visit_day, HomeVisit.updated_at,
                            HomeVisit.case).where(
        (HomeVisit.county_code == county) & HomeVisit.state.in_(DONE_VISITS))
    out = []
    for assignee, region, visit_day, updated_at, case in rows.tuples():
        day = visit_day or updated_at.date()
        if start <= day <= end:
            out.append((assignee, region, day, case))
    return out
