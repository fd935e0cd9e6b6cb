"""The transactional outbox: what other systems must learn of (the
one-network platform's comprehensive window, the 好差评 system, an SMS
gateway …) is written here in the same transaction as the change, and
delivered later by a worker (``bangban outbox run``, or the ``outbox`` job
of ``bangban jobs run``), at least once, each message with its own
idempotency key, so a receiver that sees a key again answers without doing
the work twice.

Plugins take part in two ways:

* a *target* (a system messages go to) is registered through the
  ``register_outbox_targets`` hook: ``register(code, label=…, topics=(…),
  send=fn, enabled=fn)``. Without ``send`` the message is POSTed as JSON to
  the URL of the registering plugin's setting ``<code>_url`` with the
  bearer key of ``<code>_key`` (settings, resolved for the message's
  county, never code); ``enabled(county_code)`` (default: that URL is set)
  says whether a county sends to it at all;
* a *message* is written with :func:`enqueue` from inside the transaction
  of the change (the ``case_created``/``case_moved``/``rating_recorded``
  hooks run inside it).

Delivery: a worker claims due messages (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a conditional update under SQLite's write lock), so two
workers never hold the same message; it sends outside any transaction and
records the outcome only if it still holds the claim. A failure is retried
with exponential backoff (:data:`BACKOFF_BASE` seconds, doubling, at most
:data:`BACKOFF_CAP`); after :data:`MAX_ATTEMPTS` the message is ``dead``
and waits in the back office (inspect, retry). A worker that dies while
sending loses its claim after :data:`LEASE` and the message is sent again,
with the same idempotency key.
"""
from __future__ import annotations

import datetime
import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import peewee
from flask import current_app

from .db import is_postgres, proxy, transaction
from .models import BaseModel, JSONField, TenantMixin, utcnow

log = logging.getLogger("bangban.outbox")

STATES = ("pending", "delivered", "dead")
MAX_ATTEMPTS = 8
BACKOFF_BASE = 30  # seconds before the second attempt
BACKOFF_CAP = 6 * 3600
LEASE = datetime.timedelta(minutes=5)
TIMEOUT = 10  # seconds, per HTTP request


class OutboxMessage(TenantMixin, BaseModel):
    class Meta:
        table_name = "outbox_message"
        indexes = ((("state", "next_attempt_at"), False),)

    county_code = peewee.CharField(max_length=6, index=True)
    target = peewee.CharField(max_length=40)
    topic = peewee.CharField(max_length=60)
    payload = JSONField()
    idempotency_key = peewee.CharField(max_length=120, unique=True)
    state = peewee.CharField(max_length=10, default="pending")
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    last_error = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    delivered_at = peewee.DateTimeField(null=True)
    claimed_by = peewee.CharField(max_length=40, null=True)
    claimed_until = peewee.DateTimeField(null=True)


class DeliveryError(RuntimeError):
    """A send failed (the message is retried later)."""


@dataclass
class Target:
    code: str
    plugin: str
    label: object = ""
    topics: tuple = ()
    send: object = None  # fn(message) -> None; raises on failure
    enabled: object = None  # fn(county_code) -> bool
    timeout: float = TIMEOUT
    extra: dict = field(default_factory=dict)

    def is_enabled(self, county_code) -> bool:
        if self.enabled is not None:
            return bool(self.enabled(county_code))
        return bool(setting(self, "url", county_code))

    def deliver(self, message: OutboxMessage):
        if self.send is not None:
            return self.send(message)
        url = setting(self, "url", message.county_code)
        if not url:
            raise DeliveryError(f"no URL is set for target {self.code!r}")
        return http_post(url, setting(self, "key", message.county_code), message, timeout=self.timeout)


def setting(target: Target, name: str, county_code: str):
    """The registering plugin's setting ``<code>_<name>`` for a county."""
    from . import settings

    try:
        return settings.get(target.plugin, f"{target.code}_{name}", county_code=county_code)
    except settings.SettingError:
        return None


