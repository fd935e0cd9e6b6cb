"""内乡县 (Neixiang County, 411325): the "代办帮办" service system of
内放办〔2022〕3号 as metadata (three catalogs, guides with fill instructions
and samples, 五员一体 roles and staffing, the five-step flow, the rule set),
plus what data cannot say: the staffing criteria measured from the staff
accounts (one grid agent per group), the same-day rate of instant items,
the joint rate of major items, and the special assessment with 优胜劣汰
(:mod:`plugins.neixiang.assessment`)."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.i18n import label
from core.paths import METADATA

COUNTY = "411325"
DONE = ("finished", "archived", "evaluated")


@hookimpl
def register_metadata_packs(register):
    register(METADATA / "neixiang")


@hookimpl
def register_demo_packs(register):
    register(METADATA / "neixiang_demo", county=COUNTY)


def _attr(obj, name):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name)


def _posted(county, role, where):
    from core.models import Staff

    return Staff.select().where((Staff.county_code == county) & (Staff.role == role) & Staff.active & where)


def township_staffing(site, standard, requirement):
    """附件 第四条: the township has ``min`` active staff of the requirement's
    role posted to it (1 基层代办员兼项目专办员, 1 服务督办员)."""
    from core.models import Staff

    region, role, need = _attr(site, "region"), requirement["role"], int(requirement.get("min", 1))
    have = _posted(_attr(site, "county_code"), role, Staff.region == region[:9]).count()
    return ("met" if have >= need else "not_met",
            _("%(have)d of %(need)d required staff of role %(role)s", have=have, need=need,
                  role=label("role", role)))


def grid_staffing(site, standard, requirement):
    """附件 第四条: at least ``min`` grid agents in the village (posted to it
    or to one of its groups); with unit ``per_group``, ``min`` posted to
    every group of the village."""
    from core.models import Region, Staff

    village, county = _attr(site, "region")[:12], _attr(site, "county_code")
    role, need = requirement["role"], int(requirement.get("min", 1))
    if requirement.get("unit") != "per_group":
        have = _posted(county, role, Staff.region.startswith(village)).count()
        return ("met" if have >= need else "not_met",
                _("%(have)d of %(need)d required staff of role %(role)s", have=have, need=need,
                  role=label("role", role)))
    groups = [r.code for r in Region.select().where((Region.parent == village) & (Region.level == "group"))
              .order_by(Region.code)]
    short = [g for g in groups if _posted(county, role, Staff.region == g).count() < need]
    if short:
        return "not_met", _("Groups without enough grid agents: %(groups)s", groups=", ".join(short))
    return "met", _("Every group (%(n)d) has its grid agent", n=len(groups))


@hookimpl
def register_compliance_criteria(register):
    register("neixiang_township_staffing", label=_l("Township proxy staff posted (Neixiang)"),
             check=township_staffing)
    register("neixiang_grid_staffing", label=_l("Grid agents per village and group (Neixiang)"),
             check=grid_staffing)


def instant_same_day(cases, period, scope):
    """五: instant items finished the day they were accepted, of those finished."""
    from core.cases.models import Case

    done = cases.where((Case.kind == "instant") & Case.state.in_(DONE))
    return done.where(Case.finished_on == Case.accepted_on).count(), done.count()


def major_joint(cases, period, scope):
    """五: accepted major items dispatched to their joint departments."""
    from core.cases.models import Case, Subtask

    accepted = cases.where((Case.kind == "major") & Case.accepted_on.is_null(False))
    joint = accepted.where(Case.id.in_(Subtask.select(Subtask.case).where(Subtask.county_code == Case.county_code)))
    return joint.count(), accepted.count()


def _grouped(query, by, num):
    """``{key: (num, den)}``: ``query``'s cases grouped by ``by`` (one
    statement), ``num`` the condition of the numerator's."""
    from peewee import Case as SqlCase, fn

    query = query.select(*by, fn.SUM(SqlCase(None, [(num, 1)], 0)), fn.COUNT(1))
    if by:
        query = query.group_by(*by)
    return {tuple(row[:len(by)]): (int(row[-2] or 0), int(row[-1] or 0)) for row in query.tuples()}


def instant_same_day_by(cases, period, scope, by=()):
    """``instant_same_day`` per group of ``by``, in one query."""
    from core.cases.models import Case

    return _grouped(cases.where((Case.kind == "instant") & Case.state.in_(DONE)), by,
                    Case.finished_on == Case.accepted_on)


def major_joint_by(cases, period, scope, by=()):
    """``major_joint`` per group of ``by``, in one query."""
    from core.cases.models import Case, Subtask

    return _grouped(cases.where((Case.kind == "major") & Case.accepted_on.is_null(False)), by,
                    Case.id.in_(Subtask.select(Subtask.case)))


@hookimpl
def register_metrics(register):
    # grouped (one statement per report, summed up from township and site)
    register("instant_same_day_rate", label=_l("Instant items finished the same day"), compute=instant_same_day,
             compute_by=instant_same_day_by, additive=True, unit="rate", levels=("site", "township", "county"))
    register("major_joint_rate", label=_l("Major items handled jointly"), compute=major_joint,
             compute_by=major_joint_by, additive=True, unit="rate", levels=("site", "township", "county"))
