"""Write a language's text into metadata pack files, in place.

``set_texts(file, {zh: text}, lang="mn")`` gives every text of the file
whose Chinese is a key of the mapping that language: ``name: 高龄津贴``
becomes ``name: {zh: 高龄津贴, mn: …}``, a block mapping ``zh:/en:`` gets an
``mn:`` line, an existing ``mn:`` is replaced. Only those lines change (the
comments, the order and every other key stay as they are), so packs that
others edit concurrently merge cleanly. Used to lay in the drafts and by
``bangban translations export`` to write reviewed corrections back.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

#: keys whose value is a text (``{zh, mn, en}`` or a Chinese string)
TEXT_KEYS = {"name", "label", "legal_basis", "conditions", "fee", "result", "location", "hours", "category",
             "fill_instructions", "sample", "note", "help", "source", "partner", "address", "title"}
#: keys whose value is a list of texts (a role's duties, a site's equipment and
#: zones, a standard's list); the code compares them in any language of an
#: entry, so they take ``{zh, mn}`` like any text. A value that is a code (a
#: site's ``items`` are item codes, a standard's ``features``) is not a text.
TEXT_LIST_KEYS = {"duties", "items", "equipment", "zones"}
#: kinds whose texts are not terms to translate (people's names and hours)
SKIP_KINDS = {"staff"}
#: free-form keys whose values code reads as data (a rule set's ``rules``)
OPAQUE_KEYS = {"rules"}
_FLOW_INDICATORS = set(",[]{}\n\t")
_LIST_CODE = re.compile(r"^[A-Za-z0-9_.\-]+$")


_ANCHOR = re.compile(r"&[^\s,\[\]{}]+\s+")


def _slice(lines, node) -> str:
    """The source text of ``node`` (from its start to its end mark)."""
    sl, sc, el, ec = node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column
    if sl == el:
        return lines[sl][sc:ec]
    return "\n".join([lines[sl][sc:], *lines[sl + 1:el], lines[el][:ec]])


def is_list_code(text) -> bool:
    """A string in a list of texts that is a code (``150626-rsj-013``, ``cctv``)."""
    return isinstance(text, str) and bool(_LIST_CODE.match(text))
_LEADING = set("-?:,[]{}#&*!|>'\"%@`")


def _flow_scalar(text: str) -> str:
    """``text`` as a YAML scalar inside a flow mapping: plain where YAML
    reads it back unchanged, else double-quoted."""
    plain = (text and text == text.strip() and text[0] not in _LEADING and not _FLOW_INDICATORS & set(text)
             and ": " not in text and " #" not in text and not text.endswith(":")
             and text.lower() not in ("null", "true", "false", "~", "yes", "no", "on", "off")
             and not text[0].isdigit())
    if plain:
        try:
            plain = yaml.safe_load("{k: " + text + "}") == {"k": text}
        except yaml.YAMLError:
            plain = False
    return text if plain else json.dumps(text, ensure_ascii=False)


def _flow_mapping(mapping: dict) -> str:
    return "{" + ", ".join(f"{k}: {_flow_scalar(v)}" for k, v in mapping.items()) + "}"


def _texts(node, key=None, root=False):
    """(key, node) for every text node under ``node`` (a composed YAML node;
    ``root``: the file's mapping of kinds to lists of entries)."""
    if root and isinstance(node, yaml.MappingNode):
        for kind, entries in node.value:
            if isinstance(entries, yaml.SequenceNode) and kind.value not in SKIP_KINDS:
                for entry in entries.value:
                    yield from _texts(entry)
        return
    if isinstance(node, yaml.MappingNode):
        pairs = {k.value: v for k, v in node.value}
        if key in TEXT_KEYS and "zh" in pairs and all(isinstance(v, yaml.ScalarNode) for v in pairs.values()):
            yield key, node
            return
        for k, v in node.value:
            if k.value not in OPAQUE_KEYS:
                yield from _texts(v, k.value)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            if key in TEXT_LIST_KEYS and isinstance(v, yaml.ScalarNode):
                if v.tag.endswith(":str") and not is_list_code(v.value):
                    yield key, v
            elif key in TEXT_LIST_KEYS and isinstance(v, yaml.MappingNode):
                yield from _texts(v, "name")  # a ``{zh, mn}`` entry of the list
            else:
                yield from _texts(v, key)
    elif isinstance(node, yaml.ScalarNode) and key in TEXT_KEYS and node.tag.endswith(":str"):
        yield key, node


def set_texts(path, mapping: dict, lang="mn", keep=False) -> int:
    """Give ``lang`` text to every text of ``path`` whose Chinese is in
    ``mapping``; returns how many texts changed. ``keep``: a text that
    already has ``lang`` text keeps it (only the missing ones are filled)."""
    path = Path(path)
    source = path.read_text(encoding="utf-8")
    root = yaml.compose(source)
    if root is None:
        return 0
    lines = source.split("\n")
    edits = []  # (start_line, start_col, end_line, end_col, replacement) on the original text
    seen = set()  # a node reached again through a YAML alias (*anchor) is the same text
    for _key, node in _texts(root, root=True):
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            zh = node.value
            if zh not in mapping:
                continue
            new = _flow_mapping({"zh": zh, lang: mapping[zh]})
            anchor = _ANCHOR.match(_slice(lines, node))  # ``&name 中文``: the anchor stays on the text
            if anchor:
                new = anchor.group(0) + new
            edits.append((node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column, new))
            continue
        pairs = {k.value: v for k, v in node.value}
        zh = pairs["zh"].value
        if zh not in mapping or (lang in pairs and (keep or pairs[lang].value == mapping[zh])):
            continue
        if node.flow_style:
            values = {k: v.value for k, v in pairs.items()}
            values[lang] = mapping[zh]
            edits.append((node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column,
                          _flow_mapping(values)))
        elif lang in pairs:
            v = pairs[lang]
            edits.append((v.start_mark.line, v.start_mark.column, v.end_mark.line, v.end_mark.column,
                          _flow_scalar(mapping[zh])))
        else:  # block mapping: a new line after its last value, indented like its keys
            last = node.value[-1][1]
            indent = node.value[0][0].start_mark.column
            end_line = last.end_mark.line if last.end_mark.column > 0 else last.end_mark.line - 1
            end_col = len(lines[end_line])
            edits.append((end_line, end_col, end_line, end_col, "\n" + " " * indent + f"{lang}: " + _flow_scalar(mapping[zh])))
    if not edits:
        return 0
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    text = source
    for sl, sc, el, ec, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:offsets[sl] + sc] + new + text[offsets[el] + ec:]
    before = yaml.safe_load(source)
    after = yaml.safe_load(text)
    if _strip(after, lang) != _strip(before, lang):
        raise ValueError(f"{path}: writing {lang} texts would change more than the texts")
    path.write_text(text, encoding="utf-8")
    return len(edits)


def _strip(data, lang):
    """``data`` with ``lang`` texts removed and one-language texts unwrapped
    (what must stay equal when a language's texts are written)."""
    if isinstance(data, dict):
        if "zh" in data and all(isinstance(v, str) for v in data.values()) and set(data) <= {"zh", "mn", "en"}:
            rest = {k: v for k, v in data.items() if k != lang}
            return rest["zh"] if set(rest) == {"zh"} else rest
        return {k: _strip(v, lang) for k, v in data.items()}
    if isinstance(data, list):
        return [_strip(v, lang) for v in data]
    return data
