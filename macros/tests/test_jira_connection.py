"""The Jira connection screen and the macro configuration against a stand-in Jira on 127.0.0.1."""

import pytest
from django.urls import reverse

from macros.models import SiteSettings
from macros.tests import jira_stub as stub
from macros.tests.jira_stub import CLOUD_COUNT, CLOUD_SEARCH, CloudSearch, Sequence, json_response


@pytest.fixture
def jira(settings):
    server = stub.start_server()
    settings.JIRA_URL = stub.base_url(server)
    settings.JIRA_DEPLOYMENT = "cloud"
    settings.JIRA_USER = stub.USER
    settings.JIRA_TOKEN = stub.TOKEN
    server.expect_request("/rest/api/3/field", method="GET").respond_with_json(
        [
            {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string"}},
            {"id": "status", "name": "Status", "custom": False, "schema": {"type": "status"}},
            {"id": "customfield_10042", "name": "Story points", "custom": True, "schema": {"type": "number"}},
        ]
    )
    yield server
    server.clear()
    server.stop()


def test_staff_see_the_connection_without_the_token(client, people, jira):
    client.force_login(people["site_admin"])
    response = client.get(reverse("jira_connection"))
    body = response.content.decode()
    assert response.status_code == 200
    assert stub.base_url(jira) in body and "jira-cloud" in body and stub.USER in body
    assert "set (never shown)" in body and stub.TOKEN not in body
    assert "Story points" in body and "customfield_10042" in body


@pytest.mark.parametrize("who", ["editor", "viewer", "outsider"])
def test_non_staff_cannot_open_the_connection_screen(client, people, jira, who):
    client.force_login(people[who])
    response = client.get(reverse("jira_connection"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(reverse("jira_test_connection")).status_code == 302


def test_test_connection_reports_who_we_are_in_jira(client, people, jira):
    jira.expect_request("/rest/api/3/myself", method="GET").respond_with_json(
        {"accountId": "5b10a2844c20165700ede21g", "displayName": "Snapshots bot", "emailAddress": stub.USER}
    )
    client.force_login(people["site_admin"])
    body = client.post(reverse("jira_test_connection")).content.decode()
    assert "Jira knows us as <strong>Snapshots bot</strong>" in body


def test_test_connection_reports_the_precise_failure(client, people, jira):
    jira.expect_request("/rest/api/3/myself", method="GET").respond_with_handler(
        Sequence(answers=[json_response({"errorMessages": []}, status=401, headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})])
    )
    client.force_login(people["site_admin"])
    body = client.post(reverse("jira_test_connection")).content.decode()
    assert "Jira rejected the credentials" in body and "AUTHENTICATED_FAILED" in body
    assert stub.TOKEN not in body


def test_the_same_site_guard_is_lifted_by_an_admin(client, people, jira):
    SiteSettings.objects.update_or_create(pk=1, defaults={"jira_site_url": "https://old.example.com"})
    client.force_login(people["site_admin"])
    body = client.get(reverse("jira_connection")).content.decode()
    assert "The Jira URL changed" in body and "Same site, new URL" in body
    response = client.post(reverse("jira_same_site"))
    assert response.status_code == 302
    assert SiteSettings.load().jira_site_url == stub.base_url(jira)
    assert "The Jira URL changed" not in client.get(reverse("jira_connection")).content.decode()


def test_the_configuration_previews_and_picks_fields_from_the_stand_in(client, people, page_and_macro, jira):
    page, macro = page_and_macro
    jira.expect_request(CLOUD_COUNT, method="POST").respond_with_json({"count": 3})
    jira.expect_request(CLOUD_SEARCH, method="POST").respond_with_handler(CloudSearch(total=3))
    client.force_login(people["editor"])
    url = reverse("macro_configure", args=[page.pk, macro.public_id])
    body = client.get(url).content.decode()
    assert '<option value="customfield_10042" data-name="Story points">Story points (customfield_10042)</option>' in body
    preview = client.post(url, {"title": "T", "level-0-jql": "project = ABC", "level-0-fields": "key, summary", "action": "preview"})
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "First 3 of 3 issues." in text and "ABC-1" in text, text[text.find("Preview<"):][:600]


def test_the_configuration_shows_jiras_words_for_bad_jql(client, people, page_and_macro, jira):
    page, macro = page_and_macro
    jira.expect_request(CLOUD_COUNT, method="POST").respond_with_json({"errorMessages": ["x"]}, status=400)
    jira.expect_request(CLOUD_SEARCH, method="POST").respond_with_json(
        {"errorMessages": [], "errors": {"jql": "The value 'NOPE' does not exist for the field 'project'."}}, status=400
    )
    client.force_login(people["editor"])
    response = client.post(
        reverse("macro_configure", args=[page.pk, macro.public_id]),
        {"title": "T", "level-0-jql": "project = NOPE", "level-0-fields": "key", "action": "save"},
    )
    assert response.status_code == 200
    assert "The value &#x27;NOPE&#x27; does not exist for the field &#x27;project&#x27;." in response.content.decode()
