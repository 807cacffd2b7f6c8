"""The Automation tab of the macro configuration (DESIGN §7)."""

import re

import pytest
from django.utils import timezone

from automation.models import MacroAutomation, MacroKey
from automation.tests.conftest import trigger
from conftest import PASSWORD
from macros import pages as page_service
from macros.models import SiteSettings

pytestmark = pytest.mark.django_db


def tab_url(page, macro) -> str:
    return f"/pages/{page.pk}/macros/{macro.public_id}/configure/automation/"


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def editor(client, people):
    client.login(username="editor", password=PASSWORD)
    return client


def test_the_configuration_has_an_automation_tab(editor, page_and_macro):
    page, macro = page_and_macro

    query_tab = editor.get(f"/pages/{page.pk}/macros/{macro.public_id}/configure/")

    assert f'href="{tab_url(page, macro)}"' in query_tab.content.decode()
    assert ">Automation</a>" in query_tab.content.decode()


def test_an_editor_sees_it_off_with_the_checkbox(editor, page_and_macro):
    response = editor.get(tab_url(*page_and_macro))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<label class="checkbox-label" for="id_enabled"><input type="checkbox" name="enabled" id="id_enabled" > Enable automation for this macro</label>' in html
    assert 'id="automation-state">Off<' in html
    assert 'id="automation-key"' not in html
    assert "Regenerate API key" not in html


def test_ticking_makes_a_key_and_shows_it_once_with_the_url_and_examples(editor, page_and_macro, settings):
    page, macro = page_and_macro

    response = editor.post(tab_url(page, macro), {"enabled": "on", "action": "enable"})

    html = response.content.decode()
    url = f"{settings.SITE_URL}/api/automation/v1/macros/{macro.public_id}/snapshots"
    key = re.search(r'id="automation-key" type="text" readonly value="(snap_[^"]+)"', html)[1]
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert '<label for="automation-url">Web request URL</label>' in html
    assert '<label for="automation-key">API key</label>' in html
    assert f'id="automation-url" type="text" readonly value="{url}"' in html
    assert 'data-copy="automation-url">Copy</button>' in html and 'data-copy="automation-key">Copy</button>' in html
    assert "copy it now, it will not be shown again" in html
    assert 'id="automation-state">Pending publish<' in html
    assert ">Regenerate API key</button>" in html
    text = text_of(response)
    assert f"curl --request POST '{url}' \\ --header 'jira-snapshots-api-key: &lt;API-KEY&gt;'" in text
    assert "Send web request" in text and "HTTP method POST" in text and "Issue data (Jira format)" in text
    assert "${{ secrets.SNAPSHOTS_API_KEY }}" in html and "GitHub Actions" in text
    assert html.count(key) == 1
    stored = MacroKey.objects.get(macro=macro)
    assert stored.lookup_id == key[5:17] and key not in stored.hash


def test_the_examples_show_a_ci_step_that_waits_and_a_jira_rule_that_uses_the_version(editor, page_and_macro, settings):
    page, macro = page_and_macro

    response = editor.post(tab_url(page, macro), {"enabled": "on", "action": "enable"})

    html = response.content.decode()
    url = f"{settings.SITE_URL}/api/automation/v1/macros/{macro.public_id}/snapshots"
    assert f"curl --silent --show-error --fail-with-body --request POST '{url}?wait=60'" in html
    assert f"'{settings.SITE_URL}/api/automation/v1/jobs/'\"$job?wait=60\"" in html
    assert "jq -e '.status == \"succeeded\"'" in html.replace("&quot;", '"')
    assert f"<code>{url}?wait=25</code>" in html
    assert "Delay execution of subsequent rule actions until we've received a response" in html
    assert "Snapshot taken: {{webResponse.body.version_url}}" in html


