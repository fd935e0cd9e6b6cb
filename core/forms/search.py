"""The item picker's search: by name (any language), code, department or
the pinyin initials of the Chinese name (``hkqy`` finds 户口迁移).

Ranking: exact code, then name prefix, then initials prefix, then any
substring (name, code, department, initials, keywords); ties keep the
catalogue's order.
"""
from __future__ import annotations

from functools import lru_cache


EXACT_CODE, NAME_PREFIX, INITIALS_PREFIX, SUBSTRING = range(4)


def _texts(value) -> list[str]:
    """Every language's text of a metadata text, folded for matching."""
    if not value:
        return []
    if isinstance(value, str):
        return [value.casefold()]
    return [str(v).casefold() for v in value.values() if v]


def _zh(value) -> str:
    return value if isinstance(value, str) else (value or {}).get("zh", "")


def _keep_ascii(chunk: str):
    return [c.lower() for c in chunk if c.isascii() and c.isalnum()]


@lru_cache(maxsize=4096)
def initials(code: str, name: str) -> str:
    """Pinyin initials of ``name`` (Latin letters and digits kept), cached
    per (code, name)."""
    from pypinyin import Style, lazy_pinyin  # 0.25 s to import: only when somebody searches

    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors=_keep_ascii)).lower()


def _rank(item: dict, q: str, q_compact: str, departments: dict) -> int | None:
    code = str(item.get("code", "")).casefold()
    if code == q:
        return EXACT_CODE
    names = _texts(item.get("name"))
    if any(n.startswith(q) for n in names):
        return NAME_PREFIX
    letters = initials(str(item.get("code", "")), _zh(item.get("name")))
    if q_compact and q_compact.isascii() and letters.startswith(q_compact):
        return INITIALS_PREFIX
    department = departments.get(item.get("department")) or {}
    haystacks = [*names, code, *_texts(department.get("name")),
                 *(str(k).casefold() for k in item.get("keywords") or ())]
    if any(q in h for h in haystacks) or (q_compact.isascii() and q_compact in letters):
        return SUBSTRING
    return None


def search_items(items: list[dict], query: str, departments: dict | None = None) -> list[dict]:
    """The ``items`` matching ``query``, best first. ``departments`` maps a
    department code to its metadata (for matching its name). An empty query
    returns every item."""
    q = (query or "").strip().casefold()
    if not q:
        return list(items)
    q_compact = "".join(q.split())
    departments = departments or {}
    ranked = []
    for position, item in enumerate(items):
        rank = _rank(item, q, q_compact, departments)
        if rank is not None:
            ranked.append((rank, position, item))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [item for _rank_, _pos, item in ranked]
