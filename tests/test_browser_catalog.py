"""The item picker of a 5,000-item catalog on a phone (390 x 844, Debian's
chromium through Playwright): a village grid agent types the pinyin
initials of an item, taps the type-ahead's suggestion and lands on its
commission form."""
import threading

import pytest
from werkzeug.serving import make_server

from bench.synth import write_catalog
from tests.conftest import ARGS, CHROMIUM
from tests.test_browser_cases import sign_in

TARGET = "synth-04321"
OVERRIDES = {TARGET: {"name": {"zh": "鄂托克沙棘采摘证明", "en": "Otog sea-buckthorn picking certificate"},
                      "levels": ["township", "village"]}}
DEMO_ITEMS = 106


@pytest.fixture
def big_live_server(demo_app, tmp_path):
    from core.cli import load_catalog, pack_paths
    from core.demo import demo_packs
    from core.metadata import store
    from core.models import ItemSearch

    synth = write_catalog(tmp_path / "synth", 5000 - DEMO_ITEMS, name="synth", departments=False, overrides=OVERRIDES)
    pm = demo_app.extensions["bangban"].pm
    with demo_app.app_context():
        paths = [*pack_paths(pm), *(p for p, _c in demo_packs(pm)), synth]
        store.sync(load_catalog(pm, paths), actor="test", role="system")
        assert ItemSearch.select().where(ItemSearch.county_code == "150626").count() == 5000
    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_pick_an_item_by_pinyin_initials_on_a_phone(big_live_server):
    from playwright.sync_api import sync_playwright

    base = big_live_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                      is_mobile=True, has_touch=True)
        page = context.new_page()
        sign_in(page, base, "taoli.grid")
        page.goto(base + "/cases/new?lang=zh_Hans_CN")
        # offered at a village: the 60 village items of 乌审旗 and their copies among the 4,894
        # synthetic ones (46 whole rounds of 106 = 2,760; the last 18 copies are township items)
        assert page.locator("p.count").inner_text() == "2820 个事项"
        page.locator("#item-q").tap()
        page.keyboard.type("etksj", delay=60)  # 鄂托克沙棘… as a person types it
        suggestion = page.locator(f'#item-suggestions a[href="/cases/new/{TARGET}"]')
        suggestion.wait_for(state="visible", timeout=10000)
        assert page.locator("#item-suggestions li[role=option]").count() == 1
        assert "鄂托克沙棘采摘证明" in suggestion.inner_text()
        box = suggestion.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
        # nothing wider than the phone's screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        suggestion.tap()
        page.wait_for_url(base + f"/cases/new/{TARGET}")
        assert page.locator("form.commission-form").is_visible()
        assert "鄂托克沙棘采摘证明" in page.locator("h1").inner_text()
        browser.close()