def test_save_after_ticking_goes_back_to_the_editor_and_asks_for_a_publish(editor, page_and_macro):
    page, macro = page_and_macro
    editor.post(tab_url(page, macro), {"enabled": "on", "action": "enable"})

    response = editor.post(tab_url(page, macro), {"enabled": "on", "action": "save"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/pages/{page.pk}/edit/"
    assert "Automation saved. Publish the page to make the endpoint live." in response.content.decode()
    assert MacroKey.objects.filter(macro=macro).count() == 1


def test_save_with_the_box_ticked_works_without_javascript(editor, page_and_macro):
    page, macro = page_and_macro

    response = editor.post(tab_url(page, macro), {"enabled": "on", "action": "save"})

    assert response.status_code == 200
    assert 'id="automation-key"' in response.content.decode()


def test_reopening_shows_the_state_but_never_the_key(editor, page_and_macro, people):
    page, macro = page_and_macro
    shown = editor.post(tab_url(page, macro), {"enabled": "on"}).content.decode()
    key = re.search(r'id="automation-key" type="text" readonly value="([^"]+)"', shown)[1]
    page_service.publish(page, people["editor"])

    html = editor.get(tab_url(page, macro)).content.decode()

    assert 'id="automation-state">Live<' in html
    assert 'id="automation-key"' not in html
    assert key[18:] not in html
    assert f"snap_{key[5:17]}_…" in html
    assert "It was shown once and cannot be shown again" in html
    assert "Never called yet." in html
    assert 'id="automation-url"' in html


def test_the_tab_says_when_it_was_last_called(editor, automated):
    trigger(editor, automated, automated.key)

    html = editor.get(tab_url(automated.page, automated.macro)).content.decode()

    assert "Last called" in html
    assert timezone.localtime(MacroAutomation.objects.get(macro=automated.macro).last_called_at).strftime("%Y-%m-%d %H:%M") in html


def test_regenerate_shows_a_new_key_once(editor, automated):
    response = editor.post(tab_url(automated.page, automated.macro), {"action": "regenerate"})

    new = re.search(r'id="automation-key" type="text" readonly value="([^"]+)"', response.content.decode())[1]
    assert new != automated.key
    assert response["Cache-Control"] == "no-store"
    assert MacroKey.objects.filter(macro=automated.macro, revoked_at__isnull=True).get().lookup_id == new[5:17]


def test_regenerate_when_off_makes_no_key(editor, page_and_macro):
    page, macro = page_and_macro

    response = editor.post(tab_url(page, macro), {"action": "regenerate"}, follow=True)

    assert "Automation is off for this macro: tick the box to make a key." in response.content.decode()
    assert not MacroKey.objects.exists()


def test_unticking_and_saving_switches_it_off(editor, automated):
    response = editor.post(tab_url(automated.page, automated.macro), {"action": "save"}, follow=True)

    assert "Automation is off for this macro: its endpoint and API key stopped working." in response.content.decode()
    assert 'id="automation-state">Off<' in editor.get(tab_url(automated.page, automated.macro)).content.decode()


def test_it_warns_when_the_site_switch_is_off(editor, automated):
    SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": False})

    html = editor.get(tab_url(automated.page, automated.macro)).content.decode()

    assert "An administrator has switched automation off for this site" in html
    assert 'id="automation-state">Live<' in html


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("snapshotter", 403), ("outsider", 404)])
def test_only_editors_may_open_or_change_it(client, page_and_macro, who, status):
    client.login(username=who, password=PASSWORD)
    page, macro = page_and_macro

    assert client.get(tab_url(page, macro)).status_code == status
    assert client.post(tab_url(page, macro), {"enabled": "on"}).status_code == status
    assert not MacroKey.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, page_and_macro):
    response = client.get(tab_url(*page_and_macro))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_macro_of_another_page_is_not_found(editor, page_and_macro, space, people):
    from conftest import publish_page_with_macro

    other_page, _ = publish_page_with_macro(space, people["editor"], title="Other")

    assert editor.get(tab_url(other_page, page_and_macro[1])).status_code == 404
