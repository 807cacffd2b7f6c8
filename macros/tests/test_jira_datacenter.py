"""JiraDataCenter against a real HTTP server on 127.0.0.1 serving Jira Data Center's shapes."""

from __future__ import annotations

import re
import time
import traceback

import pytest
from werkzeug import Response

from macros.sources.base import JqlError, SourceError
from macros.sources.jira import JiraDataCenter, _id_ordered, _unseen, detect_deployment
from macros.tests import jira_stub as stub
from macros.tests.jira_stub import DC_SEARCH, DcSearch, Sequence, json_response


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


def dc(server, **kw) -> JiraDataCenter:
    options = {
        "timeout": (1, 1),
        "retry_budget_seconds": 5,
        "max_retries": 3,
        "backoff_factor": 0.05,
    }
    options.update(kw)
    return JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **options)


def serve(server, handler, path=DC_SEARCH, method="POST"):
    server.expect_request(path, method=method).respond_with_handler(handler)
    return handler


def run(source, jql="project = ABC", fields=("summary", "status"), page_size=100):
    return list(source.search_pages(jql, list(fields), page_size=page_size))


def keys(pages):
    return [issue["key"] for page in pages for issue in page.issues]


def failure(source, **kw) -> SourceError:
    with pytest.raises(SourceError) as info:
        run(source, **kw)
    return info.value


def page(issues, total=None, start=0, max_results=50):
    return json_response(
        {
            "startAt": start,
            "maxResults": max_results,
            "total": len(issues) if total is None else total,
            "issues": issues,
        }
    )


OK_PAGE = page([stub.make_issue(0, cloud=False)])


# -- paging -----------------------------------------------------------------------------


def test_one_page(server):
    handler = serve(server, DcSearch(totals=[3]))
    pages = run(dc(server))
    assert keys(pages) == ["ABC-1", "ABC-2", "ABC-3"]
    assert pages[0].expected == 3
    assert handler.bodies == [
        {
            "jql": "project = ABC",
            "startAt": 0,
            "maxResults": 100,
            "fields": ["summary", "status"],
        }
    ]


def test_many_pages(server):
    handler = serve(server, DcSearch(totals=[95]))
    pages = run(dc(server), page_size=10)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 96)]
    assert len(handler.seen) == 10
    assert all(p.expected == 95 for p in pages)


def test_capped_page_size_is_read_back(server):
    handler = serve(server, DcSearch(totals=[120], cap=50))
    pages = run(dc(server), page_size=1000)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 121)]
    assert [(b["startAt"], b["maxResults"]) for b in handler.bodies] == [
        (0, 1000),
        (50, 50),
        (100, 50),
    ]


def test_short_page_advances_by_what_was_returned(server):
    handler = serve(
        server,
        Sequence(
            answers=[
                page(
                    [stub.make_issue(n, cloud=False) for n in range(7)],
                    total=12,
                    max_results=10,
                ),
                page(
                    [stub.make_issue(n, cloud=False) for n in range(7, 12)],
                    total=12,
                    start=7,
                    max_results=10,
                ),
            ]
        ),
    )
    pages = run(dc(server), page_size=10)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 13)]
    assert [b["startAt"] for b in handler.bodies] == [0, 7]


def test_total_growing_between_pages(server):
    handler = serve(server, DcSearch(totals=[20, 25, 30]))
    pages = run(dc(server), page_size=10)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 31)]
    assert [p.expected for p in pages] == [20, 25, 30]
    assert len(handler.seen) == 3


def test_duplicated_issue_across_pages_is_yielded_once(server):
    # After the first page one issue is added in front, so issue ABC-10 slides onto page 2.
    handler = serve(server, DcSearch(totals=[30, 31], shift_after=1))
    pages = run(dc(server), page_size=10)
    got = keys(pages)
    assert got == [f"ABC-{n}" for n in range(1, 31)]
    assert len(got) == len(set(got))
    assert [b["startAt"] for b in handler.bodies] == [0, 10, 20, 30]


