"""Scope: which records a signed-in staff member may see, in one place.

:func:`condition` is the one rule, by model; every list, detail page,
count, print view, export, API and back-office view goes through it
(:func:`scoped`, :func:`get_or_404`, :func:`count`). A record outside it
answers 404, never 403, so its existence does not leak either.

For cases, the role's ``scope`` (roles metadata) decides: ``county``,
``township``, ``village`` (a group for a person posted to a group),
``department`` (their department's cases and joint parts) or ``own`` (only
the cases the person filed or holds), and only for roles granted
``case.read``. Every other tenant table is kept to the person's county;
regions to the person's area.
"""
from __future__ import annotations

from flask import abort, g

from . import catalog

SCOPES = ("county", "township", "village", "department", "own")


def role_info(user):
    """The role's metadata for this user's county (cached per request)."""
    cache = g.setdefault("_bangban_roles", {})
    key = (user.role, user.county_code)
    if key not in cache:
        record = catalog.current("roles", user.role, county=user.county_code)
        cache[key] = record.content if record else {}
    return cache[key]


def _signed_in(user):
    return user is not None and getattr(user, "is_authenticated", False)


def _case_condition(user):
    from .cases.models import Case, Subtask
    from .permissions import can

    if not can(user, "case.read"):
        return Case.id.is_null()  # always false: ids are never NULL
    info = role_info(user)
    county = Case.county_code == user.county_code
    scope = info.get("scope", "own")
    region = user.region or ""
    own = ((Case.owner == user.id) | (Case.assignee == user.id)
           | Case.id.in_(Subtask.select(Subtask.case).where((Subtask.county_code == user.county_code)
                                                           & (Subtask.helper == user.id))))
    if scope == "county":
        return county
    if scope == "township":
        return county & (Case.township_code == region[:9])
    if scope == "village":
        if len(region) == 15:
            return county & (Case.group_code == region)
        return county & (Case.village_code == region[:12])
    if scope == "department" and user.department:
        joint = Subtask.select(Subtask.case).where((Subtask.county_code == user.county_code)
                                                   & (Subtask.department == user.department))
        return county & ((Case.department == user.department) | Case.id.in_(joint))
    return county & own


def case_key(user):
    """What :func:`condition` for cases (and :func:`region_key`) depends on
    for ``user``: callers may keep a statement compiled per key
    (``core.db.prepared``)."""
    from .permissions import can

    return (user.id, user.role, user.county_code, user.region or "", user.department or "",
            role_info(user).get("scope"), can(user, "case.read"))


def area(user) -> str:
    """The division code prefix of where a person works: the county for
    county-wide roles, else their township or village (a group's person:
    their group)."""
    info = role_info(user)
    code = user.county_code if info.get("scope") in ("county", "department") else (user.region or "")
    return code[:9] if info.get("scope") == "township" else code


def _region_condition(user, model):
    """Regions a person works in: the county for county-wide roles, else
    their township or village and what lies below."""
    county, prefix = region_key(user)
    return (model.county_code == county) & model.code.startswith(prefix)


def region_key(user):
    """What a signed-in person's region condition depends on (their county
    and area): callers may keep a statement compiled per key."""
    return user.county_code, area(user)


def sites_for(user, query=None):
    """The sites (``core.models.Site``) of the person's area: what the site
    self-assessment and the work log list, and all they may open."""
    from .models import Site

    query = Site.select() if query is None else query
    if not _signed_in(user):
        return query.where(Site.code.is_null())
    return query.where((Site.county_code == user.county_code) & Site.region.startswith(area(user)))


def site_or_404(user, code):
    from .models import Site

    site = sites_for(user).where(Site.code == code).first()
    if site is None:
        abort(404)
    return site


def _area_condition(user, model):
    """Rows of a table placed in the area (a model says ``scope_by_region =
    True``): the county for county-wide roles, else their township, village
    or group. The place is the row's ``region_code`` (appointments, home
    visits), or its ``township_code``/``village_code`` (online requests)."""
    info = role_info(user)
    scope = info.get("scope", "own")
    if scope in ("county", "department"):
        return model.county_code == user.county_code
    area = (user.region or "")[:9] if scope == "township" else (user.region or "")
    if not area:
        return model._meta.primary_key.is_null()
    county = model.county_code == user.county_code
    if hasattr(model, "region_code"):
        # a village agent sees the village and its groups; a group agent, the group
        return county & model.region_code.startswith(area)
    if len(area) == 9:
        return county & (model.township_code == area)
    return county & (model.village_code == area[:12])


def condition(user, model):
    """A peewee expression selecting the rows of ``model`` ``user`` may see."""
    from .cases.models import Case
    from .models import MetadataRecord, Region

    nothing = model._meta.primary_key.is_null()
    if not _signed_in(user):
        return nothing
    if model is Case:
        return _case_condition(user)
    if model is Region:
        return _region_condition(user, model)
    if model is MetadataRecord:
        return model.county_code.in_(["", user.county_code])
    if getattr(model, "scope_by_region", False):  # appointments, home visits: by their region_code
        return _area_condition(user, model)
    field = getattr(model, "county_code", None)
    return field == user.county_code if field is not None else nothing


def scoped(user, query, model=None):
    """``query`` narrowed to what ``user`` may see of ``model`` (default:
    the query's model)."""
    return query.where(condition(user, model or query.model))


def in_scope(user, record) -> bool:
    """Whether one loaded record is in ``user``'s scope."""
    from .models import MetadataRecord

    model = type(record)
    if model is MetadataRecord:  # the rule of condition(), without a query (item pickers ask per item)
        return _signed_in(user) and record.county_code in ("", user.county_code)
    pk = model._meta.primary_key
    return scoped(user, model.select(pk), model).where(pk == record._pk).exists()


def get_or_404(user, model, pk):
    record = scoped(user, model.select(), model).where(model._meta.primary_key == pk).first()
    if record is None:
        if model.select().where(model._meta.primary_key == pk).exists():
            from .hardening import record_refusal

            record_refusal(404, "out_of_scope")  # answered as if it did not exist
        abort(404)
    return record


def count(user, model, *conditions):
    from peewee import SQL, fn

    # COUNT(*), not COUNT(id): both databases count index entries without reading a column
    # (at 1M cases SQLite took 1.5-1.6x the time with COUNT(id), PostgreSQL up to 2.4x)
    query = scoped(user, model.select(fn.COUNT(SQL("*"))), model)
    for extra in conditions:
        query = query.where(extra)
    return query.scalar() or 0


# --- cases, the commonest use -------------------------------------------------

def cases_for(user, query=None):
    """``query`` (default: all cases) narrowed to what ``user`` may see."""
    from .cases.models import Case

    return scoped(user, Case.select() if query is None else query, Case)


def case_or_404(user, case_id):
    from .cases.models import Case

    return get_or_404(user, Case, case_id)


def count_cases(user, *conditions):
    from .cases.models import Case

    return count(user, Case, *conditions)
