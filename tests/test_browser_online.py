"""An online request in a real browser at a phone's size: the citizen asks
for a code, reads it from the SMS gateway (a local receiver fed by the
outbox), sends the request with a photo; the village's agent sees it and
calls back with one tap."""
from core import outbox
from core.db import transaction
from core.models import PluginSetting
from tests.test_browser_cases import sign_in
from tests.test_outbox import Receiver
from tests.test_uploads import PNG


def test_online_request_on_a_phone(live_server, demo_app, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.conftest import ARGS, CHROMIUM

    sink = Receiver()
    try:
        with demo_app.app_context(), transaction():
            PluginSetting.create(plugin="core.channels", key="sms_url", scope="150626", county_code="150626",
                                 value=sink.url)
        photo = tmp_path / "hukou.png"
        photo.write_bytes(PNG)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page = phone.new_page()
            page.goto(live_server + "/apply/150626?lang=zh_Hans_CN")
            page.fill("#a-phone", "13847700081")
            page.click('button[value="send_code"]')
            page.wait_for_selector(".flash-info")
            with demo_app.app_context():
                outbox.run()
            code = [b for _k, b in sink.requests if b["topic"] == "sms.code"][-1]["params"]["code"]
            page.fill("#a-name", "萨仁")
            page.fill("#a-code", code)
            page.select_option("#a-village", "150626100201")
            page.fill("#a-note", "想办残疾人证")
            page.set_input_files("#a-photos", str(photo))
            page.click('button[value="submit"]')
            page.wait_for_selector("#request-received")
            staff = browser.new_context().new_page()
            sign_in(staff, live_server, "galutu.agent")
            staff.goto(live_server + "/requests")
            row = staff.locator("tr", has_text="萨仁")
            assert "138****0081" in row.inner_text()
            row.locator("button[type=submit]").click()
            staff.wait_for_url(live_server + "/requests")
            assert staff.locator("tr", has_text="萨仁").locator("button[type=submit]").count() == 0
            with demo_app.app_context():
                from core.online import OnlineRequest

                request = OnlineRequest.get(OnlineRequest.name == "萨仁")
                assert (request.state, request.village_code, len(request.photos)) == ("called", "150626100201", 1)
            browser.close()
    finally:
        sink.close()
