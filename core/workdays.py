"""Working-day arithmetic on China's official calendar (法定工作日).

The base is the ``holidays`` package: public holidays, substituted days off
and the weekend make-up workdays (调休上班, ``weekend_workdays``). Rows of the
``Holiday`` table override it day by day (admins add holidays, add make-up
workdays, correct days).

Confirmed years. The State Council announces each year's arrangement late in
the year before; for later years the package only estimates. A year is
*confirmed* when

* the package holds official data for it: it lies between the first and the
  last year of the package's substituted-holiday tables
  (``special_public_holidays``, 2001-2026 in holidays 0.109); or
* an admin confirmed it: some ``Holiday`` row dated in that year has
  ``source == "admin"`` and ``confirmed`` True (``confirm_year`` writes such a
  row; so does ``set_day`` unless called with ``confirmed=False``).

Deadlines count workdays from the day AFTER acceptance, in half-day steps.
"""
from __future__ import annotations

import datetime
import functools
import math
from dataclasses import dataclass
from types import MappingProxyType


from . import audit
from .db import transaction
from .models import Holiday, utcnow

ONE_DAY = datetime.timedelta(days=1)
KINDS = ("holiday", "workday")
MAKEUP_NAME = "调休上班"


@functools.lru_cache(maxsize=1)
def official_years() -> range:
    """Years the ``holidays`` package has the State Council's announcement for."""
    import holidays  # imported on first use: it costs start-up time

    table = getattr(holidays.China(), "special_public_holidays", None) or {}
    return range(min(table), max(table) + 1) if table else range(0)


def __getattr__(name):  # ``OFFICIAL_YEARS`` stays importable, computed lazily
    if name == "OFFICIAL_YEARS":
        return official_years()
    raise AttributeError(name)


@functools.lru_cache(maxsize=256)
def package_days(year: int):
    """The package's special days of ``year``: ``{day: (kind, name)}``.
    A make-up workday wins over a holiday on the same weekend day, as in
    ``holidays``' own ``is_working_day``."""
    import holidays

    cal = holidays.China(years=year, language="zh_CN")
    days = {d: ("holiday", name[:80]) for d, name in cal.items() if d.year == year}
    days.update({d: ("workday", MAKEUP_NAME) for d in cal.weekend_workdays if d.year == year})
    return MappingProxyType(days)


@dataclass(frozen=True)
class Deadline:
    day: datetime.date
    part: str  # "noon" | "end"
    confirmed: bool

    def __str__(self):
        from .i18n import label

        return f"{self.day.isoformat()} ({label('deadline_part', self.part)})"


def _whole(days) -> int:
    """Validate a day count (>= 0, a multiple of 0.5); return its ceiling."""
    days = float(days)
    if days < 0 or days * 2 != int(days * 2):
        raise ValueError(f"working days must be >= 0 in steps of 0.5, not {days!r}")
    return math.ceil(days)


class WorkCalendar:
    """The package's calendar overridden by ``Holiday`` rows.

    ``rows``: ``Holiday`` instances or anything with ``day``, ``kind``,
    ``source`` and ``confirmed`` attributes. Package years load lazily."""

    def __init__(self, rows=(), years=()):
        self.overrides = {}
        self.admin_confirmed = set()
        for row in rows:
            self.overrides[row.day] = row.kind
            if row.source == "admin" and row.confirmed:
                self.admin_confirmed.add(row.day.year)
        for year in years:
            package_days(year)

    def is_workday(self, day: datetime.date) -> bool:
        kind = self.overrides.get(day) or package_days(day.year).get(day, (None,))[0]
        if kind is not None:
            return kind == "workday"
        return day.weekday() < 5

    def is_confirmed(self, year: int) -> bool:
        return year in official_years() or year in self.admin_confirmed

    def unconfirmed_years(self, start: datetime.date, end: datetime.date) -> list[int]:
        """Unconfirmed years among those of the days in (start, end] (or of
        ``end`` alone when ``end <= start``)."""
        first = start.year if end <= start else (start + ONE_DAY).year
        return [y for y in range(first, end.year + 1) if not self.is_confirmed(y)]

    def workdays_between(self, a: datetime.date, b: datetime.date) -> int:
        """Workdays in (a, b]; 0 when ``b <= a``."""
        return sum(self.is_workday(a + ONE_DAY * i) for i in range(1, (b - a).days + 1))

    def add_workdays(self, start: datetime.date, days: float) -> Deadline:
        """The deadline ``days`` workdays after ``start`` (see ``deadline_with_pauses``)."""
        return self.deadline_with_pauses(start, days, [], start)

    def deadline_with_pauses(self, start, days, pauses, today) -> Deadline:
        """The deadline when the clock stood still during ``pauses``.

        Counting starts the day after ``start`` (acceptance day never
        counts). ``days == 0``: ``start``, end of day. Otherwise the deadline
        is the ``ceil(days)``-th counted workday: at noon when ``days`` has a
        half, else at the end of the day.

        ``pauses`` are ``(first, end)`` pairs (补正 / 中止): every day with
        ``first <= day < end`` is paused; an open pause (``end`` None) covers
        ``first`` through ``today`` inclusive (as if lifted tomorrow).
        Paused workdays are not counted, so each one inside the counting
        window pushes the deadline out by one workday; overlapping pauses
        count a day once; a pause lying wholly after the deadline moves
        nothing (suspending an overdue case does not make it timely).

        ``confirmed`` is False if any year of the days counted over
        (start, deadline] is unconfirmed.
        """
        needed, day, counted = _whole(days), start, 0
        spans = [(first, end or (today + ONE_DAY)) for first, end in pauses or ()]
        while counted < needed:
            day += ONE_DAY
            if self.is_workday(day) and not any(first <= day < end for first, end in spans):
                counted += 1
        part = "noon" if float(days) != needed else "end"
        return Deadline(day, part, not self.unconfirmed_years(start, day))


