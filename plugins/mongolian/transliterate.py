"""Chinese proper names in traditional Mongolian script, as a draft.

Place names of Chinese origin (安阳, 博山, 城关镇, 排子湾村 …) are written in
Inner Mongolia by their Mandarin sound, syllable by syllable (安阳 ᠠᠨ ᠶᠠᠩ).
:func:`chinese` does that through pypinyin with the usual correspondences of
initials and finals; the result is a *draft* for a native reader to review
(Mongolian names of Mongolian places — 嘎鲁图 ᠭᠠᠯᠠᠭᠤᠲᠤ — are given by hand).
:func:`genitive` picks the genitive suffix a word takes (ᠶᠢᠨ / ᠤᠨ / ᠦᠨ / ᠤ / ᠦ).
"""
from __future__ import annotations

NNBSP = "\u202f"

_INITIALS = [("zh", "ᠵ"), ("ch", "ᠴ"), ("sh", "ᠱ"), ("b", "ᠪ"), ("p", "ᠫ"), ("m", "ᠮ"), ("f", "ᠹ"), ("d", "ᠳ"),
             ("t", "ᠲ"), ("n", "ᠨ"), ("l", "ᠯ"), ("g", "ᠭ"), ("k", "ᠺ"), ("h", "ᠾ"), ("j", "ᠵ"), ("q", "ᠴ"),
             ("x", "ᠰ"), ("r", "ᠷ"), ("z", "ᠽ"), ("c", "ᠼ"), ("s", "ᠰ"), ("y", "ᠶ"), ("w", "ᠸ")]
_FINALS = {
    "a": "ᠠ", "o": "ᠣ", "e": "ᠧ", "i": "ᠢ", "u": "ᠤ", "v": "ᠦ", "ai": "ᠠᠢ", "ei": "ᠧᠢ", "ao": "ᠣᠣ",
    "ou": "ᠧᠦ", "an": "ᠠᠨ", "en": "ᠧᠨ", "ang": "ᠠᠩ", "eng": "ᠧᠩ", "ong": "ᠦᠩ", "er": "ᠧᠷ", "ia": "ᠢᠶᠠ",
    "ie": "ᠢᠶᠧ", "iao": "ᠢᠶᠣᠣ", "iu": "ᠢᠦ", "ian": "ᠢᠶᠠᠨ", "in": "ᠢᠨ", "iang": "ᠢᠶᠠᠩ", "ing": "ᠢᠩ",
    "iong": "ᠢᠦᠩ", "ua": "ᠤᠸᠠ", "uo": "ᠣ", "uai": "ᠤᠸᠠᠢ", "ui": "ᠦᠢ", "uan": "ᠤᠸᠠᠨ", "un": "ᠦᠨ",
    "uang": "ᠤᠸᠠᠩ", "ve": "ᠦᠸᠧ", "van": "ᠦᠸᠠᠨ", "vn": "ᠦᠨ",
}
_SPECIAL = {"zhi": "ᡁ", "chi": "ᡂ", "shi": "ᠱᠢ", "ri": "ᠷᠢ", "zi": "ᠽᠢ", "ci": "ᠼᠢ", "si": "ᠰᠢ",
            "yi": "ᠢ", "wu": "ᠦ", "yu": "ᠶᠦ", "ye": "ᠶᠧ", "you": "ᠶᠤ", "yan": "ᠶᠠᠨ", "yin": "ᠶᠢᠨ",
            "ying": "ᠶᠢᠩ", "yue": "ᠶᠦᠸᠧ", "yuan": "ᠶᠤᠸᠠᠨ", "yun": "ᠶᠦᠨ", "yong": "ᠶᠦᠩ"}
_MASCULINE, _FEMININE = set("ᠠᠣᠤ"), set("ᠡᠧᠥᠦ")


def syllable(py: str) -> str:
    """One pinyin syllable (tone-less, ü written v) in Mongolian letters."""
    if py in _SPECIAL:
        return _SPECIAL[py]
    for latin, mong in _INITIALS:
        if py.startswith(latin):
            final = py[len(latin):]
            if latin in ("j", "q", "x", "y") and final.startswith("u"):
                final = "v" + final[1:]  # ju, qu, xu, yu are ü
            return mong + _FINALS.get(final, final)
    return _FINALS.get(py, py)


def chinese(text: str) -> str:
    """A Chinese name written syllable by syllable (one word per syllable,
    as Inner Mongolian usage writes 安阳 ᠠᠨ ᠶᠠᠩ); characters that are not
    Chinese are kept."""
    from pypinyin import Style, lazy_pinyin

    words = []
    for part in lazy_pinyin(text, style=Style.NORMAL, v_to_u=False, errors=lambda s: [s]):
        words.append(syllable(part) if part.isascii() and part.isalpha() else part)
    return " ".join(words)


def genitive(word: str) -> str:
    """``word`` with its genitive suffix after a narrow no-break space."""
    last_word = word.split()[-1] if word.split() else word
    letters = [c for c in last_word if "\u1820" <= c <= "\u1842"]
    if not letters:
        return word + NNBSP + "ᠶᠢᠨ"
    masculine = any(c in _MASCULINE for c in letters)
    last = letters[-1]
    if last in "ᠠᠡᠢᠣᠤᠥᠦᠧ":
        return word + NNBSP + "ᠶᠢᠨ"
    if last == "ᠨ":
        return word + NNBSP + ("ᠤ" if masculine else "ᠦ")
    return word + NNBSP + ("ᠤᠨ" if masculine else "ᠦᠨ")
