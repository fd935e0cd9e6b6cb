"""Working days on China's official calendar: the package's holidays and
make-up workdays, admin overrides in the database (SQLite and PostgreSQL),
unconfirmed (estimated) years, half days and clock pauses."""
import datetime
import math

import pytest
from hypothesis import given, settings, strategies as st

from core import workdays
from core.models import AuditEntry, Holiday
from core.workdays import OFFICIAL_YEARS, Deadline, WorkCalendar, format_deadline

D = datetime.date
LAST_OFFICIAL = max(OFFICIAL_YEARS)
ESTIMATED = 2030  # far beyond any State Council announcement the package can hold yet
CAL = WorkCalendar()


# -- the package's calendar ---------------------------------------------------
def test_official_years_come_from_the_package():
    assert 2001 in OFFICIAL_YEARS and 2026 in OFFICIAL_YEARS
    assert ESTIMATED not in OFFICIAL_YEARS
    assert CAL.is_confirmed(2026) and not CAL.is_confirmed(LAST_OFFICIAL + 1)


def test_national_day_2026_week_and_its_makeup_workdays():
    assert [CAL.is_workday(D(2026, 10, d)) for d in range(1, 12)] == [
        False] * 7 + [True, True, True, False]  # Oct 1-7 off, 8-9 Thu/Fri, 10 Sat make-up, 11 Sun
    assert CAL.is_workday(D(2026, 9, 20))  # a Sunday, make-up workday
    assert not CAL.is_workday(D(2026, 9, 25))  # Mid-Autumn Festival (Friday)
    deadline = CAL.add_workdays(D(2026, 9, 30), 5)  # Oct 8, 9, 10(Sat), 12, 13
    assert deadline == Deadline(D(2026, 10, 13), "end", True)
    assert str(deadline) == "2026-10-13 (end of day)"


def test_deadline_counts_both_national_day_makeup_weekends():
    # From Fri 2026-09-18: Sun 9-20 (1), 9-21..24 (2-5), 9-25 festival, 9-28..30 (6-8),
    # Oct 1-7 off, 10-08 (9), 10-09 (10), Sat 10-10 (11).
    assert CAL.add_workdays(D(2026, 9, 18), 11) == Deadline(D(2026, 10, 10), "end", True)
    assert CAL.add_workdays(D(2026, 9, 18), 1).day == D(2026, 9, 20)
    assert CAL.workdays_between(D(2026, 9, 18), D(2026, 10, 10)) == 11


def test_spring_festival_2026():
    assert not any(CAL.is_workday(D(2026, 2, d)) for d in range(15, 24))  # Feb 15-23 off
    assert CAL.is_workday(D(2026, 2, 14)) and CAL.is_workday(D(2026, 2, 28))  # Saturdays, make-up
    start = D(2026, 2, 13)  # Friday before the holiday
    assert CAL.add_workdays(start, 1).day == D(2026, 2, 14)
    assert CAL.add_workdays(start, 2).day == D(2026, 2, 24)
    assert CAL.add_workdays(start, 3).day == D(2026, 2, 25)


def test_half_days_and_instant_items():
    start = D(2026, 9, 30)
    assert CAL.add_workdays(start, 0.5) == Deadline(D(2026, 10, 8), "noon", True)
    assert str(CAL.add_workdays(start, 0.5)) == "2026-10-08 (noon)"
    assert CAL.add_workdays(start, 1) == Deadline(D(2026, 10, 8), "end", True)
    assert CAL.add_workdays(start, 1.5) == Deadline(D(2026, 10, 9), "noon", True)
    assert CAL.add_workdays(D(2026, 10, 3), 0) == Deadline(D(2026, 10, 3), "end", True)  # same day, even off
    for bad in (-1, 0.25, 1.2):
        with pytest.raises(ValueError):
            CAL.add_workdays(start, bad)


def test_workdays_between_is_half_open():
    assert CAL.workdays_between(D(2026, 9, 30), D(2026, 10, 13)) == 5
    assert CAL.workdays_between(D(2026, 10, 8), D(2026, 10, 8)) == 0
    assert CAL.workdays_between(D(2026, 10, 7), D(2026, 10, 8)) == 1  # b counts, a does not
    assert CAL.workdays_between(D(2026, 10, 13), D(2026, 9, 30)) == 0


