"""Checks for text, Chinese citizen ID numbers, mobile numbers and uploaded
files.

Uploaded files are recognised by their content (magic bytes), never by their
name or the browser's content type.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date

_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)

#: Reason codes returned by :func:`valid_id_number`.
ID_REASONS = ("length", "format", "birth_date", "check_digit")


#: Bidirectional embeddings, overrides and isolates: they make a name read
#: differently from what it holds (none is needed in Chinese, Mongolian
#: script or English).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP_CONTROLS = frozenset("\t\n\r")


def clean_text(value: str) -> str:
    """``value`` without surrounding blanks and invisible format characters
    (zero-width spaces, byte order marks …); inside, nothing is changed."""
    start, end = 0, len(value)
    while start < end and (value[start].isspace() or unicodedata.category(value[start]) == "Cf"):
        start += 1
    while end > start and (value[end - 1].isspace() or unicodedata.category(value[end - 1]) == "Cf"):
        end -= 1
    return value[start:end]


def text_problem(value: str) -> str | None:
    """``None`` for acceptable text, else a reason code: ``"control"`` (a
    control character other than tab and line breaks, NUL included, or a
    bidirectional override) or ``"invisible"`` (no letter, digit,
    punctuation or symbol at all: only blanks, zero-width characters, byte
    order marks, combining marks …)."""
    if any((unicodedata.category(c) == "Cc" and c not in _KEEP_CONTROLS) or c in BIDI_CONTROLS for c in value):
        return "control"
    if not any(unicodedata.category(c)[0] in "LNPS" for c in value):
        return "invisible"
    return None


def normalise_id_number(value: str) -> str:
    """Strip surrounding blanks and upper-case a trailing ``x``."""
    return value.strip().upper() if isinstance(value, str) else value


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def id_birth_date(value: str) -> date | None:
    """The birth date encoded in an 18-character ID number, if it is a date."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except (ValueError, TypeError, IndexError):
        return None


def valid_id_number(value, *, today: date | None = None) -> str | None:
    """Check a citizen ID number (GB 11643-1999).

    Return ``None`` when valid, else a reason code: ``"length"`` (not 18
    characters), ``"format"`` (not 17 digits and a digit or X, or region code
    000000), ``"birth_date"`` (no such date, before 1900 or in the future),
    ``"check_digit"`` (the last character does not match). A lower-case
    ``x`` is accepted (see :func:`normalise_id_number`).
    """
    if not isinstance(value, str):
        return "format"
    value = normalise_id_number(value)
    if len(value) != 18:
        return "length"
    if not _ID_SHAPE.fullmatch(value) or value[:6] == "000000":
        return "format"
    born = id_birth_date(value)
    if born is None or not date(1900, 1, 1) <= born <= (today or date.today()):
        return "birth_date"
    if id_check_char(value[:17]) != value[17]:
        return "check_digit"
    return None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str):
    return re.compile(pattern)


def matches_pattern(value, pattern: str) -> bool:
    """Whether the whole of ``value`` matches the regular expression
    ``pattern`` (a form field's ``pattern``; not just a prefix of it)."""
    return isinstance(value, str) and _compiled(pattern).fullmatch(value) is not None


def valid_mobile(value) -> bool:
    """A mainland China mobile number: 11 digits beginning 13–19."""
    return isinstance(value, str) and bool(_MOBILE.fullmatch(value.strip()))


#: Bytes :func:`sniff_file_type` needs to see.
SNIFF_BYTES = 64

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)


def sniff_file_type(head: bytes) -> str | None:
    """``"pdf"``, ``"jpeg"``, ``"png"`` or ``"ofd"`` from a file's first
    bytes, or ``None`` when unrecognised.

    OFD (GB/T 33190, China's fixed-layout format) is a ZIP package; it is
    recognised only when its first entry is ``OFD.xml`` (as OFD writers do).
    """
    if not isinstance(head, (bytes, bytearray)):
        return None
    head = bytes(head)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK\x03\x04") and len(head) >= 30:
        name_len = int.from_bytes(head[26:28], "little")
        if head[30:30 + name_len] == b"OFD.xml":
            return "ofd"
    return None
