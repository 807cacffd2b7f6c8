"""Backups and restores as background runs: queue, run on a worker, report progress, prune.

Site administration and the backups endpoint never write an archive in the web request:
they queue a ``BackupRun`` and a django-q2 task runs it (``run``), writing its progress
through a connection of its own so that a reader sees it while the run's own reads or
writes are still in their transaction.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from automation import audit, backup
from automation.models import AutomationEvent, BackupRun

log = logging.getLogger(__name__)
Kind = AutomationEvent.Kind
Via = AutomationEvent.Via
TASK = "automation.backup_runs.run"


def backup_dir() -> Path:
    path = Path(settings.BACKUP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(run: BackupRun) -> Path | None:
    if not run.file_name:
        return None
    path = backup_dir() / run.file_name
    return path if path.is_file() else None


def start_backup(spaces: list[str] | None, *, via: str, user=None, key_lookup: str = "") -> BackupRun:
    """Queue a backup of the whole site (``spaces`` None) or of some spaces."""
    from macros.models import Space

    if spaces is not None:
        spaces = sorted({key.strip() for key in spaces if key.strip()})
        if not spaces:
            raise backup.BackupError("Name at least one space to back up.")
        known = set(Space.objects.filter(key__in=spaces).values_list("key", flat=True))
        missing = [key for key in spaces if key not in known]
        if missing:
            raise backup.BackupError(f"There is no space with the key {', '.join(missing)} on this site.")
    with transaction.atomic():
        run = BackupRun.objects.create(
            kind=BackupRun.Kind.BACKUP,
            spaces=spaces,
            via=via,
            requested_by=user if user is not None and user.is_authenticated else None,
            key_lookup=key_lookup,
        )
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def start_restore(upload, *, via: str, user=None, dry_run: bool = False) -> BackupRun:
    """Keep an uploaded archive beside the backups and queue its restore (or its check)."""
    run_id = uuid.uuid4()
    name = f"upload-{run_id}.zip"
    with open(backup_dir() / name, "wb") as target:
        for chunk in upload.chunks():
            target.write(chunk)
    with transaction.atomic():
        run = BackupRun.objects.create(
            id=run_id,
            kind=BackupRun.Kind.RESTORE,
            dry_run=dry_run,
            file_name=name,
            via=via,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id) -> None:
    from django_q.tasks import async_task

    async_task(TASK, str(run_id), task_name=f"backup-run-{run_id}")


class ProgressWriter:
    """Writes a run's progress through a connection of its own, at most once a second."""

    def __init__(self, run_id):
        self.run_id = run_id
        self.last = 0.0
        self.db = None
        self.inside_caller_transaction = connection.in_atomic_block

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 1 and done < total:
            return
        self.last = now
        if self.inside_caller_transaction:
            # Started inside someone's transaction (a test, a caller's atomic block): a second
            # connection would wait on its locks, and nobody outside could see the row yet anyway.
            BackupRun.objects.filter(pk=self.run_id).update(rows_done=done, rows_total=total)
            return
        try:
            if self.db is None:
                self.db = connections.create_connection(DEFAULT_DB_ALIAS)
            table = self.db.ops.quote_name(BackupRun._meta.db_table)
            pk = BackupRun._meta.pk.get_db_prep_value(self.run_id, self.db)
            with self.db.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET rows_done = %s, rows_total = %s WHERE id = %s", [done, total, pk])
        except Exception:  # progress is a courtesy; the run itself must not fail on it
            log.warning("Could not record the progress of backup run %s", self.run_id, exc_info=True)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def run(run_id: str) -> str:
    """The worker's task: claim the run, do it, record the outcome."""
    claimed = BackupRun.objects.filter(pk=run_id, status=BackupRun.Status.QUEUED).update(
        status=BackupRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    job = BackupRun.objects.get(pk=run_id)
    progress = ProgressWriter(job.pk)
    try:
        if job.kind == BackupRun.Kind.BACKUP:
            _run_backup(job, progress)
        else:
            # A restore holds SQLite's one write lock until it commits: progress would only wait.
            _run_restore(job, progress if connection.vendor != "sqlite" else None)
    except backup.BackupError as exc:
        _finish(job, BackupRun.Status.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("Backup run %s failed", run_id)
        _finish(job, BackupRun.Status.FAILED, error=f"The run stopped on an unexpected error ({type(exc).__name__}); see the worker's log.")
    finally:
        progress.close()
    return job.status


def _run_backup(job: BackupRun, progress: ProgressWriter) -> None:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = f"snapshots-backup-{stamp}-{str(job.pk)[:8]}.zip"
    result = backup.write_backup(backup_dir() / name, job.spaces, progress=progress)
    _finish(
        job,
        BackupRun.Status.SUCCEEDED,
        file_name=name,
        size=result.path.stat().st_size,
        rows_done=result.rows,
        rows_total=result.rows,
        summary=f"{result.rows} rows in {len(result.manifest['tables'])} tables",
    )
    _audit(job, Kind.BACKUP_MADE)
    prune()


def _run_restore(job: BackupRun, progress) -> None:
    path = backup_dir() / job.file_name
    try:
        report = backup.restore(path, dry_run=job.dry_run, progress=progress)
    finally:
        path.unlink(missing_ok=True)  # an upload is kept only while its run needs it
        BackupRun.objects.filter(pk=job.pk).update(file_name="")
        job.file_name = ""
    _finish(
        job,
        BackupRun.Status.SUCCEEDED,
        spaces=report.spaces,
        rows_done=report.total,
        rows_total=report.total,
        summary="\n".join(report.lines()),
    )
    if not job.dry_run:
        _audit(job, Kind.BACKUP_RESTORED)


def _finish(job: BackupRun, status: str, **changes) -> None:
    changes.update(status=status, finished_at=timezone.now())
    for name, value in changes.items():
        setattr(job, name, value)
    BackupRun.objects.filter(pk=job.pk).update(**changes)
    if status == BackupRun.Status.FAILED:
        _audit(job, Kind.BACKUP_FAILED)


def _audit(job: BackupRun, kind: str) -> None:
    AutomationEvent.objects.create(
        kind=kind,
        via=job.via,
        actor=job.requested_by,
        key_kind="global" if job.key_lookup else "",
        key_lookup=job.key_lookup,
        job_id=job.pk,
        reason=scope_reason(job.spaces),
    )


def scope_reason(spaces: list[str] | None) -> str:
    return "whole site" if spaces is None else ("spaces: " + ",".join(spaces))[:40]


def audit_command(action: str, manifest: dict) -> None:
    """A backup or restore made with ``manage.py``, in the automation audit log."""
    audit.record(Kind.BACKUP_MADE if action == "backup" else Kind.BACKUP_RESTORED, via=Via.COMMAND, reason=scope_reason(manifest.get("spaces")))


def prune() -> int:
    """Delete the files of all but the newest ``BACKUP_KEEP`` backups; their rows stay, marked pruned."""
    keep = settings.BACKUP_KEEP
    old = BackupRun.objects.filter(kind=BackupRun.Kind.BACKUP, status=BackupRun.Status.SUCCEEDED).exclude(file_name="").order_by("-finished_at", "-created_at")[keep:]
    pruned = 0
    for job in old:
        (backup_dir() / job.file_name).unlink(missing_ok=True)
        BackupRun.objects.filter(pk=job.pk).update(file_name="", summary=f"{job.summary} (pruned: only the newest {keep} are kept)")
        pruned += 1
    return pruned
