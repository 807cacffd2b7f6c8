"""``?wait=<seconds>`` on the automation API: hold the answer until the jobs end (DESIGN §5).

A sync gunicorn worker holding a request does nothing else meanwhile, so waiting is
bounded twice: by what the caller asks (0-60 s) and by ``AUTOMATION_MAX_WAIT``, which
must stay below gunicorn's ``WEB_TIMEOUT`` (or the worker is killed mid-wait). While it
waits it reads the jobs' status by primary key, every 50 ms at first and every 500 ms at
most: about fifty indexed reads for a long wait, nothing held between them.
"""

from __future__ import annotations

import math
import time
import uuid

from django.conf import settings
from rest_framework import exceptions, status

from macros.models import SnapshotJob

LONGEST = 60
FINISHED = (SnapshotJob.Status.SUCCEEDED, SnapshotJob.Status.FAILED)


class InvalidWait(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_wait"


def requested_wait(query: dict) -> float:
    """Seconds to hold the answer: ``?wait=`` (0-60) within ``AUTOMATION_MAX_WAIT``; 400 for anything else."""
    raw = query.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= LONGEST:  # NaN fails this too
        shown = raw if len(raw) <= 20 else raw[:17] + "..."
        raise InvalidWait(f"wait is the number of seconds to wait for the job, from 0 to {LONGEST} (got {shown!r}).")
    return min(seconds, settings.AUTOMATION_MAX_WAIT)


def wait_for_jobs(job_ids: list[uuid.UUID], seconds: float) -> dict[uuid.UUID, SnapshotJob] | None:
    """The jobs, with what status needs, once every one has ended; None if ``seconds`` ran out first."""
    if seconds <= 0 or not job_ids:
        return None
    deadline = time.monotonic() + seconds
    pending, pause = set(job_ids), 0.05
    while True:
        pending -= set(SnapshotJob.objects.filter(pk__in=pending, status__in=FINISHED).values_list("pk", flat=True))
        if not pending:
            return {job.pk: job for job in finished_jobs(job_ids)}
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 1.5, 0.5)


def finished_jobs(job_ids: list[uuid.UUID]):
    return SnapshotJob.objects.select_related("macro", "snapshot__page_version").filter(pk__in=job_ids)
