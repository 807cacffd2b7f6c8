from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_schedules(sender, **kwargs) -> None:
    """The periodic sweep that settles jobs a lost worker or broker left behind."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="Settle lost snapshot jobs",
        defaults={"func": "macros.tasks.reap_stale_jobs", "schedule_type": Schedule.MINUTES, "minutes": 5, "repeats": -1},
    )


class MacrosConfig(AppConfig):
    name = "macros"
    verbose_name = "Spaces, pages and macros"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
