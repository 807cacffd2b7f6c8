"""Grants wait for publish; revocations act at once (DESIGN §5)."""

import re

import pytest

from automation.models import AutomationEvent, MacroAutomation
from automation.tests.conftest import trigger
from conftest import PASSWORD
from macros import pages as page_service
from macros.models import SiteSettings

pytestmark = pytest.mark.django_db


def tab_url(page, macro) -> str:
    return f"/pages/{page.pk}/macros/{macro.public_id}/configure/automation/"


def shown_key(response) -> str:
    match = re.search(r'id="automation-key" type="text" readonly value="([^"]+)"', response.content.decode())
    assert match, "the key is not on the screen"
    return match[1]


@pytest.fixture
def editor(client, people):
    client.login(username="editor", password=PASSWORD)
    return client


def call(client, macro, key):
    return client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=key)


def test_a_saved_but_unpublished_grant_is_refused_until_the_page_is_published(editor, page_and_macro, people):
    page, macro = page_and_macro
    key = shown_key(editor.post(tab_url(page, macro), {"enabled": "on", "action": "enable"}))
    assert editor.post(tab_url(page, macro), {"enabled": "on", "action": "save"}).status_code == 302

    refused = call(editor, macro, key)
    assert (refused.status_code, refused.json()["code"]) == (403, "macro_automation_disabled")

    page_service.publish(page, people["editor"])

    accepted = call(editor, macro, key)
    assert accepted.status_code == 202
    assert MacroAutomation.objects.get(macro=macro).live_since is not None
    went_live = AutomationEvent.objects.get(kind=AutomationEvent.Kind.WENT_LIVE)
    assert (went_live.via, went_live.actor, went_live.macro) == ("publish", people["editor"], macro)


def test_republishing_keeps_a_live_endpoint_live(client, automated, people):
    since = MacroAutomation.objects.get(macro=automated.macro).live_since

    page_service.publish(automated.page, people["editor"])

    assert MacroAutomation.objects.get(macro=automated.macro).live_since == since
    assert trigger(client, automated, automated.key).status_code == 202


def test_a_macro_enabled_before_its_first_publish_goes_live_with_it(editor, space, people):
    page = page_service.create_page(space, "New page", "", people["editor"])
    macro = page_service.add_macro(page_service.get_draft(page, people["editor"]), "Bugs")
    key = shown_key(editor.post(tab_url(page, macro), {"enabled": "on"}))
    assert call(editor, macro, key).json()["code"] == "macro_automation_disabled"

    page_service.publish(page, people["editor"])

    assert call(editor, macro, key).status_code == 202


def test_regenerating_a_live_key_makes_the_new_key_live_at_once(editor, automated):
    new = shown_key(editor.post(tab_url(automated.page, automated.macro), {"action": "regenerate"}))

    assert call(editor, automated.macro, automated.key).json()["code"] == "invalid_api_key"
    assert call(editor, automated.macro, new).status_code == 202


def test_regenerating_a_pending_key_leaves_it_pending(editor, page_and_macro, people):
    page, macro = page_and_macro
    first = shown_key(editor.post(tab_url(page, macro), {"enabled": "on"}))

    second = shown_key(editor.post(tab_url(page, macro), {"action": "regenerate"}))

    assert first != second
    assert call(editor, macro, second).json()["code"] == "macro_automation_disabled"
    assert call(editor, macro, first).json()["code"] == "invalid_api_key"
    page_service.publish(page, people["editor"])
    assert call(editor, macro, second).status_code == 202


def test_unticking_and_saving_stops_the_endpoint_without_a_publish(editor, automated):
    response = editor.post(tab_url(automated.page, automated.macro), {"action": "save"})

    assert response.status_code == 302
    refused = call(editor, automated.macro, automated.key)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    assert MacroAutomation.objects.get(macro=automated.macro).state == "off"


def test_the_site_switch_acts_at_once_both_ways(client, automated):
    SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": False})
    assert trigger(client, automated, automated.key).json()["code"] == "site_automation_disabled"

    SiteSettings.objects.filter(pk=1).update(automation_enabled=True)
    assert trigger(client, automated, automated.key).status_code == 202
