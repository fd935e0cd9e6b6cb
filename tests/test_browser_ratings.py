"""好差评 in a real browser: a citizen on a 390-px phone opens the rating
page from the receipt's QR link (the tracking token), gives a 差评; the
county's supervisor verifies it, rectifies it and records the callback."""
from core.cases.models import Case
from core.ratings.models import Rating, Rectification
from tests.test_browser_cases import sign_in


def test_a_citizen_rates_on_a_phone_and_the_supervisor_handles_the_bad_rating(demo_app, live_server, page):
    base = live_server
    with demo_app.app_context():
        case = (Case.select().where((Case.county_code == "150626") & Case.accepted_on.is_null(False)
                                    & Case.finished_on.is_null() & Case.id.not_in(Rating.select(Rating.case)))
                .order_by(Case.id).first())
        token, number = case.track_token, case.number
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/track/t/{token}?lang=zh_Hans_CN")
    page.click("#rate-link")
    form = page.locator('form[data-stage="acceptance"]')
    form.locator('input[name=level][value="1"]').check()
    form.locator("textarea[name=comment]").fill("材料要求没有一次说清楚")
    # the page fits the phone: nothing runs off to the side
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = form.locator("label.rate-level-1").bounding_box()
    assert box["width"] > 200 and box["height"] >= 30  # a target a thumb can hit
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#rate-done")
    assert "非常不满意" in page.locator("#current-acceptance").inner_text()
    with demo_app.app_context():
        rating = Rating.get(Rating.case == case.id)
        assert (rating.level, rating.channel) == (1, "qr")
        rect_id = Rectification.get(Rectification.rating == rating.id).id

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "county.supervisor")
    page.goto(base + "/ratings?state=verify")
    page.click(f'a[href="/ratings/rectifications/{rect_id}"]')
    page.fill("#verify-note", "属实：窗口未一次性告知所需材料")
    page.locator('form[data-step="verify"] button[type=submit]').click()
    page.wait_for_selector('#rect-state[data-state="rectify"]')
    assert page.locator("#rect-due").inner_text().strip()
    page.fill("#rectify-note", "已对窗口人员开展一次性告知培训")
    page.locator('form[data-step="rectify"] button[type=submit]').click()
    page.wait_for_selector('#rect-state[data-state="callback"]')
    page.select_option("#callback-way", "phone")
    page.select_option("#callback-level", "4")
    page.locator('form[data-step="callback"] button[type=submit]').click()
    page.wait_for_selector('#rect-state[data-state="closed"]')
    assert "满意" in page.locator("#rect-callback").inner_text()
    with demo_app.app_context():
        rect = Rectification.get_by_id(rect_id)
        assert (rect.state, rect.callback_way, rect.callback_level) == ("closed", "phone", 4)
    page.goto(base + "/ratings/ledger")  # the 评价表 lists it
    assert number in page.locator("#rating-ledger").inner_text()
