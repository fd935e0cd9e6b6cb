"""The case flow in a real browser: a village grid agent files a commission
(first with a wrong ID number, then corrected), the township agent accepts
and dispatches it, the department helper completes it, the agent archives."""
import re

from core.cases.demo import id_number

ITEM = "150626-ybj-003"


def sign_in(page, base, username):
    page.goto(base + "/sign-in?lang=zh_Hans_CN")
    page.fill("#username", username)
    page.fill("#password", "Bangban@2026")
    page.click("form.form button[type=submit]")
    page.wait_for_url(base + "/work")  # staff land on their workbench


def sign_out(page):
    page.click(".who button[type=submit]")


def take(page, code, fill=None):
    form = page.locator(f'form[data-step="{code}"]')
    for selector, value in (fill or {}).items():
        field = form.locator(selector)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()


def test_commission_to_archive_in_the_browser(live_server, page):
    base = live_server
    sign_in(page, base, "taoli.grid")
    page.goto(base + "/cases/new?q=ydjyba")
    page.click(f'a[href="/cases/new/{ITEM}"]')
    good = id_number("150626", "19851120", 31)
    wrong = good[:-1] + ("1" if good[-1] != "1" else "2")
    page.fill('[name="applicant_name"]', "巴图")
    page.fill('[name="applicant_id_number"]', wrong)
    page.fill('[name="applicant_phone"]', "13847700031")
    # conditional principal fields appear only when the principal is someone else
    assert not page.locator('[name="principal_name"]').is_visible()
    page.check('[name="principal_is_applicant"][value="false"]')
    assert page.locator('[name="principal_name"]').is_visible()
    page.fill('[name="principal_name"]', "其木格")
    page.fill('[name="principal_id_number"]', id_number("150626", "19900101", 32))
    page.fill('[name="principal_phone"]', "13847700032")
    for name in page.eval_on_selector_all("[required]", "els => els.map(e => e.name)"):
        element = page.locator(f'[name="{name}"]').first
        if element.input_value():
            continue
        kind = element.evaluate("e => e.tagName + ':' + (e.type || '')")
        if kind.startswith("SELECT"):
            element.select_option(index=1)
        elif kind.endswith("date"):
            element.fill("2026-12-01")
        else:
            element.fill("内蒙古自治区人民医院")
    for box in page.locator('input[type=checkbox][name^="material_"]').all():
        box.check()
    page.click("form.commission-form button[type=submit]")
    error = page.locator("#f-applicant_id_number-error")
    assert "校验码" in error.inner_text()
    page.fill('[name="applicant_id_number"]', good)
    for box in page.locator('input[type=checkbox][name^="material_"]').all():
        box.check()
    page.click("form.commission-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+/receipt"))
    number = page.locator("#receipt-number").inner_text()
    case_url = page.url.replace("/receipt", "")
    sign_out(page)

    sign_in(page, base, "galutu.agent")
    page.goto(case_url + "?lang=zh_Hans_CN")
    take(page, "accept")
    page.wait_for_selector('#case-state[data-state="accepted"]')
    take(page, "dispatch", {"select[name=department]": "ybj"})
    page.wait_for_selector('#case-state[data-state="handling"]')
    sign_out(page)

    sign_in(page, base, "ybj.helper")
    page.goto(base + "/cases?mine=1")
    page.click(f"text={number}")
    take(page, "complete")
    page.wait_for_selector('#case-state[data-state="finished"]')
    sign_out(page)

    sign_in(page, base, "galutu.agent")
    page.goto(case_url)
    take(page, "archive", {"select[name=delivery_method]": "door", "input[name=received_by]": "巴图"})
    page.wait_for_selector('#case-state[data-state="archived"]')
    steps = page.locator("table.events tbody tr").count()
    assert steps == 5  # apply, accept, dispatch, complete, archive
