"""The compliance criteria the core computes from a site's data: the
:class:`core.models.Site` row (its ``profile`` is the site's metadata
entry), the staff posted to its region and the catalog. A site standard's
requirement names one as ``measure:``; each check returns ``(status,
evidence)`` with status ``met``, ``not_met`` or ``not_measurable`` (the
site's data does not say: a key of the profile is absent, or the standard
gives no minimum). Requirement fields used: ``min``, ``items``, ``role``.
"""
from __future__ import annotations

import contextlib
import contextvars

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..hookspecs import hookimpl

MET, NOT_MET, UNKNOWN = "met", "not_met", "not_measurable"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: the standard name's ending per site kind (统一名称标牌)
NAME_ENDINGS = {"service_center": "便民服务中心", "service_station": "便民服务站", "service_point": "便民服务点",
                "bank_branch": "便民服务点", "post_office": "便民服务点"}


def _profile(site):
    return site.profile or {}


def _text(value):
    """A metadata text (plain or ``{zh, en, mn}``) as the set of its strings."""
    if isinstance(value, dict):
        return {str(v).strip() for v in value.values() if v}
    return {str(value).strip()} if value else set()


def _at_least(have, need, what):
    return (MET if have >= need else NOT_MET), _("%(what)s: %(have)s (at least %(need)s)", what=what,
                                                 have=f"{have:g}", need=f"{need:g}")


def _listed(site, key, requirement, what):
    """Every text of ``requirement.items`` (default: its name) is among the
    site's ``key`` list (any language of an entry counts)."""
    if key not in _profile(site):
        return UNKNOWN, _("The site does not list its %(what)s.", what=what)
    present = set().union(*(_text(v) for v in _profile(site)[key])) if _profile(site)[key] else set()
    wanted = requirement.get("items") or [requirement.get("name")]
    missing = [w for w in wanted if not (_text(w) & present)]
    if missing:
        shown = ", ".join(sorted(min(_text(w)) for w in missing if _text(w)))
        return NOT_MET, _("%(what)s missing: %(missing)s", what=what, missing=shown)
    return MET, _("%(what)s: all %(n)d present", what=what, n=len(wanted))


#: ``{(county, region, role): active staff}`` read in one grouped query for
#: a batch of sites (the KPI report's site compliance), see :func:`staff_counts`
_STAFF_COUNTS = contextvars.ContextVar("bangban_staff_counts", default=None)


@contextlib.contextmanager
def staff_counts(county):
    """Within the block, the criteria count a site's active staff from one
    grouped query of the county's (read here), not one query per site and
    role."""
    from peewee import fn

    from ..models import Staff

    counts = {}
    for region, role, n in (Staff.select(Staff.region, Staff.role, fn.COUNT(Staff.id))
                            .where((Staff.county_code == county) & Staff.active)
                            .group_by(Staff.region, Staff.role).tuples()):
        counts[(county, region, role)] = n
        counts[(county, region, None)] = counts.get((county, region, None), 0) + n
    token = _STAFF_COUNTS.set(counts)
    try:
        yield
    finally:
        _STAFF_COUNTS.reset(token)


def _active_count(site, role=None):
    """Active staff (of ``role``) posted to the site's region."""
    counts = _STAFF_COUNTS.get()
    if counts is not None:
        return counts.get((site.county_code, site.region, role or None), 0)
    return _active_staff(site, role).count()


def _active_staff(site, role=None):
    from ..models import Staff

    query = Staff.select().where((Staff.county_code == site.county_code) & (Staff.region == site.region)
                                 & Staff.active)
    return query.where(Staff.role == role) if role else query


def _site_items(site):
    """[(code, item content or None)] of the items the site offers."""
    from .. import catalog

    out = []
    for code in _profile(site).get("items") or ():
        record = catalog.current("items", code, county=site.county_code)
        out.append((code, record.content if record else None))
    return out


def min_area(site, standard, requirement):
    need = requirement.get("min", (standard or {}).get("min_area"))
    area = _profile(site).get("area")
    if need is None or area is None:
        return UNKNOWN, _("The site's area or the minimum area is not given.")
    return _at_least(area, need, _("area m²"))