def from_db(years=None) -> WorkCalendar:
    """A calendar of the package plus every ``Holiday`` row of the bound
    database (the table is small). ``years`` only pre-loads package years."""
    return WorkCalendar(Holiday.select(), years or ())


def _year_rows(year):
    return Holiday.day.between(datetime.date(year, 1, 1), datetime.date(year, 12, 31))


def seed_holidays(years, actor="system") -> int:
    """Write the package's holidays and make-up workdays of ``years`` as
    ``source="package"`` rows (``confirmed`` when the package's data for the
    year is official). Days that already have a row are skipped, so admin
    rows are never overwritten. One transaction; one ``calendar.seed`` audit
    entry when rows were written (a no-op records nothing). Returns the count."""
    years = sorted(set(years))
    with transaction():
        existing = {r.day for y in years for r in Holiday.select(Holiday.day).where(_year_rows(y))}
        wanted = [(d, kind, name) for y in years for d, (kind, name) in sorted(package_days(y).items())]
        rows = [dict(day=d, kind=kind, name=name, confirmed=d.year in official_years(),
                     source="package", updated_at=utcnow()) for d, kind, name in wanted if d not in existing]
        for i in range(0, len(rows), 200):
            Holiday.insert_many(rows[i:i + 200]).execute()
        if rows:
            audit.record("calendar.seed", "calendar", actor=actor, role="system",
                         payload={"years": years, "written": len(rows), "skipped": len(wanted) - len(rows)})
    return len(rows)


def set_day(day, kind, name, actor, role, confirmed=True) -> Holiday:
    """Admin edit: make ``day`` a holiday or a workday (upsert, ``source="admin"``)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    with transaction():
        row = Holiday.get_or_none(Holiday.day == day)
        before = None if row is None else {"kind": row.kind, "name": row.name,
                                           "confirmed": row.confirmed, "source": row.source}
        row = row or Holiday(day=day)
        row.kind, row.name, row.confirmed, row.source, row.updated_at = kind, name, confirmed, "admin", utcnow()
        row.save()
        audit.record("calendar.set_day", f"holiday:{day.isoformat()}", actor=actor, role=role,
                     payload={"before": before, "after": {"kind": kind, "name": name, "confirmed": confirmed}})
    return row


def confirm_year(year, actor, role) -> int:
    """Mark every row of ``year`` confirmed (sources unchanged). Unless an
    admin row already confirms the year, also write an admin marker row on
    the year's first day without a row, with the kind that day already has
    (so no day changes). Returns the number of rows updated or written."""
    with transaction():
        changed = Holiday.update(confirmed=True, updated_at=utcnow()).where(
            _year_rows(year) & (Holiday.confirmed == False)).execute()  # noqa: E712
        marker = None
        if not Holiday.select().where(_year_rows(year) & (Holiday.source == "admin")
                                      & (Holiday.confirmed == True)).exists():  # noqa: E712
            taken = {r.day for r in Holiday.select(Holiday.day).where(_year_rows(year))}
            first = datetime.date(year, 1, 1)
            marker = next(d for d in (first + ONE_DAY * i for i in range(366)) if d not in taken)
            kind = "workday" if from_db().is_workday(marker) else "holiday"
            Holiday.create(day=marker, kind=kind, name=f"{year}年放假安排已确认",
                           confirmed=True, source="admin")
            changed += 1
        audit.record("calendar.confirm_year", f"calendar:{year}", actor=actor, role=role,
                     payload={"year": year, "rows_confirmed": changed - (marker is not None),
                              "marker": marker and marker.isoformat()})
    return changed


def format_deadline(start, days, calendar) -> str:
    """The CLI's line, with a warning when the count crossed an unconfirmed year."""
    deadline = calendar.add_workdays(start, days)
    count = f"{float(days):g} working day{'' if float(days) == 1 else 's'}"
    text = f"accepted {start.isoformat()}, {count} -> finish by {deadline}"
    missing = calendar.unconfirmed_years(start, deadline.day)
    if missing:
        years = ", ".join(map(str, missing))
        text += (f" — WARNING: {years} {'is' if len(missing) == 1 else 'are'} not yet confirmed by the "
                 "State Council's announcement; this date is an estimate")
    return text
