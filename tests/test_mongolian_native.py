"""Traditional Mongolian at native grade (issue: the interface): Menksoft
input, one date function, the vendored font, the back office in Mongolian,
content in Mongolian, and the translation review page. Real HTTP requests
through the Flask test client, on SQLite and PostgreSQL."""
import datetime
import re
import shutil
from pathlib import Path

import pytest
import yaml

from core.i18n import format_date
from core.models import AuditEntry, Staff
from plugins.mongolian import review
from plugins.mongolian.menksoft import to_unicode
from plugins.mongolian.models import TranslationCorrection
from tests.helpers import csrf_token, sign_in

ROOT = Path(__file__).parent.parent
MN = "mn_Mong_CN"
NNBSP, MVS = "\u202f", "\u180e"

# Menksoft glyph code points, as the Menksoft fonts and input method write
# them (one code point per positional form; table: plugins/mongolian/menksoft.py)
MONGGOL = "\ue2f1\ue289\ue2be\ue2ee\ue289\ue2f9"  # ᠮᠣᠩᠭᠣᠯ: init ma, medi o, medi ang, medi ga, medi o, fina la
SAR_A = "\ue2fd\ue26c\ue325\ue26a"  # ᠰᠠᠷ᠎ᠠ: init sa, medi a, fina ra, final a after the vowel separator
UN_SUFFIX = " \ue291\ue2b5"  # " ᠤᠨ" after a word: the suffix's medial u, fina na
TUR_ABURAL = "\ue309\ue2ab\ue325 \ue266\ue2c6\ue292\ue326\ue26c\ue2f9"  # ᠲᠦᠷ ᠠᠪᠤᠷᠠᠯ (temporary relief)


def test_menksoft_glyphs_become_unicode_letters():
    assert to_unicode(MONGGOL) == "ᠮᠣᠩᠭᠣᠯ"
    assert to_unicode(SAR_A) == "ᠰᠠᠷ" + MVS + "ᠠ"
    assert to_unicode(MONGGOL + UN_SUFFIX) == "ᠮᠣᠩᠭᠣᠯ" + NNBSP + "ᠤᠨ"
    assert to_unicode(TUR_ABURAL) == "ᠲᠦᠷ ᠠᠪᠤᠷᠠᠯ"
    # a dotted masculine initial (Menksoft's QA block, variant 1) is the letter GA
    assert to_unicode("\ue2cf\ue26c") == "ᠭᠠ"
    # digits, punctuation; Chinese, Latin and Unicode Mongolian are left alone
    assert to_unicode("\ue245\ue246\ue237") == "᠑᠒᠃"
    assert to_unicode("乌审旗 ᠦᠦᠰᠢᠨ abc") == "乌审旗 ᠦᠦᠰᠢᠨ abc"
    assert not any("\ue000" <= c <= "\uf8ff" for c in to_unicode(MONGGOL + SAR_A + TUR_ABURAL))


def test_one_date_function_in_every_language(app):
    day = datetime.date(2026, 9, 30)  # a Wednesday
    at = datetime.datetime(2026, 9, 30, 14, 5)
    with app.test_request_context("/"):
        assert format_date(day, "long", "zh_Hans_CN") == "2026年9月30日"
        assert format_date(day, "long", "en") == "30 September 2026"
        mongolian = format_date(day, "long", MN)
        assert "ᠶᠢᠰᠦᠨ ᠰᠠᠷ᠎ᠠ" in mongolian and mongolian.startswith("2026") and "30" in mongolian
        assert "M9" not in mongolian and "9月" not in mongolian
        assert format_date(at, "datetime", MN) == "2026-09-30 14:05"
        assert format_date(at, "short", "en") == "2026-09-30"
        with pytest.raises(ValueError):
            format_date(day, "fancy")