def agents_posted(site, standard, requirement):
    role = requirement.get("role")
    have = _active_count(site, role)
    from ..i18n import label

    what = _("active %(role)s posted to %(region)s", role=label("role", role) if role else _("staff"),
             region=site.region)
    return _at_least(have, requirement.get("min", 1), what)


def items_offered(site, standard, requirement):
    if "items" not in _profile(site):
        return UNKNOWN, _("The site does not list its %(what)s.", what=_("items"))
    items = _site_items(site)
    unknown = sorted(code for code, item in items if item is None)
    status, evidence = _at_least(len(items) - len(unknown), requirement.get("min", 1), _("items in the catalog"))
    if unknown:
        evidence += "; " + _("not in the catalog: %(codes)s", codes=", ".join(unknown))
    return status, evidence


def window_kinds(site, standard, requirement):
    """Each kind of window (intake channel) in ``requirement.items`` is a
    channel of at least one item the site offers."""
    items = [item for _code, item in _site_items(site) if item]
    wanted = requirement.get("items") or []
    if not items or not wanted:
        return UNKNOWN, _("No items offered, or no kinds of window asked for.")
    channels = {c for item in items for c in item.get("channels") or ()}
    missing = [w for w in wanted if w not in channels]
    if missing:
        return NOT_MET, _("No item offered at: %(kinds)s", kinds=_labels("channel", missing))
    return MET, _("Items offered at: %(kinds)s", kinds=_labels("channel", wanted))


def _labels(kind, codes):
    from ..i18n import labels

    return labels(kind, codes, sep=", ")


def equipment(site, standard, requirement):
    return _listed(site, "equipment", requirement, _("equipment"))


def zones(site, standard, requirement):
    return _listed(site, "zones", requirement, _("zones"))


def features(site, standard, requirement):
    if "features" not in _profile(site):
        return UNKNOWN, _("The site does not list its %(what)s.", what=_("features"))
    wanted = requirement.get("items") or [requirement.get("code")]
    missing = [w for w in wanted if w not in _profile(site)["features"]]
    if missing:
        return NOT_MET, _("%(what)s missing: %(missing)s", what=_("features"), missing=", ".join(missing))
    return MET, _("%(what)s: all %(n)d present", what=_("features"), n=len(wanted))


def ports(site, standard, requirement):
    have = _profile(site).get("ports")
    if have is None:
        return UNKNOWN, _("The site does not list its %(what)s.", what=_("network ports per window"))
    return _at_least(have, requirement.get("min", 1), _("network ports per window"))


def sessions(site, standard, requirement):
    if "sessions" not in _profile(site):
        return UNKNOWN, _("The site does not list its %(what)s.", what=_("opening sessions"))
    days = {d for s in _profile(site)["sessions"] for d in s.get("days", ())}
    return _at_least(len(days), requirement.get("min", 5), _("opening days per week"))


def extended_hours(site, standard, requirement):
    if "sessions" not in _profile(site):
        return UNKNOWN, _("The site does not list its %(what)s.", what=_("opening sessions"))
    extended = [s for s in _profile(site)["sessions"] if s.get("kind") == "extended"]
    return _at_least(len(extended), requirement.get("min", 1), _("extended-hours sessions"))


def staffing(site, standard, requirement):
    rows = (standard or {}).get("staffing") or []
    if not rows:
        return UNKNOWN, _("The standard sets no staffing.")
    short, parts = [], []
    for row in rows:
        have = _active_count(site, row["role"])
        from ..i18n import label

        parts.append(_("%(what)s: %(have)s (at least %(need)s)", what=label("role", row["role"]), have=have,
                       need=row["min"]))
        if have < row["min"]:
            short.append(row["role"])
    return (NOT_MET if short else MET), "; ".join(parts)


def rating_device(site, standard, requirement):
    wanted = {"items": requirement.get("items") or [{"zh": "评价器", "en": "Rating device"}]}
    return _listed(site, "equipment", wanted, _("rating device"))


def naming(site, standard, requirement):
    endings = [e.get("zh") if isinstance(e, dict) else e  # the name's Chinese ending
               for e in (requirement.get("items") or [NAME_ENDINGS.get(site.kind)])]
    name = site.name.get("zh") if isinstance(site.name, dict) else site.name
    if not name or not endings[0]:
        return UNKNOWN, _("No Chinese name, or no standard name for this kind of site.")
    if any(name.endswith(e) for e in endings):
        return MET, name
    return NOT_MET, _("%(name)s does not end with %(endings)s", name=name, endings=" / ".join(endings))


