"""In a real browser (Debian's chromium driven by Playwright): the layout
follows the language, and a demo login signs in through the form."""
import pyotp


def test_layout_turns_vertical_for_mongolian(live_server, page):
    page.goto(live_server + "/?lang=zh_Hans_CN")
    assert page.evaluate("getComputedStyle(document.body).writingMode") == "horizontal-tb"
    page.goto(live_server + "/guides?lang=mn_Mong_CN")
    assert page.evaluate("getComputedStyle(document.body).writingMode") == "vertical-lr"
    # the page is taller than wide in its flow direction: the topbar runs top to bottom
    box = page.locator(".topbar").bounding_box()
    assert box["height"] > box["width"]
    with page.expect_navigation():
        page.click("text=English")
    assert page.evaluate("getComputedStyle(document.body).writingMode") == "horizontal-tb"


def test_sign_in_through_the_form(live_server, page):
    page.goto(live_server + "/sign-in?lang=zh_Hans_CN")
    page.fill("#username", "county.admin")
    page.fill("#password", "wrong")
    page.click("button[type=submit] >> text=登录")
    assert page.locator(".flash-error").inner_text() == "用户名或密码错误。"
    page.fill("#username", "county.admin")
    page.fill("#password", "Bangban@2026")
    page.click("button[type=submit] >> text=登录")
    # administrators enrol a second factor (TOTP) on their first sign-in
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#totp-form button[type=submit]")
    page.wait_for_url(live_server + "/work")  # staff land on their workbench
    assert "韩志刚" in page.locator(".who").inner_text()
    page.click("text=后台管理")
    assert "/admin/" in page.url and page.locator("h1").first.inner_text() == "帮办后台管理"
