"""JiraCloud against a real HTTP server on 127.0.0.1 serving Jira Cloud's documented shapes."""

from __future__ import annotations

import re
import time
import traceback

import pytest
import requests
from werkzeug import Response

from macros.sources.base import JqlError, SourceError
from macros.sources.jira import REPEATED_TOKEN, JiraCloud, _Budget, _looks_html, _messages, _secs, detect_deployment
from macros.tests import jira_stub as stub
from macros.tests.jira_stub import (
    CLOUD_COUNT,
    CLOUD_SEARCH,
    CloudSearch,
    Sequence,
    json_response,
)


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


def cloud(server, **kw) -> JiraCloud:
    options = {
        "timeout": (1, 1),
        "retry_budget_seconds": 5,
        "max_retries": 3,
        "backoff_factor": 0.05,
    }
    options.update(kw)
    return JiraCloud(stub.base_url(server), stub.USER, stub.TOKEN, **options)


def serve(server, handler, path=CLOUD_SEARCH, method="POST", count: int | None = None):
    server.expect_request(path, method=method).respond_with_handler(handler)
    if count is not None:
        server.expect_request(CLOUD_COUNT, method="POST").respond_with_handler(
            lambda request: json_response({"count": count})
        )
    return handler


def run(source, jql="project = ABC", fields=("summary", "status"), page_size=100):
    return list(source.search_pages(jql, list(fields), page_size=page_size))


def keys(pages):
    return [issue["key"] for page in pages for issue in page.issues]


def failure(source, **kw) -> SourceError:
    with pytest.raises(SourceError) as info:
        run(source, **kw)
    return info.value


OK_PAGE = json_response({"issues": [stub.make_issue(0)], "isLast": True})


# -- paging -----------------------------------------------------------------------------


def test_one_page(server):
    handler = serve(server, CloudSearch(total=3), count=3)
    pages = run(cloud(server))
    assert len(pages) == 1
    assert keys(pages) == ["ABC-1", "ABC-2", "ABC-3"]
    assert pages[0].expected == 3
    assert len(handler.seen) == 1
    assert "nextPageToken" not in handler.bodies[0]


def test_two_pages(server):
    handler = serve(server, CloudSearch(total=7), count=7)
    pages = run(cloud(server), page_size=4)
    assert [len(p.issues) for p in pages] == [4, 3]
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 8)]
    assert [b.get("nextPageToken") for b in handler.bodies] == [None, "tok-4-1"]


def test_many_pages(server):
    handler = serve(server, CloudSearch(total=250, cap=10), count=250)
    pages = run(cloud(server), page_size=100)
    assert len(pages) == 25
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 251)]
    assert all(p.expected == 250 for p in pages)
    assert len(handler.seen) == 25


def test_token_absent_on_last_page_without_is_last(server):
    handler = serve(server, CloudSearch(total=5, last="absent", is_last=False))
    pages = run(cloud(server), page_size=2)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 6)]
    assert len(handler.seen) == 3


def test_empty_token_on_last_page(server):
    handler = serve(server, CloudSearch(total=5, last="empty", is_last=False))
    pages = run(cloud(server), page_size=2)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 6)]
    assert len(handler.seen) == 3


def test_is_last_wins_over_a_token(server):
    def answer(request):
        return json_response(
            {"issues": [stub.make_issue(0)], "nextPageToken": "more", "isLast": True}
        )

    server.expect_request(CLOUD_SEARCH, method="POST").respond_with_handler(answer)
    assert keys(run(cloud(server))) == ["ABC-1"]


def test_short_and_empty_pages_mid_stream_do_not_end_the_search(server):
    handler = serve(server, CloudSearch(total=20, page_sizes=[5, 2, 0, 1, 5, 0, 3]))
    pages = run(cloud(server), page_size=5)
    assert keys(pages) == [f"ABC-{n}" for n in range(1, 21)]
    assert len(handler.seen) == 8  # 5+2+0+1+5+0+3 = 16 in seven pages, then the last 4


