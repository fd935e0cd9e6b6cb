"""Menksoft (蒙科立) private-use code points to Unicode Mongolian.

The widespread Menksoft input method and its fonts write *glyphs*, not
letters: every positional form of a letter has its own code point in the
Private Use Area U+E234–U+E34F (isolate, initial, medial, final, variants
after round letters …). Such text displays only with a Menksoft font, and
neither searches nor compares equal to the same word typed in Unicode.
:func:`to_unicode` turns it into Unicode letters (the font's shaping then
picks the forms again).

The table is the glyph layout documented by the open-source mongol-library
(studymongolian.net, class ``MongolCode.Glyph``), itself checked against
Menksoft's fonts: each letter owns a contiguous block of glyphs, in Unicode
letter order. Variant glyphs that encode a free variation selector, the
vowel separator (MVS) or a dotted/undotted Q/G are restored as such. What is
not covered: Todo, Sibe, Manchu and Ali Gali letters (Menksoft places them
outside this block; they are left as they are).
"""
from __future__ import annotations

START, END = 0xE234, 0xE34F

MVS, FVS1, FVS2, NNBSP = "\u180e", "\u180b", "\u180c", "\u202f"

# punctuation and digits: U+E234 …
_PUNCT = {
    0xE234: "\u1800", 0xE235: "\u1801", 0xE236: "\u1802", 0xE237: "\u1803", 0xE238: "\u1804",
    0xE239: "\u1805", 0xE23A: "\u1806", 0xE23B: "\u1807", 0xE23C: "\u1808", 0xE23D: "\u1809",
    0xE23E: "\u180a", 0xE23F: "\U00011660", 0xE240: "\U00011661", 0xE241: "\U00011662",
    0xE242: "\U00011663", 0xE243: "\u00b7",
    **{0xE244 + d: chr(0x1810 + d) for d in range(10)},  # Mongolian digits zero … nine
    0xE24E: "\u2048", 0xE24F: "\u2049", 0xE250: "\ufe15", 0xE251: "\ufe16", 0xE252: "\ufe14",
    0xE253: "\ufe35", 0xE254: "\ufe36", 0xE255: "\ufe3f", 0xE256: "\ufe40", 0xE257: "\ufe47",
    0xE258: "\ufe48", 0xE259: "\ufe3d", 0xE25A: "\ufe3e", 0xE25B: "\ufe43", 0xE25C: "\ufe44",
    0xE25D: "\ufe10", 0xE25E: "\u00d7", 0xE25F: "\u203b", 0xE260: "\ufe32", 0xE261: "\ufe31",
}

# (first glyph of the letter's block, the letter)
_BLOCKS = [
    (0xE264, "\u1820"),  # a
    (0xE270, "\u1821"),  # e
    (0xE279, "\u1822"),  # i
    (0xE283, "\u1823"),  # o
    (0xE28B, "\u1824"),  # u
    (0xE293, "\u1825"),  # oe
    (0xE2A0, "\u1826"),  # ue
    (0xE2AD, "\u1827"),  # ee
    (0xE2B1, "\u1828"),  # na
    (0xE2BB, "\u1829"),  # ang
    (0xE2BF, "\u1828"),  # na (a further medial form)
    (0xE2C1, "\u182a"),  # ba
    (0xE2C8, "\u182b"),  # pa
    (0xE2CE, "\u182c"),  # qa
    (0xE2E1, "\u182d"),  # ga
    (0xE2F1, "\u182e"),  # ma
    (0xE2F7, "\u182f"),  # la
    (0xE2FD, "\u1830"),  # sa
    (0xE303, "\u1831"),  # sha
    (0xE308, "\u1832"),  # ta
    (0xE30E, "\u1833"),  # da
    (0xE315, "\u1834"),  # cha
    (0xE318, "\u1835"),  # ja
    (0xE31E, "\u1836"),  # ya
    (0xE322, "\u1837"),  # ra
    (0xE329, "\u1838"),  # wa
    (0xE32D, "\u1839"),  # fa
    (0xE333, "\u183a"),  # ka
    (0xE339, "\u183b"),  # kha
    (0xE33F, "\u183c"),  # tsa
    (0xE342, "\u183d"),  # za
    (0xE345, "\u183e"),  # haa
    (0xE348, "\u183f"),  # zra
    (0xE34B, "\u1840"),  # lha
    (0xE34E, "\u1841"),  # zhi
    (0xE34F, "\u1842"),  # chi
]