def test_an_issue_is_known_again_by_its_id_else_its_key_and_one_with_neither_is_always_kept():
    issues = [
        {"id": "1", "key": "A-1"},
        {"id": "1", "key": "A-1"},  # again: dropped
        {"id": "2", "key": "A-1"},  # the id decides (a key can move to another issue)
        {"key": "A-3"},
        {"key": "A-3"},  # no id: the key decides
        {},
        {},  # neither: nothing to tell them apart by, so both are kept
        "not an issue",
        "not an issue",
    ]
    seen: set[str] = set()

    fresh = _unseen(issues, seen)

    assert fresh == [issues[0], issues[2], issues[3], issues[5], issues[6], issues[7], issues[8]]
    assert seen == {"1", "2", "A-3"}
    assert _unseen([{"id": "2", "key": "A-2"}, {"id": "4"}], seen) == [{"id": "4"}]  # remembered across pages


@pytest.mark.parametrize(
    "jql, split",
    [
        ("project = X", ("project = X", "ASC")),
        ("project = X ORDER BY key DESC", ("project = X", "DESC")),
        ("project = X order by id asc", ("project = X", "ASC")),
        ("project = X ORDER BY created", ("project = X", None)),
    ],
)
def test_a_query_in_key_or_id_order_or_none_can_be_read_in_id_blocks(jql, split):
    assert _id_ordered(jql) == split


@pytest.mark.parametrize("answer, refuses", [([], True), ([stub.make_issue(10_001, cloud=False)], False)])
def test_deep_paging_is_probed_with_the_query_itself_one_result_past_the_limit(server, answer, refuses):
    handler = serve(server, Sequence(answers=[page(answer, total=12_345, start=10_000, max_results=1)]))
    assert dc(server)._refuses_deep_paging("project = ABC", ["summary"]) is refuses
    assert handler.bodies == [{"jql": "project = ABC", "startAt": 10_000, "maxResults": 1, "fields": ["id"]}]


def test_reading_a_level_stops_with_a_sentence_when_jira_stops_short_of_its_total(server):
    serve(server, DcSearch(totals=[30], cap=10, empty_from=10))
    with pytest.raises(SourceError) as info:
        list(dc(server).read_pages("project = ABC", ["summary"]))
    assert str(info.value).startswith("Jira stopped returning issues at result 10 although it reports 30 matches; ")


def test_too_deep_says_how_many_issues_when_jira_told():
    assert JiraDataCenter._too_deep(12_345, 10_000).startswith("This query matches 12,345 issues; Jira Data Center cannot page")
    assert JiraDataCenter._too_deep(None, 10_000).startswith("This query matches more than 10,000 issues; Jira Data Center")


def test_empty_page_stops(server):
    handler = serve(
        server,
        Sequence(
            answers=[
                page(
                    [stub.make_issue(n, cloud=False) for n in range(3)],
                    total=6,
                    max_results=3,
                ),
                page(
                    [], total=3, start=3, max_results=3
                ),  # the other issues left the query meanwhile
            ]
        ),
    )
    pages = run(dc(server), page_size=3)
    assert keys(pages) == ["ABC-1", "ABC-2", "ABC-3"]
    assert len(handler.seen) == 2


def test_empty_page_without_total_stops(server):
    handler = serve(
        server,
        Sequence(
            answers=[
                json_response(
                    {
                        "startAt": 0,
                        "maxResults": 2,
                        "issues": [
                            stub.make_issue(0, cloud=False),
                            stub.make_issue(1, cloud=False),
                        ],
                    }
                ),
                json_response({"startAt": 2, "maxResults": 2, "issues": []}),
            ]
        ),
    )
    assert keys(run(dc(server), page_size=2)) == ["ABC-1", "ABC-2"]
    assert len(handler.seen) == 2


def test_empty_page_while_jira_reports_more_is_not_silently_truncated(server):
    serve(server, DcSearch(totals=[50], empty_from=20))
    error = failure(dc(server), page_size=10)
    assert str(error) == (
        "Jira stopped returning issues at result 20 although it reports 50 matches; the search was "
        "stopped so that no issues are silently left out. Try again; if it keeps happening, narrow the query."
    )


