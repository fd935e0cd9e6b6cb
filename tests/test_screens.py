"""Every staff, public and back-office page in a real browser (Debian's
chromium through Playwright), in Chinese, Mongolian and English, on a desk
screen (1366×900) and a phone (390×844), screenshotted into a folder a
person can look through (``build/screenshots/<lang>/<width>/…png``, printed;
``BANGBAN_SCREENSHOTS`` overrides it; git-ignored), and measured at 360 px
(the narrowest phone) and 1024 px (the menu folded) too.

The pages are the GET routes of the URL map with real arguments from the
demo (as the role matrix enumerates them), each opened by a demo account
whose role may see it (tests/test_role_matrix.py's ROUTES and ADMIN_VIEWS
say what a route needs). A route whose record the demo lacks fails the test
(the demo gets one), so that the pages looked at never silently shrink. A
page fails on

* horizontal overflow in Chinese and English (the document wider than the
  window: ``scrollWidth > innerWidth``); in Mongolian the page runs top to
  bottom and scrolls sideways by design, but the commission form's
  applicant part spans at most two phone screens;
* a desk screenshot that came out drawn at phone width and repeated
  across (:func:`tiled`; taken again a few frames later first);
* a top bar at the desk taller than three rows of links (wider than a
  third of the window in Mongolian);
* a tap target under 44 px on the phone (buttons, fields, the menu and the
  list filters; in Mongolian the width, the line's height there);
* tofu: a visible character that every font of its element lacks. Each
  distinct character is drawn on a canvas in the element's font stack and
  compared with an unassigned code point (U+0378), which draws the
  missing-glyph box: the same pixels mean the glyph is missing;
* a raw code or untranslated interface text (tests/test_labels.py's checks).

One server (in a process of its own, the browser keeping its static files),
one browser, a few tabs at a time (each going on in its page while the
account and language stay), each distinct character's glyph checked once
per font for the whole run. SQLite only: what is checked
is the rendering, which does not depend on the database (the workbench and
every page's data are tested on both databases elsewhere), and one run must
stay within a few minutes.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from werkzeug.serving import make_server

from tests import test_labels as labels
from tests import test_role_matrix as matrix
from tests.conftest import ARGS, CHROMIUM
from tests.helpers import sign_in

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("BANGBAN_SCREENSHOTS") or ROOT / "build" / "screenshots")
LANGS = ("zh_Hans_CN", "mn_Mong_CN", "en")
SIZES = ((1366, 900), (390, 844))
#: widths measured too, without a screenshot: the narrowest phone, and a small desk or tablet where
#: the menu is folded behind its button (below Bootstrap's xl, 1200 px)
MEASURED = ((360, 740), (1024, 768))
PHONE = 390
TABS = 4
#: the top bar at a desk: at most three rows of 44-px links (Chinese, English), or a third of
#: the window's width in Mongolian (the bar runs top to bottom)
BAR_HEIGHT, BAR_SHARE = 160, 1 / 3
TIMES = {}
PHASES = {}  # seconds spent in each step of a page, over all pages (where the time goes)
#: pages whose records are codes by design: the back office's roles (the code is the record's key)
CODES_SHOWN = ("/admin/roles/",)
#: who opens a page, in this order of preference: the first whose role may see it
USERS = ("galutu.agent", "county.supervisor", "county.admin", "taoli.grid", "rsj.helper", "county.tracker",
         "sys.admin", "sec.admin", "audit.admin")
#: routes that are no page: sign-out, the second-factor step, a photo
NO_PAGE = {"auth.sign_out", "auth.second_factor", "auth.account_language", "hall.staff_photo"}
CENTER = "center-150626100"


def _args(app):
    """Real arguments for the URL map's rules, from the demo county."""
    from core.cases.models import Case, CaseEvent
    from core.hall.models import Appointment
    from core.models import MetadataRecord, Staff
    from core.online import OnlineRequest
    from core.outbox import OutboxMessage
    from core.ratings.models import Rectification

    with app.app_context():
        noticed = (Case.select().join(CaseEvent, on=(CaseEvent.case == Case.id))
                   .where((CaseEvent.action == "one_time_notice") & (Case.township_code == "150626100"))
                   .order_by(Case.id).first())
        rect = Rectification.select().join(Case).where(Case.township_code == "150626100").order_by(
            Rectification.id).first()
        appointment = Appointment.select().order_by(Appointment.id).first()
        request = OnlineRequest.select().where(OnlineRequest.township_code == "150626100").order_by(
            OnlineRequest.id).first()
        keys = {}
        for record in MetadataRecord.select().where(MetadataRecord.current & MetadataRecord.county_code.in_(
                ["", "150626"])).order_by(MetadataRecord.county_code.desc(), MetadataRecord.key):
            keys.setdefault(record.kind, record.key)
        helper = Staff.get(Staff.username == "rsj.helper")
        message = OutboxMessage.select().where(OutboxMessage.county_code == "150626").order_by(OutboxMessage.id).first()
        # None: the demo has no such record (the page is listed as not shown)
        return {"case_id": noticed.id, "code": noticed.item_code, "kind": "one_time", "number": noticed.number,
                "token": noticed.track_token, "rectification_id": rect.id if rect else None,
                "staff_id": helper.id, "request_id": request.id if request else None, "county": "150626",
                "message_id": message.id if message else None,
                "appointment_token": appointment.cancel_token if appointment else None, "keys": keys}


