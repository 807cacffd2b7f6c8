"""Report tables in a real browser: filter, sort, groups and totals, templates, the
personal snapshot setting, and Snapshots switched off and on for a space.

Snapshots are taken in the test process (``take``): the queue is not what these test.
"""

import re

import pytest
import requests
from playwright.sync_api import expect

from automation import service
from automation.models import AutomationEvent
from conftest import PASSWORD, StaticSource, make_issue, publish_page_with_macro, use_source
from macros import pages as page_service
from macros.models import Macro, SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources.base import FieldInfo
from tests.conftest import SCREENSHOT_DIR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = SCREENSHOT_DIR
PEOPLE = ["Ana Lima", "Ben Okafor", "Chen Wei"]
FIELDS = ["key", "summary", "status", "assignee", "customfield_10016"]


def _issue(n: int) -> dict:
    status = [("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")][n % 3]
    person = PEOPLE[n % 3] if n % 7 else None
    return make_issue(
        n,
        status=status[0],
        category=status[1],
        summary=f"Checkout step {n}: {'needle in the haystack' if n == 47 else 'polish the flow'}",
        assignee={"accountId": f"acc-{person}", "displayName": person, "active": True} if person else None,
        customfield_10016=(n % 5) + 1 if n % 4 else None,
    )


@pytest.fixture
def issues(monkeypatch):
    source = StaticSource([_issue(n) for n in range(1, 61)])
    source.fields = lambda: [  # the names and Jira schemas the columns get
        FieldInfo("summary", "Summary", schema={"type": "string", "system": "summary"}),
        FieldInfo("status", "Status", schema={"type": "status", "system": "status"}),
        FieldInfo("assignee", "Assignee", schema={"type": "user", "system": "assignee"}),
        FieldInfo("customfield_10016", "Story Points", True, schema={"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}),
    ]
    use_source(monkeypatch, source)
    return source


def _snapshot(macro: Macro) -> None:
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)


def _first_keys(block, count: int = 3) -> list[str]:
    return [t.strip() for t in block.locator("tbody tr.level-1 td:first-child").all_inner_texts()[:count]]


def test_a_filter_finds_an_issue_from_another_page_and_a_header_sorts_both_ways(live_server, issues, space, people, page_in_browser, browser):
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS, jql="project = WEB ORDER BY key")
    _snapshot(macro)
    tab = page_in_browser
    sign_in(tab, live_server, "viewer", PASSWORD)
    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    block = tab.locator(f"#macro-{macro.public_id}")
    expect(block.get_by_text("Page 1 of 3")).to_be_visible()
    expect(block.locator("table.issues")).not_to_contain_text("WEB-47")

    # Filter: typed, it searches the whole snapshot and updates in place.
    block.get_by_label("Filter issues").fill("haystack")
    expect(block.locator(".filter-count")).to_contain_text("1 of 60 issues")
    expect(block.locator("tbody tr.level-1")).to_have_count(1)
    expect(block.locator("tbody tr.level-1")).to_contain_text("WEB-47")
    assert re.search(rf"q{macro.pk}=haystack", tab.url), tab.url
    assert tab.evaluate("performance.getEntriesByType('navigation').length") == 1
    shared = tab.url  # the address shows exactly this view to whoever opens it
    block.get_by_label("Filter issues").fill("")
    expect(block.get_by_text("Page 1 of 3")).to_be_visible()

    # Sort: a header is a button; first click ascending, second descending, natural order.
    header = block.get_by_role("button", name="Key")
    header.click()
    expect(block.locator("th", has=tab.get_by_role("button", name="Key"))).to_have_attribute("aria-sort", "ascending")
    expect(block.locator("tbody tr.level-1").first).to_contain_text("WEB-1")
    assert _first_keys(block) == ["WEB-1", "WEB-2", "WEB-3"]
    block.get_by_role("button", name="Key").click()
    expect(block.locator("th", has=tab.get_by_role("button", name="Key"))).to_have_attribute("aria-sort", "descending")
    expect(block.locator("tbody tr.level-1").first).to_contain_text("WEB-60")
    assert _first_keys(block) == ["WEB-60", "WEB-59", "WEB-58"]
    # Sorted descending, page 2 continues the order over the whole snapshot.
    block.get_by_role("link", name="Next ›").click()
    expect(block.get_by_text("Page 2 of 3")).to_be_visible()
    assert _first_keys(block, 1) == ["WEB-35"]
    tab.screenshot(path=str(DOCS / "table-sorted.png"), full_page=True)

    # Without JavaScript the same works through the form and the links.
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    plain = context.new_page()
    try:
        sign_in(plain, live_server, "viewer", PASSWORD)
        plain.goto(shared)
        expect(plain.locator(".filter-count")).to_contain_text("1 of 60 issues")
        plain.goto(f"{live_server.url}{page.get_absolute_url()}")
        plain.get_by_label("Filter issues").fill("needle")
        plain.get_by_role("button", name="Filter").click()
        expect(plain.locator("tbody tr.level-1")).to_contain_text("WEB-47")
        plain.get_by_role("link", name="Show all").click()
        plain.get_by_role("button", name="Key").click()
        plain.get_by_role("button", name="Key").click()
        expect(plain.locator("tbody tr.level-1").first).to_contain_text("WEB-60")
    finally:
        context.close()