def test_only_a_long_run_of_empty_pages_stops_the_search(server, monkeypatch):
    monkeypatch.setattr("macros.sources.jira.MAX_EMPTY_PAGES", 2)
    serve(server, CloudSearch(total=20, page_sizes=[5, 0, 5, 0, 5, 0, 5]))
    assert keys(run(cloud(server), page_size=5)) == [f"ABC-{n}" for n in range(1, 21)]  # never two in a row

    server.clear()
    serve(server, CloudSearch(total=20, page_sizes=[5, 0, 0, 5]))
    with pytest.raises(SourceError) as info:
        run(cloud(server), page_size=5)
    assert str(info.value) == (
        "Jira sent 2 empty pages in a row without ending the search; it was stopped. Try again later or narrow the query."
    )


def test_listing_every_id_counts_only_empty_pages_in_a_row(server, monkeypatch):
    monkeypatch.setattr("macros.sources.jira.MAX_EMPTY_PAGES", 2)
    serve(server, CloudSearch(total=250))  # ids come 100 a page here (the stand-in's cap)
    source = cloud(server)
    ids, calls = source._all_ids("project = ABC", source._http.new_budget())
    assert len(ids) == 250 and calls == 3


def test_repeated_token_is_an_error(server):
    serve(server, CloudSearch(total=50, repeat_token_at=1))
    source = cloud(server)
    got = 0
    with pytest.raises(SourceError) as info:
        for page in source.search_pages("project = ABC", ["summary"], page_size=5):
            got += len(page.issues)
    assert got == 10  # two pages, then the token comes back a second time
    assert str(info.value) == REPEATED_TOKEN
    assert str(info.value) == (
        "Jira returned the same page token twice; the search was stopped so that no issues "
        "are duplicated or lost."
    )


def test_fields_jql_and_page_size_in_every_request(server):
    handler = serve(server, CloudSearch(total=9), count=9)
    run(
        cloud(server),
        jql='project = ABC AND status = "Done"',
        fields=["summary", "customfield_10016"],
        page_size=3,
    )
    assert len(handler.seen) == 3
    for body in handler.bodies:
        assert body["fields"] == ["summary", "customfield_10016"]
        assert body["jql"] == 'project = ABC AND status = "Done"'
        assert body["maxResults"] == 3
    assert [b.get("nextPageToken") for b in handler.bodies] == [
        None,
        "tok-3-1",
        "tok-6-2",
    ]


def test_empty_fields_list_still_names_a_field(server):
    handler = serve(server, CloudSearch(total=1))
    run(cloud(server), fields=[])
    assert handler.bodies[0]["fields"] == ["summary"]


def test_basic_auth_header_is_sent(server):
    handler = serve(server, CloudSearch(total=1))
    count = serve(
        server, Sequence(answers=[json_response({"count": 1})]), path=CLOUD_COUNT
    )
    run(cloud(server))
    assert handler.seen[0].headers["Authorization"] == stub.basic_header()
    assert count.seen[0].headers["Authorization"] == stub.basic_header()


def test_approximate_count_is_asked_first_with_the_jql(server):
    count = serve(
        server, Sequence(answers=[json_response({"count": 42})]), path=CLOUD_COUNT
    )
    search = serve(server, CloudSearch(total=2))
    pages = run(cloud(server), jql="project = XYZ")
    assert count.bodies == [{"jql": "project = XYZ"}]
    assert count.seen[0].at < search.seen[0].at
    assert pages[0].expected == 42


@pytest.mark.parametrize("status", [400, 404, 500])
def test_approximate_count_failure_does_not_fail_the_search(server, status):
    serve(
        server,
        Sequence(answers=[json_response({"errorMessages": ["nope"]}, status=status)]),
        path=CLOUD_COUNT,
    )
    serve(server, CloudSearch(total=3))
    pages = run(cloud(server))
    assert keys(pages) == ["ABC-1", "ABC-2", "ABC-3"]
    assert pages[0].expected is None


