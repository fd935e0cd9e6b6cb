"""Read, validate and merge metadata packs.

A pack is a directory with a ``pack.yaml`` (name, title, version, optional
``county`` and ``overrides``) and any number of ``*.yaml`` files whose
top-level keys are kinds (``items:``, ``roles:`` …).

Loading collects *every* error in every pack before giving up, each with the
file, line and key path. Files are parsed with libyaml's fast loader; line
numbers are looked up only for entries that have an error, so a clean check
costs little more than parsing.
"""
from __future__ import annotations

import collections
import datetime
import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from marshmallow import ValidationError

from .schemas import BUILTIN_KINDS, REFERENCES

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: the files parsed lately (the tests count them)
PARSED = collections.deque(maxlen=10000)
#: kinds whose data the checks across kinds read for every entry: a file
#: holding them is always parsed, and a change to it means a full sync
ALWAYS_READ = frozenset({"regions", "sites", "staff", "guide_fields", "rulesets"})
PACK_KEYS = {"name", "title", "version", "county", "overrides", "description"}


@dataclass
class MetadataError:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self):
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class MetadataInvalid(Exception):
    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class Entry:
    kind: str
    key: str
    data: dict
    pack: str
    file: str
    index: int
    #: taken over from the last sync of an unchanged file: ``data`` is not
    #: read (empty), the entry only takes part in merging by its key
    reused: bool = False


@dataclass
class Pack:
    name: str
    path: Path
    version: str = "1"
    county: str | None = None
    overrides: list = field(default_factory=list)
    title: object = None
    entries: list = field(default_factory=list)
    #: ``{file path: sha256 of its bytes}`` of every file read or reused
    files: dict = field(default_factory=dict)
    #: ``{file path: file_stat()}`` of the same files
    stats: dict = field(default_factory=dict)


#: kinds whose codes are national by nature (division codes, usernames):
#: their county comes from the data, and they are never namespaced.
GLOBAL_CODE_KINDS = ("regions", "sites", "staff")


def pack_county(pack, by_name=None, seen=()) -> str:
    """A pack's county: its own ``county``, else the one county of the packs
    it overrides (a fix-up pack for a county acts for that county)."""
    if pack is None:
        return ""
    if pack.county:
        return str(pack.county)
    inherited = {pack_county(by_name.get(o), by_name, seen + (pack.name,))
                 for o in pack.overrides if by_name and o in by_name and o not in seen}
    inherited.discard("")
    return inherited.pop() if len(inherited) == 1 else ""


def tenant_of(pack, entry, by_name=None) -> str:
    """The county an entry belongs to ("" for national entries)."""
    if entry.kind in GLOBAL_CODE_KINDS:
        code = entry.data.get("code") if entry.kind == "regions" else entry.data.get("region")
        return str(code or "")[:6]
    return pack_county(pack, by_name)


def qualified(county, key) -> str:
    """The catalog key of a county's entry whose code another county uses
    too (``:`` never appears in a code)."""
    return f"{county}:{key}"


@dataclass
class Catalog:
    """The merged result: ``kinds[kind][key] -> Entry``. Codes are unique
    within a county: when several counties define the same code, each
    county's entry is kept under ``county:code`` (see :func:`qualified`)."""

    packs: list
    kinds: dict
    #: only the changed files were read (the others' entries are ``reused``)
    partial: bool = False

    def get(self, kind, key, county=None):
        entry = self.lookup(kind, key, county)
        return entry.data if entry else None

    def pack(self, name):
        return next((p for p in self.packs if p.name == name), None)

    def tenant(self, entry) -> str:
        return tenant_of(self.pack(entry.pack), entry, {p.name: p for p in self.packs})

    def lookup(self, kind, key, county=None):
        """The entry ``key`` means for ``county``: its own, else a national
        one; never another county's (``county=None``: the entry stored under
        the plain code, whoever's it is)."""
        known = self.kinds.get(kind, {})
        if county is None:
            return known.get(key)
        entry = known.get(qualified(county, key)) if county else None
        entry = entry or known.get(key)
        if entry is not None and self.tenant(entry) not in ("", county) and kind not in GLOBAL_CODE_KINDS:
            return None
        return entry

    def entries(self, kind):
        return [self.kinds[kind][k] for k in sorted(self.kinds.get(kind, {}))]

    def count(self):
        return sum(len(v) for v in self.kinds.values())


