"""Printing in a real browser (Debian's chromium through Playwright,
``page.pdf`` with the page's own CSS page size, the PDF read with pypdf):
the commission, the receipt, the notices, the ledgers and the reports come
out on A4 portrait pages in Chinese, Mongolian and English; a case's sheets
fit one page even for an item with many materials and people with long
names; the signature lines never stand alone on the last page; Mongolian
sheets run vertically inside the portrait page. Set BANGBAN_PRINT_DIR to keep
the PDFs for a person to look at."""
import datetime
import io
import os
import re
from pathlib import Path

import pypdf
import pytest

from tests.test_browser_accounts import sign_in

LANGS = ("zh_Hans_CN", "mn_Mong_CN", "en")
A4_PT = (595.28, 841.89)  # 210 x 297 mm in PostScript points
MISSING = 70  # missing materials on the long one-time notice: more than one page in every language


def _pdf(page, name):
    """The page printed as Chromium prints it (the CSS @page size wins);
    kept as ``name``.pdf in $BANGBAN_PRINT_DIR if set, for a person to look at."""
    data = page.pdf(prefer_css_page_size=True, print_background=True)
    if os.environ.get("BANGBAN_PRINT_DIR"):
        folder = Path(os.environ["BANGBAN_PRINT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.pdf").write_bytes(data)
    return pypdf.PdfReader(io.BytesIO(data))


def _assert_a4_portrait(reader, what):
    assert len(reader.pages) >= 1, what
    for n, sheet in enumerate(reader.pages, 1):
        width, height = float(sheet.mediabox.width), float(sheet.mediabox.height)
        assert abs(width - A4_PT[0]) <= 1 and abs(height - A4_PT[1]) <= 1, \
            f"{what}: page {n} is {width:.1f} x {height:.1f} pt, not A4 portrait"


def _text(sheet):
    """A page's text without spacing (vertical Mongolian comes out with
    spaces and line breaks of its own)."""
    return re.sub(r"\s+", "", sheet.extract_text())


def _rich_cases(app):
    """Cases of the demo county for an item with the most materials, with
    long names: all materials handed over (the commission), a one-time
    notice of many long-named missing materials, a decline with a long
    reason. Returns ``{name: case id}`` and the texts the test looks for."""
    from core import catalog
    from core.auth import User
    from core.cases import service
    from core.cases.demo import id_number
    from core.cases.models import Case
    from core.models import Staff

    with app.app_context():
        agent = User(Staff.get(Staff.username == "galutu.agent"))
        items = [r for r in catalog.all_current("items", county="150626")
                 if "township" in r.content["levels"] or "village" in r.content["levels"]]
        record = max(items, key=lambda r: (len(r.content.get("materials", [])), len(str(r.content["name"]))))
        village = Case.select().where(Case.village_code.is_null(False)).order_by(Case.id).first().village_code
        materials = len(record.content.get("materials", []))
        assert materials >= 5

        def form(n):
            return {"applicant_name": "额尔德木图巴雅尔其其格·乌力吉德力格尔", "applicant_division": village,
                    "applicant_id_number": id_number(village[:6], "19560712", 70 + n),
                    "applicant_phone": f"139470{n:05d}", "applicant_address": "乌审旗嘎鲁图镇萨如拉嘎查第三村民小组",
                    "principal_is_applicant": False, "principal_name": "斯琴高娃·那仁满都拉·宝力德",
                    "principal_phone": "13947712345", "principal_id_number": id_number(village[:6], "19800101", 90 + n),
                    **{f"material_{i}": True for i in range(1, materials + 1)}}

        commission = service.create_case(record, form(1), agent)
        few = service.create_case(record, form(2), agent)
        names = [f"M-{n:02d} 户籍所在地村（居）民委员会出具的家庭经济状况及共同生活人员情况证明" for n in range(1, 13)]
        service.take(few, "one_time_notice", agent, {"missing_materials": names})
        many = service.create_case(record, form(3), agent)
        names = [f"M-{n:02d} 户籍所在地村（居）民委员会出具的证明" for n in range(1, MISSING + 1)]
        service.take(many, "one_time_notice", agent, {"missing_materials": names})
        declined = service.create_case(record, form(4), agent)
        reason = ("申请人户籍不在本嘎查，且其家庭成员名下有登记在册的机动车辆两台、商业用房一处，家庭人均收入"
                  "高于当地最低生活保障标准，依照《内蒙古自治区最低生活保障条件认定办法》第九条不符合申请条件。") * 2
        service.take(declined, "decline", agent, {"reason": reason})
        return {"commission": commission.id, "one_time": few.id, "many": many.id, "decline": declined.id}


@pytest.fixture
def printed(demo_app, live_server, page):
    cases = _rich_cases(demo_app)
    sign_in(page, live_server, "county.supervisor")

    def printed(path, lang):
        response = page.goto(f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}")
        assert response.status == 200, path
        page.evaluate("document.fonts.ready")
        return _pdf(page, re.sub(r"[^A-Za-z0-9]+", "-", path.strip("/")) + "-" + lang)

    printed.cases = cases
    return printed


def _signature_labels(app, lang):
    """The signature lines' words in ``lang`` as the sheet shows them."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(lang):
        return [gettext("Agent (signature)"), gettext("Applicant (signature)")]


def test_case_sheets_fit_one_a4_portrait_page_with_the_signatures_never_alone(printed, page, demo_app):
    cases = printed.cases
    sheets = {"receipt": f"/cases/{cases['commission']}/receipt",
              "commission": f"/cases/{cases['commission']}/commission",
              "one_time": f"/cases/{cases['one_time']}/notice/one_time",
              "decline": f"/cases/{cases['decline']}/notice/decline"}
    pages = {}
    for lang in LANGS:
        for name, path in sheets.items():
            reader = printed(path, lang)
            _assert_a4_portrait(reader, f"{name} ({lang})")
            pages[name, lang] = len(reader.pages)
            if name == "receipt":  # the one page holds the whole sheet: the number at the top, the signatures
                text = _text(reader.pages[0])
                assert re.search(r"150626-\d{8}-\d{4}", text), lang
                for words in _signature_labels(demo_app, lang):
                    assert re.sub(r"\s+", "", words) in text, (lang, words)
    assert pages == {key: 1 for key in pages}

    # Mongolian: vertical lines on the same portrait paper; the sheet, laid
    # out on the paper's printable area (A4 less the margins), is no wider than it
    page.set_viewport_size({"width": 703, "height": 1017})
    for lang, mode in (("mn_Mong_CN", "vertical-lr"), ("zh_Hans_CN", "horizontal-tb")):
        page.goto(f"{page.url.split('/cases/')[0]}{sheets['commission']}?lang={lang}")
        page.emulate_media(media="print")
        modes = page.evaluate("""() => [...document.querySelectorAll('.a4, .a4 table, .signatures')]
                                       .map(e => getComputedStyle(e).writingMode)""")
        assert len(modes) >= 4 and set(modes) == {mode}, lang
        assert page.evaluate("document.querySelector('.a4').getBoundingClientRect().right") <= 703, lang
        page.emulate_media(media=None)

    # the signature lines never stand alone on the last page: a one-time notice
    # listing 70 missing materials runs over a page; its last page carries the
    # last materials and the date with the signatures
    path = f"/cases/{printed.cases['many']}/notice/one_time"
    for lang in LANGS:
        reader = printed(path, lang)
        _assert_a4_portrait(reader, f"long notice ({lang})")
        assert len(reader.pages) >= 2, lang
        last = _text(reader.pages[-1])
        assert f"M-{MISSING:02d}" in last, lang  # the list's end, not only the signature block
        assert re.search(r"20\d\d", last), lang  # the date line above the signatures
        for words in _signature_labels(demo_app, lang):
            clean = re.sub(r"\s+", "", words)
            assert clean in last and all(clean not in _text(p) for p in reader.pages[:-1]), (lang, words)


#: the Mongolian KPI report (vertical lines: a unit a line, its metrics along it) prints on at most
#: this many pages with the demo's 96 units (7 measured; 16 before its headers became numbers with a key)
KPI_MN_PAGES = 8


def test_ledgers_and_reports_print_on_a4_portrait(printed, demo_app, page):
    """The 评价表 (a landscape sheet before; one page with the demo's
    ratings in every language, English's longer words included), the KPI
    report's table view (in Mongolian: its cells fit along the page, and a
    few pages), a staff member's assessment sheet (with signature lines) and
    a month of a center's work log (many rows: several pages, each with the
    headers)."""
    from core.models import Staff

    with demo_app.app_context():
        staff_id = Staff.get(Staff.username == "galutu.agent").id
    counts = {}
    # (the KPI table view is a heavy page to lay out: printed once, vertically)
    views = [("rating ledger", "/ratings/ledger", LANGS), ("kpi", "/reports/kpi/print", ["mn_Mong_CN"]),
             ("assessment sheet", f"/assessment/{staff_id}", LANGS)]
    for name, path, langs in views:
        for lang in langs:
            reader = printed(path, lang)
            _assert_a4_portrait(reader, f"{name} ({lang})")
            counts[name, lang] = len(reader.pages)
            if name == "kpi":  # laid out on the printable area (A4 less the margins): nothing past the page's end
                page.set_viewport_size({"width": 703, "height": 1017})
                page.emulate_media(media="print")
                along = page.evaluate("document.querySelector('table.kpi').getBoundingClientRect().height")
                page.emulate_media(media=None)
                assert along <= 1017, f"the KPI table runs {along:.0f} px along a 1017 px page"
    print(f"\npages printed: {counts}")
    assert {lang: counts["assessment sheet", lang] for lang in LANGS} == {lang: 1 for lang in LANGS}
    assert {lang: counts["rating ledger", lang] for lang in LANGS} == {lang: 1 for lang in LANGS}
    assert counts["kpi", "mn_Mong_CN"] <= KPI_MN_PAGES, counts
    end = datetime.date.today()
    path = f"/worklog?site=center-150626100&from={end - datetime.timedelta(days=60)}&to={end}"
    reader = printed(path, "en")
    _assert_a4_portrait(reader, "work log (en)")
    assert len(reader.pages) >= 2
    assert all("Consultations" in _text(p) for p in reader.pages)
