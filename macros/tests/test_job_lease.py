"""A running job's lease (how soon a dead worker is noticed) apart from its time limit
(how long a snapshot may run), the sweep that takes back lapsed leases, and the hand-back
of a job whose worker is told to stop."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from conftest import StaticSource, make_issue, use_source
from macros.models import Snapshot, SnapshotJob
from macros.snapshots import LeaseHeartbeat, WorkerStopping, reap_stale_jobs, request_snapshot, take
from macros.sources.base import SourceError

Status = SnapshotJob.Status


class CallbackSource(StaticSource):
    """A StaticSource that calls ``on_page(n)`` before it hands out page ``n``."""

    def __init__(self, issues, on_page, **kw):
        super().__init__(issues, **kw)
        self.on_page = on_page

    def search_pages(self, jql, fields, *, page_size=100):
        for n, page in enumerate(super().search_pages(jql, fields, page_size=page_size)):
            self.on_page(n)
            yield page


def _queued_messages(job) -> int:
    return sum(1 for message in OrmQ.objects.exclude(payload="waiting") if message.task["args"] == (str(job.pk),))


def test_the_lease_is_short_and_the_time_limit_long_at_default_settings(settings):
    # The bar: a killed worker's job ends within 90 s of the kill at default settings, which
    # needs lease + sweep interval well under it; the time limit is a different setting.
    assert SnapshotJob.lease_length() == timedelta(seconds=30)
    assert settings.SNAPSHOT_SWEEP_SECONDS == 30
    assert settings.SNAPSHOT_JOB_TIMEOUT == 900
    assert settings.Q_CLUSTER["timeout"] == 900


def test_a_claimed_job_holds_a_lease_of_the_lease_length_not_of_the_time_limit(page_and_macro, settings, monkeypatch):
    _, macro = page_and_macro
    seen = {}

    def look(n):
        seen["lease_until"] = SnapshotJob.objects.get(macro=macro).lease_until

    use_source(monkeypatch, CallbackSource([make_issue(1)], look))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    claimed_at = timezone.now()
    take(job.pk)
    lease = (seen["lease_until"] - claimed_at).total_seconds()
    assert 29 <= lease <= 31


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_the_lease_while_the_job_waits_on_its_source(page_and_macro, settings, monkeypatch):
    settings.SNAPSHOT_LEASE_SECONDS = 0.6  # a beat every 0.2 s
    _, macro = page_and_macro
    seen = []

    def wait_on_jira(n):
        # The main thread is blocked here, as in a slow Jira call or a back-off sleep.
        before = SnapshotJob.objects.get(macro=macro).lease_until
        time.sleep(1.0)
        seen.append((before, SnapshotJob.objects.get(macro=macro).lease_until))

    use_source(monkeypatch, CallbackSource([make_issue(1)], wait_on_jira))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    assert take(job.pk) is not None
    (before, after), = seen
    # Without a beat the lease would have lapsed during the wait (0.6 s < 1 s).
    assert after > before + timedelta(seconds=0.5)
    assert after > timezone.now() - timedelta(seconds=0.1)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and job.lease_until is None


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_stops_at_the_time_limit_and_when_the_job_is_no_longer_its_own(page_and_macro, settings):
    _, macro = page_and_macro
    job = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, attempts=1,
                                     lease_until=timezone.now())
    settings.SNAPSHOT_LEASE_SECONDS = 0.3
    settings.SNAPSHOT_JOB_TIMEOUT = 0.55  # room for about five beats of 0.1 s
    with LeaseHeartbeat(job) as beat:
        time.sleep(1.5)
        at_the_limit = beat.beats
        time.sleep(1.0)
    assert 1 <= at_the_limit <= 6, at_the_limit
    assert beat.beats == at_the_limit, "beat past the time limit"

    settings.SNAPSHOT_JOB_TIMEOUT = 60
    with LeaseHeartbeat(job) as beat:
        time.sleep(0.35)
        SnapshotJob.objects.filter(pk=job.pk).update(attempts=2)  # another attempt took it over
        lease = SnapshotJob.objects.get(pk=job.pk).lease_until
        time.sleep(0.5)
        assert SnapshotJob.objects.get(pk=job.pk).lease_until == lease, "renewed a lease that is not ours"
    assert 1 <= beat.beats <= 5


def test_the_sweep_takes_back_a_job_as_soon_as_its_lease_lapsed(page_and_macro, django_capture_on_commit_callbacks):
    _, macro = page_and_macro
    now = timezone.now()
    lapsed = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, attempts=1,
                                        lease_until=now - timedelta(seconds=1))
    alive = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, attempts=1,
                                       lease_until=now + timedelta(seconds=5))
    assert reap_stale_jobs(now) == {"requeued": 1, "failed": 0}
    assert _queued_messages(lapsed) == 1 and _queued_messages(alive) == 0
    # Once per attempt: the next sweep leaves the message it already sent alone ...
    assert reap_stale_jobs(now) == {"requeued": 0, "failed": 0}
    # ... but a second attempt that died too is taken back again.
    SnapshotJob.objects.filter(pk=lapsed.pk).update(attempts=2)
    assert reap_stale_jobs(now) == {"requeued": 1, "failed": 0}
    assert _queued_messages(lapsed) == 2


def test_a_queued_job_lost_with_a_killed_cluster_is_requeued_after_two_leases_when_nothing_waits(page_and_macro, settings):
    _, macro = page_and_macro
    now = timezone.now()
    lost = SnapshotJob.objects.create(macro=macro, trigger="manual", created_at=now - timedelta(seconds=61))
    # A message is waiting in the broker: the job may be behind it, so it is left alone ...
    OrmQ.objects.create(key=settings.Q_CLUSTER["name"], payload="waiting", lock=now - timedelta(seconds=1))
    assert reap_stale_jobs(now) == {"requeued": 0, "failed": 0}
    # ... until nothing waits: then no cluster can still be about to take it from the broker.
    OrmQ.objects.filter(payload="waiting").delete()
    assert reap_stale_jobs(now) == {"requeued": 1, "failed": 0}
    assert _queued_messages(lost) == 1
    young = SnapshotJob.objects.filter(pk=lost.pk)
    young.update(created_at=now - timedelta(seconds=50))
    assert reap_stale_jobs(now)["requeued"] == 0


def test_a_worker_told_to_stop_hands_its_job_back_at_once(page_and_macro, monkeypatch, django_capture_on_commit_callbacks):
    _, macro = page_and_macro
    rows_before_the_stop = []

    def deploy(n):
        if n == 12:  # rows go in a thousand at a time: 1,000 of the 1,200 read are in
            rows_before_the_stop.append(Snapshot.objects.get(macro=macro).rows.count())
            raise WorkerStopping()

    use_source(monkeypatch, CallbackSource([make_issue(n) for n in range(1, 2501)], deploy))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WorkerStopping):
        take(job.pk)
    job.refresh_from_db()
    assert rows_before_the_stop == [1000]
    assert job.status == Status.QUEUED and job.attempts == 0  # a deploy is not the job's fault
    assert job.lease_until is None and job.fetched == 0
    assert not Snapshot.objects.filter(job=job).exists()  # the 1,000 rows written are gone
    assert _queued_messages(job) == 1
    use_source(monkeypatch, StaticSource([make_issue(n) for n in range(1, 2501)]))
    snapshot = take(job.pk)
    assert snapshot is not None and snapshot.issue_count == 2500
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and job.attempts == 1


def test_a_job_handed_back_while_another_is_queued_stays_running_with_a_lapsed_lease(page_and_macro, monkeypatch, django_capture_on_commit_callbacks):
    _, macro = page_and_macro

    def deploy(n):
        request_snapshot(macro, SnapshotJob.Trigger.MANUAL)  # someone asks again meanwhile
        raise WorkerStopping()

    use_source(monkeypatch, CallbackSource([make_issue(1)], deploy))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WorkerStopping):
        take(job.pk)
    job.refresh_from_db()
    assert job.status == Status.RUNNING and job.attempts == 0 and job.lease_until < timezone.now()
    assert _queued_messages(job) == 1
    use_source(monkeypatch, StaticSource([make_issue(1)]))
    assert take(job.pk) is not None


def test_the_sweep_settles_at_most_a_batch_at_a_time(page_and_macro, monkeypatch, settings):
    _, macro = page_and_macro
    monkeypatch.setattr("macros.snapshots.REAP_BATCH", 1)
    lapsed = timezone.now() - timedelta(seconds=1)
    jobs = [
        SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, lease_until=lapsed,
                                   attempts=settings.Q_CLUSTER["max_attempts"])
        for _ in range(2)
    ]
    assert reap_stale_jobs() == {"requeued": 0, "failed": 1}
    assert sorted(SnapshotJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == [Status.FAILED, Status.RUNNING]
    assert reap_stale_jobs() == {"requeued": 0, "failed": 1}
    assert set(SnapshotJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {Status.FAILED}


def test_a_failure_after_the_sweep_failed_the_job_leaves_the_sweeps_verdict(page_and_macro, monkeypatch, settings):
    # The worker stalled past its lease on the job's last attempt; the sweep failed the job
    # with its reason; then the source failed too: the job keeps the sweep's verdict.
    _, macro = page_and_macro
    last = settings.Q_CLUSTER["max_attempts"]
    job = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, attempts=last - 1,
                                     lease_until=timezone.now() - timedelta(seconds=1))

    sweeps = []

    def stall_then_fail(n):
        SnapshotJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        sweeps.append(reap_stale_jobs())
        raise SourceError("Jira was unavailable (HTTP 503).")

    use_source(monkeypatch, CallbackSource([make_issue(1)], stall_then_fail))
    assert take(job.pk) is None
    job.refresh_from_db()
    assert sweeps == [{"requeued": 0, "failed": 1}]
    assert job.status == Status.FAILED and job.attempts == last
    assert job.error.startswith("The worker taking this snapshot stopped before it finished")


def test_a_broker_that_cannot_tell_its_queue_size_counts_as_messages_waiting(page_and_macro, monkeypatch, caplog):
    class BrokerDown:
        def queue_size(self):
            raise ConnectionError("the broker is down")

    _, macro = page_and_macro
    now = timezone.now()
    # Queued for longer than two leases: lost if nothing waited in the broker (see above).
    queued = SnapshotJob.objects.create(macro=macro, trigger="manual", created_at=now - timedelta(seconds=61))
    monkeypatch.setattr("django_q.brokers.get_broker", lambda *args, **kwargs: BrokerDown())

    with caplog.at_level("WARNING", logger="macros.snapshots"):
        assert reap_stale_jobs(now) == {"requeued": 0, "failed": 0}

    assert _queued_messages(queued) == 0
    [record] = [r for r in caplog.records if r.name == "macros.snapshots"]
    assert record.getMessage() == "sweep: could not read the broker's queue size"
    assert isinstance(record.exc_info[1], ConnectionError)


def test_each_renewal_counts_a_beat_and_pushes_the_lease_on(page_and_macro, settings):
    _, macro = page_and_macro
    then = timezone.now()
    job = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, attempts=1, lease_until=then)
    beat = LeaseHeartbeat(job)  # not started: beats by hand

    assert beat.renew() and beat.renew()

    assert beat.beats == 2
    assert SnapshotJob.objects.get(pk=job.pk).lease_until >= then + timedelta(seconds=settings.SNAPSHOT_LEASE_SECONDS)