@pytest.mark.parametrize(
    "answer, expected",
    [({"count": 0}, 0), ([42], None), (None, None), ({"count": "42"}, None), ({"count": True}, None), ({"count": -1}, None)],
)
def test_only_a_whole_count_of_zero_or_more_is_taken_from_the_count_answer(server, answer, expected):
    serve(server, Sequence(answers=[json_response(answer)]), path=CLOUD_COUNT)
    serve(server, CloudSearch(total=3))
    pages = run(cloud(server))
    assert keys(pages) == ["ABC-1", "ABC-2", "ABC-3"]
    assert pages[0].expected == expected


def test_preview(server):
    handler = serve(server, CloudSearch(total=50), count=50)
    page = cloud(server).preview("project = ABC", ["summary"], limit=10)
    assert len(page.issues) == 10 and page.expected == 50
    assert len(handler.seen) == 1 and handler.bodies[0]["maxResults"] == 10


# -- resilience -------------------------------------------------------------------------


def test_429_with_retry_after_then_success(server):
    handler = serve(
        server,
        Sequence(
            answers=[
                json_response(
                    {"errorMessages": ["Rate limit exceeded."]},
                    429,
                    {"Retry-After": "1"},
                ),
                OK_PAGE,
            ]
        ),
    )
    started = time.monotonic()
    assert keys(run(cloud(server))) == ["ABC-1"]
    assert len(handler.seen) == 2
    assert handler.seen[1].at - handler.seen[0].at >= 0.95  # Retry-After was honoured
    assert time.monotonic() - started < 15  # and no more than that: generous for a busy machine


