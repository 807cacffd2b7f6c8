"""An editor picks Jira fields by name in a real browser (search, drag and drop, keys),
and the page shows a stand-in Jira's real-shaped issues the way Jira people read them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, publish_page_with_macro
from macros.tests.jira_fields import RAW_MARKERS
from tests.conftest import SCREENSHOT_DIR, sign_in, start_worker, stop_worker
from tests.reliability.standin_jira import TOKEN, USER, StandInJira

pytestmark = pytest.mark.django_db(transaction=True)
JQL = "project = ABC ORDER BY key"


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request, settings):
    stand_in = StandInJira(request.param)
    stand_in.behave(JQL, total=12)
    config = {"JIRA_URL": stand_in.url, "JIRA_DEPLOYMENT": request.param, "JIRA_USER": USER if request.param == "cloud" else "", "JIRA_TOKEN": TOKEN}
    for name, value in config.items():
        setattr(settings, name, value)
    worker = start_worker(config)
    yield stand_in
    stop_worker(worker)
    stand_in.close()


def test_an_editor_picks_fields_by_name_and_the_page_reads_like_jira(live_server, jira, people, space, page_in_browser):
    from macros.models import Macro

    page, macro = publish_page_with_macro(space, people["editor"], jql=JQL, fields=["key", "summary"], title="Sprint report")
    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    tab.goto(f"{live_server.url}/pages/{page.pk}/edit/")
    tab.get_by_role("button", name="Configure").first.click()

    chosen = tab.get_by_role("list", name="Level 1 columns, in order")
    fields = tab.get_by_label("Fields (in column order)")
    expect(chosen.get_by_role("listitem")).to_have_count(2)
    expect(chosen).to_contain_text("Summary")

    # Search by the name Jira shows; Enter adds the first match.
    search = tab.get_by_label("Search fields")
    search.fill("story poi")
    expect(tab.get_by_role("status")).to_have_text("1 field match.")
    search.press("Enter")
    expect(fields).to_have_value("key, summary, customfield_10016")
    expect(chosen.get_by_role("listitem").nth(2)).to_contain_text("Story Points")
    expect(chosen.get_by_role("listitem").nth(2)).to_contain_text("customfield_10016")

    picker = tab.get_by_label("Add a field")
    for field_id in ("status", "assignee", "priority", "timetracking", "progress", "customfield_10020", "issuelinks", "customfield_10031", "comment", "duedate"):
        picker.select_option(field_id)
    expect(fields).to_have_value(
        "key, summary, customfield_10016, status, assignee, priority, timetracking, progress, customfield_10020, issuelinks, customfield_10031, comment, duedate"
    )

    # Keyboard: Alt+↑ moves the focused field up; the buttons do the same.
    status = chosen.get_by_role("listitem", name=re.compile(r"^Status,"))
    status.focus()
    status.press("Alt+ArrowUp")
    expect(fields).to_have_value(re.compile(r"^key, summary, status, customfield_10016, assignee"))
    expect(tab.get_by_role("status")).to_have_text("Status moved to position 3 of 13.")
    expect(chosen.get_by_role("listitem", name=re.compile(r"^Status,"))).to_be_focused()
    chosen.get_by_role("button", name="Move Due date up").click()
    expect(fields).to_have_value(re.compile(r"customfield_10031, duedate, comment$"))
    chosen.get_by_role("button", name="Remove Due date").click()
    expect(fields).to_have_value(re.compile(r"customfield_10031, comment$"))

    # Drag and drop: Story Points onto Summary's place.
    chosen.get_by_role("listitem", name=re.compile(r"^Story Points,")).drag_to(chosen.get_by_role("listitem", name=re.compile(r"^Summary,")))
    expect(fields).to_have_value(re.compile(r"^key, customfield_10016, summary, status, assignee"))

    tab.get_by_role("button", name="Preview").click()
    preview = tab.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("Original ")
    expect(preview).to_contain_text("Sprint 12")
    if jira.deployment == "cloud":
        tab.screenshot(path=str(SCREENSHOT_DIR / "configure-fields.png"), full_page=True)
    tab.get_by_role("button", name="Save").click()
    tab.get_by_role("button", name="Publish").click()

    tab.get_by_role("button", name="Take snapshot").click()
    block = tab.locator(f"#macro-{Macro.objects.get(pk=macro.pk).public_id}")
    table = block.locator("table.issues")
    expect(table).to_contain_text("ABC-12", timeout=30000)
    headers = table.locator("thead th").all_inner_texts()
    assert [h.strip() for h in headers][:6] == ["Key", "Story Points", "Summary", "Status", "Assignee", "Priority"]
    expect(table).to_contain_text("EMEA › Germany")
    expect(table).to_contain_text("Sprint 12")
    expect(table).to_contain_text("blocks WEB-12")
    expect(table).to_contain_text("relates to WEB-9")
    expect(table.locator(".lozenge").first).to_be_visible()
    expect(table.get_by_role("link", name="ABC-1", exact=True)).to_have_attribute("href", f"{jira.url}/browse/ABC-1")
    expect(table.get_by_role("link", name="WEB-12").first).to_have_attribute("href", f"{jira.url}/browse/WEB-12")
    cells = table.locator("tbody td").all_inner_texts()
    assert len(cells) == 12 * 12
    assert not [(c, m) for c in cells for m in RAW_MARKERS if m in c]
    assert any(re.fullmatch(r"Original \d+[wdh].*", c) for c in cells), cells
    if jira.deployment == "cloud":
        tab.screenshot(path=str(SCREENSHOT_DIR / "page-jira-fields.png"), full_page=True)
