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
