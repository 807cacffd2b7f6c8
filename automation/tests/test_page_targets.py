"""Which pages a page trigger reaches: published ones, with ids the database can hold.

Written for mutants mutmut left alive (docs/mutation.md).
"""

from __future__ import annotations

import json
from io import BytesIO

import pytest

from automation import globalkeys, page_api
from automation.api import MAX_BODY
from automation.models import AutomationEvent
from automation.tests.conftest import trigger
from macros import pages as page_service
from macros.models import SnapshotJob

pytestmark = pytest.mark.django_db
NO_PAGE = {"detail": "There is no published page with this id.", "code": "not_found"}
TOO_LARGE = {
    "detail": "The request body is larger than 1 MiB. The body is ignored: send none, or a smaller one.",
    "code": "payload_too_large",
}


@pytest.fixture
def global_key(people) -> str:
    return globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN).raw


@pytest.fixture
def draft_page(space, people):
    """A page with a macro that was saved but never published."""
    page = page_service.create_page(space, "Draft only", "", people["editor"])
    page_service.add_macro(page_service.get_draft(page, people["editor"]), "Not yet")
    return page


def test_a_page_that_was_never_published_is_not_a_target(client, draft_page, global_key):
    for path in (f"/api/automation/v1/pages/{draft_page.pk}/snapshots", f"/take-snapshot/{draft_page.pk}"):
        response = trigger(client, path, global_key)
        assert response.status_code == 404
        assert response.json() == NO_PAGE
    bulk = client.post("/api/automation/v1/snapshots", data=json.dumps({"pages": [draft_page.pk]}),
                       content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)
    assert bulk.json()["results"] == [{"page": draft_page.pk, "error": NO_PAGE}]
    assert not SnapshotJob.objects.exists()


@pytest.mark.parametrize("page_id", [2**63, 2**63 - 1, 2**64, 0, -1])
def test_bulk_page_ids_past_what_the_database_holds_are_unknown_pages(client, global_key, page_id):
    response = client.post("/api/automation/v1/snapshots", data=json.dumps({"pages": [page_id]}),
                           content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)
    assert response.status_code == 202, response.content
    assert response.json()["results"] == [{"page": page_id, "error": NO_PAGE}]


@pytest.mark.parametrize("page_id", ["9999999999999999999", "9223372036854775808", "99999999999999999999"])
def test_page_ids_written_with_19_or_more_digits_are_unknown_pages_not_an_overflow(client, global_key, page_and_macro, page_id):
    # 19 digits can be past 2**63 - 1, the largest id the database holds.
    for path in (f"/api/automation/v1/pages/{page_id}/snapshots", f"/take-snapshot/{page_id}"):
        response = trigger(client, path, global_key)
        assert response.status_code == 404
        assert response.json() == NO_PAGE

    bulk = client.post("/api/automation/v1/snapshots", data=json.dumps({"pages": [page_id]}),
                       content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)

    assert bulk.status_code == 202, bulk.content
    assert bulk.json() == {"accepted": 0, "refused": 1, "results": [{"page": page_id, "error": NO_PAGE}]}
    assert not SnapshotJob.objects.exists()


@pytest.mark.parametrize("body", [{}, {"pages": [], "macros": []}, {"pages": []}])
def test_a_bulk_call_that_names_nothing_is_refused_with_a_sentence(client, global_key, body):
    response = client.post("/api/automation/v1/snapshots", data=json.dumps(body),
                           content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)
    assert response.status_code == 400
    assert response.json()["detail"] == "Name at least one page or macro."
    assert not SnapshotJob.objects.exists()


def _chunked_bulk(client, key: str, body: bytes):
    """A bulk call whose body comes chunked (no Content-Length), as gunicorn hands it on."""
    return client.generic("POST", "/api/automation/v1/snapshots", b"", HTTP_TRANSFER_ENCODING="chunked",
                          HTTP_JIRA_SNAPSHOTS_API_KEY=key, **{"wsgi.input": BytesIO(body)})


def test_a_chunked_bulk_body_is_read_whole_up_to_one_mib_and_refused_past_it(client, global_key, page_and_macro):
    page, _ = page_and_macro
    body = json.dumps({"pages": [page.pk]}).encode()
    full = b" " * (MAX_BODY - len(body)) + body  # white space, then the JSON in the last chunk: 1 MiB exactly

    accepted = _chunked_bulk(client, global_key, full)
    refused = _chunked_bulk(client, global_key, b" " + full)

    assert accepted.status_code == 202, accepted.content
    assert [result["page"] for result in accepted.json()["results"]] == [page.pk]
    assert (refused.status_code, refused.json()["code"]) == (413, "payload_too_large")
    assert SnapshotJob.objects.count() == 1


def test_a_bulk_body_of_exactly_one_mib_with_its_length_declared_is_read_and_one_byte_more_is_refused(client, global_key, page_and_macro):
    page, _ = page_and_macro
    body = json.dumps({"pages": [page.pk]}).encode()
    full = b" " * (MAX_BODY - len(body)) + body

    accepted = client.post("/api/automation/v1/snapshots", data=full, content_type="application/json",
                           HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)
    refused = client.post("/api/automation/v1/snapshots", data=b" " + full, content_type="application/json",
                          HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)

    assert accepted.status_code == 202, accepted.content
    assert [result["page"] for result in accepted.json()["results"]] == [page.pk]
    assert (refused.status_code, refused.json()) == (413, TOO_LARGE)
    assert SnapshotJob.objects.count() == 1


class EndlessBody:
    """A chunked body that never ends: each read(n) gives n more bytes."""

    def __init__(self) -> None:
        self.given = 0

    def read(self, size: int | None = None) -> bytes:
        assert size is not None and size > 0, "a read of the whole of an endless body never returns"
        self.given += size
        return b" " * size


def test_an_endless_chunked_bulk_body_is_refused_after_reading_at_most_a_chunk_past_one_mib(rf, global_key):
    request = rf.generic("POST", "/api/automation/v1/snapshots", b"", HTTP_TRANSFER_ENCODING="chunked",
                         HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)
    request.META["wsgi.input"] = body = EndlessBody()

    response = page_api.TriggerSnapshots.as_view()(request).render()

    assert (response.status_code, json.loads(response.content)) == (413, TOO_LARGE)
    assert MAX_BODY < body.given <= MAX_BODY + 64 * 1024
    assert not SnapshotJob.objects.exists()


@pytest.mark.parametrize("body", [b"", b" \n\t "])
def test_an_empty_bulk_body_is_refused_with_an_example_of_one(client, global_key, body):
    response = client.post("/api/automation/v1/snapshots", data=body, content_type="application/json",
                           HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'The body is empty. Send a JSON object such as {"pages": [12], "macros": []}.',
        "code": "invalid_json",
    }
