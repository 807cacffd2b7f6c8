"""A site administrator in a real browser: the site switch, the global key, the lists.

Calls go to the live server over HTTP, like a tool would; a real worker takes the snapshots.
"""

import pytest
import requests
from playwright.sync_api import expect

from automation import service
from automation.models import AutomationEvent
from conftest import PASSWORD, publish_page_with_macro
from tests.conftest import SCREENSHOT_DIR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = SCREENSHOT_DIR


def call(url: str, key: str) -> requests.Response:
    return requests.post(url, headers={"jira-snapshots-api-key": key}, timeout=10)


def test_an_admin_switches_automation_off_and_a_call_is_refused_then_back_on_and_it_works(live_server, page_and_macro, page_in_browser, people, settings):
    settings.SITE_URL = live_server.url
    _, macro = page_and_macro
    issued = service.enable(macro, people["editor"], via=AutomationEvent.Via.COMMAND, live_at_once=True)
    tab = page_in_browser
    sign_in(tab, live_server, "site_admin", PASSWORD)

    tab.get_by_role("link", name="Site administration").click()
    expect(tab.get_by_role("heading", name="Site administration", exact=True)).to_be_visible()
    tab.screenshot(path=str(DOCS / "site-admin-home.png"), full_page=True)
    tab.get_by_role("link", name="Automation switch and permissions").click()
    switch = tab.get_by_label("Enable automation for this site")
    expect(switch).to_be_checked()

    switch.uncheck()
    tab.get_by_role("button", name="Save automation switch").click()
    expect(tab.get_by_text("Automation is off for this site: every call is refused")).to_be_visible()
    expect(tab.get_by_label("Enable automation for this site")).not_to_be_checked()
    refused = call(issued.url, issued.raw)
    assert (refused.status_code, refused.json()["code"]) == (403, "site_automation_disabled")
    tab.screenshot(path=str(DOCS / "site-admin-switch.png"), full_page=True)

    tab.get_by_label("Enable automation for this site").check()
    tab.get_by_role("button", name="Save automation switch").click()
    expect(tab.get_by_text("Automation is on for this site")).to_be_visible()
    accepted = call(issued.url, issued.raw)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["macro"] == str(macro.public_id)


def test_an_admin_creates_the_global_key_sees_it_once_and_refreshes_a_page_with_it(live_server, worker, page_and_macro, page_in_browser, space, people, settings):
    settings.SITE_URL = live_server.url
    page, macro = page_and_macro
    _, other_macro = publish_page_with_macro(space, people["editor"], title="Release readiness")
    service.enable(other_macro, people["editor"], via=AutomationEvent.Via.COMMAND, live_at_once=True)
    tab = page_in_browser
    sign_in(tab, live_server, "site_admin", PASSWORD)

    tab.goto(f"{live_server.url}/site-admin/")
    tab.get_by_role("link", name="Global API key").first.click()
    expect(tab.get_by_text("There is no global API key")).to_be_visible()
    tab.get_by_role("button", name="Create global API key").click()
    expect(tab.get_by_role("alert")).to_contain_text("This is the only time the global API key is shown")
    key = tab.get_by_label("Global API key").input_value()
    assert key.startswith("snapglobal_")
    tab.get_by_role("button", name="Copy").click()
    expect(tab.get_by_role("button", name="Copied")).to_be_visible()
    tab.screenshot(path=str(DOCS / "site-admin-global-key.png"), full_page=True)

    # Seen once: reloading the screen shows the key's facts, never the key.
    tab.goto(f"{live_server.url}/site-admin/global-key/")
    expect(tab.get_by_role("button", name="Prolong")).to_be_visible()
    expect(tab.get_by_label("Global API key")).to_have_count(0)
    assert key[23:] not in tab.content()

    # A tool refreshes every macro on the page (the reference product's path).
    tab.goto(f"{live_server.url}/pages/{page.pk}/")
    accepted = call(f"{live_server.url}/take-snapshot/{page.pk}", key)
    assert accepted.status_code == 202, accepted.text
    assert [job["macro"] for job in accepted.json()["jobs"]] == [str(macro.public_id)]
    block = tab.locator(f"#macro-{macro.public_id}")
    expect(block.locator(".actor")).to_have_text("automation (global key)", timeout=30000)
    expect(block.locator("table.issues")).to_contain_text("WEB-")
    status = requests.get(accepted.json()["jobs"][0]["status_url"], headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    assert status["status"] == "succeeded"

    # The other screens, with something on them.
    call(f"{live_server.url}/api/automation/v1/macros/{other_macro.public_id}/snapshots", "snap_aaaaaaaaaaaa_" + "a" * 43)
    tab.goto(f"{live_server.url}/site-admin/automated-macros/")
    expect(tab.get_by_role("cell", name="Release readiness", exact=True)).to_be_visible()
    tab.screenshot(path=str(DOCS / "site-admin-macros.png"), full_page=True)
    tab.goto(f"{live_server.url}/site-admin/audit/")
    expect(tab.get_by_role("table").get_by_text("Global key created")).to_be_visible()
    tab.screenshot(path=str(DOCS / "site-admin-audit.png"), full_page=True)

    # Revoke from the list: the macro's key stops at once.
    tab.goto(f"{live_server.url}/site-admin/automated-macros/")
    tab.once("dialog", lambda dialog: dialog.accept())
    tab.get_by_role("button", name="Revoke automation of Open issues on Release readiness").click()
    expect(tab.get_by_text("is revoked: its endpoint and key stopped working")).to_be_visible()