def _path(rule, endpoint, args):
    values = dict(args)
    if endpoint.startswith(("hall.", "accounts.compliance_site", "kpi.site")):
        values["code"] = CENTER
    if endpoint == "kpi.township":
        values["code"] = "150626100"
    if endpoint == "hall.appointment":
        values["token"] = args["appointment_token"]
    if endpoint.startswith("meta_"):  # a back-office metadata view: a record of its kind
        values["key"] = args["keys"].get(endpoint.split(".")[0][len("meta_"):], "x")
    path = rule.rule
    for name in rule.arguments:
        if values.get(name) is None:
            return None
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values[name]), path)
    return path


def _may(user, spec):
    from core.permissions import can

    if spec == "open":
        return True
    needs = [p for p in ((spec,) if isinstance(spec, str) else spec) if p != matrix.CASE]
    if matrix.CASE == spec or matrix.CASE in spec:
        if not can(user, "case.read"):
            return False
    if needs and needs[0] == "admin":
        return user.is_admin and (len(needs) == 1 or any(can(user, p) for p in needs[1:]))
    return not needs or any(can(user, p) for p in needs)


def pages(app):
    """[(username or None, path)] of every page, the routes that answered no page, and the
    routes whose record the demo lacks (each a page not shown)."""
    from core.auth import User
    from core.models import Staff

    args = _args(app)
    out, problems, absent = [], [], []
    with app.test_request_context():
        staff = {s.username: User(s) for s in Staff.select().where(Staff.county_code == "150626")}
        order = [*USERS, *sorted(set(staff) - set(USERS))]
        admin_ids = _admin_ids(app)
        for rule in app.url_map.iter_rules():
            endpoint = rule.endpoint
            if "GET" not in rule.methods or endpoint.endswith("static") or endpoint in NO_PAGE:
                continue
            if endpoint.endswith(("export", "ajax_lookup", "ajax_update", ".api_items", "api_item_form")) \
                    or rule.rule.endswith((".xlsx", ".csv", ".json")) or rule.rule.startswith("/api/") \
                    or "files" in rule.rule or endpoint.startswith("ops.") \
                    or endpoint in ("catalog_io.download_view", "catalog_io.job_view"):  # a job's file and progress
                continue  # data, not a page
            spec = matrix._spec(endpoint)
            path = _path(rule, endpoint, args)
            if path is None:
                absent.append(endpoint)
                continue
            if endpoint.endswith((".edit_view", ".details_view")) and "<" not in rule.rule and "?" not in path:
                view = endpoint.split(".")[0]
                if view not in admin_ids:
                    continue
                path += "?" + urlencode({"id": admin_ids[view]})
            if spec == "open" and endpoint not in ("auth.account", "translations.index"):
                out.append((None, path))
                continue
            who = next((u for u in order if _may(staff[u], spec if spec != "open" else ("case.read",))), None)
            if endpoint.startswith("translations."):
                who = next(u for u in order if _may(staff[u], ("translation.review",)))
            if who is None:
                problems.append((endpoint, "nobody may see it"))
                continue
            out.append((who, path))
    return sorted(set(out), key=lambda p: (p[0] or "", p[1])), problems, sorted(set(absent))


