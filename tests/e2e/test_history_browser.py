"""The page history, stickers and a comparison in a real browser (screenshots into docs/)."""

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
DOCS = SCREENSHOT_DIR

TODO, DOING, DONE = ("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")
STORIES = {
    101: "Remember the basket across devices",
    102: "Apple Pay on the checkout page",
    103: "Show delivery dates before payment",
    104: "Address lookup by postcode",
    105: "Guest checkout without an account",
    106: "Retry failed card payments once",
    107: "Order confirmation email redesign",
    108: "Gift messages on orders",
    109: "Speed up the basket page on mobile",
    110: "Accessibility: focus order in checkout",
    111: "Saved cards for returning customers",
    112: "Promo codes with expiry dates",
}


def sprint(states: dict[int, tuple], assignees: dict[int, int], extra: dict | None = None) -> list[dict]:
    issues = []
    for n, (status, category) in states.items():
        issues.append(issue(n, status=status, category=category, summary=STORIES[n], assignee=assignees.get(n),
                            priority=(extra or {}).get(n, "Medium")))
    return issues


@pytest.fixture
def sprint_page(people, space, monkeypatch):
    """Sprint 12 of the checkout team: a snapshot at the start, mid-sprint and at the end."""
    page, macro = publish_page_with_macro(
        space, people["editor"], title="Checkout team: sprint 12",
        jql="project = WEB AND sprint = 12 ORDER BY key ASC", fields=["key", "summary", "status", "assignee", "priority"],
    )
    people_by_issue = {n: n % 5 for n in STORIES}
    start = {n: TODO for n in range(101, 111)}
    middle = {**start, 101: DOING, 102: DOING, 103: DONE, 104: DOING, 105: DOING}
    del middle[110]
    end = {**middle, 101: DONE, 102: DONE, 104: DONE, 106: DOING, 107: DONE, 111: TODO, 112: DOING}
    snapshot_of(macro, monkeypatch, sprint(start, people_by_issue), user=people["editor"])
    snapshot_of(macro, monkeypatch, sprint(middle, {**people_by_issue, 105: 3}), user=people["editor"])
    snapshot_of(macro, monkeypatch, sprint(end, {**people_by_issue, 105: 3, 106: 1}, {109: "High", 112: "Highest"}))
    # Spread the versions over the sprint, the way they would have been taken.
    begin = timezone.now().replace(hour=9, minute=30, second=0, microsecond=0) - timedelta(days=14)
    for version, days in zip(page.versions.order_by("number"), (0, 0, 7, 14), strict=False):
        moment = begin + timedelta(days=days, minutes=5 * version.number)
        PageVersion.objects.filter(pk=version.pk).update(created_at=moment)
        if version.snapshot_id:
            Snapshot.objects.filter(pk=version.snapshot_id).update(taken_at=moment)
    Snapshot.objects.filter(pk=page.versions.get(number=4).snapshot_id).update(actor="automation")
    PageVersion.objects.filter(page=page, number=4).update(actor="automation")
    return page, macro


def test_an_editor_reads_the_history_and_puts_stickers_on_snapshots(live_server, people, sprint_page, page_in_browser):
    page, _ = sprint_page
    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    tab.get_by_role("link", name="History").click()
    expect(tab.get_by_role("heading", name="Page history")).to_be_visible()
    rows = tab.locator("tr.version")
    expect(rows).to_have_count(4)
    expect(tab.locator("#v4")).to_contain_text("automation")
    expect(tab.locator("#v4")).to_contain_text("current")
    expect(tab.locator("#v1")).to_contain_text("Published")

    for number, label in ((2, "Sprint 12 start"), (4, "Sprint 12 end")):
        row = tab.locator(f"#v{number}")
        row.get_by_text("Add sticker").click()
        row.get_by_label("Sticker label").fill(label)
        row.get_by_role("button", name="Add").click()
        expect(tab.get_by_text(f"Added the sticker “{label}” to version {number}.")).to_be_visible()
        expect(tab.locator(f"#v{number} .sticker")).to_contain_text(label)

    activity = tab.get_by_role("complementary")
    expect(activity).to_contain_text("editor added the sticker Sprint 12 end to v4")
    tab.screenshot(path=str(DOCS / "history.png"), full_page=True)

    tab.get_by_role("navigation", name="Filter by sticker").get_by_role("link", name="Sprint 12 end").click()
    expect(rows).to_have_count(1)
    expect(tab.locator("#v4")).to_be_visible()
    tab.get_by_role("link", name="Show all versions").click()
    expect(rows).to_have_count(4)

    tab.get_by_role("button", name="Remove sticker Sprint 12 start").click()
    expect(tab.get_by_text("Removed the sticker “Sprint 12 start” from version 2.")).to_be_visible()
    expect(tab.locator("#v2 .sticker")).to_have_count(0)
    expect(activity).to_contain_text("editor removed the sticker Sprint 12 start from v2")

    tab.locator("#v2").get_by_role("link", name="v2").click()
    expect(tab.get_by_text("an old version of this page")).to_be_visible()
    expect(tab.locator("table.issues")).to_contain_text("Accessibility: focus order in checkout")


def test_a_viewer_compares_the_start_and_the_end_of_the_sprint(live_server, people, sprint_page, page_in_browser):
    page, macro = sprint_page
    PageVersion.objects.get(page=page, number=2).add_sticker("Sprint 12 start", people["editor"])
    PageVersion.objects.get(page=page, number=4).add_sticker("Sprint 12 end", people["editor"])
    tab = page_in_browser
    sign_in(tab, live_server, "viewer", PASSWORD)
    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    tab.locator(f"#macro-{macro.public_id}").get_by_role("link", name="Compare").click()

    # By default: the latest snapshot against the one before it.
    expect(tab.get_by_role("heading", name="Compare snapshots")).to_be_visible()
    expect(tab.get_by_label("To (newer)")).to_have_value(str(page.versions.get(number=4).snapshot_id))
    expect(tab.get_by_label("From (older)")).to_have_value(str(page.versions.get(number=3).snapshot_id))

    start = tab.get_by_label("From (older)").locator("option", has_text="Sprint 12 start")
    tab.get_by_label("From (older)").select_option(start.get_attribute("value"))
    tab.get_by_role("button", name="Compare").click()

    summary = tab.get_by_role("region", name="Summary")
    expect(summary).to_contain_text("+2 added")
    expect(summary).to_contain_text("−1 removed")
    expect(summary).to_contain_text("8 changed")
    expect(summary).to_contain_text("10 → 11 issues")
    categories = tab.get_by_role("region", name="Issues per status category")
    expect(categories).to_contain_text("Done 0 → 5")
    changed = tab.locator("tr.diff-changed", has_text="WEB-101")
    expect(changed.locator("del")).to_have_text("To Do")
    expect(changed.locator("ins")).to_have_text("Done")
    expect(tab.locator("tr.diff-removed")).to_contain_text("WEB-110")
    tab.screenshot(path=str(DOCS / "compare.png"), full_page=True)

    tab.get_by_role("link", name="Added 2").click()
    expect(tab.locator("table.diff tbody tr")).to_have_count(2)
    expect(tab.locator("table.diff")).to_contain_text("Promo codes with expiry dates")
