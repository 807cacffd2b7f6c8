"""After the configuration is saved, the key is never readable again: not in the
database, logs, screens, admin, session, messages, exceptions or the API."""

import logging
import re
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from automation.tests.conftest import trigger
from conftest import PASSWORD
from macros import pages as page_service

pytestmark = pytest.mark.django_db


def secret_of(key: str) -> str:
    return key[18:]  # the random part, after "snap_" + the 12-character lookup id + "_"


@pytest.fixture
def saved(client, page_and_macro, people, caplog):
    """An editor ticks, copies the key, saves and publishes; logs captured at DEBUG throughout."""
    caplog.set_level(logging.DEBUG)
    page, macro = page_and_macro
    client.login(username="editor", password=PASSWORD)
    url = f"/pages/{page.pk}/macros/{macro.public_id}/configure/automation/"
    shown = client.post(url, {"enabled": "on", "action": "enable"})
    key = re.search(r'id="automation-key" type="text" readonly value="([^"]+)"', shown.content.decode())[1]
    assert shown["Cache-Control"] == "no-store"
    assert shown.content.decode().count(secret_of(key)) == 1  # shown once, in the input
    client.post(url, {"enabled": "on", "action": "save"})
    page_service.publish(page, people["editor"])
    return {"client": client, "page": page, "macro": macro, "key": key, "tab": url}


def test_the_database_holds_only_a_hash(saved):
    out = StringIO()
    call_command("dumpdata", stdout=out)
    dump = out.getvalue()

    assert secret_of(saved["key"]) not in dump
    assert saved["key"][5:17] in dump  # the lookup id is there, and is not secret
    assert "$argon2id$" in dump


def test_no_screen_shows_it_after_save(saved, people, client):
    ed = saved["client"]
    job = trigger(ed, saved["macro"].page and type("A", (), {"path": f"/api/automation/v1/macros/{saved['macro'].public_id}/snapshots"})(), saved["key"]).json()
    screens = [
        saved["tab"],
        f"/pages/{saved['page'].pk}/",
        f"/pages/{saved['page'].pk}/edit/",
        f"/pages/{saved['page'].pk}/history/",
        f"/pages/{saved['page'].pk}/macros/{saved['macro'].public_id}/configure/",
        "/api/automation/v1/docs/",
    ]
    pages = {url: ed.get(url) for url in screens}
    admin = client
    admin.login(username="site_admin", password=PASSWORD)
    for url in [
        "/admin/automation/automationevent/",
        "/admin/macros/macro/",
        f"/admin/macros/macro/{saved['macro'].pk}/change/",
        f"/admin/macros/snapshotjob/{job['job']}/change/",
    ]:
        pages[url] = admin.get(url)
    status = ed.get(f"/api/automation/v1/jobs/{job['job']}", HTTP_JIRA_SNAPSHOTS_API_KEY=saved["key"])

    for url, response in pages.items():
        assert response.status_code == 200, url
        assert secret_of(saved["key"]) not in response.content.decode(), url
    assert secret_of(saved["key"]) not in status.content.decode()
    assert 'id="automation-key"' not in pages[saved["tab"]].content.decode()


def test_no_log_line_carries_it(saved, caplog, settings):
    settings.AUTOMATION_REFUSED_THROTTLE = None
    caplog.set_level(logging.DEBUG, logger="django.request")
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    client, macro, key = saved["client"], saved["macro"], saved["key"]
    path = f"/api/automation/v1/macros/{macro.public_id}/snapshots"
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        client.post(path, HTTP_JIRA_SNAPSHOTS_API_KEY=key)
        client.post(path, HTTP_JIRA_SNAPSHOTS_API_KEY=key[:-1] + "x")
        client.post(path, HTTP_AUTHORIZATION=f"Bearer {key}")
        client.get(path, HTTP_JIRA_SNAPSHOTS_API_KEY=key)
        client.post(saved["tab"], {"action": "regenerate"})
    finally:
        connection.force_debug_cursor = False

    records = caplog.get_records("setup") + caplog.get_records("call")
    assert any(r.name == "django.request" for r in records), "expected request warnings to inspect"
    assert any(r.name == "django.db.backends" for r in records), "expected SQL logs to inspect"
    for record in records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert secret_of(key) not in text


def test_the_session_and_messages_never_hold_it(saved):
    cookies = "".join(morsel.value for morsel in saved["client"].cookies.values())
    assert secret_of(saved["key"]) not in cookies
    for session in Session.objects.all():
        assert secret_of(saved["key"]) not in str(session.get_decoded())


def _report(request) -> str:
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        report = ExceptionReporter(request, type(exc), exc, exc.__traceback__)
        return report.get_traceback_text() + report.get_traceback_html()


def test_an_error_report_hides_the_key_headers(saved):
    request = RequestFactory().post("/x", HTTP_JIRA_SNAPSHOTS_API_KEY=saved["key"], HTTP_AUTHORIZATION=f"Bearer {saved['key']}")

    text = _report(request)

    assert "HTTP_JIRA_SNAPSHOTS_API_KEY" in text
    assert secret_of(saved["key"]) not in text


def test_an_error_inside_the_trigger_does_not_reveal_the_key_in_its_report(saved, monkeypatch, settings):
    from django.test import Client

    def broken(*args, **kwargs):
        raise RuntimeError("the queue is down")

    monkeypatch.setattr("automation.api.request_snapshot", broken)
    settings.DEBUG = True
    client = Client(raise_request_exception=False)

    response = client.post(
        f"/api/automation/v1/macros/{saved['macro'].public_id}/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=saved["key"], HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 500
    assert "the queue is down" in response.content.decode()
    assert secret_of(saved["key"]) not in response.content.decode()


def test_a_grant_found_for_a_key_shows_its_lookup_id_and_macro_never_its_secret(automated):
    from automation import calls, keys

    grant = calls.find_key(keys.parse(automated.key))

    shown = repr(grant)
    assert shown == f"KeyGrant(lookup_id={automated.key[5:17]!r}, macro={automated.macro.public_id})"
    assert secret_of(automated.key) not in shown and grant.hash not in shown
