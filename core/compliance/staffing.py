"""Staffing coverage: a region's ``staffing:`` requirements (its rule
set), each evaluated by the registered staffing check it names, over the
live staff table, so a handover or a disabled account shows at once.

Checks of the core (``register_staffing_checks`` in
:mod:`core.builtins.compliance`):

``site_staff``    at least ``min`` active staff of ``roles`` posted to the
                  region of every site of kind ``site_kind``;
``per_region``    at least ``min`` active staff of ``roles`` posted to every
                  region of ``level`` (a village, a group, a township);
``per_department`` at least ``min`` active staff of ``roles`` in every
                  department of the county;
``ab_posts``      every A post held: an active staff member of ``roles``
                  who is covered by a B post or covers nobody (so holds a
                  window of their own) needs an active B post
                  (``Staff.covers``); a departed A post whose B posts are
                  all gone leaves an empty window;
``staff_board``   every active staff member of ``roles`` has the board's
                  ``fields`` (photo, phone, hours).
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import catalog
from ..i18n import label, labels, localized
from ..models import Region, Site, Staff
from . import common


def _roles_text(roles):
    return labels("role", roles, sep=" / ") if roles else _("staff")


def _active(county, roles):
    query = Staff.select().where((Staff.county_code == county) & Staff.active)
    return query.where(Staff.role.in_(roles)) if roles else query


def _gap(region, place, need, have, fill, code=""):
    return {"region": region, "place": place, "need": need, "have": have, "fill": fill, "subject": code}


def site_staff(county, requirement):
    roles, need = requirement.get("roles") or [], requirement.get("min", 1)
    posted = {}
    for staff in _active(county, roles):
        posted[staff.region] = posted.get(staff.region, 0) + 1
    gaps = []
    for site in Site.select().where((Site.county_code == county) & (Site.kind == requirement.get("site_kind"))) \
            .order_by(Site.region, Site.code):
        have = posted.get(site.region, 0)
        if have < need:
            name = localized(site.name)
            gaps.append(_gap(site.region, name, _("at least %(n)d %(roles)s", n=need, roles=_roles_text(roles)), have,
                             _("%(n)d more %(roles)s posted to %(place)s", n=need - have, roles=_roles_text(roles),
                               place=name), site.code))
    return gaps


def per_region(county, requirement):
    roles, need, level = requirement.get("roles") or [], requirement.get("min", 1), requirement.get("level")
    posted = {}
    for staff in _active(county, roles):
        posted[staff.region] = posted.get(staff.region, 0) + 1
    gaps = []
    for region in Region.select().where((Region.county_code == county) & (Region.level == level)) \
            .order_by(Region.code):
        have = posted.get(region.code, 0)
        if have < need:
            name = localized(region.name)
            gaps.append(_gap(region.code, name, _("at least %(n)d %(roles)s per %(level)s", n=need,
                                                  roles=_roles_text(roles), level=label("level", level)), have,
                             _("%(n)d more %(roles)s posted to %(place)s", n=need - have, roles=_roles_text(roles),
                               place=name), region.code))
    return gaps


def per_department(county, requirement):
    roles, need = requirement.get("roles") or [], requirement.get("min", 1)
    posted = {}
    for staff in _active(county, roles).where(Staff.department.is_null(False)):
        posted[staff.department] = posted.get(staff.department, 0) + 1
    gaps = []
    for record in catalog.all_current("departments", county=county):
        if record.county_code != county:
            continue
        have = posted.get(record.key, 0)
        if have < need:
            name = localized(record.content.get("name"))
            gaps.append(_gap(county, name, _("at least %(n)d %(roles)s per department", n=need,
                                             roles=_roles_text(roles)), have,
                             _("%(n)d more %(roles)s in %(place)s", n=need - have, roles=_roles_text(roles),
                               place=name), record.key))
    return gaps


def ab_posts(county, requirement):
    roles = requirement.get("roles") or []
    query = Staff.select().where(Staff.county_code == county)
    staff = list(query.where(Staff.role.in_(roles)) if roles else query)
    by_id = {s.id: s for s in Staff.select().where(Staff.county_code == county)}
    covered_by = {}
    for s in by_id.values():
        if s.covers_id:
            covered_by.setdefault(s.covers_id, []).append(s)
    names = common.region_names(county)
    gaps = []
    for s in sorted(staff, key=lambda s: (s.region, s.username)):
        b_posts = covered_by.get(s.id, [])
        covering = [b for b in b_posts if b.active]
        place = common.place_name(names, s.region)
        if s.active and not covering and (b_posts or not s.covers_id):
            gaps.append(_gap(s.region, place, _("a B post for %(name)s", name=s.name), 0,
                             _("an active %(roles)s of %(place)s as B post of %(name)s",
                               roles=_roles_text(roles), place=place, name=s.name), s.username))
        elif not s.active and b_posts and not covering:
            gaps.append(_gap(s.region, place, _("the window of %(name)s staffed", name=s.name), 0,
                             _("an active %(roles)s of %(place)s at the window of %(name)s (empty)",
                               roles=_roles_text(roles), place=place, name=s.name), s.username))
    return gaps


BOARD_FIELDS = {"photo": "Photo", "phone": "Phone", "hours": "Hours on duty"}


def _board_label(key):
    return {"photo": _("Photo"), "phone": _("Phone"), "hours": _("Hours on duty")}[key]


def staff_board(county, requirement):
    roles = requirement.get("roles") or []
    wanted = requirement.get("fields") or list(BOARD_FIELDS)
    names = common.region_names(county)
    gaps = []
    for s in _active(county, roles).order_by(Staff.region, Staff.username):
        profile = s.profile or {}
        have = {"photo": bool(profile.get("photo")), "phone": bool(s.phone_enc), "hours": bool(profile.get("hours"))}
        missing = [k for k in wanted if not have[k]]
        if missing:
            gaps.append(_gap(s.region, common.place_name(names, s.region),
                             _("%(name)s on the staff board: %(fields)s", name=s.name,
                               fields=", ".join(_board_label(k) for k in wanted)),
                             len(wanted) - len(missing),
                             _("the county administrator enters %(fields)s of %(name)s",
                               fields=", ".join(_board_label(k) for k in missing), name=s.name), s.username))
    return gaps


CHECKS = {"site_staff": site_staff, "per_region": per_region, "per_department": per_department,
          "ab_posts": ab_posts, "staff_board": staff_board}


def report(county: str, area: str = "") -> list[dict]:
    """Every staffing gap of the county (in ``area``: a division code
    prefix), requirement by requirement, in the rule sets' order. A row:
    ``check``, ``requirement`` (its label), ``region``, ``place``,
    ``need``, ``have``, ``fill``."""
    from .. import registry

    checks = registry.staffing_checks()
    rows = []
    for ruleset in common.rulesets(county):
        for requirement in ruleset.get("staffing") or ():
            entry = checks.get(requirement["check"])
            if entry is None:
                rows.append({"check": requirement["check"], "requirement": requirement["check"], "region": county,
                             "place": "", "need": _("no staffing check %(code)s is installed",
                                                    code=requirement["check"]), "have": "", "fill": "",
                             "subject": ""})
                continue
            title = localized(requirement.get("note")) if requirement.get("note") else str(entry["label"])
            for gap in entry["check"](county, requirement):
                if gap["region"].startswith(area):
                    rows.append({"check": requirement["check"], "requirement": title, **gap})
    return rows


COLUMNS = [("requirement", _l("Requirement")), ("place", _l("Place")), ("need", _l("Needed")),
           ("have", _l("Have")), ("fill", _l("Who should fill it"))]