def test_429_without_retry_after_then_success(server):
    handler = serve(
        server,
        Sequence(
            answers=[json_response({"message": "Too many requests"}, 429), OK_PAGE]
        ),
    )
    assert keys(run(cloud(server))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_503_then_success(server):
    handler = serve(
        server, Sequence(answers=[Response("Service Unavailable", 503), OK_PAGE])
    )
    assert keys(run(cloud(server))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_read_timeout_then_success(server):
    handler = serve(server, Sequence(answers=[("sleep", 1.2, OK_PAGE), OK_PAGE]))
    assert keys(run(cloud(server, timeout=(1, 0.4)))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_429_exhausted(server):
    handler = serve(
        server, Sequence(answers=[json_response({"message": "Too many requests"}, 429)])
    )
    error = failure(cloud(server, max_retries=2))
    assert re.fullmatch(
        r"Jira kept rate-limiting us \(HTTP 429\) after 3 attempts over [\d.]+ seconds; try again "
        r"later or ask your Jira admin about API rate limits\.",
        str(error),
    ), str(error)
    assert len(handler.seen) == 3


def test_retry_after_beyond_the_budget_is_not_slept(server):
    handler = serve(
        server, Sequence(answers=[json_response({}, 429, {"Retry-After": "3600"})])
    )
    started = time.monotonic()
    error = failure(cloud(server, retry_budget_seconds=5))
    assert time.monotonic() - started < 30  # not the hour asked for
    assert len(handler.seen) == 1
    assert str(error).startswith(
        "Jira kept rate-limiting us (HTTP 429) and asked us to wait 3600 seconds, longer than the "
    )
    assert str(error).endswith(
        "seconds left of this search's retry budget; try again later or ask your Jira admin about API rate limits."
    )


def test_wall_clock_budget_bounds_the_search(server):
    serve(server, Sequence(answers=[Response("busy", 503, {"Retry-After": "1"})]))
    started = time.monotonic()
    error = failure(cloud(server, retry_budget_seconds=1.5, max_retries=50))
    # 50 retries with Retry-After: 1 would take 50 s; the budget stops it after about 1.5.
    assert time.monotonic() - started < 15
    assert str(error).startswith("Jira was unavailable (HTTP 503)")


def test_502_exhausted(server):
    handler = serve(
        server,
        Sequence(
            answers=[
                Response("<html>Bad gateway</html>", 502, content_type="text/html")
            ]
        ),
    )
    error = failure(cloud(server, max_retries=1))
    assert re.fullmatch(
        r"Jira was unavailable \(HTTP 502\) after 2 attempts over [\d.]+ seconds; try again later, "
        r"or ask your Jira admin whether the site is healthy\.",
        str(error),
    ), str(error)
    assert len(handler.seen) == 2


def test_503_exhausted(server):
    handler = serve(
        server,
        Sequence(answers=[Response("<html>Service Unavailable</html>", 503, content_type="text/html")]),
    )
    error = failure(cloud(server, max_retries=2))
    assert re.fullmatch(
        r"Jira was unavailable \(HTTP 503\) after 3 attempts over [\d.]+ seconds; try again later, "
        r"or ask your Jira admin whether the site is healthy\.",
        str(error),
    ), str(error)
    assert len(handler.seen) == 3


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried_then_success(server, status):
    handler = serve(server, Sequence(answers=[Response("<html>Gateway</html>", status, content_type="text/html"), OK_PAGE]))
    assert keys(run(cloud(server))) == ["ABC-1"]
    assert len(handler.seen) == 2


def test_504_exhausted(server):
    handler = serve(server, Sequence(answers=[Response("<html>Gateway Timeout</html>", 504, content_type="text/html")]))
    error = failure(cloud(server, max_retries=1))
    assert re.fullmatch(
        r"Jira was unavailable \(HTTP 504\) after 2 attempts over [\d.]+ seconds; try again later, "
        r"or ask your Jira admin whether the site is healthy\.",
        str(error),
    ), str(error)
    assert len(handler.seen) == 2


def test_a_backoff_longer_than_the_budget_left_is_cut_to_it(server):
    # 503 without Retry-After: urllib3 backs off 0 s, then 10 s (backoff_factor 5), past
    # the 1 s budget: the wait is cut to what is left, then the search gives up.
    handler = serve(server, Sequence(answers=[Response("<html>Busy</html>", 503, content_type="text/html")]))
    started = time.monotonic()
    error = failure(cloud(server, retry_budget_seconds=1, max_retries=5, backoff_factor=5))
    assert time.monotonic() - started < 6  # not the 10 s back-off: generous for a busy machine
    assert str(error).startswith("Jira was unavailable (HTTP 503) after "), str(error)
    assert len(handler.seen) >= 2


def test_read_timeouts_exhausted(server):
    serve(server, Sequence(answers=[("sleep", 0.6, OK_PAGE)]))
    error = failure(cloud(server, timeout=(1, 0.25), max_retries=1))
    assert re.fullmatch(
        r"Jira did not answer within 0.25 seconds \(after 2 attempts over [\d.]+ seconds\); the site "
        r"may be overloaded or the query too heavy: try again later or narrow the query\.",
        str(error),
    ), str(error)


def test_connection_refused():
    port = stub.closed_port()
    source = JiraCloud(
        f"http://127.0.0.1:{port}",
        stub.USER,
        stub.TOKEN,
        timeout=(1, 1),
        max_retries=2,
        backoff_factor=0.01,
    )
    error = failure(source)
    assert re.fullmatch(
        rf"Could not reach Jira at http://127\.0\.0\.1:{port}: the connection was refused \(after 3 "
        r"attempts over [\d.]+ seconds\)\. Check JIRA_URL and the network\.",
        str(error),
    ), str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_no_retry_for_client_errors(server, status):
    handler = serve(
        server, Sequence(answers=[json_response({"errorMessages": ["no"]}, status)])
    )
    failure(cloud(server))
    assert len(handler.seen) == 1


# -- errors -----------------------------------------------------------------------------


def error_for(server, response: Response) -> SourceError:
    serve(server, Sequence(answers=[response]))
    return failure(cloud(server))


def test_400_bad_jql_with_errors(server):
    error = error_for(
        server,
        json_response(
            {
                "errorMessages": [
                    "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 15)"
                ],
                "errors": {},
            },
            400,
        ),
    )
    assert isinstance(error, JqlError)
    assert (
        str(error)
        == "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 15)"
    )


def test_400_project_that_does_not_exist(server):
    error = error_for(
        server,
        json_response(
            {
                "errorMessages": [],
                "errors": {
                    "project": "The value 'NOPE' does not exist for the field 'project'."
                },
            },
            400,
        ),
    )
    assert isinstance(error, JqlError)
    assert error.messages == [
        "The value 'NOPE' does not exist for the field 'project'."
    ]
    assert str(error) == "The value 'NOPE' does not exist for the field 'project'."


def test_400_both_messages_and_errors(server):
    error = error_for(
        server,
        json_response(
            {
                "errorMessages": [
                    "Field 'foo' does not exist or you do not have permission to view it."
                ],
                "errors": {"jql": "The JQL query is too broad."},
            },
            400,
        ),
    )
    assert error.messages == [
        "Field 'foo' does not exist or you do not have permission to view it.",
        "The JQL query is too broad.",
    ]


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            {
                "message": "Unbounded JQL queries are not allowed here. Please add a search restriction.",
                "status-code": 400,
            },
            "Unbounded JQL queries are not allowed here. Please add a search restriction.",
        ),
        ({"error": "Invalid request payload."}, "Invalid request payload."),
        ({"errorMessages": ["The query is not valid."]}, "The query is not valid."),
        ({}, "The JQL query is not valid."),
    ],
)
def test_400_other_shapes(server, body, expected):
    error = error_for(server, json_response(body, 400))
    assert isinstance(error, JqlError)
    assert str(error) == expected


