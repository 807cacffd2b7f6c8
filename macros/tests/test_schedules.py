from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from macros import schedules
from macros.models import MacroSchedule, SiteSettings, SnapshotJob


def _url(page, macro):
    return reverse("macro_schedule", args=[page.pk, macro.public_id])


def test_an_editor_saves_a_daily_schedule(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    response = client.post(_url(page, macro), {"enabled": "on", "kind": "daily", "time": "07:30", "cron": ""})
    assert response.status_code == 302
    schedule = MacroSchedule.objects.get(macro=macro)
    assert schedule.describe() == "every day at 07:30"
    q = Schedule.objects.get(name=schedules.q_name(macro))
    assert (q.func, q.cron, q.args, q.schedule_type) == ("macros.tasks.run_scheduled_snapshot", "30 7 * * *", repr(macro.pk), Schedule.CRON)
    assert q.next_run > timezone.now() and timezone.localtime(q.next_run).strftime("%H:%M") == "07:30"
    body = client.get(_url(page, macro)).content.decode()
    assert "every day at 07:30 (UTC)" in body and "Next run" in body


def test_a_weekly_schedule_runs_on_its_day(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    client.post(_url(page, macro), {"enabled": "on", "kind": "weekly", "time": "18:05", "weekday": "5"})
    q = Schedule.objects.get(name=schedules.q_name(macro))
    assert q.cron == "5 18 * * 5"
    assert timezone.localtime(q.next_run).strftime("%A %H:%M") == "Friday 18:05"
    assert MacroSchedule.objects.get(macro=macro).describe() == "every Friday at 18:05"


def test_a_cron_schedule_is_validated(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    bad = client.post(_url(page, macro), {"enabled": "on", "kind": "cron", "cron": "every monday"})
    assert bad.status_code == 200 and "Not a valid cron expression" in bad.content.decode()
    assert not Schedule.objects.filter(name=schedules.q_name(macro)).exists()
    good = client.post(_url(page, macro), {"enabled": "on", "kind": "cron", "cron": "0  7 * * 1-5"})
    assert good.status_code == 302
    assert Schedule.objects.get(name=schedules.q_name(macro)).cron == "0 7 * * 1-5"


def test_missing_time_is_an_error(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    response = client.post(_url(page, macro), {"enabled": "on", "kind": "weekly"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose the time of day." in body and "Choose the day of the week." in body


def test_switching_a_schedule_off_removes_its_run(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    client.post(_url(page, macro), {"enabled": "on", "kind": "daily", "time": "07:30"})
    client.post(_url(page, macro), {"kind": "daily", "time": "07:30"})
    assert not Schedule.objects.filter(name=schedules.q_name(macro)).exists()
    assert MacroSchedule.objects.get(macro=macro).enabled is False
    assert "Schedule switched off." in client.get(_url(page, macro)).content.decode()


@pytest.mark.parametrize("who, status", [("editor", 200), ("viewer", 403), ("snapshotter", 403), ("outsider", 404)])
def test_only_editors_see_the_schedule_tab(client, people, page_and_macro, who, status):
    page, macro = page_and_macro
    client.force_login(people[who])
    response = client.get(_url(page, macro))
    assert response.status_code == status
    if status == 200:
        assert "Refresh this macro on a schedule" in response.content.decode()


def test_a_scheduled_run_queues_a_snapshot_labelled_schedule(page_and_macro):
    _, macro = page_and_macro
    assert schedules.run(macro.pk).startswith("job ")
    job = SnapshotJob.objects.get(macro=macro)
    assert job.trigger == SnapshotJob.Trigger.SCHEDULE and job.actor == "schedule"
    assert schedules.run(macro.pk).endswith("(joined)")
    assert SnapshotJob.objects.filter(macro=macro).count() == 1


def test_scheduled_runs_obey_the_site_switch(page_and_macro):
    _, macro = page_and_macro
    seen = []
    schedules.scheduled_run.connect(lambda **kw: seen.append(kw["skipped"]), weak=False, dispatch_uid="t")
    try:
        SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": False})
        assert schedules.run(macro.pk) == "skipped: automation is switched off for this site"
    finally:
        schedules.scheduled_run.disconnect(dispatch_uid="t")
    assert not SnapshotJob.objects.exists()
    assert seen == ["site_automation_disabled"]


def test_a_schedule_of_a_removed_macro_cleans_itself_up(page_and_macro):
    _, macro = page_and_macro
    schedules.save_schedule(MacroSchedule(macro=macro, kind="daily", time=time(7, 0)))
    macro.deleted_at = timezone.now()
    macro.save()
    assert schedules.run(macro.pk) == "skipped: the macro is not on a published page"
    assert not Schedule.objects.filter(name=schedules.q_name(macro)).exists()


@pytest.mark.django_db(transaction=True)  # django-q2's scheduler closes the connection
def test_a_missed_run_happens_once_not_once_per_missed_slot(page_and_macro):
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler

    _, macro = page_and_macro
    schedules.save_schedule(MacroSchedule(macro=macro, kind="cron", cron="*/5 * * * *"))
    # No cluster ran for three days: hundreds of 5-minute slots were missed.
    Schedule.objects.filter(name=schedules.q_name(macro)).update(next_run=timezone.now() - timedelta(days=3))
    scheduler(broker=get_broker())
    queued = [q.func() for q in OrmQ.objects.all()]
    assert queued.count("macros.tasks.run_scheduled_snapshot") == 1
    q = Schedule.objects.get(name=schedules.q_name(macro))
    assert timezone.now() < q.next_run <= timezone.now() + timedelta(minutes=5)
