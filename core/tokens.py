"""API tokens for devices (the mobile client): ``Authorization: Bearer …``.

A token is issued to one staff member in the back office and acts as that
staff member, no more: the same role, permissions and scope as their
cookie session (:func:`core.permissions.can`, :mod:`core.scope`). It is
shown once when issued; only its SHA-256 is stored. Issuing and revoking
are audited (and so is every change made with a token, as the staff
member's); ``last_used`` says when it was last seen. Tokens are accepted under ``/api/`` only, never for
the back office, and are not issued to administrator roles (those sign in
with a second factor). A bearer request needs no CSRF token (no cookie is
involved); a cookie request still does.
"""
from __future__ import annotations

import hashlib
import secrets

import peewee

from . import audit
from .db import transaction
from .models import BaseModel, Staff, utcnow

PREFIX = "bb_"
#: ``last_used`` is written at most this often per token
TOUCH_SECONDS = 60


class ApiToken(BaseModel):
    county_code = peewee.CharField(max_length=6, index=True)
    staff = peewee.ForeignKeyField(Staff, backref="api_tokens", on_delete="RESTRICT")
    name = peewee.CharField(max_length=80)
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    created_by = peewee.CharField(max_length=80, default="")
    last_used = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
    revoked_by = peewee.CharField(max_length=80, null=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenError(ValueError):
    pass


def issue(staff: Staff, name: str, actor) -> tuple[str, ApiToken]:
    """A new token for ``staff``: returns the token (shown once, kept
    nowhere) and its row. Audited as ``api_token.issue``."""
    from flask_babel import gettext as _

    from .permissions import administrator_kind

    name = (name or "").strip()[:80]
    if not name:
        raise TokenError(_("Name the device the token is for."))
    if not staff.active:
        raise TokenError(_("The staff member is disabled."))
    if administrator_kind(staff.role, staff.county_code):
        raise TokenError(_("Administrators sign in with a second factor: no API token is issued to them."))
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction():
        row = ApiToken.create(county_code=staff.county_code, staff=staff, name=name, token_hash=hash_token(token),
                              created_by=getattr(actor, "username", "system"))
        audit.record("api_token.issue", f"staff:{staff.username}", actor=getattr(actor, "username", "system"),
                     role=getattr(actor, "role", "system"), county_code=staff.county_code,
                     payload={"token": row.id, "name": name})
    return token, row


def revoke(row: ApiToken, actor) -> bool:
    """Revoke a token (once); audited as ``api_token.revoke``."""
    with transaction():
        changed = ApiToken.update(revoked_at=utcnow(), revoked_by=getattr(actor, "username", "system")).where(
            (ApiToken.id == row.id) & ApiToken.revoked_at.is_null()).execute()
        if changed:
            audit.record("api_token.revoke", f"staff:{row.staff.username}", actor=getattr(actor, "username", "system"),
                         role=getattr(actor, "role", "system"), county_code=row.county_code,
                         payload={"token": row.id, "name": row.name})
    return bool(changed)


def authenticate(token: str | None):
    """The live token row (with its staff) for a bearer token, or None: a
    revoked token, a disabled staff member or an administrator role is
    refused."""
    from .permissions import administrator_kind

    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = (ApiToken.select(ApiToken, Staff).join(Staff)
           .where(ApiToken.token_hash == hash_token(token)).first())
    if row is None or row.revoked_at is not None or not row.staff.active:
        return None
    if administrator_kind(row.staff.role, row.staff.county_code):
        return None
    moment = utcnow()
    if row.last_used is None or (moment - row.last_used).total_seconds() >= TOUCH_SECONDS:
        ApiToken.update(last_used=moment).where(ApiToken.id == row.id).execute()
        row.last_used = moment
    return row


def bearer(request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