def test_400_with_a_plain_text_body(server):
    error = error_for(server, Response("Bad Request", 400, content_type="text/plain"))
    assert isinstance(error, JqlError)
    assert str(error) == "The JQL query is not valid."


def test_401_with_seraph_reason(server):
    error = error_for(
        server, Response("", 401, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
    )
    assert str(error) == (
        "Jira rejected the credentials (HTTP 401, X-Seraph-LoginReason: AUTHENTICATED_FAILED). "
        "Check JIRA_USER and JIRA_TOKEN: Jira Cloud needs the account's email address as JIRA_USER "
        "and an API token (not the password) as JIRA_TOKEN."
    )
    assert not isinstance(error, JqlError)


def test_401_without_reason(server):
    error = error_for(server, json_response({"errorMessages": ["Unauthorized"]}, 401))
    assert str(error).startswith(
        "Jira rejected the credentials (HTTP 401). Check JIRA_USER and JIRA_TOKEN"
    )


def test_403_captcha(server):
    error = error_for(
        server,
        Response(
            "",
            403,
            {
                "X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE; login-url=https://jira.example.com/login.jsp",
            },
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
            {"errorMessages": ["You do not have permission to view these issues."]}, 403
        ),
    )
    assert str(error) == (
        "Jira refused access (HTTP 403): You do not have permission to view these issues. Check that the "
        "Jira account behind JIRA_TOKEN may browse the projects in this query, or ask your Jira admin for access."
    )


def test_403_with_a_denied_reason_other_than_a_captcha_names_it(server):
    error = error_for(server, Response("", 403, {"X-Authentication-Denied-Reason": "AUTHORISATION_FAILED"}))
    assert str(error) == (
        "Jira refused access (HTTP 403 (X-Authentication-Denied-Reason: AUTHORISATION_FAILED)). Check that the "
        "Jira account behind JIRA_TOKEN may browse the projects in this query, or ask your Jira admin for access."
    )


def test_a_connection_error_of_no_known_kind_is_reported_plainly():
    source = JiraCloud("https://jira.example.com", stub.USER, stub.TOKEN)
    error = source._http._transport_error(requests.exceptions.ConnectionError("something odd"), _Budget(5, 1))
    assert re.fullmatch(
        r"Could not reach Jira at https://jira\.example\.com: the connection failed \(after 1 attempt over "
        r"[\d.]+ seconds\)\. Check JIRA_URL and the network\.",
        str(error),
    ), str(error)


def test_a_connection_that_could_not_be_made_for_another_reason_than_a_refusal():
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    source = JiraCloud("https://jira.example.com", stub.USER, stub.TOKEN)
    unreachable = NewConnectionError(None, "Failed to establish a new connection: [Errno 113] No route to host")
    exc = requests.exceptions.ConnectionError(MaxRetryError(None, "/rest/api/3/search/jql", unreachable))
    error = source._http._transport_error(exc, _Budget(5, 1))
    assert "https://jira.example.com: no connection could be made (after 1 attempt" in str(error), str(error)


@pytest.mark.parametrize("body", [b"<html><p>Sign in</p></html>", b"  <HEAD><title>x</title></HEAD>", b"<!DOCTYPE html>", b"<body>"])
def test_an_html_body_is_recognised_whatever_its_content_type_says(body):
    resp = requests.Response()
    resp.headers["Content-Type"] = "application/json"
    resp._content = body
    assert _looks_html(resp)


def test_jiras_words_are_read_from_every_shape_of_error_body():
    assert _messages({"errorMessages": ["One."], "errors": {"jql": "Two."}, "error": {"message": "Three."}}) == ["One.", "Two.", "Three."]
    assert _messages({"message": "Four.", "errorMessage": "Five."}) == ["Four.", "Five."]
    assert _messages(["Six.", 7, ""]) == ["Six."]


@pytest.mark.parametrize(
    "seconds, written",
    [(0, "0"), (0.5, "0.5"), (0.25, "0.25"), (2.0, "2"), (9.99, "9.99"), (10, "10"), (10.25, "10"), (95.7, "96")],
)
def test_seconds_in_messages_are_written_short(seconds, written):
    assert _secs(seconds) == written


def test_404(server):
    error = error_for(server, json_response({"errorMessages": ["Not found"]}, 404))
    assert (
        str(error)
        == f"Nothing that looks like Jira answered at {stub.base_url(server)} (HTTP 404). Check JIRA_URL."
    )


def test_html_page(server):
    error = error_for(
        server,
        Response(
            "<!DOCTYPE html><html><body>Log in</body></html>",
            200,
            content_type="text/html",
        ),
    )
    assert (
        str(error)
        == f"Nothing that looks like Jira answered at {stub.base_url(server)} (HTTP 200). Check JIRA_URL."
    )


def test_410_removed_api(server):
    message = (
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
    )
    error = error_for(
        server, json_response({"errorMessages": [message], "errors": {}}, 410)
    )
    assert str(error) == f"Jira says this API has been removed: {message}"


def test_non_json_body(server):
    error = error_for(
        server, Response("issues: 1, 2, 3", 200, content_type="text/plain")
    )
    assert str(error) == (
        f"Jira answered with something that is not JSON (HTTP 200) at {stub.base_url(server)}; check "
        "JIRA_URL and any proxy between this site and Jira."
    )


def test_json_without_issues(server):
    error = error_for(server, json_response({"values": []}))
    assert (
        str(error)
        == "Jira answered the search with JSON this site does not understand (no list of issues)."
    )


ERROR_ANSWERS = [
    json_response({"errorMessages": ["bad"]}, 400),
    Response("", 401, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"}),
    Response("", 403, {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE"}),
    json_response({"errorMessages": ["no"]}, 403),
    Response("nope", 404),
    Response("<html></html>", 200, content_type="text/html"),
    json_response({"errorMessages": ["gone"]}, 410),
    json_response({}, 429),
    Response("", 503),
    Response("not json", 200),
]


@pytest.mark.parametrize("response", ERROR_ANSWERS, ids=lambda r: str(r.status_code))
def test_the_token_never_appears(server, response):
    serve(server, Sequence(answers=[response]))
    source = cloud(server, max_retries=1)
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


def test_the_token_never_appears_on_connection_errors():
    source = JiraCloud(
        f"http://{stub.USER}:{stub.TOKEN}@127.0.0.1:{stub.closed_port()}/",
        stub.USER,
        stub.TOKEN,
        timeout=(1, 1),
        max_retries=0,
    )
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


def test_fields_are_listed_and_cached(server):
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
                            "schema": {"type": "string", "system": "summary"},
                        },
                        {
                            "id": "customfield_10016",
                            "name": "Story Points",
                            "custom": True,
                            "schema": {"type": "number"},
                        },
                        {"id": "issuekey", "name": "Key", "custom": False},
                    ]
                )
            ]
        ),
        path="/rest/api/3/field",
        method="GET",
    )
    source = cloud(server)
    fields = source.fields()
    assert [(f.id, f.name, f.custom, f.schema_type) for f in fields] == [
        ("key", "Key", False, "string"),
        ("summary", "Summary", False, "string"),
        ("customfield_10016", "Story Points", True, "number"),
        ("issuekey", "Key", False, None),
    ]
    source.fields()
    assert len(handler.seen) == 1
    assert handler.seen[0].headers["Authorization"] == stub.basic_header()



