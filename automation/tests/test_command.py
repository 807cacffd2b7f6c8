"""python manage.py automation list | enable | regenerate | disable (DESIGN §6)."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from automation.models import AutomationEvent, MacroAutomation, MacroKey
from automation.tests.conftest import trigger
from conftest import publish_page_with_macro
from macros import pages as page_service

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("automation", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_list_shows_every_macro_with_its_page_space_and_state(automated, space, people):
    other_page, other = publish_page_with_macro(space, people["editor"], title="Weekly status")
    draft = page_service.get_draft(other_page, people["editor"])
    pending = page_service.add_macro(draft, "Not yet published")
    run("enable", str(pending.public_id))

    rows = json.loads(run("list", "--json"))

    by_id = {row["id"]: row for row in rows}
    assert by_id[str(automated.macro.public_id)] == {
        "id": str(automated.macro.public_id),
        "title": "Open issues",
        "page": automated.page.pk,
        "page_title": "Status",
        "space": "team",
        "automation": "live",
    }
    assert by_id[str(other.public_id)]["automation"] == "off"
    assert by_id[str(pending.public_id)]["automation"] == "pending"
    assert by_id[str(pending.public_id)]["title"] == "Not yet published"


def test_list_as_a_table(automated):
    lines = run("list").splitlines()

    assert lines[0].split() == ["ID", "TITLE", "PAGE", "PAGE", "TITLE", "SPACE", "AUTOMATION"]
    assert str(automated.macro.public_id) in lines[1]
    assert lines[1].endswith("live")


def test_enable_prints_the_url_and_a_key_that_works_at_once(client, page_and_macro, settings):
    _, macro = page_and_macro

    printed = json.loads(run("enable", str(macro.public_id), "--json"))

    assert set(printed) == {"url", "api_key"}
    assert printed["url"] == f"{settings.SITE_URL}/api/automation/v1/macros/{macro.public_id}/snapshots"
    assert printed["api_key"].startswith("snap_")
    response = client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=printed["api_key"])
    assert response.status_code == 202, response.json()
    event = AutomationEvent.objects.get(kind=AutomationEvent.Kind.ENABLED)
    assert (event.via, event.actor, event.key_lookup) == ("command", None, printed["api_key"][5:17])


def test_enable_as_text_says_the_key_is_shown_once(page_and_macro):
    out = run("enable", str(page_and_macro[1].public_id))

    assert "Web request URL: http" in out
    assert "API key:         snap_" in out
    assert "copy it now, it will not be shown again" in out


def test_enable_refuses_a_macro_that_is_already_live(automated):
    with pytest.raises(CommandError, match="already live"):
        run("enable", str(automated.macro.public_id))
    assert MacroKey.objects.filter(revoked_at__isnull=True).count() == 1


def test_regenerate_kills_the_old_key_at_once(client, automated):
    printed = json.loads(run("regenerate", str(automated.macro.public_id), "--json"))

    assert trigger(client, automated, automated.key).json()["code"] == "invalid_api_key"
    assert trigger(client, automated, printed["api_key"]).status_code == 202
    assert printed["url"] == automated.url


def test_regenerate_refuses_a_macro_without_automation(page_and_macro):
    with pytest.raises(CommandError, match="off for this macro"):
        run("regenerate", str(page_and_macro[1].public_id))


def test_disable_stops_the_endpoint(client, automated):
    out = run("disable", str(automated.macro.public_id))

    assert "off" in out
    assert trigger(client, automated, automated.key).status_code == 401
    assert MacroAutomation.objects.get(macro=automated.macro).state == "off"
    assert "already off" in run("disable", str(automated.macro.public_id))


@pytest.mark.parametrize("macro_id", ["nope", str(uuid.uuid4())])
def test_unknown_macro_ids_are_an_error(macro_id):
    with pytest.raises(CommandError):
        run("enable", macro_id)
