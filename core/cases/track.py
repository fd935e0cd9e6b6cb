"""Citizens follow their case without signing in. Nothing personal is shown
(the applicant's name masked), and a case is found only by what the
applicant holds, never by a guess:

- the link in the receipt's QR code, ``/track/t/<token>``: a random token
  per case (``core.cases.models.new_track_token``, 128 bits);
- the receipt number together with the last four digits of the
  applicant's phone (a small form). A wrong pair answers exactly like an
  unknown number. Receipt numbers are sequential, so a number alone shows
  nothing.

The whole blueprint is rate limited per address (``TRACK_RATE_LIMIT``, see
core.auth). Failed receipt+phone lookups are limited twice more, in the
same limiter's storage: per address (``TRACK_FAILURE_LIMIT``) and per
receipt number from any address (``TRACK_RECEIPT_LIMIT``); past either, the
lookup is refused (429) even with the right digits, so the 10,000 possible
digits of one receipt cannot be walked through from many addresses.

The token is stored as is, not hashed: the receipt (and its QR code) is
printed again from the case whenever an agent asks, so the token must stay
readable; and whoever can read the ``cases`` table already sees in clear
everything the tracking page shows (item, state, dates, the name).
"""
from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from . import workflow as wf
from .models import Case, CaseEvent

bp = Blueprint("track", __name__)
NUMBER = re.compile(r"[0-9]{6}-[0-9]{8}-[0-9]{4,9}", re.ASCII)
DIGITS = re.compile(r"[0-9]{4}", re.ASCII)
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,32}", re.ASCII)


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def _show(case):
    flow = wf.load(case.workflow)
    from .. import personal

    events = list(CaseEvent.select(CaseEvent.at, CaseEvent.action, CaseEvent.to_state, CaseEvent.note, CaseEvent.data)
                  .where((CaseEvent.case == case) & (CaseEvent.county_code == case.county_code)).order_by(CaseEvent.id))
    # the reason of the last decline or one-time notice (一次性告知), masked like every free text
    notice = next((e for e in reversed(events) if e.action in ("decline", "one_time_notice")), None)
    reason = missing = None
    if notice is not None:
        reason = personal.masked_text(notice.note, "case_event.note") or None
        missing = (personal.masked_value(notice.data or {}, "case_event.data") or {}).get("missing_materials")
    return render_template("track.html", case=case, flow=flow, events=events, item=case.item_record.content,
                           applicant=mask_name(case.applicant_name), number=case.number, notice=notice,
                           reason=reason, missing=missing)


def _ask(number="", error=None, status=200):
    return render_template("track.html", case=None, number=number, error=error), status


def _limits(number):
    """(limit, namespace, key) of the failure limits this lookup counts in."""
    from limits import parse

    from ..auth import get_remote_address

    conf = current_app.config.get("BANGBAN", {})
    return [(parse(conf.get("TRACK_FAILURE_LIMIT") or "10/hour"), "track-fail-ip", get_remote_address()),
            (parse(conf.get("TRACK_RECEIPT_LIMIT") or "5/hour"), "track-fail-receipt", number)]


def _locked(number) -> bool:
    strategy = current_app.extensions["bangban_limiter"].limiter
    return any(not strategy.test(limit, space, key) for limit, space, key in _limits(number))


def _failed(number):
    strategy = current_app.extensions["bangban_limiter"].limiter
    for limit, space, key in _limits(number):
        strategy.hit(limit, space, key)


def _not_found(number):
    return _ask(number, _("No case matches receipt number %(number)s and these phone digits.", number=number), 404)


@bp.route("/track/t/<token>")
def by_token(token):
    case = Case.get_or_none(Case.track_token == token) if TOKEN.fullmatch(token) else None
    if case is None:
        return render_template("track.html", case=None, number="",
                               error=_("This tracking link is not valid. Use the receipt number instead.")), 404
    return _show(case)


@bp.route("/track", methods=["GET", "POST"])
@bp.route("/track/<number>")
def track(number=""):
    """The receipt-number form; a POST looks the case up."""
    number = (request.form.get("number") if request.method == "POST" else number or "").strip()
    if number and not NUMBER.fullmatch(number):
        return _ask(number, _("No case has the number %(number)s.", number=number), 404)
    if request.method == "GET":
        return _ask(number)
    digits = (request.form.get("phone_digits") or "").strip()
    if not number or not DIGITS.fullmatch(digits):
        return _ask(number, _("Enter the receipt number and the last four digits of the applicant's phone."), 400)
    if _locked(number):
        return _ask(number, _("Too many wrong tries for this receipt number or from this address. "
                              "Try again in an hour, or use the QR code on the receipt."), 429)
    case = Case.get_or_none((Case.county_code == number[:6]) & (Case.number == number))  # the number names its county
    phone = (case.phone() or "") if case is not None else ""
    if case is None or not hmac.compare_digest(phone[-4:].encode(), digits.encode()):
        _failed(number)
        return _not_found(number)
    return _show(case)