def online_rate(site, standard, requirement):
    items = [item for _code, item in _site_items(site) if item]
    need = requirement.get("min")
    if not items or need is None:
        return UNKNOWN, _("No items offered, or no minimum rate.")
    online = sum(1 for item in items if item.get("online"))
    rate = online / len(items)
    return (MET if rate >= need else NOT_MET), _("%(online)d of %(n)d items online (%(rate)s, at least %(need)s)",
                                                 online=online, n=len(items), rate=f"{rate:.0%}", need=f"{need:.0%}")


CRITERIA = {
    "min_area": (_l("Floor area"), min_area),
    "agents_posted": (_l("Agents posted"), agents_posted),
    "items_offered": (_l("Items offered"), items_offered),
    "window_kinds": (_l("Kinds of window"), window_kinds),
    "equipment": (_l("Equipment"), equipment),
    "zones": (_l("Functional zones"), zones),
    "features": (_l("Features"), features),
    "ports": (_l("Network ports per window"), ports),
    "sessions": (_l("Opening days"), sessions),
    "extended_hours": (_l("Extended hours"), extended_hours),
    "staffing": (_l("Staffing"), staffing),
    "rating_device": (_l("Rating device"), rating_device),
    "naming": (_l("Standard name"), naming),
    "online_rate": (_l("Items online"), online_rate),
}


@hookimpl
def register_compliance_criteria(register):
    for code, (label, check) in CRITERIA.items():
        register(code, label=label, check=check)


# --- the accounts: self-assessment, staffing, staff assessment, work log ------

@hookimpl
def register_blueprints(register):
    from ..compliance.views import bp

    register(bp)


@hookimpl
def menu_links(request):
    from ..compliance.views import menu

    return menu(request)


@hookimpl
def register_commands(cli):
    from ..compliance.cli import COMMANDS

    for command in COMMANDS:
        cli.commands["report"].add_command(command)


@hookimpl
def register_assessment_indicators(register):
    from ..compliance.assessment import INDICATORS

    for code, (label, compute, better) in INDICATORS.items():
        register(code, label=label, compute=compute, better=better)


@hookimpl
def register_staffing_checks(register):
    from ..compliance.staffing import CHECKS

    labels = {"site_staff": _l("Staff posted to each site"), "per_region": _l("Staff posted to each place"),
              "per_department": _l("Staff in each department"), "ab_posts": _l("A/B posts covered"),
              "staff_board": _l("Staff board complete")}
    for code, check in CHECKS.items():
        register(code, label=labels[code], check=check)


# --- the rule sets' site and staffing targets as metrics (source="sites") -----
#
# Computed per unit of the KPI report (:mod:`core.kpi`) with the unit in
# ``scope``; the sites and the staff are read once per report (``memo``).
#
# Staff counts (``unit="count"``), active staff of the roles posted to the
# unit: a township-level site (service center) and a township count the
# staff posted to that region itself; a village-level site (station) counts
# those posted to its village or a group of it; the county counts all.
#
# * ``center_agents`` / ``station_agents``: agents (AGENT_ROLES) at a
#   service center / station;
# * ``agent_specialists``, ``township_supervisors``, ``grid_agents``: staff
#   of that one role;
# * ``department_helpers`` / ``department_supervisors`` (county): the fewest
#   active staff of that role in any department of the county's catalog
#   (``departments``), so the minimum binds every department.
#
# Rates over sites (``unit="rate"``, a site counts 1 in the denominator when
# it says what it has):
#
# * ``proxy_window_coverage``: sites with a ``proxy_window`` among their
#   features / sites listing features;
# * ``rating_channel_coverage``: sites with a rating channel (the
#   ``rating_qr`` feature or a rating device 评价器 in the equipment) /
#   sites listing features or equipment;
# * ``site_compliance``: sites whose site standards all are met (no
#   requirement not met, rejected or unanswered) / sites under a standard;
# * ``site_coverage`` (county): villages (regions of level village) with a
#   village-level site / villages.
#
# Counts of sites (county): ``demonstration_points`` (sites marked
# ``demonstration``), ``service_stations`` (service stations that are not
# demonstration points).

