"""A real django-q2 worker takes snapshots queued through the ORM broker."""

import pytest
from django.db import transaction

from conftest import publish_page_with_macro
from macros.models import Snapshot, SnapshotJob
from macros.snapshots import request_snapshot
from tests.conftest import start_worker, stop_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _finished(job_id):
    job = SnapshotJob.objects.get(pk=job_id)
    return job if job.status in (SnapshotJob.Status.SUCCEEDED, SnapshotJob.Status.FAILED) else None


def test_a_real_worker_takes_a_queued_snapshot(worker, people, space):
    page, macro = publish_page_with_macro(space, people["editor"], jql="project = WEB ORDER BY key ASC", fields=["key", "summary", "status"])
    with transaction.atomic():
        job, coalesced = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    assert not coalesced
    job = wait_for(lambda: _finished(job.pk), timeout=60)
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    snapshot = Snapshot.objects.get(job=job)
    assert snapshot.complete and snapshot.issue_count > 10
    assert snapshot.rows.filter(level=1).first().issue_key.startswith("WEB-")
    assert page.versions.filter(kind="snapshot", snapshot=snapshot).exists()


def test_a_bad_query_fails_on_the_worker_with_jiras_words(worker, people, space):
    _, macro = publish_page_with_macro(space, people["editor"], jql="project = NOPE")
    with transaction.atomic():
        job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    job = wait_for(lambda: _finished(job.pk), timeout=60)
    assert job.status == SnapshotJob.Status.FAILED
    assert job.error == "The value 'NOPE' does not exist for the field 'project'."
    assert not Snapshot.objects.filter(macro=macro).exists()


def test_jobs_queued_while_no_worker_runs_are_taken_when_one_starts(people, space, transactional_db):
    _, macro = publish_page_with_macro(space, people["editor"], jql="project = OPS")
    with transaction.atomic():
        job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    process = start_worker()
    try:
        job = wait_for(lambda: _finished(job.pk), timeout=60)
    finally:
        stop_worker(process)
    assert job.status == SnapshotJob.Status.SUCCEEDED


def test_a_schedule_fires_through_a_real_worker(people, space, transactional_db):
    from datetime import time, timedelta

    from django.utils import timezone
    from django_q.models import Schedule

    from macros import schedules
    from macros.models import MacroSchedule

    _, macro = publish_page_with_macro(space, people["editor"], jql="project = MOB")
    schedules.save_schedule(MacroSchedule(macro=macro, kind="daily", time=time(6, 0)))
    # Make it due now; django-q2's scheduler looks about every 30 seconds.
    Schedule.objects.filter(name=schedules.q_name(macro)).update(next_run=timezone.now() - timedelta(seconds=1))
    process = start_worker()
    try:
        job = wait_for(lambda: SnapshotJob.objects.filter(macro=macro, status="succeeded").first(), timeout=90, interval=0.5)
    finally:
        stop_worker(process)
    assert job.trigger == SnapshotJob.Trigger.SCHEDULE
    assert Snapshot.objects.get(job=job).actor == "schedule"
    assert Schedule.objects.get(name=schedules.q_name(macro)).next_run > timezone.now()
