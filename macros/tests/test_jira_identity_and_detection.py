"""Who we are in Jira (/myself) and which Jira answers (detect_deployment), in full.

Written for the mutants mutmut left alive (docs/mutation.md): the identity's extras were
not checked beyond one key, and detection had untested branches.
"""

from __future__ import annotations

import pytest
from werkzeug import Response

from macros.sources.base import SourceError
from macros.sources.jira import JiraCloud, JiraDataCenter, detect_deployment
from macros.tests import jira_stub as stub
from macros.tests.jira_stub import Sequence, json_response


@pytest.fixture(scope="module")
def running():
    server = stub.start_server()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def server(running):
    running.clear()
    yield running
    running.clear()


def _answer(server, path: str, body) -> None:
    server.expect_request(path, method="GET").respond_with_handler(Sequence(answers=[json_response(body)]))


def _options() -> dict:
    return {"timeout": (1, 1), "retry_budget_seconds": 5, "max_retries": 1, "backoff_factor": 0.05}


def test_cloud_identity_keeps_exactly_the_documented_extras(server):
    _answer(server, "/rest/api/3/myself", {
        "accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Ada Lovelace", "emailAddress": "ada@example.com",
        "timeZone": "Europe/London", "locale": "en_GB", "active": True, "groups": {"size": 3}, "self": "https://x",
    })
    me = JiraCloud(stub.base_url(server), stub.USER, stub.TOKEN, **_options()).myself()
    assert (me.display_name, me.account) == ("Ada Lovelace", "5b10ac8d82e05b22cc7d4ef5")
    assert me.extra == {"emailAddress": "ada@example.com", "timeZone": "Europe/London", "locale": "en_GB", "active": True}


def test_cloud_identity_without_a_display_name_shows_the_account_id(server):
    _answer(server, "/rest/api/3/myself", {"accountId": "5b10ac8d82e05b22cc7d4ef5"})
    me = JiraCloud(stub.base_url(server), stub.USER, stub.TOKEN, **_options()).myself()
    assert (me.display_name, me.account, me.extra) == ("5b10ac8d82e05b22cc7d4ef5", "5b10ac8d82e05b22cc7d4ef5", {})


def test_data_center_identity_keeps_exactly_the_documented_extras(server):
    _answer(server, "/rest/api/2/myself", {
        "name": "ada", "key": "JIRAUSER10100", "displayName": "Ada Lovelace", "emailAddress": "ada@example.com",
        "timeZone": "Europe/London", "locale": "en_GB", "active": True, "avatarUrls": {},
    })
    me = JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()).myself()
    assert (me.display_name, me.account) == ("Ada Lovelace", "ada")
    assert me.extra == {"key": "JIRAUSER10100", "emailAddress": "ada@example.com", "timeZone": "Europe/London",
                        "locale": "en_GB", "active": True}


def test_data_center_identity_falls_back_to_the_key_then_shows_the_account(server):
    _answer(server, "/rest/api/2/myself", {"key": "JIRAUSER10100"})
    me = JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()).myself()
    assert (me.display_name, me.account, me.extra) == ("JIRAUSER10100", "JIRAUSER10100", {"key": "JIRAUSER10100"})


def test_an_identity_that_is_not_an_object_is_refused(server):
    _answer(server, "/rest/api/2/myself", ["not", "an", "object"])
    with pytest.raises(SourceError) as info:
        JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()).myself()
    assert str(info.value) == "Jira answered /myself with JSON this site does not understand."


@pytest.mark.parametrize("url", ["", "ftp://jira.example.com", "jira.example.com", "https://"])
def test_detection_refuses_what_is_not_an_http_address(url):
    with pytest.raises(SourceError) as info:
        detect_deployment(url)
    assert str(info.value).startswith("JIRA_URL (")
    assert str(info.value).endswith(") is not a valid http:// or https:// address.")
    if not url:
        assert str(info.value) == "JIRA_URL (empty) is not a valid http:// or https:// address."


def test_detection_knows_the_older_cloud_host_names_without_asking():
    assert detect_deployment("https://example.jira.com") == "cloud"
    assert detect_deployment("https://EXAMPLE.Atlassian.NET/") == "cloud"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"deploymentType": "Server", "version": "8.20.0"}, "datacenter"),
        ({"deploymentType": "DataCenter"}, "datacenter"),
        ({"deploymentType": "Data Center"}, "datacenter"),
        ({"deploymentType": "cloud"}, "cloud"),
        ({"version": "7.13.0"}, "datacenter"),  # an old server without deploymentType
    ],
)
def test_detection_reads_server_info(server, info, expected):
    _answer(server, "/rest/api/2/serverInfo", info)
    assert detect_deployment(stub.base_url(server)) == expected


@pytest.mark.parametrize("info", [{"baseUrl": "https://x"}, ["a list"], {"deploymentType": "Something"}])
def test_detection_reports_server_info_that_names_no_jira(server, info):
    _answer(server, "/rest/api/2/serverInfo", info)
    with pytest.raises(SourceError) as info_error:
        detect_deployment(stub.base_url(server))
    assert str(info_error.value) == (
        f"Nothing that looks like Jira answered at {stub.base_url(server)} (no deploymentType in /rest/api/2/serverInfo). "
        "Check JIRA_URL, or set JIRA_DEPLOYMENT to cloud or datacenter."
    )


def test_detection_retries_a_busy_server_with_its_own_session(server):
    handler = Sequence(answers=[Response("busy", 503), json_response({"deploymentType": "Server"})])
    server.expect_request("/rest/api/2/serverInfo", method="GET").respond_with_handler(handler)
    assert detect_deployment(stub.base_url(server), retry_budget_seconds=10, max_retries=2) == "datacenter"
    assert len(handler.seen) == 2
