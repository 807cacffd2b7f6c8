"""Charts in a real browser: the History's trend, the Chart display option (screenshots into docs/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import PASSWORD, publish_page_with_macro
from macros.models import PageVersion, Snapshot
from macros.tests.history_helpers import issue, snapshot_of
from tests.conftest import SCREENSHOT_DIR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

POINTS = "customfield_10016"
TODO, DOING, DONE = ("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")
FIELDS = ["key", "summary", "status", "assignee", "priority", POINTS]
SUMMARIES = [
    "Remember the basket across devices", "Apple Pay on the checkout page", "Show delivery dates before payment",
    "Address lookup by postcode", "Guest checkout without an account", "Retry failed card payments once",
    "Order confirmation email redesign", "Gift messages on orders", "Speed up the basket page on mobile",
    "Accessibility: focus order in checkout", "Saved cards for returning customers", "Promo codes with expiry dates",
    "Split payments between two cards", "Click and collect slots",
]


def issues_in(states: list[tuple], points: list[int] | None = None, assignees: list[int | None] | None = None) -> list[dict]:
    out = []
    for i, state in enumerate(states):
        n = 101 + i
        fields = {POINTS: points[i]} if points else {}
        out.append(issue(n, status=state[0], category=state[1], assignee=(assignees or [None] * len(states))[i],
                         summary=SUMMARIES[i], priority=("High", "Medium", "Medium", "Low")[i % 4], **fields))
    return out


def spread_weekly(page, first_days_ago: int) -> None:
    """Move the snapshots (and their versions) to one a week, the way automation takes them."""
    start = timezone.now().replace(hour=17, minute=0, second=0, microsecond=0) - timedelta(days=first_days_ago)
    for i, version in enumerate(page.versions.filter(kind="snapshot").order_by("number")):
        moment = start + timedelta(days=7 * i)
        PageVersion.objects.filter(pk=version.pk).update(created_at=moment)
        Snapshot.objects.filter(pk=version.snapshot_id).update(taken_at=moment)


def test_the_history_trend_shows_each_snapshots_counts(live_server, people, space, monkeypatch, page_in_browser):
    page, macro = publish_page_with_macro(space, people["editor"], title="Release 2.4", fields=FIELDS)
    for states in ([TODO] * 7, [TODO] * 4 + [DOING] * 2 + [DONE] * 2, [TODO] + [DOING] * 2 + [DONE] * 6):
        snapshot_of(macro, monkeypatch, issues_in(states), user=people["editor"])
    spread_weekly(page, 14)
    PageVersion.objects.get(page=page, number=3).add_sticker("Code freeze", people["editor"])

    tab = page_in_browser
    sign_in(tab, live_server, "viewer", PASSWORD)
    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    tab.get_by_role("link", name="History").click()
    chart = tab.get_by_role("img", name="Trend of Open issues")
    expect(chart).to_be_visible()
    table = tab.locator("table.trend-numbers")
    expect(table.locator("thead th")).to_have_text(["Version", "Taken", "To Do", "In Progress", "Done", "Total", "Notes"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    for row, expected in zip(range(3), (["7", "0", "0", "7"], ["4", "2", "2", "8"], ["1", "2", "6", "9"]), strict=True):
        expect(rows.nth(row).locator("td.num")).to_have_text(expected)
    expect(rows.nth(1)).to_contain_text("Code freeze")
    expect(tab.locator(".trend-chart .sticker-label")).to_have_text("★ Code freeze")
    expect(tab.locator(".trend-chart .point")).to_have_count(3)
    tab.screenshot(path=str(SCREENSHOT_DIR / "history-trend.png"), full_page=True)

    # Printed, the chart keeps its colours and the table every row (no scroll box), without the switches.
    tab.emulate_media(media="print")
    assert tab.locator(".trend-table").evaluate("e => getComputedStyle(e).maxHeight") == "none"
    assert tab.locator(".legend .csv").evaluate("e => getComputedStyle(e).display") == "none"
    assert tab.locator(".trend-chart path.band.cat-done").evaluate("e => getComputedStyle(e).fill") == "rgb(186, 243, 219)"
    tab.emulate_media(media="screen")

    # A point opens its version.
    tab.locator(".trend-chart .point").nth(1).click()
    expect(tab.get_by_text("an old version of this page")).to_be_visible()
    expect(tab.locator(".version-notice")).to_contain_text("version 3")

    # Compare draws both snapshots' categories too.
    tab.goto(f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/compare/")
    bars = tab.get_by_role("img", name="Issues per status category, before and after")
    expect(bars).to_have_attribute("aria-label", "Issues per status category, before and after: To Do 4 → 1; In Progress 2 → 2; Done 2 → 6")
    expect(bars.locator(".bar-value")).to_have_text(["8", "9"])
    tab.screenshot(path=str(SCREENSHOT_DIR / "compare-chart.png"), full_page=True)


def test_a_team_lead_reads_the_burn_down_of_a_sprint(live_server, people, space, monkeypatch, page_in_browser):
    """Eight weekly snapshots of a release: the trend, then the sum of story points (screenshot)."""
    page, macro = publish_page_with_macro(
        space, people["editor"], title="Checkout release 2.4", fields=FIELDS, jql="project = WEB AND fixVersion = 2.4",
    )
    points = [3, 5, 8, 2, 3, 5, 1, 8, 5, 3, 2, 13, 3, 5]
    weeks = [
        ([TODO] * 10, 10),
        ([TODO] * 8 + [DOING] * 2 + [TODO] * 1, 11),
        ([DONE] * 2 + [DOING] * 3 + [TODO] * 7, 12),
        ([DONE] * 4 + [DOING] * 3 + [TODO] * 5, 12),
        ([DONE] * 5 + [DOING] * 4 + [TODO] * 5, 14),
        ([DONE] * 8 + [DOING] * 3 + [TODO] * 3, 14),
        ([DONE] * 10 + [DOING] * 3 + [TODO] * 1, 14),
        ([DONE] * 13 + [DOING] * 1, 14),
    ]
    for states, size in weeks:
        snapshot_of(macro, monkeypatch, issues_in(states[:size], points[:size], [n % 5 for n in range(size)]))
    spread_weekly(page, 7 * 7)
    for number, label in ((2, "Kick-off"), (6, "Code freeze"), (9, "Release 2.4")):
        PageVersion.objects.get(page=page, number=number).add_sticker(label, people["editor"])

    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    tab.goto(f"{live_server.url}/pages/{page.pk}/history/")
    section = tab.locator(f"#trend-{macro.public_id}")
    expect(section.get_by_role("img", name="Trend of Open issues")).to_be_visible()
    last = section.locator("table.trend-numbers tbody tr").last
    expect(last.locator("td.num")).to_have_text(["0", "1", "13", "14"])
    section.get_by_role("link", name="Sum of Story Points").click()
    expect(section.get_by_role("img", name="Trend of Open issues: sum of Story Points")).to_be_visible()
    expect(section.locator("thead th")).to_contain_text(["Remaining"])
    # Week 8: the 13 done issues hold 61 of the 66 points, the one in progress 5.
    expect(last.locator("td.num")).to_have_text(["0", "5", "61", "66", "5"])
    section.screenshot(path=str(SCREENSHOT_DIR / "trend.png"))


def test_an_editor_adds_a_bar_chart_of_the_snapshot_by_assignee(live_server, people, space, monkeypatch, page_in_browser):
    page, macro = publish_page_with_macro(space, people["editor"], title="Checkout team", fields=FIELDS,
                                          jql="project = WEB AND sprint = 12 ORDER BY key")
    states = [TODO, DOING, DONE, DONE, TODO, DOING, DONE, TODO, DONE, DONE]
    snapshot_of(macro, monkeypatch, issues_in(states, [3, 5, 2, 8, 1, 3, 5, 2, 3, 1], [0, 1, 0, 2, 1, 0, 3, None, 0, 1]))

    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    tab.goto(f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/configure/display/")
    tab.get_by_label("Chart", exact=True).select_option(label="Bar chart")
    tab.get_by_label("Group issues by").select_option(label="Assignee")
    tab.get_by_role("button", name="Save").click()
    expect(tab.get_by_text("Display options saved to the draft.")).to_be_visible()
    tab.get_by_role("button", name="Publish").click()
    expect(tab.get_by_text("Published.")).to_be_visible()

    block = tab.locator(f"#macro-{macro.public_id}")
    chart = block.get_by_role("img", name="Chart of Open issues")
    expect(chart).to_be_visible()
    bars = block.locator("g.bar")
    expect(bars.locator(".bar-label")).to_have_text(["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Unassigned"])
    expect(bars.locator(".bar-value")).to_have_text(["4", "3", "1", "1", "1"])
    widths = [float(w) for w in bars.locator("rect").evaluate_all("rs => rs.map(r => r.getAttribute('width'))")]
    assert widths[0] > widths[1] > widths[2] == widths[3] == widths[4] > 0
    expect(block.locator("table.issues")).to_be_visible()
    block.screenshot(path=str(SCREENSHOT_DIR / "chart-display.png"))

    # The same snapshot as a pie of story points per status category, instead of the table.
    tab.goto(f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/configure/display/")
    expect(tab.get_by_label("Chart", exact=True)).to_have_value("bar")
    tab.get_by_label("Chart", exact=True).select_option(label="Pie chart")
    tab.get_by_label("Group issues by").select_option(label="Status category")
    tab.get_by_label("Measure").select_option(label="Sum of Story Points")
    tab.get_by_label("Instead of the table").check()
    tab.locator("fieldset.chart-options").screenshot(path=str(SCREENSHOT_DIR / "chart-options.png"))
    tab.get_by_role("button", name="Save").click()
    tab.get_by_role("button", name="Publish").click()
    expect(tab.get_by_text("Published.")).to_be_visible()
    legend = block.locator(".pie-legend li")
    expect(legend).to_have_text(["To Do 6 18%", "In Progress 8 24%", "Done 19 58%"])
    expect(block.locator("path.slice")).to_have_count(3)
    expect(block.locator("table.issues")).to_have_count(0)
    block.screenshot(path=str(SCREENSHOT_DIR / "chart-pie.png"))
