"""Personal data: encrypted at rest, masked in every response, revealed only
by a separate, audited action of a role with ``personal_data.reveal``.

What counts as personal here: citizen ID numbers and phone numbers, found
by their shape wherever they are (named columns and free-form case data),
so a value typed into an unexpected field is protected too.
"""
from __future__ import annotations

import re

from flask import current_app

from .security import mask_id_number, mask_phone, mask_text

ID_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def cipher():
    return current_app.extensions["bangban"].cipher


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


def protect_mapping(data: dict, context: str) -> dict:
    """Encrypt every value that holds an ID number or a phone number."""
    out = {}
    for key, value in (data or {}).items():
        if looks_personal(value):
            value = encrypt(value, f"{context}.{key}")
        elif isinstance(value, list):
            value = [encrypt(v, f"{context}.{key}") if looks_personal(v) else v for v in value]
        out[key] = value
    return out


def reveal_mapping(data: dict, context: str) -> dict:
    out = {}
    for key, value in (data or {}).items():
        if isinstance(value, str) and value.startswith("enc1:"):
            value = decrypt(value, f"{context}.{key}")
        elif isinstance(value, list):
            value = [decrypt(v, f"{context}.{key}") if isinstance(v, str) and v.startswith("enc1:") else v
                     for v in value]
        out[key] = value
    return out


def masked_mapping(data: dict, context: str) -> dict:
    """Decrypted, then masked: what a page shows by default."""
    return {k: (mask_text(v) if isinstance(v, str) else v) for k, v in reveal_mapping(data, context).items()}


__all__ = ["encrypt", "decrypt", "id_hash", "phone_hash", "protect_mapping", "reveal_mapping", "masked_mapping",
           "mask_id_number", "mask_phone", "mask_text", "looks_personal"]
