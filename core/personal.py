"""Personal data: encrypted at rest, masked in every response, revealed only
by a separate, audited action of a role with ``personal_data.reveal``.

What counts as personal here: citizen ID numbers and phone numbers, found
by their shape wherever they are (named columns, free-form case data, notes,
reasons, comments, delivery details, audit payloads), so a value typed into
an unexpected field is protected too. The shape is the one display masking
uses (:data:`core.security.PERSONAL_PATTERN`: 18 characters ``17 digits +
digit or X``, or an 11-digit mobile ``1[3-9]…``), a superset of the numbers
that pass the GB 11643 check digit: a mistyped ID number is still someone's.

Two stored forms:

* a whole value that *is* a personal number becomes one token
  ``enc1:<alg>:<…>`` (as the structured fields always were);
* in free text each personal number is replaced by an inline token
  ``⟦enc1:<alg>:<…>⟧``, so the rest of the text stays readable and
  searchable.

Numbers (integer and decimal form fields) count as their decimal text.
Tokens are bound to a context (the column and key), like the structured
fields. :func:`shown` is what templates use (the Jinja filter ``personal``):
masked, unless this request took the audited reveal action
(:func:`reveal_requested`).
"""
from __future__ import annotations

import re
from decimal import Decimal

from flask import current_app, g

from .security import PERSONAL_PATTERN, CryptoError, mask_id_number, mask_phone, mask_text

ID_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
OPEN, CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧
_TOKEN = r"enc1:[a-z0-9]+:[A-Za-z0-9_-]+"
INLINE_RE = re.compile(f"{OPEN}({_TOKEN}){CLOSE}")
WHOLE_TOKEN_RE = re.compile(_TOKEN)
_SCAN = re.compile(f"(?P<token>{OPEN}{_TOKEN}{CLOSE})|{PERSONAL_PATTERN.pattern}")
_WHOLE = re.compile(f"(?:{PERSONAL_PATTERN.pattern})")
_DIGEST = re.compile(r"[0-9a-f]{64}")  # content hashes of uploads are not text
UNREADABLE = "\u27e6?\u27e7"  # a token that does not decrypt (tampered, other key)


def cipher():
    return current_app.extensions["bangban"].current_cipher()


def looks_personal(value) -> bool:
    return isinstance(value, str) and bool(ID_RE.search(value) or MOBILE_RE.search(value))


def encrypt(value, context):
    return cipher().encrypt(value, context=context) if value else value


def decrypt(value, context):
    return cipher().decrypt(value, context=context) if value else value


def id_hash(value):
    return cipher().keyed_hash(value, kind="id_number") if value else None


def phone_hash(value):
    return cipher().keyed_hash(value, kind="mobile") if value else None


# --- free text ------------------------------------------------------------------

def _is_whole(text: str) -> bool:
    match = _WHOLE.fullmatch(text.strip())
    return match is not None


def protect_text(text, context: str):
    """``text`` with each ID number and mobile replaced by an inline token.
    Already protected text (tokens, whole-value tokens) is left as it is."""
    if not isinstance(text, str) or not text or WHOLE_TOKEN_RE.fullmatch(text):
        return text

    def replace(match):
        if match["token"]:
            return match["token"]
        return f"{OPEN}{encrypt(match.group(0), context)}{CLOSE}"

    return _SCAN.sub(replace, text)


def _open(token, context):
    try:
        return decrypt(token, context)
    except CryptoError:
        return UNREADABLE


def reveal_text(text, context: str):
    """The plain text of protected ``text`` (whole-value or inline tokens)."""
    if not isinstance(text, str) or not text:
        return text
    if WHOLE_TOKEN_RE.fullmatch(text):
        return _open(text, context)
    if OPEN not in text:
        return text
    return INLINE_RE.sub(lambda m: _open(m.group(1), context), text)


def masked_text(text, context: str):
    """Protected ``text`` as shown by default: decrypted, then masked."""
    return mask_text(reveal_text(text, context))


# --- values and mappings ----------------------------------------------------------

def protect_value(value, context: str):
    """Protect a JSON-like value: strings (whole or inline), numbers whose
    digits are a personal number, and lists and dicts (each key extends the
    context)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        digits = str(value)
        return encrypt(digits, context) if _is_whole(digits) else value
    if isinstance(value, str):
        if WHOLE_TOKEN_RE.fullmatch(value) or _DIGEST.fullmatch(value):
            return value
        return encrypt(value, context) if _is_whole(value) else protect_text(value, context)
    if isinstance(value, (list, tuple)):
        return [protect_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: protect_value(v, f"{context}.{k}") for k, v in value.items()}
    return value


def _walk(value, context, text_fn):
    if isinstance(value, str):
        return text_fn(value, context)
    if isinstance(value, list):
        return [_walk(v, context, text_fn) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, f"{context}.{k}", text_fn) for k, v in value.items()}
    return value


def reveal_value(value, context: str):
    return _walk(value, context, reveal_text)


def masked_value(value, context: str):
    return _walk(value, context, masked_text)


def protect_mapping(data: dict, context: str) -> dict:
    """Protect every value of ``data`` (context ``<context>.<key>``)."""
    return {key: protect_value(value, f"{context}.{key}") for key, value in (data or {}).items()}


def reveal_mapping(data: dict, context: str) -> dict:
    return {key: reveal_value(value, f"{context}.{key}") for key, value in (data or {}).items()}


def masked_mapping(data: dict, context: str) -> dict:
    """Decrypted, then masked: what a page shows by default."""
    return {key: masked_value(value, f"{context}.{key}") for key, value in (data or {}).items()}


def protect_payload(payload):
    """An audit payload, protected before it is serialised and MACed."""
    return protect_mapping(payload, "audit.payload") if isinstance(payload, dict) else \
        protect_value(payload, "audit.payload")


def masked_payload(body: str) -> str:
    """A stored audit payload (JSON text) as the audit log shows it."""
    import json

    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return masked_text(body, "audit.payload")
    shown_data = masked_mapping(data, "audit.payload") if isinstance(data, dict) else \
        masked_value(data, "audit.payload")
    return json.dumps(shown_data, ensure_ascii=False, sort_keys=True)


# --- showing ------------------------------------------------------------------------

def revealed() -> bool:
    """Did this request take the audited reveal action?"""
    return bool(g.get("bangban_personal_revealed"))


def shown(value, context: str):
    """Jinja filter ``personal``: protected text or value as this request
    may show it (masked unless revealed)."""
    return reveal_value(value, context) if revealed() else masked_value(value, context)


def reveal_requested(case, view: str) -> bool:
    """On a POST, the explicit reveal action for ``case`` on ``view``: only a
    role with ``personal_data.reveal`` (else 403), recorded in the audit log;
    for the rest of the request :func:`shown` gives full values."""
    from flask import abort, request
    from flask_login import current_user

    from . import audit
    from .db import transaction
    from .permissions import can

    if request.method != "POST":
        return False
    if not can(current_user, "personal_data.reveal", case):
        abort(403)
    with transaction():
        audit.record("personal_data.reveal", f"case:{case.number}", actor=current_user.username,
                     role=current_user.role, county_code=case.county_code, payload={"view": view})
    g.bangban_personal_revealed = True
    return True


__all__ = ["encrypt", "decrypt", "id_hash", "phone_hash", "protect_text", "reveal_text", "masked_text",
           "protect_value", "reveal_value", "masked_value", "protect_mapping", "reveal_mapping", "masked_mapping",
           "protect_payload", "masked_payload", "shown", "reveal_requested", "revealed",
           "mask_id_number", "mask_phone", "mask_text", "looks_personal"]
