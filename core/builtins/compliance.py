"""The compliance criteria the core computes from a site's data: the
:class:`core.models.Site` row (its ``profile`` is the site's metadata
entry), the staff posted to its region and the catalog. A site standard's
requirement names one as ``measure:``; each check returns ``(status,
evidence)`` with status ``met``, ``not_met`` or ``not_measurable`` (the
site's data does not say: a key of the profile is absent, or the standard
gives no minimum). Requirement fields used: ``min``, ``items``, ``role``.
"""
from __future__ import annotations

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
    have = _active_staff(site, role).count()
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
        have = _active_staff(site, row["role"]).count()
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
    endings = requirement.get("items") or [NAME_ENDINGS.get(site.kind)]
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
