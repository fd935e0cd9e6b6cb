"""In a real browser (Debian's chromium driven by Playwright): Mongolian
text is drawn with the vendored web font, fetched from the app itself, and
the Mongolian guide search finds an item by its Mongolian name."""
import re
from urllib.parse import urlsplit


def test_mongolian_text_uses_the_vendored_font(live_server, page):
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(live_server + "/guides?lang=mn_Mong_CN")
    page.wait_for_load_state("networkidle")
    statuses = page.evaluate("""async () => {
        await document.fonts.ready;
        return [...document.fonts].filter(f => f.family.replace(/"/g, '') === 'Bangban Mongolian').map(f => f.status);
    }""")
    assert statuses == ["loaded"]
    assert page.evaluate("document.fonts.check('16px \"Bangban Mongolian\"', 'ᠮᠣᠩᠭᠣᠯ')")
    fonts = [u for u in requested if u.endswith(".woff2")]
    assert len(fonts) == 1 and urlsplit(fonts[0]).netloc == urlsplit(live_server).netloc
    # nothing is fetched from another host
    assert {urlsplit(u).netloc for u in requested if u.startswith("http")} == {urlsplit(live_server).netloc}
    # used for the Mongolian block only: Chinese and Latin runs fall back to other faces
    assert page.evaluate("[...document.fonts].find(f => f.family.includes('Bangban Mongolian')).unicodeRange") \
        == "U+1800-18AF, U+202F, U+200C-200D"


def test_searching_a_guide_in_mongolian(live_server, page):
    page.goto(live_server + "/guides?lang=mn_Mong_CN")
    box = page.locator("input[name=q]")
    box.fill("ᠲᠦᠷ ᠠᠪᠤᠷᠠᠯ")
    with page.expect_navigation():
        box.press("Enter")
    links = page.eval_on_selector_all("a[href^='/guides/']", "els => els.map(e => e.getAttribute('href'))")
    codes = {re.sub(r"\?.*", "", h).rsplit("/", 1)[-1] for h in links}
    assert codes and all("ᠲᠦᠷ ᠠᠪᠤᠷᠠᠯ" in page.inner_text(f"a[href^='/guides/{c}']") for c in codes)