def test_over_10000_search_limit_exceeded(server):
    handler = serve(server, DcSearch(totals=[12_345], cap=1000, limit=10_000))
    got = 0
    with pytest.raises(SourceError) as info:
        for result in dc(server).search_pages(
            "project = ABC", ["summary"], page_size=1000
        ):
            got += len(result.issues)
    assert got == 10_000
    assert handler.bodies[-1]["startAt"] == 10_000
    assert str(info.value) == (
        "This query matches 12,345 issues; Jira Data Center cannot page past 10,000 results on this site "
        '(it stopped at result 10,000 with "Search limit exceeded"). Narrow the query, for example by '
        "project or by date, so that it matches at most 10,000 issues."
    )


def test_over_10000_empty_pages_are_not_silently_truncated(server):
    serve(server, DcSearch(totals=[10_500], cap=1000, empty_from=10_000))
    error = failure(dc(server), page_size=1000)
    assert str(error).startswith(
        "This query matches 10,500 issues; Jira Data Center cannot page past 10,000"
    )


def test_over_10000_works_where_jira_allows_it(server):
    serve(server, DcSearch(totals=[10_200], cap=1000))
    pages = run(dc(server), fields=["summary"], page_size=1000)
    assert sum(len(p.issues) for p in pages) == 10_200


def test_other_500_is_reported(server):
    serve(
        server,
        Sequence(
            answers=[json_response({"errorMessages": ["NullPointerException"]}, 500)]
        ),
    )
    error = failure(dc(server))
    assert str(error) == (
        "Jira failed with an internal error (HTTP 500): NullPointerException. Try again later; if it "
        "keeps happening, ask your Jira admin to look at Jira's logs."
    )


def test_bearer_header_is_sent(server):
    handler = serve(server, DcSearch(totals=[1]))
    run(dc(server))
    assert handler.seen[0].headers["Authorization"] == f"Bearer {stub.TOKEN}"


def test_bearer_even_with_a_user_name(server):
    handler = serve(server, DcSearch(totals=[1]))
    run(JiraDataCenter(stub.base_url(server), "ada", stub.TOKEN, timeout=(1, 1)))
    assert handler.seen[0].headers["Authorization"] == f"Bearer {stub.TOKEN}"


def test_fields_named_in_every_request(server):
    handler = serve(server, DcSearch(totals=[25]))
    run(dc(server), fields=["summary", "customfield_10002", "summary"], page_size=10)
    assert len(handler.seen) == 3
    assert all(b["fields"] == ["summary", "customfield_10002"] for b in handler.bodies)


def test_preview(server):
    handler = serve(server, DcSearch(totals=[500]))
    result = dc(server).preview("project = ABC", ["summary"], limit=10)
    assert len(result.issues) == 10 and result.expected == 500
    assert len(handler.seen) == 1


# -- resilience -------------------------------------------------------------------------


def test_429_with_retry_after_then_success(server):
    handler = serve(
        server, Sequence(answers=[Response("", 429, {"Retry-After": "1"}), OK_PAGE])
    )
    assert keys(run(dc(server))) == ["ABC-1"]
    assert len(handler.seen) == 2
    assert handler.seen[1].at - handler.seen[0].at >= 0.95


