"""Server-side search of the item catalog (the ``item_search`` table).

One row per current item version, written by ``metadata sync`` for the
items that changed only (never per request): the item's names in every
language, its pinyin (full and initials) and Mongolian text, folded once
here, with its department, levels and high-frequency flag. The picker, the
public guides, ``/api/items`` and the back-office item list all ask
:func:`search`, which filters, ranks and pages in SQL (``LIKE`` on the
folded columns, ``LIMIT``/``OFFSET``: the same on SQLite and PostgreSQL) and
then reads only the records of the one page shown.

Ranking: exact code, then a name prefix (any language), then a pinyin
initials or full-pinyin prefix, then any other match (name, code, keyword,
department name, pinyin anywhere). A query shorter than three characters
(the first keys typed into the picker) matches where a line starts (pinyin
initials, a name, a code) or Chinese text anywhere (:func:`prefixes`, the
``item_prefix`` table): its page is read from an index in the order shown,
so one letter that finds thousands of items costs a page, not a sort of
thousands. Within a rank the user's frequent items first, then
high-frequency items, then by code.
"""
from __future__ import annotations

import datetime
import functools
import itertools
import operator
import re
from dataclasses import dataclass, field

from peewee import SQL, Case as SqlCase, Value, fn

from .models import ItemGram, ItemPrefix, ItemSearch, MetadataRecord

