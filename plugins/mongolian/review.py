"""What is translated and what a native reader has reviewed.

*Metadata texts* carry their Mongolian inline (``name: {zh: …, mn: …}``);
a Mongolian text counts as reviewed when the hash of its Chinese and
Mongolian is listed in ``review.yaml`` (so any change to either makes it a
draft again). *Catalog entries* (``.po``) count as reviewed when they no
longer carry the ``needs native review`` comment.

:func:`coverage` counts both, per language (zh, mn): how many texts have a
translation, how many Mongolian ones are still drafts. The review page
(:mod:`plugins.mongolian.views`) and ``bangban translations coverage`` show
it; ``tests/test_mongolian_coverage.py`` requires 100%.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from .packs import OPAQUE_KEYS, TEXT_KEYS, TEXT_LIST_KEYS, is_list_code

HERE = Path(__file__).parent
REVIEW_FILE = HERE / "review.yaml"
LOCALE = "mn_Mong_CN"
MARK = "needs native review"
CATALOG_DIR = HERE / "translations" / LOCALE / "LC_MESSAGES"
DOMAINS = ("messages", "admin", "wtforms")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def text_hash(zh: str, mn: str) -> str:
    return hashlib.sha256(f"{zh}\x00{mn}".encode()).hexdigest()[:16]


def reviewed_hashes(path=REVIEW_FILE) -> set:
    if not Path(path).is_file():
        return set()
    data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    return set(data.get("metadata") or [])


def mark_reviewed(pairs, path=REVIEW_FILE) -> int:
    """Add ``(zh, mn)`` pairs to the review registry; returns how many were new."""
    known = reviewed_hashes(path)
    new = {text_hash(zh, mn) for zh, mn in pairs} - known
    if new:
        head = ("# Mongolian metadata texts a native reader has reviewed: sha256(zh NUL mn)[:16] each.\n"
                "# Written by `bangban translations export`; a text whose Chinese or Mongolian changes is a draft again.\n")
        Path(path).write_text(head + yaml.safe_dump({"metadata": sorted(known | new)}, allow_unicode=True), "utf-8")
    return len(new)


# --- metadata ---------------------------------------------------------------

def texts_of(data, key=None):
    """Every text (a str or ``{zh, mn, en}``) inside one metadata entry."""
    if isinstance(data, dict):
        if key in TEXT_KEYS and "zh" in data and all(isinstance(v, str) for v in data.values()):
            yield data
            return
        for k, v in data.items():
            if k not in OPAQUE_KEYS:
                yield from texts_of(v, k)
    elif isinstance(data, list):
        for v in data:
            if key in TEXT_LIST_KEYS and (isinstance(v, str) or (isinstance(v, dict) and "zh" in v)):
                if not is_list_code(v):
                    yield v
            else:
                yield from texts_of(v, key)
    elif isinstance(data, str) and key in TEXT_KEYS and not (key == "name" and _CODE.match(data)):
        yield data  # (a form field's ``name`` is a code, not a text)


def pack_texts(paths, skip_kinds=("staff",)):
    """``(kind, text)`` of every text in the pack directories ``paths``
    (people's names — ``staff`` — are not terms to translate)."""
    for pack in paths:
        for file in sorted(Path(pack).glob("*.yaml")):
            if file.name == "pack.yaml":
                continue
            doc = yaml.safe_load(file.read_text("utf-8")) or {}
            for kind, entries in doc.items():
                if kind in skip_kinds or not isinstance(entries, list):
                    continue
                for entry in entries:
                    for text in texts_of(entry):
                        yield kind, text


#: The terms a person reads on the item picker, the commission form (materials included), the
#: guide's headings, the site directory and the back office: these must all
#: have Mongolian (guide *texts* — conditions, materials, samples — are
#: counted but not yet required).
TERMS = {
    "items": ("name", "materials[].name", "fields[].label", "fields[].options[].label"),
    "departments": ("name",), "regions": ("name",), "sites": ("name",), "roles": ("name",), "rulesets": ("name",),
    "workflows": ("name", "states[].name", "transitions[].name"),
    "guide_fields": ("name", "elements[].label", "applicant_fields[].label", "applicant_fields[].help",
                     "applicant_fields[].options[].label"),
    "site_standards": ("name", "requirements[].name", "requirements[].category"),
}


def _at(data, dotted):
    values = [data]
    for part in dotted.split("."):
        many = part.endswith("[]")
        name = part[:-2] if many else part
        nxt = []
        for v in values:
            if isinstance(v, dict) and v.get(name) is not None:
                nxt.extend(v[name] if many else [v[name]])
        values = nxt
    return values


def pack_terms(paths):
    """``(kind, path, text)`` of every term (:data:`TERMS`) in the packs."""
    for pack in paths:
        for file in sorted(Path(pack).glob("*.yaml")):
            if file.name == "pack.yaml":
                continue
            doc = yaml.safe_load(file.read_text("utf-8")) or {}
            for kind, entries in doc.items():
                for entry in (entries if kind in TERMS and isinstance(entries, list) else ()):
                    for dotted in TERMS[kind]:
                        for text in _at(entry, dotted):
                            if isinstance(text, (str, dict)):
                                yield kind, dotted, text


def _as_dict(text):
    return {"zh": text} if isinstance(text, str) else text


def metadata_coverage(paths, reviewed=None) -> dict:
    reviewed = reviewed_hashes() if reviewed is None else reviewed
    out = {}
    for kind, text in pack_texts(paths):
        t = _as_dict(text)
        row = out.setdefault(kind, {"texts": 0, "zh": 0, "mn": 0, "mn_unreviewed": 0, "missing": []})
        row["texts"] += 1
        row["zh"] += bool(t.get("zh", "").strip())
        if t.get("mn", "").strip():
            row["mn"] += 1
            row["mn_unreviewed"] += text_hash(t["zh"], t["mn"]) not in reviewed
        else:
            row["missing"].append(t["zh"])
    return out


# --- catalogs ---------------------------------------------------------------

def read_catalog(path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as fh:
        return read_po(fh)


def is_reviewed(message) -> bool:
    return not any(MARK in c for c in (*message.user_comments, *message.auto_comments))


def catalog_coverage(locales_dir) -> dict:
    """Per language and domain: entries, translated, and (Mongolian) drafts."""
    out = {}
    catalogs = {"zh": [Path(locales_dir) / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"],
                "mn": [CATALOG_DIR / f"{d}.po" for d in DOMAINS]}
    for lang, files in catalogs.items():
        for path in files:
            catalog = read_catalog(path)
            row = {"texts": 0, "translated": 0, "unreviewed": 0, "missing": []}
            for message in catalog:
                if not message.id:
                    continue
                row["texts"] += 1
                strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
                if all(s and s.strip() for s in strings) and not message.fuzzy:
                    row["translated"] += 1
                    if lang == "mn":
                        row["unreviewed"] += not is_reviewed(message)
                else:
                    row["missing"].append(message.id if isinstance(message.id, str) else message.id[0])
            out[f"{lang}:{path.stem}"] = row
    return out


def coverage(pack_dirs, locales_dir) -> dict:
    meta = metadata_coverage(pack_dirs)
    cat = catalog_coverage(locales_dir)
    total = sum(r["texts"] for r in meta.values())
    summary = {
        "metadata_texts": total,
        "metadata_zh": sum(r["zh"] for r in meta.values()),
        "metadata_mn": sum(r["mn"] for r in meta.values()),
        "metadata_mn_unreviewed": sum(r["mn_unreviewed"] for r in meta.values()),
        "catalog_zh": sum(r["translated"] for k, r in cat.items() if k.startswith("zh:")),
        "catalog_zh_texts": sum(r["texts"] for k, r in cat.items() if k.startswith("zh:")),
        "catalog_mn": sum(r["translated"] for k, r in cat.items() if k.startswith("mn:")),
        "catalog_mn_texts": sum(r["texts"] for k, r in cat.items() if k.startswith("mn:")),
        "catalog_mn_unreviewed": sum(r["unreviewed"] for k, r in cat.items() if k.startswith("mn:")),
    }
    return {"summary": summary, "metadata": meta, "catalogs": cat}


def percent(part, whole) -> float:
    return 100.0 if not whole else round(100.0 * part / whole, 1)