AGENT_ROLES = ("grassroots_agent", "grid_agent", "agent_specialist", "project_specialist")
RATING_DEVICE = "评价器"


def _sites(scope):
    from ..models import Site

    def load():
        return list(Site.select().where(Site.county_code == scope["county_code"]).order_by(Site.code))

    return _memo_get(scope, ("sites", scope["county_code"]), load)


def _memo_get(scope, key, compute):
    memo = scope.get("memo")
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _unit_sites(scope):
    """The sites of the unit: the site itself, a township's, the county's
    (from an index of the county's sites built once per report)."""
    sites = _sites(scope)
    if scope["level"] == "county":
        return sites
    if scope.get("memo") is None:
        if scope["level"] == "site":
            return [s for s in sites if s.code == scope["code"]]
        return [s for s in sites if s.region.startswith(scope["code"])]

    def index():
        by_site, by_prefix = {}, {}
        for s in sites:
            by_site.setdefault(s.code, []).append(s)
            for n in range(1, len(s.region) + 1):
                by_prefix.setdefault(s.region[:n], []).append(s)
        return by_site, by_prefix

    by_site, by_prefix = _memo_get(scope, ("site_index", scope["county_code"]), index)
    if scope["level"] == "site":
        return by_site.get(scope["code"], [])
    return by_prefix.get(scope["code"], [])


def _staff(scope):
    from ..models import Staff

    def load():
        return list(Staff.select(Staff.role, Staff.region, Staff.department)
                    .where((Staff.county_code == scope["county_code"]) & Staff.active))

    return _memo_get(scope, ("active_staff", scope["county_code"]), load)


def staff_count(roles):
    def by_region(scope):  # ({region: active staff of the roles}, the same by region prefix), once per report
        counts, under = {}, {}
        for s in _staff(scope):
            if s.role in roles:
                counts[s.region] = counts.get(s.region, 0) + 1
                for n in range(1, len(s.region) + 1):
                    under[s.region[:n]] = under.get(s.region[:n], 0) + 1
        return counts, under

    def compute(cases, period=None, scope=None):
        counts, under = _memo_get(scope, ("staff_by_region", scope["county_code"], tuple(roles)),
                                  lambda: by_region(scope))
        if scope["level"] == "county":
            return sum(counts.values()), None
        if scope["level"] == "township":
            return counts.get(scope["code"], 0), None
        site = _unit_sites(scope)[0]
        if scope.get("site_level") == "village":
            return under.get(site.region, 0) if site.region else sum(counts.values()), None
        return counts.get(site.region, 0), None

    return compute


def department_count(role):
    def compute(cases, period=None, scope=None):
        if scope["level"] != "county":
            return None, None
        from .. import catalog

        county = scope["county_code"]
        departments = [r.key for r in catalog.all_current("departments", county=county) if r.county_code == county]
        if not departments:
            return None, None
        have = {}
        for s in _staff(scope):
            if s.role == role and s.department:
                have[s.department] = have.get(s.department, 0) + 1
        return min(have.get(d, 0) for d in departments), None

    return compute


def _site_rate(test):
    """``fn(site) -> True|False|None`` (None: the site does not say) as a
    rate over the unit's sites."""
    def compute(cases, period=None, scope=None):
        # each site answered once per report, though it is in three units
        answers = [_memo_get(scope, ("site_test", test.__name__, s.code), lambda s=s: test(s, scope))
                   for s in _unit_sites(scope)]
        return sum(1 for a in answers if a), sum(1 for a in answers if a is not None)

    return compute


def _has_proxy_window(site, scope=None):
    features = _profile(site).get("features")
    return None if features is None else "proxy_window" in features


def _has_rating_channel(site, scope=None):
    profile = _profile(site)
    if "features" not in profile and "equipment" not in profile:
        return None
    return ("rating_qr" in (profile.get("features") or ())
            or any(RATING_DEVICE in _text(e) for e in profile.get("equipment") or ()))


