"""Traditional Mongolian (ᠮᠣᠩᠭᠣᠯ, mn_Mong_CN): the language, its catalogs
(ours, Flask-Admin's and WTForms'), its calendar words and the vertical page
layout. Without this plugin the interface offers Chinese and English only.

CLDR has no month or weekday names for mn_Mong_CN (Babel falls back to the
Cyrillic ``mn``), so they are shipped here. The page turns top to bottom
with lines left to right (``writing-mode: vertical-lr``) through
``mongolian.css``, which the core links for a language that names it.
"""
from pathlib import Path

from core.hookspecs import hookimpl

HERE = Path(__file__).parent
LOCALE = "mn_Mong_CN"

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
             month_names=MONTHS, weekday_names=WEEKDAYS,
             date_format="yyyy ᠣᠨ\u202fᠤ MMMM d ᠡᠳᠦᠷ")


@hookimpl
def translation_dirs():
    return HERE / "translations"


@hookimpl
def static_dirs():
    return HERE / "static"
