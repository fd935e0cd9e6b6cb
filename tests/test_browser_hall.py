"""A citizen on a 390-px phone, without an account, in Chromium: finds a
site in the directory, books an appointment, and asks for a home visit.
No page scrolls sideways."""
import datetime
import re

from core.hall import service
from core.hall.models import Appointment, HomeVisit

MONDAY_EARLY = datetime.datetime(2026, 12, 7, 8, 0)


def _fits(page):
    return page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_citizen_books_and_asks_for_a_home_visit_on_a_phone(live_server, page, demo_app, monkeypatch):
    monkeypatch.setattr(service, "now", lambda: MONDAY_EARLY)
    base = live_server
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/sites?lang=zh_Hans_CN")
    assert _fits(page)
    page.fill("#q", "嘎鲁图镇")
    page.click("form[role=search] button[type=submit]")
    page.click('a[href="/sites/center-150626100"]')
    page.wait_for_selector("#site-name")
    assert page.locator("#site-phone").get_attribute("href") == "tel:04777212345"
    assert page.locator("#staff-board li").count() >= 2
    assert _fits(page)
    page.click("#book-link")
    page.wait_for_selector("#book-form")
    assert _fits(page)
    page.click('.days a:has-text("12/8")')  # Tuesday
    page.wait_for_selector('.days a[aria-current="date"]:has-text("12/8")')
    page.check('input[name="start"][value="12:00"]')  # 延时 at noon
    page.fill("#name", "巴图")
    page.fill("#phone", "13847700031")
    page.click('#book-form button[type=submit]')
    page.wait_for_url(re.compile(r".*/appointments/[A-Za-z0-9_-]+$"))
    assert page.locator("#appointment-state").get_attribute("data-state") == "booked"
    assert page.locator("#appointment-day").inner_text() == "2026-12-08 星期二"  # the weekday: people plan by it
    assert page.locator("#appointment-time").inner_text() == "12:00"
    assert _fits(page)
    with demo_app.app_context():
        booked = Appointment.get((Appointment.day == datetime.date(2026, 12, 8))
                                 & (Appointment.start == "12:00"))  # (the demo has its own at opening time)
        assert (booked.site_code, str(booked.day), booked.start, booked.session_kind) == (
            "center-150626100", "2026-12-08", "12:00", "extended")

    page.goto(base + "/sites/station-150626100201")
    page.click('a[href^="/home-visit"]')
    page.wait_for_selector("#visit-form")
    assert page.locator("#region").input_value() == "150626100201"  # the station's village, chosen
    assert _fits(page)
    page.fill("#name", "张秀英")
    page.fill("#phone", "13847700051")
    page.fill("#address", "陶利嘎查三组")
    page.fill("#reason", "行动不便，申请高龄津贴")
    page.select_option("#special_group", "elderly_80")
    page.click('#visit-form button[type=submit]')
    page.wait_for_selector("#visit-done")
    assert _fits(page)
    with demo_app.app_context():
        visit = HomeVisit.get()
        assert visit.assignee.username == "taoli.grid" and visit.special_group == "elderly_80"
        assert page.locator("#visit-number").inner_text() == visit.number
