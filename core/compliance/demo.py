"""Demo self-assessments and work log entries for a demo county, so the
compliance, staffing and work log pages show real gaps. Who acts is read
from the roles metadata (who may assess, who may review), never from role
codes. Run once per county (nothing if it already has an assessment)."""
from __future__ import annotations

import datetime

from ..auth import User
from ..models import Site, Staff
from ..permissions import permissions_of
from . import site as site_mod
from . import worklog
from .models import SiteAssessment, WorkLog

NOTES = ["已建立并上墙公示，见照片", "制度已印发，台账齐全", "已落实，每月检查一次"]


def _holders(county, permission):
    return [s for s in Staff.select().where((Staff.county_code == county) & Staff.active).order_by(Staff.id)
            if permission in permissions_of(s.role, county)]


def _fill(site, assessment, actor, leave_gaps):
    """Answer the site-answered requirements: met with a note, except (with
    ``leave_gaps``) the last one not met and the one before it unanswered."""
    for standard in site_mod.standards_for(site):
        if standard["code"] != assessment.standard:
            continue
        open_rows = [r for r in site_mod.requirement_rows(site, standard, assessment) if not r["measured"]]
        for i, row in enumerate(open_rows):
            if leave_gaps and i == len(open_rows) - 2:
                continue  # left unanswered
            status = "not_met" if leave_gaps and i == len(open_rows) - 1 else "met"
            note = "场地改造中，计划下季度完成" if status == "not_met" else NOTES[i % len(NOTES)]
            site_mod.answer(site, assessment, row["code"], status, note, None, actor)
    return [r for r in assessment.answers]


def load_demo_accounts(county):
    if SiteAssessment.select().where(SiteAssessment.county_code == county).exists():
        return 0
    assessors = _holders(county, "compliance.assess")
    reviewers = _holders(county, "compliance.review")
    year = datetime.date.today().year
    done = 0
    picked = {}
    for site in Site.select().where(Site.county_code == county).order_by(Site.code):
        if site.kind in picked or site.kind not in worklog.KINDS:
            continue
        actor = next((a for a in assessors if a.region == site.region), None)
        standards = site_mod.standards_for(site)
        if actor is None or not standards:
            continue
        picked[site.kind] = site
        user = User(actor)
        code = standards[0]["code"]
        if reviewers:  # last year's: submitted and reviewed (history)
            old = site_mod.start(site, code, str(year - 1), user)
            _fill(site, old, user, leave_gaps=False)
            site_mod.submit(site, old, user)
            old = SiteAssessment.get((SiteAssessment.id == old.id) & (SiteAssessment.county_code == old.county_code))
            answers = list(old.answers)
            decisions = {a.requirement: ("accepted", "") for a in answers}
            if answers:
                decisions[answers[0].requirement] = ("rejected", "照片不清晰，请补充")
            site_mod.review(old, decisions, "总体达标", User(reviewers[0]))
        current = site_mod.start(site, code, str(year), user)
        _fill(site, current, user, leave_gaps=True)
        if site.kind == "service_center":
            site_mod.submit(site, current, user)
        done += 1
        # the work log of today and yesterday at that site
        today = datetime.date.today()
        for day in (today - datetime.timedelta(days=1), today):
            if not WorkLog.select().where((WorkLog.site_code == site.code) & (WorkLog.day == day)).exists():
                worklog.write(site, day, actor.name, "群众咨询社保缴费较多，部分老人不会使用手机缴费",
                              "已联系旗税务局安排专人下沉指导", user)
    return done