def test_the_font_is_vendored_limited_to_mongolian_and_preloaded(demo_app):
    client = demo_app.test_client()
    css = client.get("/-/static-plugins/mongolian/mongolian-script.css").get_data(as_text=True)
    assert "font-display: block" in css
    assert "unicode-range: U+1800-18AF, U+202F, U+200C-200D" in css
    url = re.search(r'url\("([^"]+\.woff2)"\)', css).group(1)
    font = client.get(f"/-/static-plugins/mongolian/{url}")
    assert font.status_code == 200 and font.data[:4] == b"wOF2" and len(font.data) > 50_000
    assert "SIL Open Font License" in (ROOT / "plugins/mongolian/static/fonts/OFL.txt").read_text()
    html = client.get(f"/?lang={MN}").get_data(as_text=True)
    assert re.search(r'<link rel="preload" href="[^"]+\.woff2" as="font" type="font/woff2" crossorigin>', html)
    assert "fonts.googleapis" not in html and "cdn" not in html.lower()
    # no preload for the other languages
    assert ".woff2" not in client.get("/?lang=zh_Hans_CN").get_data(as_text=True)


def test_the_back_office_turns_vertical_with_a_switcher_and_lang(demo_app):
    client = demo_app.test_client()
    assert sign_in(client, "county.admin").status_code == 302
    for path in ("/admin/", "/admin/items/"):
        html = client.get(f"{path}?lang={MN}").get_data(as_text=True)
        assert '<html lang="mn-Mong-CN"' in html and 'class="wm-vertical-lr"' in html, path
        assert "mongolian.css" in html and 'rel="preload"' in html
        switch = re.search(r'<ul class="nav navbar-nav langs" id="admin-langs"[^>]*>(.*?)</ul>', html, re.S).group(1)
        assert re.findall(r'href="\?lang=([^"]+)"', switch) == ["zh_Hans_CN", "en", MN]
    html = client.get("/admin/?lang=zh_Hans_CN").get_data(as_text=True)
    assert '<html lang="zh-Hans-CN"' in html and 'class="wm-horizontal-tb"' in html and "mongolian.css" not in html


def _mn_names(zh_part):
    """Mongolian names of the 乌审旗 items whose Chinese name contains
    ``zh_part``, read from the pack files."""
    names = {}
    for file in (ROOT / "metadata/wushen").glob("items_*.yaml"):
        for item in yaml.safe_load(file.read_text("utf-8"))["items"]:
            if zh_part in item["name"]["zh"]:
                names[item["code"]] = item["name"]["mn"]
    return names


def test_items_are_found_by_their_mongolian_name_even_typed_with_menksoft(demo_app):
    client = demo_app.test_client()
    expected = _mn_names("临时救助")
    assert expected and all("ᠲᠦᠷ ᠠᠪᠤᠷᠠᠯ" in n for n in expected.values())
    for query in ("ᠲᠦᠷ ᠠᠪᠤᠷᠠᠯ", TUR_ABURAL):  # Unicode, then the same words as Menksoft glyphs
        html = client.get("/guides", query_string={"q": query, "lang": MN}).get_data(as_text=True)
        found = set(re.findall(r'href="/guides/([^"?]+)"', html))
        assert found == set(expected), query
        for name in expected.values():
            assert name in html


def _post(client, **data):
    data = {"csrf_token": csrf_token(client, "/translations/"), "show": "all", **data}
    return client.post("/translations/", data=data)


