"""Built-in schedules: each MacroSchedule drives one django-q2 Schedule row.

django-q2's scheduler (inside every `qcluster`) queues the run; with `catch_up` off a run
missed while no cluster was up happens once, not once per missed slot.
"""

from __future__ import annotations

import logging
from datetime import datetime

import django.dispatch
from croniter import CroniterBadDateError, croniter
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from macros.models import Macro, MacroSchedule, SiteSettings, SnapshotJob
from macros.snapshots import request_snapshot

log = logging.getLogger(__name__)

# Sent after every scheduled run: macro, job (None when skipped), coalesced, skipped (a reason code or "").
scheduled_run = django.dispatch.Signal()


def q_name(macro: Macro) -> str:
    return f"snapshot-schedule-{macro.public_id}"


def next_run(expression: str, now: datetime | None = None) -> datetime:
    """The next time the cron expression fires, read in the site's time zone."""
    return croniter(expression, timezone.localtime(now or timezone.now())).get_next(datetime)


def valid_cron(expression: str) -> bool:
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def never_fires(expression: str) -> bool:
    """A valid expression whose days never come, such as 31 February (``0 0 31 2 *``)."""
    try:
        next_run(expression)
    except CroniterBadDateError:
        return True
    return False


def save_schedule(schedule: MacroSchedule) -> MacroSchedule:
    """Store the editor's schedule and the django-q2 row that runs it, in one transaction."""
    with transaction.atomic():
        schedule.save()
        sync(schedule)
    return schedule


def sync(schedule: MacroSchedule) -> None:
    name = q_name(schedule.macro)
    if not schedule.enabled:
        Schedule.objects.filter(name=name).delete()
        MacroSchedule.objects.filter(pk=schedule.pk).update(q_schedule_id=None)
        return
    expression = schedule.cron_expression()
    q, _ = Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": "macros.tasks.run_scheduled_snapshot",
            "args": repr(schedule.macro_id),
            "schedule_type": Schedule.CRON,
            "cron": expression,
            "repeats": -1,
            "next_run": next_run(expression),
        },
    )
    MacroSchedule.objects.filter(pk=schedule.pk).update(q_schedule_id=q.pk)


def delete_schedule(schedule: MacroSchedule) -> None:
    with transaction.atomic():
        Schedule.objects.filter(name=q_name(schedule.macro)).delete()
        schedule.delete()


def next_run_of(schedule: MacroSchedule) -> datetime | None:
    return Schedule.objects.filter(name=q_name(schedule.macro)).values_list("next_run", flat=True).first()


def run(macro_id: int) -> str:
    """What a scheduled run does: queue (or join) a snapshot, unless automation is off."""
    macro = Macro.objects.filter(pk=macro_id, published_at__isnull=False, deleted_at__isnull=True).first()
    if macro is None:
        # Removed from its page since: nothing will ever run here again.
        Schedule.objects.filter(func="macros.tasks.run_scheduled_snapshot", args=repr(macro_id)).delete()
        return "skipped: the macro is not on a published page"
    if not SiteSettings.load().automation_enabled:
        scheduled_run.send(sender=MacroSchedule, macro=macro, job=None, coalesced=False, skipped="site_automation_disabled")
        return "skipped: automation is switched off for this site"
    job, coalesced = request_snapshot(macro, SnapshotJob.Trigger.SCHEDULE)
    scheduled_run.send(sender=MacroSchedule, macro=macro, job=job, coalesced=coalesced, skipped="")
    return f"job {job.pk}{' (joined)' if coalesced else ''}"
