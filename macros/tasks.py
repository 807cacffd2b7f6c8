"""Entry points django-q2 calls. They take ids, never model instances."""

import os
import signal
import threading

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
        with _sigterm_hands_the_job_back():
            snapshot = snapshots.take(job_id)
    except snapshots.WorkerStopping:
        # The job is back on the queue; now stop as we were asked to.
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit(143) from None
    except TimeoutException:
        # django-q2 raises this (a SystemExit, from SIGALRM) when the task outlives
        # Q_CLUSTER["timeout"], then replaces the worker. A snapshot that used its whole
        # budget would only use it again: fail it now, with the reason, instead of
        # leaving it to the sweep to retry.
        _fail_after_timeout(job_id, attempts)
        raise
    return f"snapshot {snapshot.pk}" if snapshot else "no snapshot"


class _sigterm_hands_the_job_back:
    """While a snapshot runs, SIGTERM (a deploy stopping the worker) raises ``WorkerStopping``
    in it, so ``take`` puts the job back on the queue at once instead of leaving it to its
    lease. django-q2's workers otherwise die of SIGTERM on the spot (its default action)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():  # signals reach only that one
            self.previous = signal.signal(signal.SIGTERM, _raise_worker_stopping)

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _raise_worker_stopping(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the hand-back short
    raise snapshots.WorkerStopping()


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
