"""Low code, for real: in a browser, a county admin adds a new item with two
materials and a conditional field, previews its form, and a village agent
then files a case with it — no code changed."""
import re

import pyotp

from core.cases.demo import id_number
from tests.test_browser_cases import sign_out

CODE = "150626-mzj-901"


def sign_in(page, base, username):
    page.goto(base + "/sign-in?lang=zh_Hans_CN")
    page.fill("#username", username)
    page.fill("#password", "Bangban@2026")
    page.click("form.form button[type=submit]")
    # the click returns before the next page is there: wait for it (the second
    # factor or the workbench), or a loaded machine reads the sign-in page
    page.wait_for_url(re.compile(re.escape(base) + r"/(sign-in/verify|work)$"))
    if page.locator("#totp-form").count():
        secret = page.locator("#totp-secret").get_attribute("data-secret") if page.locator("#totp-secret").count() \
            else None
        assert secret, "the demo admin enrols a second factor on first sign-in"
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("#totp-form button[type=submit]")
    page.wait_for_url(base + "/work")  # staff land on their workbench


def test_admin_adds_an_item_and_an_agent_files_a_case_with_it(live_server, page):
    base = live_server
    sign_in(page, base, "county.admin")
    page.goto(base + "/admin/items/new")
    page.fill("#code", CODE)
    page.select_option("#pack", "wushen")
    page.select_option("#department", "mzj")
    page.select_option("#type", "public_service")
    page.fill("#name", "困难群众临时救助申请（试点）")
    page.select_option("#kind", "promised")
    page.fill("#promised_days", "5")
    page.fill("#legal_days", "15")
    page.check('input[name="levels"][value="village"]')
    page.fill('input[name="m0_name"]', "居民身份证")
    page.check('input[name="m0_key"]')
    page.fill('input[name="m1_name"]', "困难情况说明")
    page.fill('textarea[name="m1_fill_instructions"]', "写明困难原因和申请金额")
    page.fill('input[name="f0_name"]', "has_disability")
    page.select_option('select[name="f0_type"]', "yes_no")
    page.fill('input[name="f0_label"]', "是否残疾人")
    page.fill('input[name="f1_name"]', "disability_card")
    page.fill('input[name="f1_label"]', "残疾人证号")
    page.check('input[name="f1_required"]')
    page.fill('input[name="f1_show_if"]', "has_disability == true")
    page.click("#save-item")
    page.wait_for_url(re.compile(rf".*/admin/items/edit/{CODE}$"))

    page.click("#preview-link")
    preview = page.locator("#form-preview")
    assert preview.locator('[name="has_disability"]').count() == 2  # yes / no
    assert preview.locator('[name="material_1"]').count() == 1 and preview.locator('[name="material_2"]').count() == 1
    assert "写明困难原因和申请金额" in preview.inner_text()
    page.goto(base + "/")
    sign_out(page)

    sign_in(page, base, "taoli.grid")
    page.goto(base + "/cases/new?q=knqzlsjz")  # pinyin initials of 困难群众临时救助
    page.click(f'a[href="/cases/new/{CODE}"]')
    page.fill('[name="applicant_name"]', "王建国")
    page.fill('[name="applicant_id_number"]', id_number("150626", "19550803", 41))
    page.fill('[name="applicant_phone"]', "13847700041")
    assert not page.locator('[name="disability_card"]').is_visible()
    page.check('[name="has_disability"][value="true"]')
    assert page.locator('[name="disability_card"]').is_visible()
    page.fill('[name="disability_card"]', "15062619550803412")
    page.check('[name="material_1"]')
    page.click("form.commission-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+/receipt"))
    assert page.locator("#receipt-number").inner_text().startswith("150626-")