def test_estimated_years_are_flagged():
    assert CAL.add_workdays(D(2026, 12, 1), 5).confirmed  # stays in 2026
    crossing = CAL.add_workdays(D(LAST_OFFICIAL, 12, 28), 5)
    assert crossing.day.year == LAST_OFFICIAL + 1 and not crossing.confirmed
    # Thu 2030-02-28 + 5: Mar 1, 4, 5, 6, 7
    assert format_deadline(D(ESTIMATED, 2, 28), 5, CAL) == (
        "accepted 2030-02-28, 5 working days -> finish by 2030-03-07 (end of day) — WARNING: 2030 is not "
        "yet confirmed by the State Council's announcement; this date is an estimate")
    assert format_deadline(D(2026, 9, 30), 1.5, CAL) == \
        "accepted 2026-09-30, 1.5 working days -> finish by 2026-10-09 (noon)"


# -- pauses --------------------------------------------------------------------
START = D(2026, 3, 2)  # Monday; 5 days: Mar 3, 4, 5, 6, 9


def test_closed_pause_pushes_by_its_workdays():
    assert CAL.add_workdays(START, 5).day == D(2026, 3, 9)
    # paused Wed 4 and Thu 5 (end exclusive): counted 3, 6, 9, 10, 11
    assert CAL.deadline_with_pauses(START, 5, [(D(2026, 3, 4), D(2026, 3, 6))], D(2026, 3, 20)).day == D(2026, 3, 11)
    # a pause over a weekend only: nothing moves
    assert CAL.deadline_with_pauses(START, 5, [(D(2026, 3, 7), D(2026, 3, 9))], D(2026, 3, 20)).day == D(2026, 3, 9)


def test_open_pause_runs_through_today():
    # paused Thu 5 .. Tue 10 inclusive (workdays 5, 6, 9, 10): counted 3, 4, 11, 12, 13
    got = CAL.deadline_with_pauses(START, 5, [(D(2026, 3, 5), None)], today=D(2026, 3, 10))
    assert got == Deadline(D(2026, 3, 13), "end", True)
    later = CAL.deadline_with_pauses(START, 5, [(D(2026, 3, 5), None)], today=D(2026, 3, 11))
    assert later.day == D(2026, 3, 16)


def test_overlapping_and_late_pauses():
    pauses = [(D(2026, 3, 4), D(2026, 3, 6)), (D(2026, 3, 5), D(2026, 3, 7))]  # 4, 5, 6 once each
    assert CAL.deadline_with_pauses(START, 5, pauses, D(2026, 3, 20)).day == D(2026, 3, 12)
    after = [(D(2026, 3, 16), D(2026, 3, 20))]  # wholly after the deadline
    assert CAL.deadline_with_pauses(START, 5, after, D(2026, 3, 20)).day == D(2026, 3, 9)
    assert CAL.deadline_with_pauses(START, 1.5, [(D(2026, 3, 3), D(2026, 3, 4))], D(2026, 3, 20)) == \
        Deadline(D(2026, 3, 5), "noon", True)


# -- property ------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(start=st.dates(D(2024, 1, 1), D(2031, 12, 31)), halves=st.integers(0, 160))
def test_deadline_properties(start, halves):
    days = halves / 2
    deadline = CAL.add_workdays(start, days)
    assert CAL.workdays_between(start, deadline.day) == math.ceil(days)
    assert deadline.part == ("noon" if halves % 2 else "end")
    if days > 0:
        assert deadline.day > start and CAL.is_workday(deadline.day)
        assert CAL.workdays_between(start, deadline.day - datetime.timedelta(days=1)) == math.ceil(days) - 1
    else:
        assert deadline.day == start
    first = (start + datetime.timedelta(days=1)).year if days > 0 else start.year  # acceptance day not counted
    assert deadline.confirmed == all(CAL.is_confirmed(y) for y in range(first, deadline.day.year + 1))


# -- database: seeding, admin edits, confirmation -----------------------------
def audits(action):
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.seq))


