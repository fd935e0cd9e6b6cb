"""The accounts in a real browser: the township agent answers a
requirement of the center's self-assessment with a photo, writes the day's
work log, and the printed work log shows the sheet without the forms."""
import datetime

from tests.test_accounts import PNG


def sign_in(page, base, username):
    page.goto(base + "/sign-in?lang=zh_Hans_CN")
    page.fill("#username", username)
    page.fill("#password", "Bangban@2026")
    page.click("form.form button[type=submit]")
    page.wait_for_url(base + "/work")  # staff land on their workbench


def test_an_agent_answers_with_a_photo_and_writes_the_work_log(live_server, page, tmp_path):
    sign_in(page, live_server, "galutu.agent")
    page.click("nav.main-nav a[href='/compliance']")
    page.click("#compliance-summary a[href='/compliance/sites/center-150626100']")
    # the demo's assessment of this year is submitted: start another period
    section = page.locator("section[data-standard='eight_haves']")
    section.locator("input[name=period]").fill("2026-Q4")
    with page.expect_navigation():
        section.locator("form.inline button[type=submit]").click()
    row = page.locator("section[data-standard='eight_haves'] tr[data-requirement='agent_duty_list']")
    assert row.locator("td[data-status]").get_attribute("data-status") == "unanswered"
    photo = tmp_path / "duties.png"
    photo.write_bytes(PNG)
    row.locator("select[name=status]").select_option("met")
    row.locator("input[name=note]").fill("职责清单已上墙")
    row.locator("input[type=file]").set_input_files(str(photo))
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    row = page.locator("section[data-standard='eight_haves'] tr[data-requirement='agent_duty_list']")
    assert row.locator("td[data-status]").get_attribute("data-status") == "pending"
    assert "职责清单已上墙" in row.inner_text() and row.locator("a[href*='/files/']").count() == 1

    page.goto(live_server + "/worklog?site=center-150626100")
    page.fill("#problems", "群众咨询医保缴费")
    page.fill("#coordination", "联系医保局")
    with page.expect_navigation():
        page.click("#worklog-form button[type=submit]")
    today = datetime.date.today().isoformat()
    cells = page.locator(f"#worklog tr[data-site='center-150626100'][data-day='{today}'] td")
    texts = [cells.nth(i).inner_text() for i in range(cells.count())]
    assert texts[2] == "乌日娜" and texts[8] == "群众咨询医保缴费" and texts[9] == "联系医保局"
    page.emulate_media(media="print")
    assert not page.locator("#worklog-form").is_visible()
    assert page.locator("#worklog").is_visible()
