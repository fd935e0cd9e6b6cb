"""Server-side sessions.

At sign-in a :class:`~core.models.UserSession` row is created for a fresh
random token; only the token's SHA-256 is stored, the token itself travels
in the (signed) Flask session cookie. Every request checks the row, so
signing out, the idle and absolute limits and disabling an account take
effect at once and a replayed cookie is refused.

Times are naive UTC, like the columns. :func:`now` is the one time source
for sessions, lockout and password age: tests monkeypatch it.
"""
from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app

from . import audit
from .db import transaction
from .models import Staff, UserSession

IDLE_MINUTES = 30
ABSOLUTE_HOURS = 12
#: ``last_seen`` is written at most this often (not on every request).
TOUCH_EVERY = datetime.timedelta(minutes=1)


def now() -> datetime.datetime:
    """The current time, naive UTC (monkeypatch this in tests)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def timestamp(moment: datetime.datetime | None = None) -> int:
    """Unix seconds of a naive UTC time (default :func:`now`)."""
    moment = moment or now()
    return int(moment.replace(tzinfo=datetime.timezone.utc).timestamp())


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _setting(name, default):
    conf = current_app.config.get("BANGBAN", {})
    value = conf.get(name)
    return default if value in (None, "") else float(value)


def idle_limit() -> datetime.timedelta:
    return datetime.timedelta(minutes=_setting("SESSION_IDLE_MINUTES", IDLE_MINUTES))


def absolute_limit() -> datetime.timedelta:
    return datetime.timedelta(hours=_setting("SESSION_ABSOLUTE_HOURS", ABSOLUTE_HOURS))


def create(staff: Staff, ip: str = "", user_agent: str = "") -> tuple[str, UserSession]:
    """Start a session for ``staff``; return its token (kept nowhere on the
    server: only its hash is stored) and its row."""
    token = secrets.token_urlsafe(32)
    moment = now()
    row = UserSession.create(token_hash=hash_token(token), staff=staff, created_at=moment, last_seen=moment,
                             ip=(ip or "")[:64], user_agent=(user_agent or "")[:200])
    return token, row


@dataclass
class Check:
    """The outcome of :func:`validate`: the live session (or None) and,
    when it just ended, why."""

    session: UserSession | None
    ended_why: str | None = None

    @property
    def ok(self):
        return self.session is not None


def validate(token: str | None) -> Check:
    """Find the live session for a token, ending it if it ran out or its
    account is disabled. Touches ``last_seen`` at most once a minute."""
    if not token or not isinstance(token, str):
        return Check(None)
    from . import catalog

    # the catalog's version rides along: one statement fewer per request
    row = (UserSession.select(UserSession, Staff, catalog.version_query().alias("catalog_version")).join(Staff)
           .where(UserSession.token_hash == hash_token(token)).first())
    if row is not None:
        catalog.remember_version(row.catalog_version)
    if row is None or row.ended_at is not None:
        return Check(None, row.ended_why if row is not None else None)
    moment = now()
    why = None
    if not row.staff.active:
        why = "disabled"
    elif moment - row.created_at >= absolute_limit():
        why = "absolute"
    elif moment - row.last_seen >= idle_limit():
        why = "idle"
    if why:
        end(row, why, at=moment)
        return Check(None, why)
    if moment - row.last_seen >= TOUCH_EVERY:
        (UserSession.update(last_seen=moment)
         .where((UserSession.id == row.id) & UserSession.ended_at.is_null()).execute())
        row.last_seen = moment
    return Check(row)


def end(row: UserSession, why: str, *, at: datetime.datetime | None = None, audit_it: bool = True) -> bool:
    """End one session (once: a concurrent request ending it too changes
    nothing). Audited as ``auth.session_end`` unless ``audit_it`` is off
    (sign-out audits itself). Returns whether this call ended it."""
    at = at or now()
    with transaction():
        changed = (UserSession.update(ended_at=at, ended_why=why)
                   .where((UserSession.id == row.id) & UserSession.ended_at.is_null()).execute())
        if changed and audit_it:
            staff = row.staff
            audit.record("auth.session_end", f"staff:{staff.username}", actor=staff.username, role=staff.role,
                         county_code=staff.county_code, payload={"why": why, "session": row.id})
    return bool(changed)


def end_all(staff: Staff, why: str, *, keep: UserSession | None = None) -> int:
    """End every live session of a staff member (but ``keep``); the caller
    audits. Returns how many were ended."""
    query = UserSession.update(ended_at=now(), ended_why=why).where(
        (UserSession.staff == staff) & UserSession.ended_at.is_null())
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return query.execute()


__all__ = ["now", "timestamp", "hash_token", "create", "validate", "end", "end_all", "Check",
           "idle_limit", "absolute_limit"]
