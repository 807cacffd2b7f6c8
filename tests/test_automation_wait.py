"""``?wait=`` on the automation API, with a real django-q2 worker taking the snapshots (DESIGN §5)."""

from __future__ import annotations

import pytest

from automation import globalkeys
from automation.models import AutomationEvent
from automation.tests.conftest import enable_and_publish, trigger
from conftest import publish_page_with_macro
from macros.models import PageVersion, SnapshotJob

SITE = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _counts_written_at_once(settings):
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 0


@pytest.fixture
def automated(space, people, transactional_db):
    page, macro = publish_page_with_macro(space, people["editor"], jql="project = WEB ORDER BY key ASC")
    return enable_and_publish(page, macro, people["editor"])


def test_a_trigger_that_waits_answers_200_with_the_finished_job_and_its_links(client, automated, worker):
    answer = trigger(client, f"{automated.path}?wait=30", automated.key)

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    job = SnapshotJob.objects.get(pk=body["job"])
    version = PageVersion.objects.get(snapshot=job.snapshot)
    assert body["status"] == "succeeded" and body["error"] is None
    assert body["snapshot"]["id"] == job.snapshot.pk and body["snapshot"]["issue_count"] > 0
    assert body["page_url"] == f"{SITE}/pages/{automated.page.pk}/"
    assert body["version_url"] == f"{SITE}/pages/{automated.page.pk}/v/{version.number}/"
    assert answer["Location"] == f"{SITE}/api/automation/v1/jobs/{job.pk}"


def test_a_failed_job_after_waiting_says_why_and_has_no_version(client, space, people, transactional_db, worker):
    page, macro = publish_page_with_macro(space, people["editor"], jql="project = WEB AND AND", title="Broken")
    broken = enable_and_publish(page, macro, people["editor"])

    answer = trigger(client, f"{broken.path}?wait=30", broken.key)

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "failed" and body["error"]
    assert body["page_url"] == f"{SITE}/pages/{page.pk}/" and body["version_url"] is None


def test_without_a_worker_the_wait_runs_out_and_the_usual_202_comes(client, automated, settings):
    answer = trigger(client, f"{automated.path}?wait=0.3", automated.key)

    assert answer.status_code == 202
    assert answer.json()["status"] == "queued" and "page_url" not in answer.json()


def test_the_status_endpoint_waits_too(client, automated, worker):
    queued = trigger(client, automated, automated.key).json()

    answer = client.get(f"/api/automation/v1/jobs/{queued['job']}?wait=30", HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key)

    assert answer.status_code == 200
    assert answer.json()["status"] == "succeeded"
    assert answer.json()["version_url"].startswith(f"{SITE}/pages/{automated.page.pk}/v/")


def test_a_page_trigger_that_waits_answers_200_with_every_jobs_status(client, automated, people, worker):
    key = globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN).raw

    answer = trigger(client, f"/take-snapshot/{automated.page.pk}?wait=30", key)

    assert answer.status_code == 200, answer.json()
    [job] = answer.json()["jobs"]
    assert answer.json()["page"] == automated.page.pk
    assert job["status"] == "succeeded" and job["page_url"] == f"{SITE}/pages/{automated.page.pk}/"


@pytest.mark.parametrize("value", ["abc", "-1", "61", "nan", "inf", "1e999", ""])
def test_a_bad_wait_is_refused_with_a_sentence(client, automated, value):
    answer = trigger(client, f"{automated.path}?wait={value}", automated.key)

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_wait"
    assert answer.json()["detail"].startswith("wait is the number of seconds to wait for the job, from 0 to 60 (got ")
    assert SnapshotJob.objects.count() == 0


def test_the_wait_is_bounded_by_the_sites_limit(client, automated, settings):
    import time

    settings.AUTOMATION_MAX_WAIT = 1
    started = time.monotonic()
    answer = trigger(client, f"{automated.path}?wait=60", automated.key)

    assert answer.status_code == 202
    assert time.monotonic() - started < 5