def targets(pm=None) -> dict:
    """``{code: Target}`` from every plugin (cached per plugin manager); a
    code registered twice is an error naming both plugins."""
    from .plugins import PluginError, collect

    pm = pm or current_app.extensions["bangban"].pm
    cached = pm.bangban_registries.get("outbox_targets")
    if cached is not None:
        return cached
    out = {}
    for plugin, args, kw in collect(pm, "register_outbox_targets"):
        code = args[0]
        if code in out:
            raise PluginError(f"outbox target {code!r} is registered by {out[code].plugin!r} and {plugin!r}")
        out[code] = Target(code=code, plugin=plugin, label=kw.get("label", code), topics=tuple(kw.get("topics", ())),
                           send=kw.get("send"), enabled=kw.get("enabled"), timeout=kw.get("timeout", TIMEOUT))
    pm.bangban_registries["outbox_targets"] = out
    return out


def enqueue(target: str, topic: str, payload: dict, county_code: str, key: str | None = None):
    """Write one message for ``target`` about ``topic``, in the caller's
    transaction (call it from inside the transaction of the change, e.g.
    in a ``case_moved``, ``case_created`` or ``rating_recorded`` hook, or
    in your own ``with transaction():``); it is delivered after commit by
    the worker, and vanishes with a rollback.

    ``payload`` is JSON: put in only what the receiver needs, no names or
    ID numbers; a phone an SMS must reach goes in encrypted
    (``personal.encrypt(phone, "outbox.phone")``). ``key`` is the
    idempotency key (default: random); enqueueing a key again writes
    nothing, so a retried change cannot send twice. Returns the message, or
    None when the county has not enabled the target (no URL set) or the key
    was already written. An unknown target or a topic the target does not
    take is a ``ValueError``.
    """
    found = targets().get(target)
    if found is None:
        raise ValueError(f"unknown outbox target {target!r}")
    if found.topics and topic not in found.topics:
        raise ValueError(f"outbox target {target!r} takes no topic {topic!r}")
    if not proxy.obj.in_transaction():
        raise RuntimeError("enqueue() must run inside the transaction of the change")
    if not found.is_enabled(county_code):
        return None
    key = key or f"{target}:{topic}:{secrets.token_hex(12)}"
    inserted = (OutboxMessage.insert(county_code=county_code, target=target, topic=topic, payload=payload,
                                     idempotency_key=key[:120], next_attempt_at=utcnow())
                .on_conflict_ignore().as_rowcount().execute())
    return OutboxMessage.get_or_none(OutboxMessage.idempotency_key == key[:120]) if inserted else None


# --- delivery -------------------------------------------------------------------

