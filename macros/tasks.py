"""Entry points django-q2 calls. They take ids, never model instances."""

from macros import snapshots


def run_snapshot_job(job_id: str) -> str:
    snapshot = snapshots.take(job_id)
    return f"snapshot {snapshot.pk}" if snapshot else "no snapshot"


def reap_stale_jobs() -> dict:
    return snapshots.reap_stale_jobs()
