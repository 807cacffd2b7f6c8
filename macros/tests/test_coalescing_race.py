"""The lost insert race of coalescing, forced: the loser joins the winner's job.

Two processes both read "no job queued" and both insert; the database's partial unique
index lets one insert through. Concurrent calls rarely interleave that way, so the race is
made to happen: the "already queued?" read is made to miss while another caller's job is
in fact queued (as if it were inserted between our read and our insert).
"""

from __future__ import annotations

import pytest
from django.db.models.query import QuerySet

from macros.models import SnapshotJob
from macros.snapshots import request_snapshot

Status = SnapshotJob.Status


def _miss_the_queued_read(monkeypatch, times: int, before_each_miss=None) -> list[int]:
    """Make the next ``times`` reads of queued SnapshotJobs find nothing."""
    misses = []
    real_first = QuerySet.first

    def first(self):
        if self.model is SnapshotJob and len(misses) < times:
            misses.append(1)
            if before_each_miss:
                before_each_miss()
            return None
        return real_first(self)

    monkeypatch.setattr(QuerySet, "first", first)
    return misses


def test_the_loser_of_the_insert_race_joins_the_winners_job(page_and_macro, people, monkeypatch, django_capture_on_commit_callbacks):
    _, macro = page_and_macro
    winner = SnapshotJob.objects.create(macro=macro, trigger=SnapshotJob.Trigger.AUTOMATION, key_lookup="winner")
    misses = _miss_the_queued_read(monkeypatch, 1)

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        job, coalesced = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])

    assert misses == [1], "the race was not forced"
    assert coalesced is True
    assert job.pk == winner.pk and job.key_lookup == "winner"
    assert list(SnapshotJob.objects.filter(macro=macro).values_list("pk", flat=True)) == [winner.pk]
    assert enqueued == [], "the loser must not enqueue a message for a job that does not exist"


def test_a_race_lost_again_and_again_gives_up_with_an_error_instead_of_looping(page_and_macro, monkeypatch):
    _, macro = page_and_macro
    SnapshotJob.objects.create(macro=macro, trigger=SnapshotJob.Trigger.AUTOMATION)
    _miss_the_queued_read(monkeypatch, 3)
    with pytest.raises(RuntimeError, match=r"Could not queue or find a queued snapshot job\."):
        request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    assert SnapshotJob.objects.filter(macro=macro).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_race_against_a_job_committed_by_another_connection(page_and_macro, monkeypatch):
    """The winner commits on a connection of its own (another process, in effect) between the
    loser's read and the loser's insert; the loser's insert fails on the index and it joins."""
    import threading

    _, macro = page_and_macro
    winners = []

    def another_process_queues_one():
        def insert():
            winners.append(SnapshotJob.objects.create(macro=macro, trigger=SnapshotJob.Trigger.SCHEDULE))
            from django.db import connection

            connection.close()

        thread = threading.Thread(target=insert)
        thread.start()
        thread.join()

    _miss_the_queued_read(monkeypatch, 1, before_each_miss=another_process_queues_one)
    job, coalesced = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    assert coalesced is True and [job.pk] == [w.pk for w in winners]
    assert job.trigger == SnapshotJob.Trigger.SCHEDULE
    assert SnapshotJob.objects.filter(macro=macro, status=Status.QUEUED).count() == 1
