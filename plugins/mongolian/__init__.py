"""Traditional Mongolian (ᠮᠣᠩᠭᠣᠯ, mn_Mong_CN): the language, its catalogs
(ours, Flask-Admin's and WTForms'), its calendar words and the vertical page
layout. Without this plugin the interface offers Chinese and English only.

CLDR has no month or weekday names for mn_Mong_CN (Babel falls back to the
Cyrillic ``mn``), so they are shipped here. The page turns top to bottom
with lines left to right (``writing-mode: vertical-lr``) through
``mongolian.css``, which the core links for a language that names it.

The font is vendored (Noto Sans Mongolian, SIL OFL, ``static/fonts``),
limited by ``unicode-range`` to the Mongolian block and preloaded, so no
page depends on a font installed on the reader's machine. Text typed with
the Menksoft input method (private-use code points) is turned into Unicode
on input (:mod:`plugins.mongolian.menksoft`). Metadata texts carry their
Mongolian drafts inline (``mn:``); which of them a native reader has
reviewed is recorded in ``review.yaml`` (:mod:`plugins.mongolian.review`).
"""
from pathlib import Path

from core.hookspecs import hookimpl

from .menksoft import to_unicode

HERE = Path(__file__).parent
LOCALE = "mn_Mong_CN"
FONT_URL = "/-/static-plugins/mongolian/fonts/NotoSansMongolian-Regular.mongolian.woff2"

#: ᠨᠢᠭᠡᠨ ᠰᠠᠷ᠎ᠠ … ᠠᠷᠪᠠᠨ ᠬᠣᠶᠠᠷ ᠰᠠᠷ᠎ᠠ (first … twelfth month), as written in Inner Mongolia
MONTHS = [f"{n} ᠰᠠᠷ᠎ᠠ" for n in (
    "ᠨᠢᠭᠡᠨ", "ᠬᠣᠶᠠᠷ", "ᠭᠤᠷᠪᠠᠨ", "ᠳᠥᠷᠪᠡᠨ", "ᠲᠠᠪᠤᠨ", "ᠵᠢᠷᠭᠤᠭᠠᠨ",
    "ᠳᠣᠯᠣᠭᠠᠨ", "ᠨᠠᠢᠮᠠᠨ", "ᠶᠢᠰᠦᠨ", "ᠠᠷᠪᠠᠨ", "ᠠᠷᠪᠠᠨ ᠨᠢᠭᠡᠨ", "ᠠᠷᠪᠠᠨ ᠬᠣᠶᠠᠷ")]
#: Monday … Sunday: ᠭᠠᠷᠠᠭ ᠤᠨ ᠨᠢᠭᠡᠨ (the week's first day) … ᠭᠠᠷᠠᠭ ᠤᠨ ᠡᠳᠦᠷ
WEEKDAYS = [f"ᠭᠠᠷᠠᠭ\u202fᠤᠨ {n}" for n in (
    "ᠨᠢᠭᠡᠨ", "ᠬᠣᠶᠠᠷ", "ᠭᠤᠷᠪᠠᠨ", "ᠳᠥᠷᠪᠡᠨ", "ᠲᠠᠪᠤᠨ", "ᠵᠢᠷᠭᠤᠭᠠᠨ", "ᠡᠳᠦᠷ")]


@hookimpl
def register_languages(register):
    register(LOCALE, name="ᠮᠣᠩᠭᠣᠯ", direction="vertical-lr", script="Mong",
             font_css="/-/static-plugins/mongolian/mongolian.css",
             font_preload=[FONT_URL], normalize_input=to_unicode,
             month_names=MONTHS, weekday_names=WEEKDAYS,
             date_format="yyyy ᠣᠨ\u202fᠤ MMMM d ᠡᠳᠦᠷ")


@hookimpl
def translation_dirs():
    return HERE / "translations"


@hookimpl
def static_dirs():
    return HERE / "static"
