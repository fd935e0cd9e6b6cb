"""Home visits (core.hall HomeVisit rows) in the accounts, on SQLite and
PostgreSQL: the staff assessment's ``home_visits`` indicator and the work
log's home-visit count, against rows written here and counted by hand."""
from __future__ import annotations

import datetime

from core import personal, registry
from core.compliance import assessment, worklog
from core.hall.models import HomeVisit
from core.models import Site, Staff
from tests.test_accounts import COUNTY, VILLAGE, _case, _staff

DAY = datetime.date(2021, 3, 2)


def _visit(assignee, state, visit_day=None, case=None, region=VILLAGE, closed=DAY):
    return HomeVisit.create(county_code=COUNTY, region_code=region, name_enc=personal.encrypt("张三", "home_visit.name"),
                            phone_enc=personal.encrypt("13904770199", "home_visit.phone"),
                            assignee=assignee.id if assignee else None, state=state, visit_day=visit_day,
                            case=case.id if case else None,
                            updated_at=datetime.datetime.combine(closed, datetime.time(15)))


def _world():
    grid, agent = _staff("taoli.grid"), _staff("galutu.agent")
    # a case filed on DAY with a home visit on its form, which a visit led to
    from_visit = _case("taoli.grid", 1, DAY)
    from_visit = from_visit.__class__.get_by_id(from_visit.id)
    from_visit.__class__.update(data=dict(from_visit.data, home_visit=True)).where(
        from_visit.__class__.id == from_visit.id).execute()
    # a case filed on DAY with a home visit on its form and no visit row
    form_only = _case("taoli.grid", 2, DAY)
    form_only.__class__.update(data=dict(form_only.data, home_visit=True)).where(
        form_only.__class__.id == form_only.id).execute()
    _visit(grid, "consulted", visit_day=DAY)                    # done on DAY
    _visit(grid, "case_created", case=from_visit)                # done, closed on DAY (no visit day)
    _visit(grid, "scheduled", visit_day=DAY)                     # not done
    _visit(grid, "cancelled", visit_day=DAY)                     # not done
    _visit(grid, "consulted", visit_day=DAY + datetime.timedelta(days=40))  # done, later
    _visit(agent, "consulted", closed=DAY + datetime.timedelta(days=1))     # done the day after, at the center
    return grid, agent


def test_home_visits_indicator_counts_done_visits_per_assignee(demo_app):
    with demo_app.app_context():
        grid, agent = _world()
        indicator = registry.assessment_indicators()["home_visits"]
        assert indicator["better"] == "higher"
        staff = Staff.select().where(Staff.county_code == COUNTY)
        assert indicator["compute"](staff, (DAY, DAY)) == {grid.id: 2}
        assert indicator["compute"](staff, (DAY, DAY + datetime.timedelta(days=1))) == {grid.id: 2, agent.id: 1}
        assert indicator["compute"](staff, (DAY, DAY + datetime.timedelta(days=60))) == {grid.id: 3, agent.id: 1}
        # only the staff asked about
        only_agent = Staff.select().where(Staff.id == agent.id)
        assert indicator["compute"](only_agent, (DAY, DAY + datetime.timedelta(days=1))) == {agent.id: 1}
        assert assessment.indicator_label("home_visits") == "上门服务"  # the default locale


def test_the_work_log_counts_home_visit_rows_once(demo_app):
    with demo_app.app_context():
        grid, agent = _world()
        station = Site.get((Site.county_code == COUNTY) & (Site.region == VILLAGE))
        center = Site.get((Site.county_code == COUNTY) & (Site.region == agent.region))
        rows = worklog.rows([station, center], DAY, DAY + datetime.timedelta(days=1))
        got = {(r["site"], r["day"]): r["home_visits"] for r in rows}
        # the station on DAY: 2 visits done + 1 case with a home visit on its
        # form that no visit led to (the other such case is the visit's: once)
        assert got[(station.code, DAY.isoformat())] == 3
        assert got[(station.code, (DAY + datetime.timedelta(days=1)).isoformat())] == 0
        assert got[(center.code, DAY.isoformat())] == 0
        assert got[(center.code, (DAY + datetime.timedelta(days=1)).isoformat())] == 1
