"""Several `qcluster` processes on one queue: every job once, a worker killed on every
attempt, a snapshot past its time limit.

The stand-in Jira holds a page of the snapshot it wants interrupted, so the test knows the
worker is mid-snapshot (rows already written) when it kills the worker's whole process
group with SIGKILL. The sweep (every 30 s) gives the job back to the queue once its lease
has lapsed. The killed worker at default settings, and SIGTERM, are in
test_recovery_at_default_settings.py.
"""

from __future__ import annotations

import time

import pytest
from django.db.models import Count

from conftest import publish_page_with_macro
from macros.models import PageVersion, Snapshot, SnapshotJob, SnapshotRow
from macros.snapshots import request_snapshot
from tests.conftest import wait_for
from tests.reliability.conftest import latest_snapshot, needs_reliability, report, stack, wait_terminal

pytestmark = [needs_reliability, pytest.mark.django_db(transaction=True)]

Status = SnapshotJob.Status


def _macros(space, editor, count: int, prefix: str = "K"):
    return [
        publish_page_with_macro(space, editor, jql=f"project = {prefix}{n}", title=f"Status {prefix}{n}")[1]
        for n in range(count)
    ]


def _queue(macro) -> SnapshotJob:
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION)
    return job


def test_every_job_runs_exactly_once_across_two_clusters(people, space, jira, processes, quick_sweep):
    macros = _macros(space, people["editor"], 24)
    for macro in macros:
        jira.behave(macro.levels[0]["jql"], total=150, page_delay=0.05)
    jobs = []
    for macro in macros:
        job = _queue(macro)
        again, coalesced = request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION)
        assert coalesced and again.pk == job.pk
        jobs.append(job)

    started = time.monotonic()
    processes.cluster(jira, workers=2)
    processes.cluster(jira, workers=2)
    finished = wait_terminal([j.pk for j in jobs], timeout=120)
    elapsed = time.monotonic() - started

    assert {j.status for j in finished.values()} == {Status.SUCCEEDED}, [j.error for j in finished.values()]
    assert all(j.attempts == 1 for j in finished.values())
    per_job = Snapshot.objects.filter(job__in=jobs).values("job").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_job) == [1] * len(jobs)
    assert not Snapshot.objects.filter(complete=False).exists()
    for macro in macros:
        snapshot = latest_snapshot(macro)
        assert snapshot.issue_count == 150
        assert SnapshotRow.objects.filter(snapshot=snapshot).count() == 150
        assert PageVersion.objects.filter(snapshot=snapshot).count() == 1
        # Two pages of 100 and 50: each searched once, by one worker.
        assert jira.searches(macro.levels[0]["jql"]) == 2
    report(f"[{stack()}] {len(jobs)} jobs on 2 clusters x 2 workers: all succeeded once in {elapsed:.1f} s")


def test_a_job_whose_worker_dies_on_every_attempt_ends_failed_after_three_attempts(
    people, space, jira, processes, quick_sweep
):
    (target,) = _macros(space, people["editor"], 1)
    jql = target.levels[0]["jql"]
    jira.behave(jql, total=40)
    first = processes.cluster(jira)
    good = wait_terminal([_queue(target).pk], timeout=60)
    assert {j.status for j in good.values()} == {Status.SUCCEEDED}
    good_snapshot = latest_snapshot(target)
    first.stop()

    doomed = jira.behave(jql, total=40, hold_page=0, holds=None)
    # A short lease: this test is about counting attempts, not about how soon (that is
    # test_recovery_at_default_settings.py).
    processes.cluster(jira, SNAPSHOT_LEASE_SECONDS=6)
    processes.cluster(jira, SNAPSHOT_LEASE_SECONDS=6)
    job = _queue(target)
    started = time.monotonic()
    for attempt in (1, 2, 3):
        doomed.wait_held(attempt, timeout=120)
        wait_for(lambda: SnapshotJob.objects.get(pk=job.pk).attempts == attempt, timeout=10)  # noqa: B023
        processes.holder_of(job).kill()
        doomed.release()
        processes.cluster(jira, SNAPSHOT_LEASE_SECONDS=6)

    job = wait_terminal([job.pk], timeout=150)[job.pk]
    assert job.status == Status.FAILED
    assert job.attempts == 3
    assert job.error == (
        "The worker taking this snapshot stopped before it finished, on each of its 3 attempts (the worker "
        "process was killed or restarted). Take the snapshot again; if it keeps happening, ask the site "
        "administrator to look at the workers."
    )
    assert not Snapshot.objects.filter(job=job).exists()
    assert latest_snapshot(target) == good_snapshot
    target.page.refresh_from_db()
    assert target.page.current_version.snapshot_id == good_snapshot.pk
    assert doomed.held == 3  # no fourth attempt
    report(f"[{stack()}] worker killed on each attempt: failed after {job.attempts} attempts in "
          f"{time.monotonic() - started:.1f} s; the last good snapshot stayed")


def test_a_snapshot_that_outlives_its_budget_fails_with_the_reason_and_frees_the_worker(
    people, space, jira, processes, quick_sweep
):
    slow, quick = _macros(space, people["editor"], 2)
    jira.behave(slow.levels[0]["jql"], total=1000, page_delay=2.0)  # ten pages of two seconds
    jira.behave(quick.levels[0]["jql"], total=20)
    processes.cluster(jira, timeout=6, workers=1)
    slow_job = _queue(slow)
    wait_for(lambda: SnapshotJob.objects.get(pk=slow_job.pk).status == Status.RUNNING, timeout=60)
    quick_job = _queue(quick)

    done = wait_terminal([slow_job.pk, quick_job.pk], timeout=90)

    slow_job, quick_job = done[slow_job.pk], done[quick_job.pk]
    assert slow_job.status == Status.FAILED
    assert slow_job.error == (
        "The snapshot did not finish within 6 seconds, the most one snapshot may take, and was stopped. "
        "Jira may be answering slowly, or the query may match too many issues: try again later or narrow "
        "the query."
    )
    blocked = (slow_job.finished_at - slow_job.started_at).total_seconds()
    assert 5 <= blocked < 8
    assert not Snapshot.objects.filter(job=slow_job).exists()
    assert quick_job.status == Status.SUCCEEDED
    assert (quick_job.finished_at - slow_job.finished_at).total_seconds() < 15
    report(f"[{stack()}] a 20-second snapshot with a 6-second budget failed after {blocked:.1f} s; "
          f"the next job finished {(quick_job.finished_at - slow_job.finished_at).total_seconds():.1f} s later")