def test_an_editor_groups_a_table_with_counts_and_totals(live_server, issues, space, people, page_in_browser):
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS, title="Sprint 14 status report")
    _snapshot(macro)
    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    tab.goto(f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/configure/display/")
    tab.get_by_label("Rows per page").fill("100")
    tab.get_by_label("Group by").select_option("status")
    tab.get_by_label("Show totals").check()
    tab.get_by_label("Sort by").select_option("customfield_10016")
    tab.get_by_label("Direction", exact=True).select_option("desc")
    tab.get_by_label("Empty cell text").fill("–")
    summary = tab.locator("tr[data-field=summary]")
    summary.get_by_label("Don't wrap").check()
    summary.get_by_label("Width of Summary").select_option("wide")
    tab.screenshot(path=str(DOCS / "display-tab.png"), full_page=True)
    tab.get_by_role("button", name="Save").click()
    tab.get_by_role("button", name="Publish").click()

    block = tab.locator(f"#macro-{macro.public_id}")
    heads = block.locator("tr.group-head")
    expect(heads).to_have_count(3)
    expect(heads.nth(0)).to_contain_text("Status: To Do (20 issues)")
    expect(heads.nth(1)).to_contain_text("Status: In Progress (20 issues)")
    expect(heads.nth(2)).to_contain_text("Status: Done (20 issues)")
    points = [(n % 5) + 1 if n % 4 else 0 for n in range(1, 61)]
    by_status = [sum(p for n, p in zip(range(1, 61), points, strict=True) if n % 3 == k) for k in (0, 1, 2)]
    total_row = block.locator("tfoot tr.totals")
    expect(total_row).to_contain_text(str(sum(points)))
    for k in range(3):  # To Do is n % 3 == 0, In Progress 1, Done 2
        expect(block.locator("tr.group-totals").nth(k).locator("td").last).to_have_text(str(by_status[k]))
    # Folding a group hides its rows.
    first = block.locator("tbody tr.level-1").first
    expect(first).to_be_visible()
    block.get_by_role("button", name="Collapse group To Do").click()
    expect(first).to_be_hidden()
    block.get_by_role("button", name="Expand group To Do").click()
    expect(first).to_be_visible()

    # Filtered: the counts and totals follow the filter; a picture for the README.
    block.get_by_label("Filter issues").fill("ana")
    expect(block.locator(".filter-count")).to_contain_text("of 60 issues")
    ana = [n for n in range(1, 61) if n % 7 and PEOPLE[n % 3] == "Ana Lima"]
    expect(block.locator(".filter-count")).to_contain_text(f"{len(ana)} of 60")
    expect(total_row).to_contain_text(str(sum(points[n - 1] for n in ana)))
    expect(heads).to_have_count(1)  # Ana's issues are all To Do (n % 3 == 0)
    expect(heads.nth(0)).to_contain_text(f"Status: To Do ({len(ana)} issues)")
    # Every word must match: “step 1:” is steps 1, 11, 21, 31, 41 and 51, in all three groups.
    block.get_by_label("Filter issues").fill("step 1:")
    expect(block.locator(".filter-count")).to_contain_text("6 of 60 issues")
    expect(heads).to_have_count(3)
    shown = [1, 11, 21, 31, 41, 51]
    expect(total_row).to_contain_text(str(sum(points[n - 1] for n in shown)))
    block.scroll_into_view_if_needed()
    block.screenshot(path=str(DOCS / "table-grouped-filtered-totals.png"))


def test_a_template_saved_on_one_page_is_used_on_another(live_server, issues, space, people, page_in_browser):
    page, macro = publish_page_with_macro(space, people["editor"], jql="project = WEB AND status = Done ORDER BY key", fields=["key", "summary", "status"], title="Release 2.4 sign-off")
    other, _ = publish_page_with_macro(space, people["editor"], title="Release 2.5 sign-off")
    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    tab.goto(f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/configure/")
    tab.get_by_role("link", name="Save as template").click()
    tab.get_by_label("Template name").fill("Done for sign-off")
    tab.get_by_label("Description").fill("Everything done in the release")
    tab.get_by_role("button", name="Save template").click()
    expect(tab.get_by_text("Saved “Done for sign-off” as a personal template")).to_be_visible()

    tab.goto(f"{live_server.url}/pages/{other.pk}/edit/")
    tab.get_by_role("link", name="From template").click()
    expect(tab.get_by_role("tab", name="Recent")).to_be_visible()
    expect(tab.get_by_role("tab", name="My templates")).to_be_visible()
    tab.get_by_role("tab", name="All templates").click()
    tab.get_by_label("Search templates").fill("sign-off")
    tab.get_by_role("button", name="Search").click()
    expect(tab.get_by_text("Done for sign-off")).to_be_visible()
    tab.screenshot(path=str(DOCS / "from-template.png"), full_page=True)
    tab.get_by_role("button", name="Use Done for sign-off").click()
    expect(tab.get_by_label("JQL")).to_have_value("project = WEB AND status = Done ORDER BY key")
    tab.get_by_role("button", name="Save", exact=True).click()
    tab.get_by_role("button", name="Publish").click()
    expect(tab.get_by_role("heading", name="Release 2.5 sign-off")).to_be_visible()
    assert other.live_macros().filter(levels__0__jql="project = WEB AND status = Done ORDER BY key").exists()
    tab.goto(f"{live_server.url}/pages/{other.pk}/edit/from-template/?tab=recent")
    expect(tab.get_by_text("Done for sign-off")).to_be_visible()


def test_the_personal_setting_offers_takes_or_skips_a_snapshot_on_save(live_server, issues, space, people, page_in_browser):
    page, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary"])
    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    configure = f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/configure/"

    def choose(label: str) -> None:
        tab.goto(f"{live_server.url}/accounts/settings/")
        tab.get_by_label(label, exact=True).check()
        tab.get_by_role("button", name="Save").click()
        expect(tab.get_by_label(label, exact=True)).to_be_checked()

    def save_query(jql: str) -> None:
        tab.goto(configure)
        tab.get_by_label("JQL").fill(jql)
        tab.get_by_role("button", name="Save", exact=True).click()
        expect(tab.get_by_role("heading", name="Edit page")).to_be_visible()

    tab.goto(f"{live_server.url}/accounts/settings/")
    expect(tab.get_by_label("Ask every time")).to_be_checked()  # the default
    tab.screenshot(path=str(DOCS / "user-settings.png"), full_page=True)

    # Ask: saving a changed query offers a snapshot at once.
    save_query("project = WEB AND status = Done")
    expect(tab.get_by_text("You changed the query of")).to_be_visible()
    tab.get_by_role("button", name="Take a snapshot now").click()
    expect(tab.get_by_text("Taking a snapshot of")).to_be_visible()
    job = SnapshotJob.objects.get(macro=macro)
    assert job.levels[0]["jql"] == "project = WEB AND status = Done"
    take(job.pk)

    # No: nothing offered, nothing taken.
    choose("No")
    save_query("project = WEB AND status = 'In Progress'")
    expect(tab.get_by_text("You changed the query of")).to_have_count(0)
    assert SnapshotJob.objects.filter(macro=macro).count() == 1

    # Yes: taken at once, nothing asked.
    choose("Yes")
    save_query("project = WEB")
    expect(tab.get_by_text("Taking a snapshot of the new query")).to_be_visible()
    expect(tab.get_by_text("You changed the query of")).to_have_count(0)
    latest = SnapshotJob.objects.filter(macro=macro).order_by("-created_at").first()
    assert SnapshotJob.objects.filter(macro=macro).count() == 2 and latest.levels[0]["jql"] == "project = WEB"


def test_a_space_switched_off_and_on_again(live_server, issues, space, people, page_in_browser, settings):
    settings.SITE_URL = live_server.url
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    _snapshot(macro)
    issued = service.enable(macro, people["editor"], via=AutomationEvent.Via.COMMAND, live_at_once=True)
    trigger = f"{live_server.url}/api/automation/v1/macros/{macro.public_id}/snapshots"
    tab = page_in_browser
    sign_in(tab, live_server, "site_admin", PASSWORD)
    tab.get_by_role("link", name="Site administration").click()
    tab.get_by_role("link", name="Snapshots per space").click()
    row = tab.locator("tr[data-space=team]")
    expect(row).to_contain_text("1 snapshot stored")
    expect(tab.get_by_text("Nothing is deleted: every snapshot stays stored")).to_be_visible()
    row.get_by_role("button", name="Turn Snapshots off for Team space").click()
    expect(tab.get_by_text("Snapshots are off for Team space. Its snapshots are still stored")).to_be_visible()
    expect(row).to_contain_text("off")
    expect(row).to_contain_text("kept while Snapshots is off")
    tab.screenshot(path=str(DOCS / "site-spaces.png"), full_page=True)

    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    block = tab.locator(f"#macro-{macro.public_id}")
    expect(block.get_by_role("status")).to_contain_text("Snapshots are switched off for this space")
    expect(block.locator("table.issues")).to_have_count(0)
    refused = requests.post(trigger, headers={"jira-snapshots-api-key": issued.raw}, timeout=10)
    assert refused.status_code == 403 and refused.json()["code"] == "macro_automation_disabled"
    assert "switched off for this space" in refused.json()["detail"]

    tab.goto(f"{live_server.url}/site-admin/spaces/")
    tab.get_by_role("button", name="Turn Snapshots on for Team space").click()
    expect(tab.get_by_text("Snapshots are on again for Team space")).to_be_visible()
    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    expect(block.locator("table.issues")).to_contain_text("WEB-1")
    accepted = requests.post(trigger, headers={"jira-snapshots-api-key": issued.raw}, timeout=10)
    assert accepted.status_code == 202, accepted.text
    page_service.get_draft(page)  # the page is untouched by the switch


def test_deeper_levels_close_and_open_in_place(live_server, monkeypatch, space, people, page_in_browser):
    epics = [make_issue(n, summary=f"Epic {n}") for n in (1, 2)]
    stories = {f"parent = WEB-{e}": [make_issue(e * 100 + k, summary=f"Story {e}.{k}") for k in (1, 2)] for e in (1, 2)}
    use_source(monkeypatch, StaticSource(epics, by_jql={"project = WEB": epics, **stories}))
    page, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary"])
    macro.levels = [{"jql": "project = WEB", "fields": ["key", "summary"]}, {"jql": "parent = $key", "fields": ["key", "summary"]}]
    macro.save(update_fields=["levels"])
    _snapshot(macro)
    tab = page_in_browser
    sign_in(tab, live_server, "viewer", PASSWORD)
    tab.goto(f"{live_server.url}{page.get_absolute_url()}")
    block = tab.locator(f"#macro-{macro.public_id}")
    expect(block.locator("tr.level-2:not(.subhead)")).to_have_count(4)
    block.get_by_role("link", name="Collapse all levels").click()
    expect(block.locator("tr.level-2:not(.subhead)")).to_have_count(0)
    expect(block.locator("tbody")).to_contain_text("(2 below)")
    block.get_by_role("link", name="Show 2 below WEB-2").click()
    expect(block.locator("tr.level-2:not(.subhead)")).to_have_count(2)
    expect(block.locator("tr.level-2:not(.subhead)").first).to_contain_text("WEB-201")
    assert f"x{macro.pk}=none" in tab.url
    assert tab.evaluate("performance.getEntriesByType('navigation').length") == 1
    block.get_by_role("link", name="Expand all levels").click()
    expect(block.locator("tr.level-2:not(.subhead)")).to_have_count(4)
