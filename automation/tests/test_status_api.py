"""GET /api/automation/v1/jobs/<job_id>: the job's status for the key of its macro."""

import uuid

import pytest

from automation import service
from automation.models import AutomationEvent
from automation.tests.conftest import enable_and_publish, trigger
from conftest import publish_page_with_macro
from macros.models import SiteSettings, SnapshotJob
from macros.snapshots import request_snapshot, take

pytestmark = pytest.mark.django_db


def status(client, job_id, key):
    headers = {} if key is None else {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
    return client.get(f"/api/automation/v1/jobs/{job_id}", **headers)


def test_a_queued_job(client, automated):
    job_id = trigger(client, automated, automated.key).json()["job"]

    response = status(client, job_id, automated.key)

    assert response.status_code == 200
    assert response.json() == {
        "job": job_id,
        "status": "queued",
        "macro": str(automated.macro.public_id),
        "snapshot": None,
        "error": None,
        "progress": None,
    }


def test_a_running_job_shows_its_progress(client, automated):
    job_id = trigger(client, automated, automated.key).json()["job"]
    SnapshotJob.objects.filter(pk=job_id).update(status="running", fetched=40, expected=100)

    body = status(client, job_id, automated.key).json()

    assert body["status"] == "running"
    assert body["progress"] == {"fetched": 40, "expected": 100}
    assert body["snapshot"] is None


def test_a_succeeded_job_points_at_its_snapshot(client, automated, static_source):
    job_id = trigger(client, automated, automated.key).json()["job"]
    snapshot = take(job_id)

    body = status(client, job_id, f"{automated.key}").json()

    assert body["status"] == "succeeded"
    assert body["snapshot"] == {
        "id": snapshot.pk,
        "taken_at": snapshot.taken_at.isoformat().replace("+00:00", "Z"),
        "issue_count": 7,
    }
    assert body["error"] is None and body["progress"] is None
    assert snapshot.actor == "automation"


def test_a_failed_job_says_why(client, automated, static_source):
    static_source.fail_after = 0
    job_id = trigger(client, automated, automated.key).json()["job"]
    take(job_id)

    body = status(client, job_id, automated.key).json()

    assert body["status"] == "failed"
    assert body["error"] == "Jira was unavailable (HTTP 503)."
    assert body["snapshot"] is None


def test_a_job_someone_else_queued_is_readable_with_the_macro_key(client, automated, people):
    job, _ = request_snapshot(automated.macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    joined = trigger(client, automated, automated.key).json()
    assert joined == {**joined, "job": str(job.pk), "coalesced": True}

    assert status(client, job.pk, automated.key).status_code == 200


def test_it_accepts_a_bearer_token(client, automated):
    job_id = trigger(client, automated, automated.key).json()["job"]

    assert client.get(f"/api/automation/v1/jobs/{job_id}", HTTP_AUTHORIZATION=f"Bearer {automated.key}").status_code == 200


def test_other_methods_get_405_with_allow_get(client, automated):
    job_id = trigger(client, automated, automated.key).json()["job"]

    response = client.post(f"/api/automation/v1/jobs/{job_id}", HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key)

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json() == {"detail": "POST is not allowed here; use GET.", "code": "method_not_allowed"}


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "nope", "42"])
def test_an_unknown_or_malformed_job_id_gets_json_404(client, automated, job_id):
    response = status(client, job_id, automated.key)

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no snapshot job with this id.", "code": "not_found"}


def test_refusals_follow_the_same_order(client, automated, space, people):
    job_id = trigger(client, automated, automated.key).json()["job"]
    other_page, other_macro = publish_page_with_macro(space, people["editor"], title="Other")
    other = enable_and_publish(other_page, other_macro, people["editor"])

    assert status(client, job_id, None).json()["code"] == "missing_api_key"
    assert status(client, job_id, other.key).status_code == 401
    assert status(client, job_id, other.key).json()["code"] == "invalid_api_key"
    new = service.regenerate(automated.macro, people["editor"], via=AutomationEvent.Via.SCREEN).raw
    assert status(client, job_id, automated.key).json()["code"] == "invalid_api_key"
    assert status(client, job_id, new).status_code == 200
    SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": False})
    off = status(client, "nope", new)
    assert (off.status_code, off.json()["code"]) == (403, "site_automation_disabled")


def test_status_reads_have_their_own_throttle(client, automated, settings, fresh_minute):
    settings.AUTOMATION_THROTTLE = "2/min"
    job_id = trigger(client, automated, automated.key).json()["job"]

    answers = [status(client, job_id, automated.key).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert trigger(client, automated, automated.key).status_code == 202