def index_entries(packs) -> dict:
    """``kinds[kind][key]`` of already-merged entries (from the database):
    the code as key, or ``county:code`` where several counties use it."""
    found = {}
    for pack in packs:
        for entry in pack.entries:
            found.setdefault((entry.kind, entry.key), []).append((pack, entry))
    kinds = {}
    for (kind, key), pairs in found.items():
        counties = {"" if kind in GLOBAL_CODE_KINDS else str(p.county or "") for p, _e in pairs}
        for pack, entry in pairs:
            county = "" if kind in GLOBAL_CODE_KINDS else str(pack.county or "")
            name = qualified(county, key) if len(counties - {""}) > 1 and county else key
            kinds.setdefault(kind, {})[name] = entry
    return kinds


def canonical_json(data) -> str:
    """The stored, hashed form of an entry: sorted keys, dates as ISO text."""

    def default(value):
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        raise TypeError(f"cannot store {type(value).__name__}")

    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default)


# --- line numbers ---------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _compose(path: str, mtime_ns: int, size: int):
    try:
        return yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return None


def _line_of(path: Path, keys) -> int | None:
    """1-based line of the node at ``keys`` in the YAML file (best effort)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    node = _compose(str(path), stat.st_mtime_ns, stat.st_size)
    if node is None:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _flatten(messages, prefix=()):
    """marshmallow's nested error dict -> [(key tuple, message)]."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            sub = prefix if key == "_schema" else prefix + (key,)
            out.extend(_flatten(value, sub))
    elif isinstance(messages, list):
        for value in messages:
            out.extend(_flatten(value, prefix))
    else:
        out.append((prefix, str(messages)))
    return out


def _dotted(keys) -> str:
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


# --- reading one pack ----------------------------------------------------

def read_pack(path, kinds, errors, previous=None) -> Pack | None:
    """Read and validate one pack directory; append problems to ``errors``.

    ``previous`` (``{file path: (sha256, [[kind, key, index], …])}`` of the
    last sync): a file whose bytes have that digest is not parsed; its
    entries are taken over by key (``Entry.reused``)."""
    path = Path(path)
    manifest = path / "pack.yaml"
    if not manifest.is_file():
        errors.append(MetadataError(str(path), None, "", "not a metadata pack: pack.yaml is missing"))
        return None
    digests, stats = {}, {}
    head = _parse(manifest, errors, digests, stats)
    if head is None:
        return None
    if not isinstance(head, dict) or not isinstance(head.get("name"), str):
        errors.append(MetadataError(str(manifest), 1, "name", "a pack needs a name"))
        return None
    for key in head:
        if key not in PACK_KEYS:
            errors.append(MetadataError(str(manifest), _line_of(manifest, [key]), key, "unknown key"))
    overrides = head.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        errors.append(MetadataError(str(manifest), _line_of(manifest, ["overrides"]), "overrides",
                                    "must be a list of pack names"))
        overrides = []
    pack = Pack(head["name"], path, str(head.get("version", "1")), head.get("county"), overrides, head.get("title"))
    pack.files.update(digests)
    pack.stats.update(stats)
    for file in sorted(path.glob("*.yaml")):
        if file.name == "pack.yaml":
            continue
        name = str(file)
        old = (previous or {}).get(name)
        if old is not None and not {kind for kind, _key, _i in old[1]} & ALWAYS_READ:
            # unchanged if its size and time are those recorded (then it is not even read), else by its bytes
            stat = file_stat(file)
            if (stat and len(old) > 2 and stat == old[2]) or hashlib.sha256(file.read_bytes()).hexdigest() == old[0]:
                pack.files[name], pack.stats[name] = old[0], stat
                pack.entries.extend(Entry(kind, key, {}, pack.name, name, i, True) for kind, key, i in old[1])
                continue
        _read_file(pack, file, kinds, errors)
    return pack


#: a file modified less than this before it is read is not known unchanged
#: by its size and time at the next sync (it could be written again within
#: the file system's time resolution, keeping both): it is hashed again
RACY_NS = 2_000_000_000