def test_429_without_retry_after_then_success(server):
    handler = serve(server, Sequence(answers=[Response("", 429), OK_PAGE]))
    assert keys(run(dc(server))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_503_then_success(server):
    handler = serve(
        server, Sequence(answers=[Response("down for maintenance", 503), OK_PAGE])
    )
    assert keys(run(dc(server))) == ["ABC-1"]
    assert len(handler.seen) == 2


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried_then_success(server, status):
    handler = serve(server, Sequence(answers=[Response("<html>Gateway</html>", status, content_type="text/html"), OK_PAGE]))
    assert keys(run(dc(server))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_read_timeout_then_success(server):
    handler = serve(server, Sequence(answers=[("sleep", 1.2, OK_PAGE), OK_PAGE]))
    assert keys(run(dc(server, timeout=(1, 0.4)))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_retry_in_the_middle_of_a_search_keeps_the_position(server):
    inner = DcSearch(totals=[30])
    calls = []

    def flaky(request, body):
        calls.append(body["startAt"])
        if len(calls) == 2:
            return Response("", 503)
        return inner(request)

    serve(server, Sequence(answers=[flaky]))
    assert keys(run(dc(server), page_size=10)) == [f"ABC-{n}" for n in range(1, 31)]
    assert calls == [0, 10, 10, 20]


def test_answer_broken_off_mid_body_is_retried():
    broken = stub.BrokenBodyServer(
        {
            "startAt": 0,
            "maxResults": 50,
            "total": 1,
            "issues": [stub.make_issue(0, cloud=False)],
        }
    )
    try:
        source = JiraDataCenter(
            broken.url, "", stub.TOKEN, timeout=(1, 1), max_retries=2
        )
        assert keys(run(source)) == ["ABC-1"]
        assert broken.requests == 2
    finally:
        broken.close()


def test_429_exhausted(server):
    handler = serve(server, Sequence(answers=[Response("", 429)]))
    error = failure(dc(server, max_retries=2))
    assert re.fullmatch(
        r"Jira kept rate-limiting us \(HTTP 429\) after 3 attempts over [\d.]+ seconds; try again "
        r"later or ask your Jira admin about API rate limits\.",
        str(error),
    ), str(error)
    assert len(handler.seen) == 3


def test_retry_budget_counts_across_the_whole_search(server):
    inner = DcSearch(totals=[40])
    state = {"n": 0}

    def every_other(request, body):
        state["n"] += 1
        return Response("", 503) if state["n"] % 2 else inner(request)

    serve(server, Sequence(answers=[every_other]))
    error = failure(dc(server, max_retries=2), page_size=10)
    assert str(error).startswith("Jira was unavailable (HTTP 503) after 1 attempt over")


def test_503_exhausted(server):
    serve(server, Sequence(answers=[Response("", 503)]))
    error = failure(dc(server, max_retries=1))
    assert re.fullmatch(
        r"Jira was unavailable \(HTTP 503\) after 2 attempts over [\d.]+ seconds; try again later, "
        r"or ask your Jira admin whether the site is healthy\.",
        str(error),
    ), str(error)


def test_retry_after_beyond_the_budget_is_not_slept(server):
    handler = serve(
        server, Sequence(answers=[Response("", 503, {"Retry-After": "600"})])
    )
    started = time.monotonic()
    error = failure(dc(server, retry_budget_seconds=3))
    assert time.monotonic() - started < 30  # not the 10 minutes asked for
    assert len(handler.seen) == 1
    assert str(error) == (
        "Jira was unavailable (HTTP 503) and asked us to wait 600 seconds, longer than this search's "
        "retry budget; try again later."
    )


def test_read_timeouts_exhausted(server):
    serve(server, Sequence(answers=[("sleep", 0.6, OK_PAGE)]))
    error = failure(dc(server, timeout=(1, 0.25), max_retries=1))
    assert re.fullmatch(
        r"Jira did not answer within 0.25 seconds \(after 2 attempts over [\d.]+ seconds\); the site "
        r"may be overloaded or the query too heavy: try again later or narrow the query\.",
        str(error),
    ), str(error)


def test_connection_refused():
    port = stub.closed_port()
    source = JiraDataCenter(
        f"http://127.0.0.1:{port}/jira/",
        "",
        stub.TOKEN,
        timeout=(1, 1),
        max_retries=1,
        backoff_factor=0.01,
    )
    error = failure(source)
    assert re.fullmatch(
        rf"Could not reach Jira at http://127\.0\.0\.1:{port}/jira: the connection was refused \(after 2 "
        r"attempts over [\d.]+ seconds\)\. Check JIRA_URL and the network\.",
        str(error),
    ), str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_no_retry_for_client_errors(server, status):
    handler = serve(
        server, Sequence(answers=[json_response({"errorMessages": ["no"]}, status)])
    )
    failure(dc(server))
    assert len(handler.seen) == 1


# -- errors -----------------------------------------------------------------------------


def error_for(server, response: Response) -> SourceError:
    serve(server, Sequence(answers=[response]))
    return failure(dc(server))


def test_400_bad_jql(server):
    error = error_for(
        server,
        json_response(
            {
                "errorMessages": [
                    "Error in the JQL Query: The character '=' is a reserved JQL character. (line 1, character 9)"
                ],
                "errors": {},
            },
            400,
        ),
    )
    assert isinstance(error, JqlError)
    assert (
        str(error)
        == "Error in the JQL Query: The character '=' is a reserved JQL character. (line 1, character 9)"
    )


def test_400_project_that_does_not_exist(server):
    error = error_for(
        server,
        json_response(
            {
                "errorMessages": [
                    "The value 'NOPE' does not exist for the field 'project'."
                ],
                "errors": {},
            },
            400,
        ),
    )
    assert isinstance(error, JqlError)
    assert str(error) == "The value 'NOPE' does not exist for the field 'project'."


def test_400_errors_only(server):
    error = error_for(
        server,
        json_response(
            {
                "errors": {
                    "project": "The value 'NOPE' does not exist for the field 'project'."
                }
            },
            400,
        ),
    )
    assert error.messages == [
        "The value 'NOPE' does not exist for the field 'project'."
    ]


def test_400_without_errors(server):
    error = error_for(server, json_response({"errorMessages": []}, 400))
    assert isinstance(error, JqlError)
    assert str(error) == "The JQL query is not valid."


def test_401_with_seraph_reason(server):
    error = error_for(
        server, Response("", 401, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
    )
    assert str(error) == (
        "Jira rejected the credentials (HTTP 401, X-Seraph-LoginReason: AUTHENTICATED_FAILED). Check "
        "JIRA_TOKEN: Jira Data Center needs a personal access token that has not expired or been revoked "
        "(JIRA_USER may stay empty)."
    )


def test_403_captcha(server):
    error = error_for(
        server,
        Response(
            "",
            403,
            {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE; login-url=x"},
        ),
    )
    assert str(error) == (
        "Jira locked this account behind a CAPTCHA after failed logins: sign in to Jira through "
        "the browser once, then try again."
    )


def test_403_permission(server):
    error = error_for(
        server,
        json_response(
            {"errorMessages": ["You are not allowed to browse this project"]}, 403
        ),
    )
    assert str(error) == (
        "Jira refused access (HTTP 403): You are not allowed to browse this project. Check that the "
        "Jira account behind JIRA_TOKEN may browse the projects in this query, or ask your Jira admin for access."
    )


def test_404(server):
    error = error_for(
        server,
        Response(
            "<html><body>Oops, you've found a dead link.</body></html>",
            404,
            content_type="text/html",
        ),
    )
    assert (
        str(error)
        == f"Nothing that looks like Jira answered at {stub.base_url(server)} (HTTP 404). Check JIRA_URL."
    )


def test_html_login_page(server):
    error = error_for(
        server,
        Response("\n  <!DOCTYPE html><html><title>Log in - Jira</title></html>", 200),
    )
    assert (
        str(error)
        == f"Nothing that looks like Jira answered at {stub.base_url(server)} (HTTP 200). Check JIRA_URL."
    )


def test_410(server):
    error = error_for(
        server,
        json_response({"errorMessages": ["This endpoint has been removed."]}, 410),
    )
    assert (
        str(error)
        == "Jira says this API has been removed: This endpoint has been removed."
    )


def test_non_json_body(server):
    error = error_for(
        server, Response('{"issues": [', 200, content_type="application/json")
    )
    assert str(error) == (
        f"Jira answered with something that is not JSON (HTTP 200) at {stub.base_url(server)}; check "
        "JIRA_URL and any proxy between this site and Jira."
    )


@pytest.mark.parametrize(
    "response",
    [
        json_response({"errorMessages": ["bad"]}, 400),
        Response("", 401, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"}),
        Response("", 403, {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE"}),
        Response("nope", 404),
        json_response({"errorMessages": ["gone"]}, 410),
        Response("", 429),
        Response("", 502),
        Response("not json", 200),
    ],
    ids=lambda r: str(r.status_code),
)
def test_the_token_never_appears(server, response):
    serve(server, Sequence(answers=[response]))
    source = dc(server, max_retries=1)
    error = failure(source)
    shown = " ".join(
        [
            str(error),
            repr(error),
            "".join(traceback.format_exception(error)),
            repr(source),
        ]
    )
    for secret in stub.secrets():
        assert secret not in shown


# -- fields, myself, detection ----------------------------------------------------------


def test_fields(server):
    handler = serve(
        server,
        Sequence(
            answers=[
                json_response(
                    [
                        {
                            "id": "summary",
                            "name": "Summary",
                            "custom": False,
                            "schema": {"type": "string"},
                        },
                        {
                            "id": "customfield_10002",
                            "name": "Story Points",
                            "custom": True,
                            "schema": {"type": "number"},
                        },
                        {
                            "id": "assignee",
                            "name": "Assignee",
                            "custom": False,
                            "schema": {"type": "user"},
                        },
                    ]
                )
            ]
        ),
        path="/rest/api/2/field",
        method="GET",
    )
    source = dc(server)
    assert [f.id for f in source.fields()] == [
        "key",
        "summary",
        "customfield_10002",
        "assignee",
    ]
    assert source.fields()[2].name == "Story Points"
    assert len(handler.seen) == 1
    assert handler.seen[0].headers["Authorization"] == f"Bearer {stub.TOKEN}"


def test_myself(server):
    serve(
        server,
        Sequence(
            answers=[
                json_response(
                    {
                        "name": "ada",
                        "key": "JIRAUSER10100",
                        "displayName": "Ada Lovelace",
                        "active": True,
                    }
                )
            ]
        ),
        path="/rest/api/2/myself",
        method="GET",
    )
    me = dc(server).myself()
    assert (me.display_name, me.account) == ("Ada Lovelace", "ada")


def test_myself_captcha(server):
    serve(
        server,
        Sequence(
            answers=[
                Response(
                    "", 403, {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE"}
                )
            ]
        ),
        path="/rest/api/2/myself",
        method="GET",
    )
    with pytest.raises(SourceError, match="CAPTCHA"):
        dc(server).myself()


@pytest.mark.parametrize("deployment", ["Server", "DataCenter"])
def test_detect_datacenter(server, deployment):
    serve(
        server,
        Sequence(
            answers=[
                json_response(
                    {
                        "baseUrl": "https://jira.example.com",
                        "version": "9.12.2",
                        "deploymentType": deployment,
                    }
                )
            ]
        ),
        path="/rest/api/2/serverInfo",
        method="GET",
    )
    assert detect_deployment(stub.base_url(server)) == "datacenter"


def test_detect_with_a_given_session(server):
    import requests

    serve(
        server,
        Sequence(answers=[json_response({"deploymentType": "DataCenter"})]),
        path="/rest/api/2/serverInfo",
        method="GET",
    )
    with requests.Session() as session:
        assert detect_deployment(stub.base_url(server), session) == "datacenter"


def test_detect_reports_bad_credentials(server):
    serve(
        server,
        Sequence(
            answers=[
                Response("", 401, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
            ]
        ),
        path="/rest/api/2/serverInfo",
        method="GET",
    )
    with pytest.raises(SourceError) as info:
        detect_deployment(stub.base_url(server))
    assert str(info.value) == (
        "Jira rejected the credentials (HTTP 401, X-Seraph-LoginReason: AUTHENTICATED_FAILED). "
        "Check JIRA_USER and JIRA_TOKEN."
    )