def http_post(url: str, key: str | None, message: OutboxMessage, *, timeout: float = TIMEOUT, body=None):
    """POST the message as JSON (or ``body``) with its idempotency key; a
    2xx answer is delivery, anything else (or no answer in ``timeout``)
    raises :class:`DeliveryError`."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"not an http(s) URL: {url!r}")
    data = json.dumps(body if body is not None else {"topic": message.topic, "payload": message.payload,
                                                      "county_code": message.county_code},
                      ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.idempotency_key,
               "X-Bangban-Topic": message.topic}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        # the scheme is checked above: http(s) only, never file:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")


def backoff(attempts: int) -> datetime.timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    return datetime.timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP))


def _due(now):
    return ((OutboxMessage.state == "pending") & (OutboxMessage.next_attempt_at <= now)
            & (OutboxMessage.claimed_until.is_null() | (OutboxMessage.claimed_until < now)))


def claim(worker: str, limit: int = 50, now=None) -> list[OutboxMessage]:
    """Claim up to ``limit`` due messages for ``worker`` (a lease of
    :data:`LEASE`); two workers never claim the same message."""
    now = now or utcnow()
    with transaction():
        query = OutboxMessage.select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
        if is_postgres():
            query = query.for_update(skip_locked=True)
        ids = [row.id for row in query]
        if not ids:
            return []
        # conditional: under SQLite's write lock (BEGIN IMMEDIATE) and
        # PostgreSQL's row locks no other worker can have taken them since
        (OutboxMessage.update(claimed_by=worker, claimed_until=now + LEASE)
         .where(OutboxMessage.id.in_(ids) & _due(now)).execute())
    return list(OutboxMessage.select().where(OutboxMessage.id.in_(ids) & (OutboxMessage.claimed_by == worker)
                                             & (OutboxMessage.claimed_until == now + LEASE))
                .order_by(OutboxMessage.id))


def _settle(message, worker, **fields):
    """Record an outcome only while ``worker`` still holds the claim."""
    fields.update(claimed_by=None, claimed_until=None, attempts=OutboxMessage.attempts + 1)
    with transaction():
        return (OutboxMessage.update(**fields)
                .where((OutboxMessage.id == message.id) & (OutboxMessage.claimed_by == worker)).execute())


def deliver(message: OutboxMessage, worker: str, now=None, max_attempts: int | None = None) -> str:
    """Send one claimed message; returns its new state."""
    now = now or utcnow()
    max_attempts = max_attempts or MAX_ATTEMPTS
    target = targets().get(message.target)
    try:
        if target is None:
            raise DeliveryError(f"no plugin registers target {message.target!r}")
        target.deliver(message)
    except Exception as exc:  # a target's failure of any kind is a failed attempt, never a crash
        attempts = message.attempts + 1
        error = str(exc)[:1000] or type(exc).__name__
        state = "dead" if attempts >= max_attempts else "pending"
        _settle(message, worker, state=state, last_error=error, next_attempt_at=now + backoff(attempts))
        log.warning("outbox %s → %s attempt %d failed: %s", message.idempotency_key, message.target, attempts, error)
        return state
    _settle(message, worker, state="delivered", delivered_at=utcnow(), last_error="")
    return "delivered"


def run_once(limit: int = 50, now=None, worker: str | None = None, max_attempts: int | None = None) -> dict:
    """One round: claim what is due and send it. Safe to run in several
    processes at once. Returns ``{"delivered": n, "retry": n, "dead": n}``."""
    worker = worker or secrets.token_hex(8)
    counts = {"delivered": 0, "retry": 0, "dead": 0}
    for message in claim(worker, limit, now):
        state = deliver(message, worker, now, max_attempts)
        counts["retry" if state == "pending" else state] += 1
    return counts


def run(limit: int = 50, rounds: int = 100, now=None, max_attempts: int | None = None) -> dict:
    """Rounds of :func:`run_once` until nothing is due (at most ``rounds``)."""
    total = {"delivered": 0, "retry": 0, "dead": 0}
    for _ in range(rounds):
        counts = run_once(limit, now, max_attempts=max_attempts)
        for key, value in counts.items():
            total[key] += value
        if not any(counts.values()):
            break
    return total


def retry(message: OutboxMessage, actor) -> bool:
    """Send a dead (or waiting) message again now, from a fresh count of
    attempts; audited as ``outbox.retry``."""
    from . import audit

    with transaction():
        changed = (OutboxMessage.update(state="pending", attempts=0, next_attempt_at=utcnow(), claimed_by=None,
                                        claimed_until=None)
                   .where((OutboxMessage.id == message.id) & (OutboxMessage.state != "delivered")).execute())
        if changed:
            audit.record("outbox.retry", f"outbox:{message.idempotency_key}"[:200],
                         actor=getattr(actor, "username", "system"), role=getattr(actor, "role", "system"),
                         county_code=message.county_code,
                         payload={"target": message.target, "topic": message.topic, "attempts": message.attempts})
    return bool(changed)


def counts() -> dict:
    """``{state: n}`` of every message (for health pages and the job)."""
    rows = OutboxMessage.select(OutboxMessage.state, peewee.fn.COUNT(OutboxMessage.id).alias("n")).group_by(
        OutboxMessage.state)
    return {row.state: row.n for row in rows}


def _labels():
    """The words a person reads for the outbox's codes (core.i18n.label)."""
    from flask_babel import lazy_gettext as _l

    from .i18n import LABELS

    LABELS.setdefault("outbox_state", {"pending": _l("waiting"), "delivered": _l("delivered"),
                                       "dead": _l("dead (refused too often)")})
    LABELS.setdefault("outbox_topic", {"case.accepted": _l("Case accepted"),
                                       "rating.recorded": _l("Rating recorded"),
                                       "sms.accepted": _l("SMS: case accepted"),
                                       "sms.completed": _l("SMS: case completed"),
                                       "sms.rating_invitation": _l("SMS: invitation to rate"),
                                       "sms.code": _l("SMS: one-time code")})


_labels()