def _assessments(scope):
    """``{(site, standard): (latest assessment, answers)}`` of the county,
    read in two queries once per report."""
    from ..compliance.models import AssessmentAnswer, SiteAssessment

    def load():
        loaded = {}
        for a in SiteAssessment.select().where(SiteAssessment.county_code == scope["county_code"]) \
                .order_by(SiteAssessment.period, SiteAssessment.id):
            loaded[(a.site_code, a.standard)] = (a, {})  # the last one wins: the latest period
        by_id = {a.id: answers for a, answers in loaded.values()}
        for answer in AssessmentAnswer.select().where((AssessmentAnswer.county_code == scope["county_code"])
                                                      & AssessmentAnswer.assessment.in_(list(by_id) or [0])):
            by_id[answer.assessment_id][answer.requirement] = answer
        return loaded

    return _memo_get(scope, ("site_assessments", scope["county_code"]), load)


def _compliant(site, scope=None):
    from ..compliance import site as site_compliance

    if scope is not None and scope.get("memo") is not None and _STAFF_COUNTS.get() is None:
        counts = _memo_get(scope, ("staff_counts", scope["county_code"]), lambda: _staff_counts_of(scope))
        token = _STAFF_COUNTS.set(counts)
        try:
            return _compliant(site, scope)
        finally:
            _STAFF_COUNTS.reset(token)
    parts = site_compliance.gap_report(site, _assessments(scope) if scope is not None else None)
    if not parts:
        return None
    return all(part["gaps"] == 0 for part in parts)


def _staff_counts_of(scope):
    with staff_counts(scope["county_code"]):
        return _STAFF_COUNTS.get()


def site_coverage(cases, period=None, scope=None):
    if scope["level"] == "site":
        return None, None
    from ..models import Region

    def villages():  # the county's, read once per report
        return [r.code for r in Region.select(Region.code).where((Region.county_code == scope["county_code"])
                                                                 & (Region.level == "village"))]

    codes = _memo_get(scope, ("villages", scope["county_code"]), villages)
    if scope["level"] == "township":
        codes = [c for c in codes if c.startswith(scope["code"])]
    kinds = registry_site_levels()
    covered = {s.region[:12] for s in _sites(scope) if kinds.get(s.kind) == "village" and len(s.region) >= 12}
    return sum(1 for c in codes if c in covered), len(codes)


def registry_site_levels():
    from .. import registry

    return {code: entry.get("level") for code, entry in registry.site_kinds().items()}


def _site_count(test):
    def compute(cases, period=None, scope=None):
        return sum(1 for s in _unit_sites(scope) if test(s)), None

    return compute


def _demonstration(site):
    return bool(_profile(site).get("demonstration"))


SITE_METRICS = {
    "center_agents": (_l("Agents per service center"), "count", staff_count(AGENT_ROLES)),
    "station_agents": (_l("Agents per service station"), "count", staff_count(AGENT_ROLES)),
    "agent_specialists": (_l("Agents who are project specialists"), "count", staff_count(("agent_specialist",))),
    "township_supervisors": (_l("Township supervisors"), "count", staff_count(("township_supervisor",))),
    "grid_agents": (_l("Grid agents"), "count", staff_count(("grid_agent",))),
    "department_helpers": (_l("Department helpers in the department with fewest"), "count",
                           department_count("department_helper")),
    "department_supervisors": (_l("Department supervisors in the department with fewest"), "count",
                               department_count("department_supervisor")),
    "proxy_window_coverage": (_l("Sites with a proxy-service window"), "rate", _site_rate(_has_proxy_window)),
    "rating_channel_coverage": (_l("Sites with a rating channel"), "rate", _site_rate(_has_rating_channel)),
    "site_compliance": (_l("Sites meeting their standards"), "rate", _site_rate(_compliant)),
    "site_coverage": (_l("Villages with a service station"), "rate", site_coverage),
    "demonstration_points": (_l("Demonstration points"), "count", _site_count(_demonstration)),
    "service_stations": (_l("Service stations (not demonstration points)"), "count",
                         _site_count(lambda s: s.kind == "service_station" and not _demonstration(s))),
}


@hookimpl
def register_metrics(register):
    for code, (label, unit, compute) in SITE_METRICS.items():
        register(code, label=label, unit=unit, compute=compute, source="sites")
