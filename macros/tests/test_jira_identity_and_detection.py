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


@pytest.mark.parametrize(("path", "call"), [("/rest/api/2/myself", "myself"), ("/rest/api/2/field", "fields")])
def test_a_400_outside_a_search_is_a_refused_request_not_a_jql_error(server, path, call):
    from macros.sources.base import JqlError

    server.expect_request(path, method="GET").respond_with_handler(
        Sequence(answers=[json_response({"errorMessages": ["The request was malformed"]}, 400)])
    )
    with pytest.raises(SourceError) as info:
        getattr(JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()), call)()
    assert not isinstance(info.value, JqlError)
    assert str(info.value) == "Jira refused the request (HTTP 400): The request was malformed."


def test_a_field_list_that_is_not_a_list_is_refused(server):
    _answer(server, "/rest/api/2/field", {"fields": "no"})
    with pytest.raises(SourceError) as info:
        JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()).fields()
    assert str(info.value) == "Jira answered the field list with JSON this site does not understand."


def test_an_https_address_that_does_not_speak_tls_is_reported_as_such(server):
    import re

    url = stub.base_url(server).replace("http://", "https://")
    with pytest.raises(SourceError) as info:
        list(JiraCloud(url, stub.USER, stub.TOKEN, **{**_options(), "max_retries": 0}).search_pages("project = A", ["summary"]))
    assert re.fullmatch(
        rf"Could not reach Jira at {re.escape(url)}: the TLS \(https\) certificate could not be verified "
        r"\(after 1 attempt over [\d.]+ seconds\)\. Check JIRA_URL and the network\.",
        str(info.value),
    ), str(info.value)


def test_an_html_content_type_is_not_jira_whatever_the_body_says(server):
    server.expect_request("/rest/api/2/field", method="GET").respond_with_handler(
        Sequence(answers=[Response("Service down for maintenance", 200, content_type="text/html; charset=utf-8")])
    )
    with pytest.raises(SourceError) as info:
        JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()).fields()
    assert str(info.value) == f"Nothing that looks like Jira answered at {stub.base_url(server)} (HTTP 200). Check JIRA_URL."


def test_the_waits_of_retries_that_succeeded_count_against_the_searchs_budget(server):
    """Each page's 503 asks for a second and is then answered: by the third page the search
    has spent two of its 2.5 seconds waiting, so the third second is refused."""
    busy = Response("busy", 503, {"Retry-After": "1"})
    handler = Sequence(answers=[
        busy, json_response({"issues": [stub.make_issue(0)], "isLast": False, "nextPageToken": "p2"}),
        busy, json_response({"issues": [stub.make_issue(1)], "isLast": False, "nextPageToken": "p3"}),
        busy, json_response({"issues": [stub.make_issue(2)], "isLast": True}),
    ])
    server.expect_request("/rest/api/3/search/jql", method="POST").respond_with_handler(handler)
    source = JiraCloud(stub.base_url(server), stub.USER, stub.TOKEN, timeout=(1, 1), retry_budget_seconds=2.5,
                       max_retries=10, backoff_factor=0.05)
    with pytest.raises(SourceError) as info:
        list(source.search_pages("project = ABC", ["summary"], page_size=1))
    assert str(info.value).startswith("Jira was unavailable (HTTP 503) and asked us to wait 1 seconds, longer than")
    assert len(handler.seen) == 5


def test_a_data_center_identity_with_neither_name_nor_key_has_an_empty_account(server):
    _answer(server, "/rest/api/2/myself", {"displayName": "Ada Lovelace"})
    me = JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **_options()).myself()
    assert (me.display_name, me.account, me.extra) == ("Ada Lovelace", "", {})


def test_detection_reports_a_400_from_server_info_as_a_refused_request(server):
    from macros.sources.base import JqlError

    server.expect_request("/rest/api/2/serverInfo", method="GET").respond_with_handler(
        Sequence(answers=[json_response({"errorMessages": ["Bad request"]}, 400)])
    )
    with pytest.raises(SourceError) as info:
        detect_deployment(stub.base_url(server))
    assert not isinstance(info.value, JqlError)
    assert str(info.value) == "Jira refused the request (HTTP 400): Bad request."


def test_the_auth_objects_never_show_their_secret():
    from macros.sources.jira import _BasicAuth, _BearerAuth

    assert repr(_BasicAuth("ada@example.com", "tok-secret-1")) == "<BasicAuth ***>"
    assert repr(_BearerAuth("tok-secret-2")) == "<BearerAuth ***>"