def test_admin_holiday_moves_a_deadline(app):
    with app.app_context():
        assert workdays.from_db().add_workdays(START, 5).day == D(2026, 3, 9)
        workdays.set_day(D(2026, 3, 5), "holiday", "防汛停工", actor="admin1", role="county_admin")
        assert workdays.from_db().add_workdays(START, 5).day == D(2026, 3, 10)
        [entry] = audits("calendar.set_day")
        assert (entry.entity, entry.actor, entry.role) == ("holiday:2026-03-05", "admin1", "county_admin")
        # correcting the same day again is an upsert with its own audit entry
        workdays.set_day(D(2026, 3, 5), "workday", "更正", actor="admin2", role="county_admin")
        assert Holiday.select().where(Holiday.day == D(2026, 3, 5)).count() == 1
        assert workdays.from_db().add_workdays(START, 5).day == D(2026, 3, 9)
        assert [e.actor for e in audits("calendar.set_day")] == ["admin1", "admin2"]
        # a Saturday made a workday counts
        workdays.set_day(D(2026, 3, 7), "workday", "补班", actor="admin1", role="county_admin")
        assert workdays.from_db().add_workdays(START, 5).day == D(2026, 3, 7)
        with pytest.raises(ValueError):
            workdays.set_day(D(2026, 3, 8), "party", "", actor="admin1", role="county_admin")
        assert Holiday.get_or_none(Holiday.day == D(2026, 3, 8)) is None
        assert len(audits("calendar.set_day")) == 3


def test_seed_is_idempotent_and_keeps_admin_rows(app):
    with app.app_context():
        workdays.set_day(D(2026, 10, 1), "workday", "本地值班", actor="admin1", role="county_admin")
        expected = len(workdays.package_days(2026)) - 1
        assert workdays.seed_holidays([2026]) == expected
        assert workdays.seed_holidays([2026]) == 0
        [entry] = audits("calendar.seed")
        assert '"written": %d' % expected in entry.payload
        kept = Holiday.get(Holiday.day == D(2026, 10, 1))
        assert (kept.kind, kept.name, kept.source) == ("workday", "本地值班", "admin")
        makeup = Holiday.get(Holiday.day == D(2026, 9, 20))
        assert (makeup.kind, makeup.source, makeup.confirmed) == ("workday", "package", True)
        assert Holiday.get(Holiday.day == D(2026, 2, 17)).name == "春节"
        # the database calendar agrees with the package everywhere but the admin's day
        db_cal = workdays.WorkCalendar(list(Holiday.select().where(Holiday.source == "package")))
        day = D(2026, 1, 1)
        while day.year == 2026:
            assert db_cal.is_workday(day) == CAL.is_workday(day), day
            day += datetime.timedelta(days=1)
        assert workdays.from_db().is_workday(D(2026, 10, 1))


def test_confirming_an_estimated_year(app):
    with app.app_context():
        assert workdays.seed_holidays([ESTIMATED]) > 0
        assert not Holiday.select().where(Holiday.confirmed == True).exists()  # noqa: E712
        cal = workdays.from_db()
        before = [cal.is_workday(D(ESTIMATED, 1, 1) + datetime.timedelta(days=i)) for i in range(365)]
        assert not cal.is_confirmed(ESTIMATED)
        assert not cal.add_workdays(D(ESTIMATED, 6, 3), 3).confirmed

        workdays.confirm_year(ESTIMATED, actor="admin1", role="county_admin")
        cal = workdays.from_db()
        assert cal.is_confirmed(ESTIMATED) and not cal.is_confirmed(ESTIMATED + 1)
        assert cal.add_workdays(D(ESTIMATED, 6, 3), 3).confirmed
        assert "WARNING" not in format_deadline(D(ESTIMATED, 6, 3), 3, cal)
        # counting through the unconfirmed year before still makes an estimate
        crossing = cal.add_workdays(D(ESTIMATED - 1, 12, 20), 10)
        assert crossing.day.year == ESTIMATED and not crossing.confirmed
        assert f"WARNING: {ESTIMATED - 1} is not yet" in format_deadline(D(ESTIMATED - 1, 12, 20), 10, cal)
        assert not Holiday.select().where(Holiday.confirmed == False).exists()  # noqa: E712
        markers = list(Holiday.select().where(Holiday.source == "admin"))
        assert len(markers) == 1 and markers[0].day.year == ESTIMATED
        assert Holiday.select().where(Holiday.source == "package").count() > 0  # sources stay
        assert before == [cal.is_workday(D(ESTIMATED, 1, 1) + datetime.timedelta(days=i)) for i in range(365)]
        assert len(audits("calendar.confirm_year")) == 1

        workdays.confirm_year(ESTIMATED, actor="admin1", role="county_admin")  # no second marker
        assert Holiday.select().where(Holiday.source == "admin").count() == 1