def _admin_ids(app):
    """The first row's id of each back-office model view (its edit and details pages)."""
    ids = {}
    for admin in app.extensions.get("admin", []):
        for view in admin._views:
            model = getattr(view, "model", None)
            if model is None:
                continue
            with app.app_context():
                row = model.select().order_by(model._meta.primary_key).first()
            if row is not None:
                ids[view.endpoint] = row._pk
    return ids


# --- the checks that run in the page -------------------------------------------------

MEASURE = r"""
(phone) => {
  const se = document.scrollingElement;
  const vertical = getComputedStyle(document.body).writingMode.startsWith('vertical');
  const small = [];
  if (phone) {
    const targets = document.querySelectorAll(
      '.topbar a, .topbar button, .navbar a, .navbar button, main button, main select, .container button, ' +
      'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]), ' +
      'main .filters a, main .pager a, main .work-summary a, .btn');
    for (const el of targets) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
      const size = vertical ? r.width : r.height;
      if (size < 43.5) small.push((el.tagName + '.' + el.className + ' ' + (el.innerText || el.value || el.name || '')).slice(0, 60) + ' ' + Math.round(size));
    }
  }
  let applicant = null;
  const part = document.querySelector('#section-applicant');
  if (part) { const r = part.getBoundingClientRect(); applicant = vertical ? r.width : r.height; }
  const wide = [];  // what sticks out (for the failure message)
  if (!vertical && se.scrollWidth > innerWidth) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.right > innerWidth + 1 && r.width && !(el.parentElement && el.parentElement.getBoundingClientRect().right > innerWidth + 1))
        wide.push(el.tagName + '.' + [...el.classList].join('.') + '#' + el.id + ' ' + Math.round(r.right));
    }
  }
  const bar = document.querySelector('header.topbar');
  const box = bar ? bar.getBoundingClientRect() : null;
  return {scrollWidth: se.scrollWidth, innerWidth: innerWidth, small: small.slice(0, 8), vertical, applicant,
          wide: wide.slice(0, 5), bar: box ? Math.round(vertical ? box.width : box.height) : 0};
}
"""

#: one walk over the page's text nodes, once its fonts are loaded: what a reader sees (the rendered
#: text, not what is hidden, with the visible fields' placeholders and buttons' values; text in pre
#: and code is data, as in test_labels) and the distinct characters drawn in each font stack
#: (those of pre, code and fields too: every drawn character needs its glyph)
TEXT_AND_CHARS = r"""
async () => {
  await document.fonts.ready;
  const parts = [], byFont = {};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || !node.data.trim() || ['SCRIPT', 'STYLE'].includes(el.tagName) || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    if (!el.closest('script, style, textarea, pre, code')) parts.push(node.data.trim());
    let chars = byFont[style.fontFamily];
    if (!chars) byFont[style.fontFamily] = chars = new Set();
    for (const ch of node.data) if (!/[\p{M}\p{Cf}\p{Z}\p{Cc}\s]/u.test(ch)) chars.add(ch);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder], input[type=submit], input[type=button]'))
    if (el.getClientRects().length) parts.push(el.placeholder || el.value || '');
  const chars = {};
  for (const font in byFont) chars[font] = [...byFont[font]];
  return {text: parts.join(' | '), chars};
}
"""