def test_review_page_corrects_versions_audits_and_shows_at_once(demo_app, tmp_path):
    client = demo_app.test_client()
    with demo_app.app_context():  # the demo's translator (plugins/mongolian/metadata_demo)
        assert Staff.get(Staff.username == "county.translator").role == "translator"
    assert sign_in(client, "county.translator").status_code == 302
    name = _mn_names("失业登记")["150626-rsj-013"]
    page = client.get("/translations/", query_string={"source": "metadata", "show": "all", "q": "失业登记"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "失业登记" in html and name in html
    first = "ᠠᠵᠢᠯᠭᠦᠢ ᠶᠢᠨ ᠳᠠᠩᠰᠠᠯᠠᠯᠲᠠ"
    assert _post(client, source="metadata", key="失业登记", text=first, reviewed="1").status_code == 302
    # typed with Menksoft: stored as Unicode
    assert _post(client, source="metadata", key="失业登记", text=MONGGOL + UN_SUFFIX + " ᠠᠵᠢᠯ").status_code == 302
    with demo_app.app_context():
        rows = list(TranslationCorrection.select().where(TranslationCorrection.key == "失业登记")
                    .order_by(TranslationCorrection.version))
        assert [(r.version, r.text, r.reviewed, r.actor) for r in rows] == [
            (1, first, True, "county.translator"),
            (2, "ᠮᠣᠩᠭᠣᠯ" + NNBSP + "ᠤᠨ ᠠᠵᠢᠯ", False, "county.translator")]
        audited = list(AuditEntry.select().where(AuditEntry.action == "translation.correct").order_by(AuditEntry.seq))
        assert len(audited) == 2 and audited[0].entity == "metadata:失业登记" and first in audited[0].payload
    # the guide shows the newest correction at once, in Mongolian only
    guide = client.get(f"/guides/150626-rsj-013?lang={MN}").get_data(as_text=True)
    assert re.search(r"<h1>(.*?)</h1>", guide).group(1) == "ᠮᠣᠩᠭᠣᠯ" + NNBSP + "ᠤᠨ ᠠᠵᠢᠯ"
    assert name not in re.sub(r"<li>.*?</li>", "", guide, flags=re.S)  # (a material's name may contain it)
    assert "失业登记" in client.get("/guides/150626-rsj-013?lang=zh_Hans_CN").get_data(as_text=True)
    # an interface string, corrected and shown at once
    assert _post(client, source="catalog", key="Service guides", text="ᠵᠢᠭᠠᠪᠤᠷᠢ ᠨᠤᠭᠤᠳ", reviewed="1").status_code == 302
    assert "ᠵᠢᠭᠠᠪᠤᠷᠢ ᠨᠤᠭᠤᠳ" in client.get(f"/?lang={MN}").get_data(as_text=True)
    # bad input: 4xx, nothing written
    assert _post(client, source="metadata", key="失业登记", text="  ").status_code == 400
    assert _post(client, source="elsewhere", key="失业登记", text="x").status_code == 400
    assert _post(client, source="metadata", key="没有这个词", text="ᠠ").status_code == 404
    with demo_app.app_context():
        assert TranslationCorrection.select().count() == 3

    # export: the newest corrections into (copies of) the packs, the catalogs and the registry
    from plugins.mongolian.commands import export

    packs = tmp_path / "packs"
    shutil.copytree(ROOT / "metadata/wushen", packs / "wushen")
    catalogs = tmp_path / "catalogs"
    shutil.copytree(review.CATALOG_DIR, catalogs)
    registry = tmp_path / "review.yaml"
    with demo_app.app_context():
        done = export(demo_app.extensions["bangban"].pm, pack_dirs=[packs / "wushen"], catalog_dir=catalogs,
                      review_file=registry)
    assert done["catalog"] == 1 and done["metadata"] >= 1
    items = {i["code"]: i for f in (packs / "wushen").glob("items_*.yaml")
             for i in yaml.safe_load(f.read_text("utf-8"))["items"]}
    assert items["150626-rsj-013"]["name"]["mn"] == "ᠮᠣᠩᠭᠣᠯ" + NNBSP + "ᠤᠨ ᠠᠵᠢᠯ"
    assert items["150626-rsj-013"]["name"]["zh"] == "失业登记"
    catalog = {m.id: m for m in review.read_catalog(catalogs / "messages.po")}
    assert catalog["Service guides"].string == "ᠵᠢᠭᠠᠪᠤᠷᠢ ᠨᠤᠭᠤᠳ" and review.is_reviewed(catalog["Service guides"])
    assert (catalogs / "messages.mo").stat().st_size > 0
    # version 2 was not marked reviewed: the registry has nothing new
    assert review.reviewed_hashes(registry) == set()


def test_review_page_is_for_its_permission_only(demo_app):
    client = demo_app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    assert client.get("/translations/").status_code == 403
    token = csrf_token(client, "/cases")
    response = client.post("/translations/", data={"csrf_token": token, "source": "metadata", "key": "失业登记",
                                                    "text": "ᠠ"})
    assert response.status_code == 403
    with demo_app.app_context():
        assert TranslationCorrection.select().count() == 0
    assert client.get("/translations/").status_code == 403
    anonymous = demo_app.test_client()
    assert anonymous.get("/translations/").status_code in (302, 401)
