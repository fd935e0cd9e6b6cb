"""The compliance criteria the core computes from a site's data: the
:class:`core.models.Site` row (its ``profile`` is the site's metadata
entry), the staff posted to its region and the catalog. A site standard's
requirement names one as ``measure:``; each check returns ``(status,
evidence)`` with status ``met``, ``not_met`` or ``not_measurable`` (the
site's data does not say: a key of the profile is absent, or the standard
gives no minimum). Requirement fields used: ``min``, ``items``, ``role``.
"""
from __future__ import annotations

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
    return (MET if have >= need else NOT_MET), f"{what}: {have:g} (at least {need:g})"


def _listed(site, key, requirement, what):
    """Every text of ``requirement.items`` (default: its name) is among the
    site's ``key`` list (any language of an entry counts)."""
    if key not in _profile(site):
        return UNKNOWN, f"the site does not list its {what}"
    present = set().union(*(_text(v) for v in _profile(site)[key])) if _profile(site)[key] else set()
    wanted = requirement.get("items") or [requirement.get("name")]
    missing = [w for w in wanted if not (_text(w) & present)]
    if missing:
        shown = ", ".join(sorted(min(_text(w)) for w in missing if _text(w)))
        return NOT_MET, f"{what} missing: {shown}"
    return MET, f"{what}: {len(wanted)} of {len(wanted)} present"


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
        return UNKNOWN, "no area or no minimum area"
    return _at_least(area, need, "area m²")


def agents_posted(site, standard, requirement):
    role = requirement.get("role")
    have = _active_staff(site, role).count()
    return _at_least(have, requirement.get("min", 1), f"active {role or 'staff'} posted to {site.region}")


def items_offered(site, standard, requirement):
    if "items" not in _profile(site):
        return UNKNOWN, "the site does not list its items"
    items = _site_items(site)
    unknown = sorted(code for code, item in items if item is None)
    status, evidence = _at_least(len(items) - len(unknown), requirement.get("min", 1), "items in the catalog")
    return status, evidence + (f"; not in the catalog: {', '.join(unknown)}" if unknown else "")


def window_kinds(site, standard, requirement):
    """Each kind of window (intake channel) in ``requirement.items`` is a
    channel of at least one item the site offers."""
    items = [item for _code, item in _site_items(site) if item]
    wanted = requirement.get("items") or []
    if not items or not wanted:
        return UNKNOWN, "no items offered or no window kinds asked for"
    channels = {c for item in items for c in item.get("channels") or ()}
    missing = [w for w in wanted if w not in channels]
    if missing:
        return NOT_MET, f"no item offered at: {', '.join(missing)}"
    return MET, f"items offered at: {', '.join(wanted)}"


def equipment(site, standard, requirement):
    return _listed(site, "equipment", requirement, "equipment")


def zones(site, standard, requirement):
    return _listed(site, "zones", requirement, "zones")


def features(site, standard, requirement):
    if "features" not in _profile(site):
        return UNKNOWN, "the site does not list its features"
    wanted = requirement.get("items") or [requirement.get("code")]
    missing = [w for w in wanted if w not in _profile(site)["features"]]
    return (NOT_MET, f"features missing: {', '.join(missing)}") if missing else (MET, f"features: {', '.join(wanted)}")


def ports(site, standard, requirement):
    have = _profile(site).get("ports")
    if have is None:
        return UNKNOWN, "the site does not say its network ports per window"
    return _at_least(have, requirement.get("min", 1), "network ports per window")


def sessions(site, standard, requirement):
    if "sessions" not in _profile(site):
        return UNKNOWN, "the site does not list its opening sessions"
    days = {d for s in _profile(site)["sessions"] for d in s.get("days", ())}
    return _at_least(len(days), requirement.get("min", 5), "opening days per week")


def extended_hours(site, standard, requirement):
    if "sessions" not in _profile(site):
        return UNKNOWN, "the site does not list its opening sessions"
    extended = [s for s in _profile(site)["sessions"] if s.get("kind") == "extended"]
    return _at_least(len(extended), requirement.get("min", 1), "extended-hours sessions")


def staffing(site, standard, requirement):
    rows = (standard or {}).get("staffing") or []
    if not rows:
        return UNKNOWN, "the standard sets no staffing"
    short, parts = [], []
    for row in rows:
        have = _active_staff(site, row["role"]).count()
        parts.append(f"{row['role']}: {have} (at least {row['min']})")
        if have < row["min"]:
            short.append(row["role"])
    return (NOT_MET if short else MET), "; ".join(parts)


def rating_device(site, standard, requirement):
    wanted = {"items": requirement.get("items") or [{"zh": "评价器", "en": "Rating device"}]}
    return _listed(site, "equipment", wanted, "rating device")


def naming(site, standard, requirement):
    endings = requirement.get("items") or [NAME_ENDINGS.get(site.kind)]
    name = site.name.get("zh") if isinstance(site.name, dict) else site.name
    if not name or not endings[0]:
        return UNKNOWN, "no Chinese name or no standard name for this kind of site"
    if any(name.endswith(e) for e in endings):
        return MET, f"{name}"
    return NOT_MET, f"{name} does not end with {' / '.join(endings)}"


def online_rate(site, standard, requirement):
    items = [item for _code, item in _site_items(site) if item]
    need = requirement.get("min")
    if not items or need is None:
        return UNKNOWN, "no items offered or no minimum rate"
    online = sum(1 for item in items if item.get("online"))
    rate = online / len(items)
    return (MET if rate >= need else NOT_MET), f"{online} of {len(items)} items online ({rate:.0%}, at least {need:.0%})"


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
