"""Entry points django-q2 calls. They take ids, never model instances."""

from django.conf import settings
from django.db import connection
from django_q.exceptions import TimeoutException

from macros import snapshots
from macros.models import SnapshotJob


def run_snapshot_job(job_id: str) -> str:
    job = SnapshotJob.objects.filter(pk=job_id).values("status", "attempts").first()
    if job is None:
        return "no such job"
    attempts = job["attempts"]
    if job["status"] == SnapshotJob.Status.RUNNING and attempts >= settings.Q_CLUSTER["max_attempts"]:
        # The ORM broker hands a task out again after Q_CLUSTER["retry"] whatever our own
        # count says; a job out of attempts is left for the sweep to fail with its reason.
        return "out of attempts"
    try:
        snapshot = snapshots.take(job_id)
    except TimeoutException:
        # django-q2 raises this (a SystemExit, from SIGALRM) when the task outlives
        # Q_CLUSTER["timeout"], then replaces the worker. A snapshot that used its whole
        # budget would only use it again: fail it now, with the reason, instead of
        # leaving it to the sweep to retry.
        _fail_after_timeout(job_id, attempts)
        raise
    return f"snapshot {snapshot.pk}" if snapshot else "no snapshot"


def _fail_after_timeout(job_id: str, attempts_before: int | None) -> None:
    # The alarm may have struck in the middle of a database call.
    connection.close()
    job = SnapshotJob.objects.filter(
        pk=job_id, status=SnapshotJob.Status.RUNNING, attempts=(attempts_before or 0) + 1
    ).first()
    if job is None:  # not ours: we never claimed it, or another attempt took it over
        return
    snapshots._fail(
        job,
        f"The snapshot did not finish within {settings.SNAPSHOT_JOB_TIMEOUT} seconds, the most one snapshot "
        "may take, and was stopped. Jira may be answering slowly, or the query may match too many issues: "
        "try again later or narrow the query.",
    )


def reap_stale_jobs() -> dict:
    return snapshots.reap_stale_jobs()


def run_scheduled_snapshot(macro_id: int) -> str:
    from macros import schedules

    return schedules.run(macro_id)


def refresh_jira_fields() -> str:
    from macros import fieldlist

    return fieldlist.refresh_scheduled()