def test_odd_entries_of_the_field_list_are_skipped_or_filled_in(server):
    serve(
        server,
        Sequence(
            answers=[
                json_response(
                    [
                        {"id": "key", "name": "Issue key"},  # the key is listed once, as ours
                        "not a field",
                        {"name": "No id"},
                        {"id": "", "name": "An empty id"},
                        {"id": "customfield_10020", "schema": "not an object"},  # no name, no custom
                        {"id": "labels", "name": "Labels", "schema": {"type": "array", "items": "string"}},
                    ]
                )
            ]
        ),
        path="/rest/api/3/field",
        method="GET",
    )
    fields = cloud(server).fields()
    assert [(f.id, f.name, f.custom, f.schema_type) for f in fields] == [
        ("key", "Key", False, "string"),
        ("customfield_10020", "customfield_10020", True, None),
        ("labels", "Labels", False, "array"),
    ]
    assert fields[1].schema == {} and fields[2].schema == {"type": "array", "items": "string"}


def test_myself(server):
    serve(
        server,
        Sequence(
            answers=[
                json_response(
                    {
                        "accountId": "5b10ac8d82e05b22cc7d4ef5",
                        "displayName": "Ada Lovelace",
                        "emailAddress": "ada@example.com",
                        "active": True,
                    }
                )
            ]
        ),
        path="/rest/api/3/myself",
        method="GET",
    )
    me = cloud(server).myself()
    assert (me.display_name, me.account) == ("Ada Lovelace", "5b10ac8d82e05b22cc7d4ef5")
    assert me.extra["emailAddress"] == "ada@example.com"