LEVELS = ("county", "township", "village")
#: Mongolian free variation selectors, the vowel separator and the joiners:
#: the same word typed with or without them matches.
_INVISIBLE = dict.fromkeys([0x180B, 0x180C, 0x180D, 0x180E, 0x180F, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF])
_SPACES = re.compile(r"[\s\u202f\u00a0]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalise(text) -> str:
    """Folded text for matching: case folded, Mongolian format characters
    and control characters removed, every kind of space one space."""
    if not text:
        return ""
    text = str(text).translate(_INVISIBLE).casefold()
    return _SPACES.sub(" ", _CONTROL.sub("", text)).strip()


def _texts(value) -> dict:
    if not value:
        return {}
    if isinstance(value, str):
        return {"zh": value}
    order = {lang: i for i, lang in enumerate(("zh", "mn", "en"))}
    return {str(k): str(v) for k, v in sorted(value.items(), key=lambda kv: order.get(kv[0], 9)) if v}


def _keep_ascii(chunk: str):
    return [c.lower() for c in chunk if c.isascii() and c.isalnum()]


def pinyin(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of a Chinese name, lower case, no spaces;
    Latin letters and digits kept."""
    from pypinyin import Style, lazy_pinyin  # imported when a sync needs it, never per request

    full = "".join(lazy_pinyin(name, errors=_keep_ascii)).lower()
    letters = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors=_keep_ascii)).lower()
    return full, letters


#: Line markers in ``keys``: a name starts after NAME, pinyin after PINYIN,
#: so "starts with" is one substring test (user input never holds them).
NAME, PINYIN, OTHER = "\x02", "\x03", "\x04"


def search_row(record_id: int, county_code: str, content: dict) -> dict:
    """The search row of one item version: its folded keys, one a line,
    names (every language) marked NAME, pinyin and initials of the Chinese
    name marked PINYIN, the code and keywords marked OTHER."""
    names = _texts(content.get("name"))
    full, letters = pinyin(names.get("zh", ""))
    code = str(content.get("code", ""))
    levels = set(content.get("levels") or ())
    lines = [NAME + normalise(v) for v in names.values() if normalise(v)]
    lines += [PINYIN + v for v in (letters, full) if v]
    lines += [OTHER + t for t in [normalise(code), *(normalise(k) for k in content.get("keywords") or ())] if t]
    return dict(county_code=county_code, key=code, record=record_id, department=str(content.get("department") or ""),
                at_county="county" in levels, at_township="township" in levels, at_village="village" in levels,
                priority=0 if content.get("high_frequency") else 1, keys="\n".join(lines),
                channels="".join(f",{c}" for c in content.get("channels") or ()) + ("," if content.get("channels") else ""))


def refresh(added, removed):
    """Write the search rows of a sync (inside its transaction): drop the
    rows of ``removed`` ``(county, key)`` pairs, insert rows for ``added``
    item records ``(id, county, content)``."""
    pairs = sorted(set(removed) | {(county, content.get("code")) for _id, county, content in added})
    for start in range(0, len(pairs), 200):
        chunk = pairs[start:start + 200]
        by_county = {}
        for county, key in chunk:
            by_county.setdefault(county, []).append(key)
        for county, keys in by_county.items():
            ItemSearch.delete().where((ItemSearch.county_code == county) & ItemSearch.key.in_(keys)).execute()
    rows = [search_row(record_id, county, content) for record_id, county, content in added]
    for start in range(0, len(rows), 200):
        ItemSearch.insert_many(rows[start:start + 200]).execute()
    # their postings (the old rows' went with them: ON DELETE CASCADE)
    by_key = {(row["county_code"], row["key"]): row for row in rows}
    keys = {pair: row["keys"] for pair, row in by_key.items()}
    by_county = {}
    for county, key in keys:
        by_county.setdefault(county, []).append(key)
    pieces, starts = [], []
    for county, codes in sorted(by_county.items()):  # by the (county_code, key) index
        for start in range(0, len(codes), 500):
            for item_id, key in ItemSearch.select(ItemSearch.id, ItemSearch.key).where(
                    (ItemSearch.county_code == county) & ItemSearch.key.in_(codes[start:start + 500])).tuples():
                pieces += [dict(county_code=county, gram=g, item=item_id) for g in sorted(grams(keys[county, key]))]
                row = by_key[county, key]
                starts += [dict(county_code=county, prefix=prefix, rank=rank, priority=row["priority"], key=key,
                                item=item_id, record_id=row["record"], at_county=row["at_county"],
                                at_township=row["at_township"], at_village=row["at_village"])
                           for prefix, rank in sorted(prefixes(row["keys"]).items())]
    for start in range(0, len(pieces), 500):
        ItemGram.insert_many(pieces[start:start + 500]).execute()
    for start in range(0, len(starts), 500):
        ItemPrefix.insert_many(starts[start:start + 500]).execute()
    if len(rows) + len(pairs) >= ANALYZE_AFTER:
        analyze()


# A sync that writes this many search rows (a first load, a county's whole
# catalog) refreshes the planner's statistics at once: PostgreSQL's
# autovacuum would do it a minute later, and until then it plans the
# listing queries on the empty-table estimates (1.2-1.5x slower at 5,000
# items, bench/catalog_bench.py).
ANALYZE_AFTER = 500


def analyze():
    for model in (MetadataRecord, ItemSearch, ItemGram, ItemPrefix):
        model._meta.database.execute_sql(f'ANALYZE "{model._meta.table_name}"')  # noqa: S608 - our own table names


GRAM = 3


#: a run of Chinese characters (CJK unified ideographs, extension A)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


def grams(keys: str) -> set:
    """The postings of ``keys``: the three-character pieces of each line
    (markers left out). A query shorter than that is answered by
    :func:`prefixes`."""
    out = set()
    for line in keys.split("\n"):
        text = line[1:]
        out.update(text[i:i + GRAM] for i in range(len(text) - GRAM + 1))
    return out


def prefixes(keys: str) -> dict:
    """``{short query: rank}`` of ``keys``: the queries shorter than a
    piece that find the item, each line's first one and two characters
    behind its marker (a short query is a prefix: ``k``, ``kn`` of pinyin
    initials, a name's first letters) and every one- and two-character
    piece of Chinese text (a two-character Chinese word is a whole query:
    救助, 证明); ranked as a long query's matches are, 1 where a name starts
    with it, 2 the pinyin, else 3 (the best where several lines give it)."""
    out = {}
    for line in keys.split("\n"):
        marker, text = line[:1], line[1:]
        rank = 1 if marker == NAME else 2 if marker == PINYIN else 3
        found = [(text[:n], rank) for n in range(1, GRAM) if len(text) >= n]
        found += [(run[i:i + n], 3) for run in _HAN.findall(text) for n in range(1, GRAM)
                  for i in range(len(run) - n + 1)]  # Chinese anywhere: a line's start only where it starts one
        for prefix, rank_here in found:
            if rank_here < out.get(prefix, 4):
                out[prefix] = rank_here
    return out


def _short_page(q, compact, county, level, channel, frequent, offset, limit, departments=((), True)):
    """``(record ids, total)`` of one page for a query shorter than a piece,
    in the order of :func:`search` (exact code, rank, the user's frequent
    items, priority, code, county). The page is read from the
    ``item_prefix`` index in that order and stops when full (the frequent
    items and an exact code, a few, are read apart and put in their
    place); the total is counted from the same index. One letter finds
    most of a large catalog: it is never sorted whole. ``departments``:
    the codes of the departments whose name the query starts, and the
    item rows' filter: their items are found too (ranked 3 where the
    query starts none of their lines)."""
    P = ItemPrefix
    where = P.prefix == compact
    if level in LEVELS:
        where &= getattr(P, f"at_{level}") == True  # noqa: E712 - SQL comparison
    if channel:
        where &= P.item.in_(ItemSearch.select(ItemSearch.id).where(ItemSearch.channels.contains(f",{channel},")))
    if county is None:  # every county's items (the public guides): each county's walked, when they are few
        from . import catalog

        counties = catalog.cached("item_search", "counties", lambda: [
            c for (c,) in ItemSearch.select(ItemSearch.county_code).distinct().order_by(ItemSearch.county_code)
            .tuples()])
        arms = counties if len(counties) <= 8 else [None]
    else:
        arms = [county] + ([""] if _has_national() else [])

    def offered(arm):
        """The rows of one county (or the national rows a county's own do not shadow)."""
        if arm is None:
            return True
        cond = P.county_code == arm
        if arm == "" and county is not None:
            own = ItemSearch.alias("own")
            cond &= ~fn.EXISTS(own.select(own.id).where((own.county_code == county) & (own.key == P.key)))
        return cond

    anywhere = True if county is None else (P.county_code.in_(arms) & functools.reduce(
        operator.or_, [offered(arm) for arm in arms]))
    if not arms:  # no item at all
        return [], 0
    # COUNT(*): PostgreSQL counts from the index alone (COUNT(id) visits every row: 4.4 vs 1.3 ms for "s")
    count = P.select(fn.COUNT(SQL("*"))).where(where & anywhere).scalar() or 0
    depts, offered_items = departments
    depts = set(depts)
    # the few read apart, by the (county, key) index: the user's frequent items and an item whose code is
    # the query (any case); their rank from their own keys (an index of short queries skews a planner)
    S = ItemSearch
    exact = {"".join(c) for c in itertools.product(*({ch, ch.upper()} for ch in q))}
    special = [*frequent, *sorted(exact - set(frequent))]
    rows = []
    for record, keys, department, priority, key, county_code in S.select(
            S.record, S.keys, S.department, S.priority, S.key, S.county_code).where(
            offered_items & S.key.in_(special)).tuples():
        rank = prefixes(keys).get(compact) or (3 if department in depts else None)
        if rank is not None:
            rows.append((record, rank, priority, key, county_code))
    columns = (P.record_id, P.rank, P.priority, P.key, P.county_code)
    want = offset + limit
    for arm in arms:
        walk = P.select(*columns).where(where & offered(arm) & P.key.not_in(special))
        order = (P.rank, P.priority, P.key) if arm is not None else (P.rank, P.priority, P.key, P.county_code)
        rows.extend(walk.order_by(*order).limit(want).tuples())
    if depts:  # the departments' items the query does not find by their own keys
        by_prefix = P.select(P.id).where((P.item == S.id) & (P.prefix == compact))
        dept_only = offered_items & S.department.in_(sorted(depts)) & ~fn.EXISTS(by_prefix)
        # how many items the departments have does not depend on the query: counted once per catalog
        # version (as an unsearched list's length); those the query finds by their keys come off it
        from . import catalog

        in_depts = offered_items & S.department.in_(sorted(depts))
        every = catalog.cached("item_search_department_count", (county, level, channel, tuple(sorted(depts))),
                               lambda: S.select(fn.COUNT(SQL("*"))).where(in_depts).scalar() or 0)
        found = (P.select(fn.COUNT(SQL("*"))).join(S, on=(S.id == P.item))
                 .where(where & anywhere & S.department.in_(sorted(depts))).scalar() or 0)
        count += every - found
        rows.extend(S.select(S.record, Value(3), S.priority, S.key, S.county_code)
                    .where(dept_only & S.key.not_in(special))
                    .order_by(S.priority, S.key, S.county_code).limit(want).tuples())
    chosen = set(frequent)
    rows.sort(key=lambda r: (0 if r[3].lower() == q else r[1], 0 if r[3] in chosen else 1, r[2], r[3], r[4]))
    return [r[0] for r in rows[offset:want]], count


def rebuild():
    """Every current item's search row, written anew (migration, repair)."""
    ItemPrefix.delete().execute()
    ItemGram.delete().execute()
    ItemSearch.delete().execute()
    query = (MetadataRecord.select(MetadataRecord.id, MetadataRecord.county_code, MetadataRecord.content)
             .where((MetadataRecord.kind == "items") & MetadataRecord.current).order_by(MetadataRecord.id))
    refresh([(r.id, r.county_code, r.content) for r in query], [])


@dataclass
class Page:
    """One page of search results: the records shown, the total count."""

    records: list = field(default_factory=list)
    total: int = 0
    offset: int = 0
    limit: int = 20
    frequent: frozenset = frozenset()

    @property
    def items(self):
        return [r.content for r in self.records]

    @property
    def next_offset(self):
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self):
        return max(self.offset - self.limit, 0) if self.offset > 0 else None


def frequent_codes(user, limit: int = 5, days: int = 180) -> list[str]:
    """The codes of the items ``user`` filed most often lately (one grouped
    query)."""
    from .cases.models import Case

    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(days=days)
    count = fn.COUNT(Case.id)
    query = (Case.select(Case.item_code, count.alias("n"))
             .where((Case.owner == user.id) & (Case.county_code == user.county_code) & (Case.created_at >= since))
             .group_by(Case.item_code).order_by(count.desc(), Case.item_code).limit(limit))
    return [row.item_code for row in query]


def department_codes(query: str, departments: dict) -> list[str]:
    """Codes of the departments whose name (any language) contains ``query``
    (a query shorter than a piece: starts with it, unless it is Chinese, as
    for the items' own keys)."""
    q = normalise(query)
    if not q:
        return []
    starts = len(q.replace(" ", "")) < GRAM and not _HAN.fullmatch(q.replace(" ", ""))

    def found(text):
        text = normalise(text)
        return text.startswith(q) if starts else q in text

    return [code for code, data in departments.items()
            if any(found(t) for t in _texts((data or {}).get("name")).values())]


def _contains(column, text):
    """``text`` occurs in ``column`` (a plain substring test: no pattern
    characters to escape; strpos on PostgreSQL, instr on SQLite)."""
    from .db import is_postgres

    return (fn.STRPOS(column, text) if is_postgres() else fn.INSTR(column, text)) > 0


def _has_national():
    from . import catalog

    return catalog.cached("item_search", "national",
                          lambda: ItemSearch.select(ItemSearch.id).where(ItemSearch.county_code == "").exists())


def search(query="", *, county=None, level=None, departments=None, frequent=(), offset=0, limit=20,
           channel=None) -> Page:
    """One page of the current items matching ``query``.

    ``county``: that county's items and the national ones it does not
    shadow (``None``: every county's, as the public guides show them);
    ``level``: only items offered at that level (``county``/``township``/
    ``village``); ``departments``: ``{code: metadata}`` whose names are
    searched too; ``frequent``: item codes to put first (most used first).

    Without a query the list walks the (county, priority, key) index and
    its length is counted once per catalog version; with one, the
    county's keys are scanned once, counted in the same query."""
    from . import catalog

    S = ItemSearch
    q = normalise(query)
    compact = q.replace(" ", "")
    limit = max(1, min(int(limit), 100))
    offset = max(0, int(offset))
    where = True
    if county is not None:
        where = S.county_code == county
        if _has_national():
            own = ItemSearch.alias("own")
            shadowed = own.select(own.id).where((own.county_code == county) & (own.key == S.key))
            where = (S.county_code == county) | ((S.county_code == "") & ~fn.EXISTS(shadowed))
    if level in LEVELS:
        where &= getattr(S, f"at_{level}") == True  # noqa: E712 - SQL comparison
    if channel:  # a channel's own staff (a partner bank's clerk): only the items offered through it
        where &= S.channels.contains(f",{channel},")
    frequent = list(dict.fromkeys(c for c in frequent if c))
    depts = department_codes(q, departments or {}) if q else []
    if q and len(compact) < GRAM:
        ids, count = _short_page(q, compact, county, level, channel, frequent, offset, limit,
                                 departments=(depts, where))
    elif q:
        match = _contains(S.keys, q)
        if compact != q:
            match |= _contains(S.keys, compact)
        elif not depts:
            # the items holding every piece of the query, from the postings;
            # then the exact test on those few only
            pieces = sorted({q[i:i + GRAM] for i in range(len(q) - GRAM + 1)})
            G = ItemGram
            found = G.select(G.item).where(G.gram.in_(pieces))
            if county is not None:
                found = found.where(G.county_code.in_([county, ""]))
            found = found.group_by(G.item).having(fn.COUNT(fn.DISTINCT(G.gram)) == len(pieces))
            match = S.id.in_(found) & match
        if depts:
            match |= S.department.in_(depts)
        where &= match
        rank = SqlCase(None, [
            (fn.LOWER(S.key) == q, 0),
            (_contains(S.keys, NAME + q), 1),
            (_contains(S.keys, PINYIN + compact), 2)], 3)
        order = [rank]
        if frequent:
            order.append(SqlCase(None, [(S.key.in_(frequent), 0)], 1))
        order += [S.priority, S.key, S.county_code]
        total = fn.COUNT(S.id).over()
        rows = list(S.select(S.record, total.alias("total")).where(where).order_by(*order)
                    .offset(offset).limit(limit).tuples())
        ids = [r[0] for r in rows]
        count = rows[0][1] if rows else (S.select(fn.COUNT(S.id)).where(where).scalar() if offset else 0)
    else:
        count = catalog.cached("item_search_count", (county, level, channel),
                               lambda: S.select(fn.COUNT(S.id)).where(where).scalar() or 0)
        first = []
        if frequent:  # the user's frequent items lead the list, in their order
            found = {r.key: r.record_id for r in S.select(S.key, S.record).where(where & S.key.in_(frequent))}
            first = [found[c] for c in frequent if c in found]
        ids = first[offset:offset + limit]
        rest = S.select(S.record).where(where)
        if first:
            rest = rest.where(S.key.not_in(list(found)))
        want = limit - len(ids)
        if want > 0:
            ids += [r.record_id for r in rest.order_by(S.priority, S.key, S.county_code)
                    .offset(max(0, offset - len(first))).limit(want)]
    by_id = {r.id: r for r in MetadataRecord.select().where(MetadataRecord.id.in_(ids))} if ids else {}
    return Page([by_id[i] for i in ids if i in by_id], count or 0, offset, limit, frozenset(frequent))


__all__ = ["Page", "frequent_codes", "normalise", "pinyin", "rebuild", "refresh", "search", "search_row"]