#: the characters of ``{font stack: [characters]}`` that every font of the stack lacks: each drawn on a
#: canvas and compared with an unassigned code point (U+0378), which draws the missing-glyph box
MISSING_GLYPHS = r"""
(todo) => {
  const canvas = document.createElement('canvas'); canvas.width = canvas.height = 56;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (font, ch) => {
    ctx.clearRect(0, 0, 56, 56); ctx.font = '40px ' + font; ctx.textBaseline = 'top'; ctx.fillText(ch, 4, 4);
    return ctx.getImageData(0, 0, 56, 56).data;
  };
  const same = (a, b) => { for (let i = 3; i < a.length; i += 4) if (a[i] !== b[i]) return false; return true; };
  const missing = {};
  for (const font in todo) {
    const box = draw(font, '\u0378');
    missing[font] = todo[font].filter(ch => same(box, draw(font, ch)));
  }
  return missing;
}
"""

#: (font stack, character) -> whether its glyph is missing: every page uses the same fonts, so a
#: character is drawn once per font stack for the whole run, not once per page
GLYPHS = {}


async def _missing_glyphs(page, chars):
    todo = {font: [c for c in cs if (font, c) not in GLYPHS] for font, cs in chars.items()}
    todo = {font: cs for font, cs in todo.items() if cs}
    if todo:
        found = await page.evaluate(MISSING_GLYPHS, todo)
        for font, cs in todo.items():
            for c in cs:
                GLYPHS[font, c] = c in found[font]
    return sorted({c for font, cs in chars.items() for c in cs if GLYPHS[font, c]})[:20]


def _text_checks(app):
    """Raw codes and untranslated interface text (tests/test_labels.py's), as one pattern each."""
    codes = labels.vocabulary(app)
    edge = r"(?<![A-Za-z0-9_.\-]){}(?![A-Za-z0-9_.\-])"
    def one(words):
        return re.compile(edge.format("(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                                      + ")"))
    return one(codes), one(c for c in codes if "_" in c), one(labels.ui_msgids())


def _serve(settings, ports):
    """The server in a process of its own (the demo's database, keys and secret), so
    that rendering pages and driving the browser use both cores."""
    import logging

    from core import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(**settings)
    app.config["TESTING"] = True
    # the browser keeps the style sheets, scripts and fonts for the run (as behind a front that sets
    # their caching), so loading a page asks this one process for the page, not again for each of them
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    server = make_server("127.0.0.1", 0, app, threaded=True)
    ports.put(server.server_port)
    server.serve_forever()


@pytest.fixture
def server(demo_app):
    import multiprocessing

    from tests.conftest import BUILTIN

    conf = demo_app.config["BANGBAN"]
    settings = {"data_dir": conf["DATA_DIR"], "database_url": conf["DATABASE_URL"], "plugins": BUILTIN,
                "secret_key": demo_app.config["SECRET_KEY"]}
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    process = spawn.Process(target=_serve, args=(settings, ports), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=120)}"
    finally:
        process.terminate()
        process.join(10)


def _cookies(app, username, base):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302, username
    return [{"name": c.key, "value": c.value, "url": base} for c in client._cookies.values()]


