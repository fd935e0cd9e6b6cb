"""Permissions come from the roles' metadata (``permissions:``); this is the
one place that answers "may this user do that"."""
from __future__ import annotations

from . import catalog


def permissions_of(role: str) -> frozenset:
    record = catalog.current("roles", role)
    return frozenset(record.content.get("permissions", [])) if record else frozenset()


def can(user, permission: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return permission in permissions_of(user.role)


def administrator_kind(role: str):
    record = catalog.current("roles", role)
    return record.content.get("administrator") if record else None
