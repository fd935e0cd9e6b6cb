"""Display masking of ID numbers and phone numbers (PIPL data minimisation).

Masks keep the length of the value. ``None`` and ``""`` pass through.
Only ASCII digits count as digits here.
"""
from __future__ import annotations

import re

__all__ = ["PERSONAL_PATTERN", "mask_id_number", "mask_phone", "mask_value", "mask_text"]

# An 18-character resident ID (17 digits + digit or X) or an 11-digit mainland
# mobile, not inside a longer digit run. A trailing X ends the run, so
# "...002X138..." holds an ID and a mobile.
PERSONAL_PATTERN = _PATTERN = re.compile(
    r"(?<![0-9])(?:(?P<id>[0-9]{17}(?:[0-9](?![0-9])|[Xx]))|(?P<mobile>1[3-9][0-9]{9}(?![0-9])))"
)


def mask_id_number(s: str | None) -> str | None:
    """First 3 and last 4 characters kept: ``110***********0028``.
    Values of 7 characters or fewer become all stars."""
    if not s:
        return s
    if len(s) <= 7:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 7) + s[-4:]


def mask_phone(s: str | None) -> str | None:
    """11-digit mobiles: ``138****5678``. Other values: first 3 and last 2
    kept, or all stars if shorter than 6."""
    if not s:
        return s
    if len(s) == 11 and s.isascii() and s.isdigit():
        return s[:3] + "****" + s[-4:]
    if len(s) < 6:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 5) + s[-2:]


_BY_KIND = {"id_number": mask_id_number, "mobile": mask_phone, "phone": mask_phone}


def mask_value(kind: str, s: str | None) -> str | None:
    """Mask ``s`` as ``kind`` ("id_number", "mobile" or "phone").
    An unknown kind raises ``ValueError`` rather than leaking the value."""
    try:
        return _BY_KIND[kind](s)
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}") from None


def mask_text(text: str | None) -> str | None:
    """Mask every 18-character ID number and 11-digit mobile in free text."""
    if not text:
        return text
    return _PATTERN.sub(
        lambda m: mask_id_number(m["id"]) if m["id"] else mask_phone(m["mobile"]), text
    )