def file_stat(path) -> str:
    """``"size:mtime_ns"`` of a file, or "" if it changed too recently to
    be trusted (:data:`RACY_NS`); taken before its bytes are read."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}" if time.time_ns() - st.st_mtime_ns > RACY_NS else ""


def file_digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _parse(file: Path, errors, files=None, stats=None):
    try:
        if stats is not None:
            stats[str(file)] = file_stat(file)
        raw = Path(file).read_bytes()
        PARSED.append(str(file))
        if files is not None:
            files[str(file)] = hashlib.sha256(raw).hexdigest()
        return yaml.load(raw, Loader=SafeLoader)  # noqa: S506 - SafeLoader/CSafeLoader only
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        errors.append(MetadataError(str(file), mark.line + 1 if mark else None, "",
                                    f"malformed YAML: {exc.problem or exc.context}"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        errors.append(MetadataError(str(file), None, "", f"malformed YAML: {exc}"))
    return None


def _read_file(pack, file, kinds, errors):
    doc = _parse(file, errors, pack.files, pack.stats)
    if doc is None:
        return
    if not isinstance(doc, dict):
        errors.append(MetadataError(str(file), 1, "", "a metadata file is a mapping of kinds to lists"))
        return
    for kind, entries in doc.items():
        if kind not in kinds:
            errors.append(MetadataError(str(file), _line_of(file, [kind]), str(kind),
                                        f"unknown kind; known: {', '.join(sorted(kinds))}"))
            continue
        if not isinstance(entries, list):
            errors.append(MetadataError(str(file), _line_of(file, [kind]), kind, "must be a list"))
            continue
        schema_cls, key = kinds[kind]
        schema = schema_cls()
        for i, data in enumerate(entries):
            if not isinstance(data, dict):
                errors.append(MetadataError(str(file), _line_of(file, [kind, i]), f"{kind}[{i}]", "must be a mapping"))
                continue
            try:
                schema.load(data)
            except ValidationError as exc:
                for keys, message in _flatten(exc.messages):
                    full = [kind, i, *keys]
                    errors.append(MetadataError(str(file), _line_of(file, full), _dotted(full), message))
                continue
            pack.entries.append(Entry(kind, str(data[key]), data, pack.name, str(file), i))


# --- merging --------------------------------------------------------------

def merge(packs, errors) -> Catalog:
    """Merge packs by an order-independent rule.

    An entry defined by several packs is an error unless exactly one of them
    overrides (directly or through a chain of ``overrides``) all the others.
    """
    by_name = {}
    for pack in packs:
        if pack.name in by_name:
            errors.append(MetadataError(str(pack.path / "pack.yaml"), 1, "name",
                                        f"pack name {pack.name!r} is also used by {by_name[pack.name].path}"))
        by_name[pack.name] = pack
    for pack in packs:
        for other in pack.overrides:
            if other not in by_name:
                errors.append(MetadataError(str(pack.path / "pack.yaml"), _line_of(pack.path / "pack.yaml", ["overrides"]),
                                            "overrides", f"names pack {other!r}, which is not loaded"))

    def beats(a, b, seen=()):
        if a == b or a in seen:
            return False
        direct = by_name[a].overrides if a in by_name else []
        return b in direct or any(beats(c, b, seen + (a,)) for c in direct)

    found = {}
    for pack in packs:
        for entry in pack.entries:
            found.setdefault((entry.kind, entry.key), []).append(entry)
    def resolve(kind, key, entries):
        winners = [e for e in entries if all(beats(e.pack, o.pack) for o in entries if o is not e and o.pack != e.pack)]
        same_pack = len({e.pack for e in entries}) < len(entries)
        if len(entries) > 1 and (len(winners) != 1 or same_pack):
            places = ", ".join(f"{e.file}:{_line_of(Path(e.file), [kind, e.index])}" for e in entries)
            first = entries[-1]
            errors.append(MetadataError(first.file, _line_of(Path(first.file), [kind, first.index]),
                                        f"{kind}[{first.index}]",
                                        f"duplicate {kind} code {key!r} (defined at {places}); "
                                        "a pack that means to replace it lists the other pack under 'overrides'"))
            return None
        return winners[0] if len(entries) > 1 else entries[0]

    kinds = {}
    for (kind, key), entries in sorted(found.items()):
        if len(entries) == 1:  # the common case: one definition, its code is the key
            kinds.setdefault(kind, {})[key] = entries[0]
            continue
        counties = {}
        for e in entries:
            county = "" if kind in GLOBAL_CODE_KINDS else pack_county(by_name[e.pack], by_name)
            counties.setdefault(county, []).append(e)
        national = counties.pop("", [])
        if len(counties) <= 1:  # one county (or none): the code is the key
            winner = resolve(kind, key, entries)
            if winner is not None:
                kinds.setdefault(kind, {})[key] = winner
            continue
        # several counties use the code: each is its own, beside the national entry
        if national and (winner := resolve(kind, key, national)) is not None:
            kinds.setdefault(kind, {})[key] = winner
        for county, own in sorted(counties.items()):
            winner = resolve(kind, key, national + own)
            if winner is not None and winner not in national:
                kinds.setdefault(kind, {})[qualified(county, key)] = winner
    catalog = Catalog(packs, kinds)
    check_references(catalog, errors)
    return catalog


def _values(data, dotted):
    """Values at a path like ``staffing[].role`` or ``roles[]``."""
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


def check_references(catalog, errors, references=REFERENCES):
    """Every reference names an entry of the referring entry's county or a
    national one (never another county's)."""
    for kind, dotted, target in references:
        for key, entry in catalog.kinds.get(kind, {}).items():
            if entry.reused:  # unchanged, and so are the keys it can refer to
                continue
            county = catalog.tenant(entry)
            for value in _values(entry.data, dotted):
                if catalog.lookup(target, str(value), county) is None:
                    path = dotted.replace("[]", "")
                    errors.append(MetadataError(
                        entry.file, _line_of(Path(entry.file), [kind, entry.index, path.split(".")[0]]),
                        f"{kind}[{entry.index}].{path}",
                        f"{key}: refers to {target[:-1] if target.endswith('s') else target} {value!r}, which does not exist"))


def load(paths, kinds=None, permissions=None, previous=None) -> Catalog:
    """Read, validate and merge the packs at ``paths``; raise
    :class:`MetadataInvalid` with every error found. With ``permissions``
    (the codes the core and plugins check), roles are checked against it.

    ``previous`` (``{file path: (sha256, [[kind, key, index], …])}`` of every
    file of these packs at their last sync, see ``store.previous_files``):
    only the files whose bytes changed are parsed and validated, as long as
    that is safe (same files, each changed one defining the same keys, none
    of :data:`ALWAYS_READ`'s kinds changed, no error); otherwise, and without
    ``previous``, every file is read (``catalog.partial`` tells which)."""
    kinds = kinds or BUILTIN_KINDS
    if previous:
        catalog = _load_changed(paths, kinds, permissions, previous)
        if catalog is not None:
            return catalog
    errors = []
    packs = [p for p in (read_pack(path, kinds, errors) for path in paths) if p is not None]
    catalog = merge(packs, errors)
    if not errors:
        from .checks import check_forms, check_roles

        check_forms(catalog, errors)
        if permissions is not None:
            check_roles(catalog, errors, permissions)
    if errors:
        raise MetadataInvalid(errors)
    return catalog


def _load_changed(paths, kinds, permissions, previous):
    """The catalog with only the changed files parsed, or None when a full
    read is needed (see :func:`load`)."""
    for path in paths:
        path = Path(path)
        known = {p for p in previous if Path(p).parent == path}
        on_disk = {str(f) for f in path.glob("*.yaml")}
        manifest = str(path / "pack.yaml")
        if not known or known != on_disk or manifest not in previous or file_digest(manifest) != previous[manifest][0]:
            return None
    errors = []
    packs = [p for p in (read_pack(path, kinds, errors, previous) for path in paths) if p is not None]
    if errors:
        return None
    for pack in packs:
        produced, reused = {}, set()
        for entry in pack.entries:
            if entry.reused:
                reused.add(entry.file)
            else:
                produced.setdefault(entry.file, []).append([entry.kind, entry.key, entry.index])
        for file in pack.files:
            if file in reused:
                continue
            entries, old = produced.get(file, []), previous.get(file)
            if old is None or old[1] != entries or pack.files[file] != old[0] and (
                    {kind for kind, _k, _i in entries} & ALWAYS_READ):
                return None
    catalog = merge(packs, errors)
    if not errors:
        from .checks import check_forms, check_roles

        check_forms(catalog, errors)
        if permissions is not None:
            check_roles(catalog, errors, permissions)
    if errors:
        return None
    catalog.partial = True
    return catalog