async def _run(base, jobs, cookies, text_res):
    from playwright.async_api import async_playwright

    codes_re, en_codes_re, english_re = text_res
    problems, widths = [], {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        contexts = {}  # one per account and language: a redirect keeps the session's language
        for user in {u for u, _path in jobs}:
            for lang in LANGS:
                contexts[user, lang] = context = await browser.new_context(viewport={"width": 1366, "height": 900})
                if user:
                    await context.add_cookies(cookies[user])
        queue = asyncio.Queue()
        # the dashboards first (they compute every metric of the county: the slowest pages, so no
        # tab is left with one at the end)
        order = sorted(((user, lang, path) for user, path in jobs for lang in LANGS),
                       key=lambda j: (not j[2].startswith("/reports/kpi"), j[0] or "", j[1], j[2]))
        for job in order:
            queue.put_nowait(job)

        async def worker():
            # a tab goes on in its page while the account and language stay (a new page is a new
            # renderer to start: a third of the run's processor time); _one leaves it at the desk size
            page, current = None, None
            try:
                while not queue.empty():
                    user, lang, path = queue.get_nowait()
                    if current != (user, lang):
                        if page is not None:
                            await page.close()
                        page, current = await contexts[user, lang].new_page(), (user, lang)
                        page.set_default_timeout(120_000)  # a dashboard computes every metric of the county
                    await _one(page, base, user, path, lang, problems, widths, codes_re, en_codes_re, english_re)
            finally:
                if page is not None:
                    await page.close()

        await asyncio.gather(*(worker() for _ in range(TABS)))
        await browser.close()
    return problems, widths


def tiled(png: bytes) -> bool:
    """A desk-wide screenshot that Chromium drew at phone width and repeated
    across the window (it happens to about one in a hundred after the
    window was resized): its first phone-wide strip is the same, pixel for
    pixel, as the next one. A page laid out for the desk never is: the top
    bar alone runs across."""
    import io

    from PIL import Image, ImageChops

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width < 2 * PHONE:
        return False
    first, second = (image.crop((x, 0, x + PHONE, image.height)) for x in (0, PHONE))
    return ImageChops.difference(first, second).getbbox() is None


async def _screenshot(page, width, tries=4):
    """The page's screenshot (PNG bytes), taken again after the next frames
    while it came out :func:`tiled`; None if it still does."""
    for _ in range(tries):
        shot = await page.screenshot(animations="disabled", timeout=15000)
        if width < 2 * PHONE or not tiled(shot):
            return shot
        PHASES["retaken: drawn at phone width"] = PHASES.get("retaken: drawn at phone width", 0) + 1
        await page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return None


async def _one(page, base, user, path, lang, problems, widths, codes_re, en_codes_re, english_re):
    parts = urlsplit(path)
    url = base + parts.path + "?" + "&".join(q for q in (parts.query, f"lang={lang}") if q)
    where = (lang, user or "public", path)
    started = last = time.monotonic()

    def lap(phase):
        nonlocal last
        now = time.monotonic()
        PHASES[phase] = PHASES.get(phase, 0) + now - last
        last = now

    response = await page.goto(url, wait_until="load")  # at the desk size (a new page's, or where _one left it)
    lap("load")
    if response is None or response.status != 200:
        problems.append((*where, "status", response.status if response else None))
        return
    seen = await page.evaluate(TEXT_AND_CHARS)
    text = seen["text"]
    found = None if path.startswith(CODES_SHOWN) else (en_codes_re if lang == "en" else codes_re).search(text)
    if found:
        problems.append((*where, "raw code", text[max(found.start() - 30, 0):found.end() + 30]))
    if lang != "en":
        found = english_re.search(text)
        if found:
            problems.append((*where, "untranslated", text[max(found.start() - 30, 0):found.end() + 30]))
    lap("text")
    missing = await _missing_glyphs(page, seen["chars"])
    lap("tofu")
    if missing:
        problems.append((*where, "tofu", "".join(missing)))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{user or 'public'}{path}").strip("_")[:150]
    for width, height in (*SIZES, *MEASURED):
        await page.set_viewport_size({"width": width, "height": height})
        measured = await page.evaluate(MEASURE, width < 500)
        lap("measure")
        if measured["innerWidth"] != width:
            problems.append((*where, f"window {measured['innerWidth']} px wide, asked {width}"))
        widths[(*where, width)] = measured["scrollWidth"]
        if lang != "mn_Mong_CN" and measured["scrollWidth"] > measured["innerWidth"]:
            problems.append((*where, f"overflow at {width}", measured["scrollWidth"], measured["wide"]))
        if measured["small"]:
            problems.append((*where, f"tap targets under 44 px at {width}", measured["small"]))
        # at the desk the menus sit beside the brand in a few rows (a few columns in Mongolian), never
        # one link a line down (or across) the screen
        if width >= 1200 and measured["bar"] > (BAR_SHARE * width if measured["vertical"] else BAR_HEIGHT):
            problems.append((*where, f"top bar {measured['bar']} px across at {width}"))
        if lang == "mn_Mong_CN" and width < 500 and measured["applicant"] and measured["applicant"] > 2 * width:
            problems.append((*where, "applicant part wider than two screens", measured["applicant"]))
        if (width, height) in MEASURED:
            continue
        folder = SHOTS / lang / str(width)
        folder.mkdir(parents=True, exist_ok=True)
        shot = await _screenshot(page, width)
        if shot is None:
            problems.append((*where, f"screenshot at {width} drawn at phone width and repeated across"))
        else:
            (folder / f"{name}.png").write_bytes(shot)
        lap("screenshot")
    # back to the desk size before the next page is loaded in this tab (it is loaded at the desk size)
    await page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    TIMES[where] = time.monotonic() - started


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_page_fits_renders_every_glyph_and_speaks_the_language(demo_app, server, capsys):
    started = time.monotonic()
    jobs, unreachable, absent = pages(demo_app)
    assert not unreachable, unreachable
    # every page is shown: a route whose record the demo lacks is a page nobody looks at
    assert not absent, f"no record in the demo for {absent}: add one to the demo data"
    assert len(jobs) > 60
    only = os.environ.get("BANGBAN_SCREENS_ONLY")  # a regex of paths, to look at a few pages while working
    if only:
        jobs = [(u, p) for u, p in jobs if re.search(only, p)]
    signing_in = time.monotonic()
    cookies = {user: _cookies(demo_app, user, server) for user in {u for u, _p in jobs if u}}
    PHASES["sign-ins (once per account)"] = time.monotonic() - signing_in
    problems, widths = asyncio.run(_run(server, jobs, cookies, _text_checks(demo_app)))
    with capsys.disabled():
        print(f"{time.monotonic() - started:.0f} s; screenshots of {len(jobs)} pages × {len(LANGS)} languages × {len(SIZES)} sizes: {SHOTS}")
        print("slowest:", sorted(TIMES.items(), key=lambda kv: -kv[1])[:12])
        print("time in each step (all tabs together):", {k: round(v) for k, v in PHASES.items()})
        report = SHOTS / "widths.txt"
        report.write_text("\n".join(f"{w}\t{lang}\t{width}\t{user}\t{path}"
                                    for (lang, user, path, width), w in sorted(widths.items())), "utf-8")
    summary = "\n".join(" ".join(str(x) for x in p) for p in sorted(problems, key=str))
    assert not problems, f"{len(problems)} problems:\n{summary}"


def test_a_phone_wide_drawing_repeated_across_the_desk_is_told_from_a_desk_page():
    import io
    import random

    from PIL import Image

    rng = random.Random(5)

    def png(image):
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    phone = Image.new("RGB", (PHONE, 120))
    phone.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(PHONE * 120)])
    repeated = Image.new("RGB", (1366, 120), "white")
    for x in range(0, 1366, PHONE):
        repeated.paste(phone, (x, 0))
    desk = Image.new("RGB", (1366, 120), "white")
    desk.paste(phone, (0, 0))  # a page: what is on its left is not on the right
    assert tiled(png(repeated))
    assert not tiled(png(desk))
    assert not tiled(png(phone))
