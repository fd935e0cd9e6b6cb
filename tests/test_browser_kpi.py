"""The county dashboard in a real browser: ECharts (vendored) draws a chart
per metric, and a supervisor drills down county → township → site → the
cases behind a number."""
import datetime
import re

from core.cases import history

END = datetime.date.today()


def test_dashboard_charts_and_drill_down(demo_app, live_server, page):
    from core.cases.models import Case

    with demo_app.app_context():
        rows = history.generate("150626", 400, end=END, days=90, seed=11, tag="HB")
        # the demo's own cases (filed through the flow) sit at a few sites: not those
        busy = {c for (c,) in Case.select(Case.site_code).where(~Case.number.contains("-HB")).tuples()}
    base = live_server
    page.goto(base + "/sign-in?lang=zh_Hans_CN")
    page.fill("#username", "county.supervisor")
    page.fill("#password", "Bangban@2026")
    page.click("form.form button[type=submit]")
    page.wait_for_url(base + "/work")  # staff land on their workbench
    page.click('a[href="/reports/kpi"]')  # the menu's dashboard link
    page.wait_for_selector("#kpi-charts .chart svg")
    charts = page.locator("#kpi-charts .chart")
    metrics = page.locator("table.kpi").first.locator("thead th[data-metric]").count()
    assert charts.count() == metrics - 1  # every metric but the county-only high-frequency count
    assert page.locator("#kpi-charts .chart svg").count() == charts.count()
    # the one-window chart has a bar per township
    bars = page.locator('#kpi-charts .chart[data-metric="one_window_rate"] svg path')
    assert bars.count() >= 6
    assert page.locator('tr[data-target] td.status').count() > 0
    page.click('a[href^="/reports/kpi/township/150626100?"]')
    page.wait_for_selector("#kpi-charts .chart svg")
    site = sorted({r["site_code"] for r in rows if r["township_code"] == "150626100" and r["site_code"] not in busy
                   and r["finished_on"]
                   and r["due_day"] and r["finished_on"] <= r["due_day"]})[0]
    page.click(f'a[href^="/reports/kpi/site/{site}?"]')
    page.wait_for_selector(f'tr[data-unit="{site}"]')
    cell = page.locator(f'tr[data-unit="{site}"] td[data-metric="on_time_rate"]')
    shown = int(cell.get_attribute("data-num"))
    cell.locator("a.drill").first.click()
    page.wait_for_selector("p.drilled")
    count = int(re.search(r"\((\d+)\)", page.locator("h1 .count").inner_text()).group(1))
    want = sum(1 for r in rows if r["site_code"] == site and r["finished_on"] and r["due_day"]
               and r["finished_on"] <= r["due_day"])
    assert count == shown == want