# glyphs that stand for a letter plus a variation selector or separator
_VARIANT = {
    0xE265: "\u1820" + FVS1, 0xE26E: "\u1820" + FVS1, 0xE267: "\u1820" + FVS2,
    0xE272: "\u1821" + FVS1, 0xE27D: "\u1822" + FVS1, 0xE281: "\u1836\u1822",
    0xE288: "\u1823" + FVS1, 0xE286: "\u1823" + FVS1, 0xE290: "\u1824" + FVS1,
    0xE297: "\u1825" + FVS1, 0xE298: "\u1825" + FVS1, 0xE29B: "\u1825" + FVS2,
    0xE2A1: "\u1826" + FVS1, 0xE2A4: "\u1826" + FVS1, 0xE2A5: "\u1826" + FVS1, 0xE2A8: "\u1826" + FVS2,
    0xE2B6: "\u1828" + MVS, 0xE2B2: "\u1828" + FVS1, 0xE2B4: "\u1828" + FVS1,
    0xE2C4: "\u182a" + FVS1,
    0xE2CF: "\u182d", 0xE2D3: "\u182d", 0xE2D9: "\u182d", 0xE2D7: "\u182d",  # dotted masculine Q is a G
    0xE2E2: "\u182c", 0xE2E5: "\u182c",  # undotted masculine initial G is a Q
    0xE2E9: "\u182d" + MVS,
    0xE300: "\u1830" + FVS1, 0xE30C: "\u1832" + FVS1, 0xE30D: "\u1832" + FVS1,
    0xE310: "\u1833" + FVS1, 0xE312: "\u1833" + FVS1, 0xE321: "\u1836" + FVS1,
}
_MVS_FINAL = {0xE26A: "\u1820", 0xE274: "\u1821"}  # final a / e after the vowel separator
_MEDIAL_Q = {0xE2D8, 0xE2DC, 0xE2DF}  # a medial Q before a consonant is written for G
# a space before these glyphs opens a suffix: it is the narrow no-break space
_SUFFIX_START = {0xE267, 0xE27B, 0xE27E, 0xE280, 0xE282, 0xE289, 0xE28A, 0xE285, 0xE291, 0xE292,
                 0xE28D, 0xE29E, 0xE29F, 0xE296, 0xE2AB, 0xE2AC, 0xE2A3, 0xE31F, 0xE321}
_CONSONANTS = range(0xE2B1, END + 1)


def _letter(cp: int) -> str:
    lo, hi = 0, len(_BLOCKS) - 1
    while lo < hi:  # the last block starting at or before cp
        mid = (lo + hi + 1) // 2
        if _BLOCKS[mid][0] <= cp:
            lo = mid
        else:
            hi = mid - 1
    return _BLOCKS[lo][1]


def has_menksoft(text: str) -> bool:
    return any(START <= ord(c) <= END for c in text)


def to_unicode(text: str) -> str:
    """``text`` with every Menksoft glyph replaced by Unicode Mongolian;
    anything else (Unicode Mongolian, Chinese, digits …) is kept."""
    if not text or not has_menksoft(text):
        return text
    out = []
    n = len(text)
    for i, ch in enumerate(text):
        cp = ord(ch)
        if not START <= cp <= END:
            if ch == " " and i + 1 < n and ord(text[i + 1]) in _SUFFIX_START and i > 0 and START <= ord(text[i - 1]) <= END:
                out.append(NNBSP)
            else:
                out.append(ch)
            continue
        if cp in _PUNCT:
            out.append(_PUNCT[cp])
        elif cp < 0xE264:
            out.append(ch)  # an unassigned glyph of the punctuation block: keep it
        elif cp in _MVS_FINAL:
            if not (out and out[-1] == MVS):
                out.append(MVS)
            out.append(_MVS_FINAL[cp])
        elif cp in _VARIANT:
            out.append(_VARIANT[cp])
        elif cp in _MEDIAL_Q and i + 1 < n and ord(text[i + 1]) in _CONSONANTS:
            out.append("\u182d")
        else:
            out.append(_letter(cp))
    return "".join(out)
