import sys

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

SWEEP_SCHEDULE = "Settle lost snapshot jobs"
FIELDS_SCHEDULE = "Refresh Jira fields"


def ensure_schedules(sender=None, **kwargs) -> None:
    """The periodic sweep that settles jobs a lost worker or broker left behind.

    Runs after every ``migrate`` (and every test-database flush), so a changed
    ``SNAPSHOT_SWEEP_SECONDS`` takes effect with the next release's migrate.
    """
    from django_q.models import Schedule

    seconds = settings.SNAPSHOT_SWEEP_SECONDS
    if seconds % 60 == 0:
        timing = {"schedule_type": Schedule.MINUTES, "minutes": seconds // 60, "cron": None}
    else:
        # Schedules count in minutes; a six-field cron (croniter: seconds last) goes below.
        timing = {"schedule_type": Schedule.CRON, "minutes": None, "cron": f"* * * * * */{seconds}"}
    Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "macros.tasks.reap_stale_jobs", "repeats": -1, **timing},
    )
    Schedule.objects.update_or_create(
        name=FIELDS_SCHEDULE,
        defaults={
            "func": "macros.tasks.refresh_jira_fields",
            "repeats": -1,
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.JIRA_FIELDS_REFRESH_MINUTES,
            "cron": None,
        },
    )


def ensure_cache_table(sender=None, using: str = "default", **kwargs) -> None:
    """The database cache's table (throttle counters), made by ``migrate`` itself.

    A release that ran ``migrate`` but not ``createcachetable`` answered every trigger
    503 "temporarily unavailable": a permanent mistake dressed as an outage. Does
    nothing when the cache is Redis or the table exists.
    """
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class MacrosConfig(AppConfig):
    name = "macros"
    verbose_name = "Spaces, pages and macros"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
        post_migrate.connect(ensure_cache_table, sender=self)
        if "qcluster" in sys.argv:
            warm_source()


def warm_source() -> None:
    """Before django-q2 forks its workers, so each starts with the source loaded."""
    from macros.sources import SourceError, get_source

    try:
        get_source().warm()
    except SourceError:
        pass  # the first job reports it, with its reason
