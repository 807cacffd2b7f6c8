"""An editor's journey in a real browser: sign in, edit, add and configure a macro, publish, snapshot."""


import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from tests.conftest import SCREENSHOT_DIR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = SCREENSHOT_DIR


def test_an_editor_builds_a_page_and_sees_the_snapshot_land_without_reload(live_server, worker, people, space, page_in_browser):
    from macros.models import Macro

    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)
    expect(tab.get_by_role("link", name="Team space")).to_be_visible()

    tab.get_by_role("link", name="Team space").click()
    tab.get_by_role("link", name="Create page").click()
    tab.get_by_label("Title").fill("Release 2.4 scope")
    tab.get_by_label("Body").fill("The **release** in numbers.")
    tab.get_by_role("button", name="Create").click()

    expect(tab.get_by_role("heading", name="Edit page")).to_be_visible()
    tab.get_by_role("button", name="Add Snapshots macro").click()

    # The configuration: a bad query first, in Jira's words, then a good one with a preview.
    tab.get_by_label("Macro title").fill("Open bugs")
    tab.get_by_label("JQL").fill("project = NOPE")
    tab.get_by_role("button", name="Preview").click()
    expect(tab.get_by_role("alert")).to_contain_text("The value 'NOPE' does not exist for the field 'project'.")
    tab.get_by_label("JQL").fill("project = WEB AND issuetype = Bug ORDER BY key ASC")
    tab.get_by_label("Fields (in column order)").fill("key, summary")
    tab.get_by_label("Add a field").select_option("status")
    expect(tab.get_by_label("Fields (in column order)")).to_have_value("key, summary, status")
    tab.get_by_role("button", name="Preview").click()
    preview = tab.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("WEB-")
    tab.screenshot(path=str(DOCS / "configure.png"), full_page=True)
    tab.get_by_role("button", name="Save").click()

    expect(tab.get_by_text("Open bugs")).to_be_visible()
    tab.screenshot(path=str(DOCS / "editor.png"), full_page=True)
    tab.get_by_role("button", name="Publish").click()
    expect(tab.get_by_role("heading", name="Release 2.4 scope")).to_be_visible()
    expect(tab.get_by_text("No snapshot yet.")).to_be_visible()

    macro = Macro.objects.get(title="Open bugs")
    # No reload: a marker set in this document must still be there once the table is in
    # (a reload or a plain form submission would make a new document without it).
    tab.evaluate("window.__marker = 'before the snapshot'")
    tab.get_by_role("button", name="Take snapshot").click()
    block = tab.locator(f"#macro-{macro.public_id}")
    expect(block.locator("table.issues")).to_contain_text("WEB-", timeout=30000)
    expect(block.locator(".actor")).to_have_text("editor")
    assert tab.evaluate("window.__marker") == "before the snapshot"
    tab.screenshot(path=str(DOCS / "page.png"), full_page=True)
