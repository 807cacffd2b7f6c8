"""An editor automates a macro in a real browser; a tool calls it; a real worker takes the snapshot."""


import pytest
import requests
from playwright.sync_api import expect

from conftest import PASSWORD
from tests.conftest import SCREENSHOT_DIR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = SCREENSHOT_DIR


def call(url: str, key: str) -> requests.Response:
    return requests.post(url, headers={"jira-snapshots-api-key": key}, json={"issue": {"key": "WEB-1"}}, timeout=10)


def test_an_editor_automates_a_macro_and_a_tool_refreshes_the_open_page(live_server, worker, page_and_macro, page_in_browser, settings):
    settings.SITE_URL = live_server.url  # the Web request URL the tab shows must reach this server
    page, macro = page_and_macro
    tab = page_in_browser
    sign_in(tab, live_server, "editor", PASSWORD)

    # Edit → Configure → Automation
    tab.goto(f"{live_server.url}/pages/{page.pk}/")
    tab.get_by_role("link", name="Edit").click()
    tab.get_by_role("button", name="Configure").click()
    tab.get_by_role("tab", name="Automation").click()
    expect(tab.locator("#automation-state")).to_have_text("Off")
    expect(tab.get_by_label("API key")).to_have_count(0)

    # Tick: the URL and the key appear at once, with the warning.
    tab.get_by_label("Enable automation for this macro").click()
    expect(tab.get_by_label("API key")).to_be_visible()
    expect(tab.get_by_role("alert")).to_contain_text("copy it now, it will not be shown again")
    expect(tab.locator("#automation-state")).to_have_text("Pending publish")
    url = tab.get_by_label("Web request URL").input_value()
    key = tab.get_by_label("API key").input_value()
    assert url == f"{live_server.url}/api/automation/v1/macros/{macro.public_id}/snapshots"
    assert key.startswith("snap_")
    tab.get_by_role("button", name="Copy").first.click()
    expect(tab.get_by_role("button", name="Copied")).to_be_visible()
    tab.screenshot(path=str(DOCS / "automation-tab.png"), full_page=True)

    # Save: back in the editor, and the endpoint waits for the publish.
    tab.get_by_role("button", name="Save").click()
    expect(tab.get_by_text("Automation saved. Publish the page to make the endpoint live.")).to_be_visible()
    assert call(url, key).json()["code"] == "macro_automation_disabled"
    tab.get_by_role("button", name="Publish").click()
    expect(tab.get_by_role("heading", name=page.title)).to_be_visible()

    # A tool calls the URL; the real worker takes the snapshot; the open page updates itself,
    # without a reload: the marker set in this document is still there after the table came.
    tab.evaluate("window.__marker = 'before the call'")
    accepted = call(url, key)
    assert accepted.status_code == 202, accepted.text
    block = tab.locator(f"#macro-{macro.public_id}")
    expect(block.locator(".actor")).to_have_text("automation", timeout=30000)
    expect(block.locator("table.issues")).to_contain_text("WEB-")
    assert tab.evaluate("window.__marker") == "before the call"
    job = requests.get(accepted.json()["status_url"], headers={"jira-snapshots-api-key": key}, timeout=10).json()
    assert job["status"] == "succeeded" and job["snapshot"]["issue_count"] > 0

    # Reopening the tab: live, last called, and no key anywhere.
    tab.goto(f"{live_server.url}/pages/{page.pk}/macros/{macro.public_id}/configure/automation/")
    expect(tab.locator("#automation-state")).to_have_text("Live")
    expect(tab.get_by_text("Last called")).to_be_visible()
    expect(tab.get_by_label("API key")).to_have_count(0)
    assert key[18:] not in tab.content()
    tab.screenshot(path=str(DOCS / "automation-tab-live.png"), full_page=True)

    # Regenerate: the old key dies at once, the new one works at once.
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Regenerate API key").click()
    expect(tab.get_by_label("API key")).to_be_visible()
    new_key = tab.get_by_label("API key").input_value()
    assert new_key != key
    refused = call(url, key)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    assert call(url, new_key).status_code == 202
