"""What only a real server shows: chunked request bodies through gunicorn."""

import http.client
import json

import pytest

from automation.tests.servers import gunicorn
from macros.models import SnapshotJob

pytestmark = pytest.mark.django_db(transaction=True)
MiB = 1024 * 1024


def post_chunked(base: str, path: str, key: str, size: int) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)

    def body():
        sent = 0
        while sent < size:
            chunk = b"x" * min(64 * 1024, size - sent)
            sent += len(chunk)
            yield chunk

    # No Content-Length: http.client sends the generator with Transfer-Encoding: chunked.
    connection.request("POST", path, body=body(), headers={"jira-snapshots-api-key": key}, encode_chunked=True)
    response = connection.getresponse()
    status, payload = response.status, json.loads(response.read() or b"{}")
    connection.close()
    return status, payload


def test_a_chunked_body_over_one_mib_gets_413_and_a_small_one_is_accepted(automated):
    with gunicorn(workers=1) as base:
        large = post_chunked(base, automated.path, automated.key, 2 * MiB)
        small = post_chunked(base, automated.path, automated.key, 10_000)

    assert large == (413, {"detail": "The request body is larger than 1 MiB. The body is ignored: send none, or a smaller one.", "code": "payload_too_large"})
    assert small[0] == 202 and small[1]["coalesced"] is False
    assert SnapshotJob.objects.count() == 1


def test_the_api_skips_the_browser_middleware_but_keeps_the_security_headers_and_guards(automated):
    import urllib.error
    import urllib.request

    from django.test import Client

    through_client = Client().post(automated.path, HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key)
    with gunicorn(workers=1) as base:
        request = urllib.request.Request(base + automated.path, method="POST", headers={"jira-snapshots-api-key": automated.key})
        with urllib.request.urlopen(request, timeout=30) as answer:
            headers, status = answer.headers, answer.status
        try:
            urllib.request.urlopen(f"{base}/take-snapshot/1?{'x' * 5000}", timeout=30)
            guarded = None
        except urllib.error.HTTPError as refused:
            guarded = refused.code
        try:
            urllib.request.urlopen(f"{base}/api/automation/v1/docs", timeout=30)  # the site's chain: slash appended
            redirected = None
        except urllib.error.HTTPError as other:
            redirected = other.code
        docs = urllib.request.urlopen(f"{base}/api/automation/v1/docs/", timeout=30)

    assert status == 202
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"):
        assert headers[name] == through_client.get(name), name  # what the full chain gives
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Set-Cookie"] is None and "Cookie" not in (headers["Vary"] or "")
    assert guarded in (400, 414)
    assert redirected is None and docs.status == 200 and docs.url.endswith("/api/automation/v1/docs/")


def test_the_api_handler_resolves_every_path_under_its_prefixes_as_the_site_does(automated):
    """The API handler resolves against the API's own patterns: anything else under its
    prefixes must still get the site's JSON 404, and the real paths their views."""
    import urllib.error
    import urllib.request

    from django.test import Client

    paths = [
        automated.path + "/",  # no APPEND_SLASH on the API: a JSON 404
        "/api/automation/v1/macros/",
        "/api/automation/v1/macros/x/snapshots/more",
        "/api/automation/v1/pages/",
        "/api/automation/v1/snapshotsx",
        "/api/automation/v1/jobs/",
        "/api/automation/v1/jobs/not-a-job",  # the status view's own 404
        "/take-snapshot/",
        "/take-snapshot/1/more",
        automated.path,  # GET on the trigger: 405
    ]
    through_client = []
    for path in paths:
        answer = Client().get(path)
        through_client.append((answer.status_code, answer.json()))
    through_gunicorn = []
    with gunicorn(workers=1) as base:
        for path in paths:
            try:
                with urllib.request.urlopen(base + path, timeout=30) as answer:
                    through_gunicorn.append((answer.status, json.loads(answer.read())))
            except urllib.error.HTTPError as refused:
                through_gunicorn.append((refused.code, json.loads(refused.read())))

    assert through_gunicorn == through_client
    assert [status for status, _ in through_gunicorn] == [404] * 9 + [405]
    assert through_gunicorn[0][1] == {"detail": "Nothing here: check the URL.", "code": "not_found"}
    assert through_gunicorn[-1][1]["code"] == "method_not_allowed"
