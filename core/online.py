"""Online requests (掌上申请 → 线上派单): a citizen starts a request on a
phone without an account — name, phone (verified by a one-time code sent
through the outbox's SMS target), item, village, a short note, optional
photos of materials. It lands on the list of the agents whose area holds
the village (:mod:`core.scope`: the model is area-scoped by its township
and village); an agent calls back (one tap), then takes the commission and
files the case from it.

Abuse limits (counted in the database, so they hold across processes): a
code per phone at most every :data:`CODE_INTERVAL`, :data:`CODES_PER_PHONE`
a day and :data:`CODES_PER_IP` an hour from one address; a code is good for
:data:`CODE_MINUTES` minutes and :data:`CODE_TRIES` wrong tries;
:data:`REQUESTS_PER_PHONE` requests a day per phone and
:data:`REQUESTS_PER_IP` per address.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

import peewee
from flask import current_app
from flask_babel import lazy_gettext as _l

from . import audit, outbox, personal
from .db import transaction
from .models import BaseModel, JSONField, Staff, TenantMixin, utcnow

CODE_INTERVAL = datetime.timedelta(seconds=60)
CODES_PER_PHONE = 5  # a day
CODES_PER_IP = 10  # an hour
CODE_MINUTES = 10
CODE_TRIES = 5
REQUESTS_PER_PHONE = 3  # a day
REQUESTS_PER_IP = 10  # a day
STATES = ("new", "called", "filed")


class OnlineRequest(TenantMixin, BaseModel):
    #: core.scope keeps it to the agents whose area holds the village
    scope_by_region = True

    class Meta:
        table_name = "online_request"

    county_code = peewee.CharField(max_length=6, index=True)
    township_code = peewee.CharField(max_length=9, index=True)
    village_code = peewee.CharField(max_length=12, index=True)
    item_code = peewee.CharField(max_length=120)
    name = peewee.CharField(max_length=80)
    phone_enc = peewee.CharField(max_length=200)
    phone_hash = peewee.CharField(max_length=64, index=True)
    note = peewee.TextField(default="")  # free text: personal numbers as tokens
    photos = JSONField(default=list)  # [{name, type, size, sha256}]
    state = peewee.CharField(max_length=10, default="new")
    ip = peewee.CharField(max_length=64, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    called_at = peewee.DateTimeField(null=True)
    called_by = peewee.ForeignKeyField(Staff, null=True, on_delete="RESTRICT", backref="+")
    filed_case = peewee.IntegerField(null=True)  # the case's id

    def phone(self):
        return personal.decrypt(self.phone_enc, "online_request.phone")

    def masked_phone(self):
        return personal.mask_phone(self.phone())


class PhoneCode(BaseModel):
    class Meta:
        table_name = "phone_code"

    county_code = peewee.CharField(max_length=6, index=True)
    phone_hash = peewee.CharField(max_length=64, index=True)
    code_mac = peewee.CharField(max_length=64)
    ip = peewee.CharField(max_length=64, default="", index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    tries = peewee.IntegerField(default=0)
    used_at = peewee.DateTimeField(null=True)


class Refused(ValueError):
    """Bad input (400) or an abuse limit (``status`` 429), with a message
    for the citizen."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _mac(phone_hash, code):
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{phone_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(county_code, phone, ip, now=None) -> PhoneCode:
    """Write a one-time code for ``phone`` and its SMS (``sms.code``) in
    one transaction; the code itself is kept only as a MAC and, encrypted,
    in the outbox message until it is sent."""
    now = now or utcnow()
    digest = personal.phone_hash(phone)
    mine = PhoneCode.select().where(PhoneCode.phone_hash == digest)
    last = mine.order_by(PhoneCode.created_at.desc()).first()
    if last is not None and now - last.created_at < CODE_INTERVAL:
        raise Refused(_l("A code was just sent to this phone: wait a minute before asking again."), 429)
    if mine.where(PhoneCode.created_at > now - datetime.timedelta(days=1)).count() >= CODES_PER_PHONE:
        raise Refused(_l("Too many codes for this phone today. Try again tomorrow."), 429)
    if PhoneCode.select().where((PhoneCode.ip == ip) & (PhoneCode.created_at > now - datetime.timedelta(hours=1))
                                ).count() >= CODES_PER_IP:
        raise Refused(_l("Too many codes from this network. Try again later."), 429)
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction():
        row = PhoneCode.create(county_code=county_code, phone_hash=digest, code_mac=_mac(digest, code), ip=ip,
                               created_at=now, expires_at=now + datetime.timedelta(minutes=CODE_MINUTES))
        sent = outbox.enqueue("sms", "sms.code", {
            "phone_enc": personal.encrypt(phone, "outbox.phone"), "phone_context": "outbox.phone",
            "code_enc": personal.encrypt(code, "outbox.code"), "minutes": CODE_MINUTES}, county_code,
            key=f"sms:code:{row.id}")
        if sent is None:
            raise Refused(_l("Text messages are not set up in this county: please call or visit the service center."),
                          503)
    return row


def check_code(phone, code, now=None) -> PhoneCode:
    """The live code row for ``phone`` if ``code`` is right (a wrong try is
    counted; a code is used once)."""
    now = now or utcnow()
    digest = personal.phone_hash(phone)
    row = (PhoneCode.select().where((PhoneCode.phone_hash == digest) & PhoneCode.used_at.is_null()
                                    & (PhoneCode.expires_at > now) & (PhoneCode.tries < CODE_TRIES))
           .order_by(PhoneCode.created_at.desc()).first())
    wrong = _l("The code is wrong or has expired. Ask for a new one.")
    if row is None or not (code or "").strip().isdigit():
        raise Refused(wrong)
    if not hmac.compare_digest(row.code_mac, _mac(digest, code.strip())):
        PhoneCode.update(tries=PhoneCode.tries + 1).where(PhoneCode.id == row.id).execute()
        raise Refused(wrong)
    return row


def create(county_code, *, name, phone, item_code, village_code, note, photos, code, ip, now=None) -> OnlineRequest:
    """Verify the code and write the request (and its audit entry)."""
    now = now or utcnow()
    digest = personal.phone_hash(phone)
    day = now - datetime.timedelta(days=1)
    if OnlineRequest.select().where((OnlineRequest.phone_hash == digest) & (OnlineRequest.created_at > day)
                                    ).count() >= REQUESTS_PER_PHONE:
        raise Refused(_l("Too many requests from this phone today. Try again tomorrow."), 429)
    if OnlineRequest.select().where((OnlineRequest.ip == ip) & (OnlineRequest.created_at > day)
                                    ).count() >= REQUESTS_PER_IP:
        raise Refused(_l("Too many requests from this network today. Try again tomorrow."), 429)
    code_row = check_code(phone, code, now)
    with transaction():
        used = PhoneCode.update(used_at=now).where((PhoneCode.id == code_row.id) & PhoneCode.used_at.is_null()).execute()
        if not used:
            raise Refused(_l("The code is wrong or has expired. Ask for a new one."))
        return write(county_code, name=name, phone=phone, item_code=item_code, village_code=village_code, note=note,
                     photos=photos, ip=ip, now=now)


def write(county_code, *, name, phone, item_code, village_code, note, photos, ip, now=None) -> OnlineRequest:
    """The request's row and its audit entry, in the caller's transaction,
    once the phone is verified (:func:`create`; the demo writes one as a
    citizen would have)."""
    row = OnlineRequest.create(county_code=county_code, township_code=village_code[:9], village_code=village_code,
                               item_code=item_code, name=name, phone_enc=personal.encrypt(phone, "online_request.phone"),
                               phone_hash=personal.phone_hash(phone),
                               note=personal.protect_text(note, "online_request.note"),
                               photos=photos, ip=ip, created_at=now or utcnow())
    audit.record("online_request.create", f"online_request:{row.id}", actor="citizen", role="-",
                 county_code=county_code, payload={"item": item_code, "village": village_code, "photos": len(photos)})
    return row


def mark_called(row: OnlineRequest, user) -> bool:
    with transaction():
        changed = OnlineRequest.update(state="called", called_at=utcnow(), called_by=user.id).where(
            (OnlineRequest.id == row.id) & (OnlineRequest.county_code == row.county_code)
            & (OnlineRequest.state == "new")).execute()
        if changed:
            audit.record("online_request.called", f"online_request:{row.id}", actor=user.username, role=user.role,
                         county_code=row.county_code, payload={})
    return bool(changed)


def mark_filed(row: OnlineRequest, case, user):
    """Inside the transaction that files the case."""
    changed = OnlineRequest.update(state="filed", filed_case=case.id).where(
        (OnlineRequest.id == row.id) & (OnlineRequest.county_code == row.county_code)
        & (OnlineRequest.state != "filed")).execute()
    if not changed:
        from .cases.workflow import TransitionError

        raise TransitionError(_l("A case has already been filed from this request."))
    audit.record("online_request.filed", f"online_request:{row.id}", actor=user.username, role=user.role,
                 county_code=row.county_code, payload={"case": case.number})


def _labels():
    from .i18n import LABELS

    LABELS.setdefault("online_request_state", {"new": _l("new"), "called": _l("called back"),
                                               "filed": _l("case filed")})


_labels()
