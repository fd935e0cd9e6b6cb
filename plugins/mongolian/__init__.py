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

from flask_babel import lazy_gettext as _l

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
             script_css="/-/static-plugins/mongolian/mongolian-script.css",
             font_preload=[FONT_URL], normalize_input=to_unicode,
             month_names=MONTHS, weekday_names=WEEKDAYS,
             date_format="yyyy ᠣᠨ\u202fᠤ MMMM d ᠡᠳᠦᠷ")


@hookimpl
def translation_dirs():
    return HERE / "translations"


@hookimpl
def static_dirs():
    return HERE / "static"


@hookimpl
def template_dirs():
    return HERE / "templates"


@hookimpl
def register_metadata_packs(register):
    register(HERE / "metadata")  # the translator role (翻译审校员), which may review translations


@hookimpl
def register_demo_packs(register):
    # 乌审旗's translator; the demo of a county is loaded with its region plugin (wushen)
    register(HERE / "metadata_demo", county="150626")


@hookimpl
def register_permissions(register):
    register("translation.review", _l("Review and correct translations"))


@hookimpl
def register_blueprints(register):
    from .views import bp

    register(bp)


@hookimpl
def menu_links(request):
    from core.permissions import menu_links_for

    return menu_links_for([("translation.review", "translations.index", _l("Translation review"))])


@hookimpl
def startup(app):
    from .live import install

    install(app)


@hookimpl
def register_commands(cli):
    from .commands import translations

    cli.add_command(translations)
