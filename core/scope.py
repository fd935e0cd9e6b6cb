"""Scope: which records a signed-in staff member may see, in one place.

A role's ``scope`` comes from its metadata (county, township, village,
department); the staff member's ``region`` and ``department`` say where.
Every list, detail page, count, print view and API over cases goes through
:func:`cases_for`; a record outside it answers 404, never 403, so its
existence does not leak either.
"""
from __future__ import annotations

from flask import abort, g
from peewee import fn

from .models import current_metadata

#: administrator roles kept apart from case work (三员分立)
NO_CASE_ACCESS = {"system", "security", "audit"}


def role_info(code):
    """The role's metadata (cached per request)."""
    cache = g.setdefault("_bangban_roles", {})
    if not cache:
        for record in current_metadata("roles"):
            cache[record.key] = record.content
    return cache.get(code, {})


def case_condition(user):
    """A peewee expression selecting the cases ``user`` may see."""
    from .cases.models import Case, Subtask

    nothing = Case.id.is_null()  # always false: ids are never NULL
    if user is None or not getattr(user, "is_authenticated", False):
        return nothing
    info = role_info(user.role)
    if info.get("administrator") in NO_CASE_ACCESS:
        return nothing
    county = Case.county_code == user.county_code
    scope = info.get("scope", "village")
    region = user.region or ""
    if scope == "county":
        return county
    if scope == "township":
        return county & (Case.township_code == region[:9])
    if scope == "village":
        if len(region) == 15:
            return county & (Case.group_code == region)
        return county & (Case.village_code == region[:12])
    if scope == "department" and user.department:
        joint = Subtask.select(Subtask.case).where(Subtask.department == user.department)
        return county & ((Case.department == user.department) | Case.id.in_(joint))
    return nothing


def cases_for(user, query=None):
    """``query`` (default: all cases) narrowed to what ``user`` may see."""
    from .cases.models import Case

    query = Case.select() if query is None else query
    return query.where(case_condition(user))


def case_or_404(user, case_id):
    from .cases.models import Case

    case = cases_for(user).where(Case.id == case_id).first()
    if case is None:
        if Case.select().where(Case.id == case_id).exists():
            from .hardening import record_refusal

            record_refusal(404, "out_of_scope")  # answered as if it did not exist
        abort(404)
    return case


def count_cases(user, *conditions):
    from .cases.models import Case

    query = cases_for(user, Case.select(fn.COUNT(Case.id)))
    for condition in conditions:
        query = query.where(condition)
    return query.scalar() or 0