def test_myself_401(server):
    serve(
        server,
        Sequence(
            answers=[
                Response("", 401, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
            ]
        ),
        path="/rest/api/3/myself",
        method="GET",
    )
    with pytest.raises(
        SourceError,
        match=r"^Jira rejected the credentials \(HTTP 401, X-Seraph-LoginReason",
    ):
        cloud(server).myself()


def test_detect_cloud_by_host_name_without_asking():
    assert detect_deployment("https://example.atlassian.net") == "cloud"
    assert detect_deployment("https://example.atlassian.net/") == "cloud"


def test_detect_cloud_by_server_info(server):
    serve(
        server,
        Sequence(
            answers=[
                json_response(
                    {
                        "baseUrl": "https://jira.example.com",
                        "deploymentType": "Cloud",
                        "version": "1001.0.0-SNAPSHOT",
                    }
                )
            ]
        ),
        path="/rest/api/2/serverInfo",
        method="GET",
    )
    assert detect_deployment(stub.base_url(server)) == "cloud"


def test_detect_reports_a_wrong_url(server):
    serve(
        server,
        Sequence(
            answers=[
                Response("<html>Welcome to nginx</html>", 404, content_type="text/html")
            ]
        ),
        path="/rest/api/2/serverInfo",
        method="GET",
    )
    with pytest.raises(SourceError) as info:
        detect_deployment(stub.base_url(server))
    assert str(info.value) == (
        f"Nothing that looks like Jira answered at {stub.base_url(server)} (HTTP 404). Check JIRA_URL."
    )
