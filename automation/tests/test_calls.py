"""automation/calls.py read directly: what its lookups answer, the lookup's one retry on a
dropped connection, and the batches of counted calls (``CallCounts``).

The root conftest writes every call at once (``AUTOMATION_COUNT_FLUSH_SECONDS = 0``); the
batch tests here build a ``CallCounts`` of their own with a batch interval.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
import types
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation import audit, calls, globalkeys, keys, service
from automation.models import AutomationEvent, GlobalKey, MacroAutomation, MacroKey
from automation.tests.conftest import enable_and_publish, trigger
from conftest import publish_page_with_macro
from macros import space_switch
from macros.models import Macro, SnapshotJob, Space
from macros.snapshots import request_snapshot

pytestmark = pytest.mark.django_db
CallTarget = calls.CallTarget


def _queue(macro: Macro) -> SnapshotJob:
    job, coalesced = request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION)
    assert not coalesced
    return job


# -- the lookups ------------------------------------------------------------------------


def test_the_macro_key_lookup_answers_the_macro_its_automation_key_and_queued_job(client, automated):
    job_id = uuid.UUID(trigger(client, automated, automated.key).json()["job"])
    automation = MacroAutomation.objects.get(macro=automated.macro)
    key = MacroKey.objects.get(macro=automated.macro, revoked_at__isnull=True)

    call = calls.find_macro_call(automated.macro.public_id, keys.parse(automated.key))

    assert call.site_automation_enabled is True
    assert call.target.last_called == pytest.approx(automation.last_called_at.timestamp(), abs=0.01)
    assert replace(call.target, last_called=None) == CallTarget(
        macro_pk=automated.macro.pk, public_id=automated.macro.public_id, page_id=automated.page.pk, published=True,
        deleted=False, automation_enabled=True, live=True, automation_pk=automation.pk, queued_job_id=job_id,
        space_enabled=True,
    )
    assert call.grant == calls.KeyGrant(pk=key.pk, lookup_id=key.lookup_id, hash=key.hash, target=call.target)


def test_the_global_key_lookup_answers_the_active_key(people):
    issued = globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN)
    row = GlobalKey.objects.get(lookup_id=issued.lookup_id)

    site_on, grant = calls.find_global_key(keys.parse(issued.raw))

    assert site_on is True
    assert grant == calls.GlobalGrant(pk=row.pk, lookup_id=row.lookup_id, hash=row.hash, expires_at=row.expires_at)


def test_a_macro_by_its_id_comes_with_its_own_queued_job_only(page_and_macro, space, people):
    page, macro = page_and_macro
    other_page, other = publish_page_with_macro(space, people["editor"], title="Other")
    job = _queue(macro)

    found = calls.find_macro_with_queued_job(macro.public_id)
    found_other = calls.find_macro_with_queued_job(other.public_id)

    assert found == CallTarget(macro_pk=macro.pk, public_id=macro.public_id, page_id=page.pk, published=True,
                               deleted=False, queued_job_id=job.pk, space_enabled=True)
    assert found_other == CallTarget(macro_pk=other.pk, public_id=other.public_id, page_id=other_page.pk,
                                     published=True, deleted=False, queued_job_id=None, space_enabled=True)


def test_live_targets_carry_each_macros_queued_job_and_its_spaces_switch(space, people):
    page_a, queued = publish_page_with_macro(space, people["editor"], title="A")
    page_b, finished = publish_page_with_macro(space, people["editor"], title="B")
    off = Space.objects.create(key="OFF", name="Switched off")
    page_c, switched_off = publish_page_with_macro(off, people["editor"], title="C")
    space_switch.set_snapshots_enabled(off, False)
    job = _queue(queued)
    SnapshotJob.objects.filter(pk=_queue(finished).pk).update(status=SnapshotJob.Status.SUCCEEDED)

    targets = calls.live_targets([queued, finished, switched_off])

    assert targets == [
        CallTarget(macro_pk=queued.pk, public_id=queued.public_id, page_id=page_a.pk, published=True, deleted=False,
                   queued_job_id=job.pk, space_enabled=True),
        CallTarget(macro_pk=finished.pk, public_id=finished.public_id, page_id=page_b.pk, published=True,
                   deleted=False, queued_job_id=None, space_enabled=True),
        CallTarget(macro_pk=switched_off.pk, public_id=switched_off.public_id, page_id=page_c.pk, published=True,
                   deleted=False, queued_job_id=None, space_enabled=False),
    ]


def test_a_call_targets_macro_reference_names_the_macro_and_its_page(automated):
    target = calls.find_macro_call(automated.macro.public_id, None).target

    reference = target.macro()

    assert (reference.pk, reference.public_id, reference.page_id) == (automated.macro.pk, automated.macro.public_id, automated.page.pk)


def _with_automation(macro: Macro) -> Macro:
    return Macro.objects.select_related("automation").get(pk=macro.pk)


def test_the_target_of_a_macro_with_live_automation(automated):
    called = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    MacroAutomation.objects.filter(macro=automated.macro).update(last_called_at=called)
    automation = MacroAutomation.objects.get(macro=automated.macro)

    assert calls.target_of(_with_automation(automated.macro)) == CallTarget(
        macro_pk=automated.macro.pk, public_id=automated.macro.public_id, page_id=automated.page.pk, published=True,
        deleted=False, automation_enabled=True, live=True, automation_pk=automation.pk, last_called=called.timestamp(),
        space_enabled=True,
    )


def test_the_target_of_a_macro_whose_automation_is_off_pending_or_missing(page_and_macro, space, people):
    _, never = page_and_macro
    _, pending = publish_page_with_macro(space, people["editor"], title="Pending")
    service.enable(pending, people["editor"], via=AutomationEvent.Via.SCREEN)  # live once its page is published again
    _, switched_off = publish_page_with_macro(space, people["editor"], title="Off")
    enable_and_publish(switched_off.page, switched_off, people["editor"])
    service.disable(switched_off, people["editor"], via=AutomationEvent.Via.SCREEN)

    answers = {m: calls.target_of(_with_automation(m)) for m in (never, pending, switched_off)}

    assert {m.pk: (t.automation_enabled, t.live, t.automation_pk, t.last_called) for m, t in answers.items()} == {
        never.pk: (False, False, None, None),
        pending.pk: (True, False, MacroAutomation.objects.get(macro=pending).pk, None),
        switched_off.pk: (False, False, MacroAutomation.objects.get(macro=switched_off).pk, None),
    }
    assert {(t.deleted, t.published, t.space_enabled) for t in answers.values()} == {(False, True, True)}


def test_the_target_of_a_macro_in_a_switched_off_space_says_so_and_no_other(page_and_macro, people):
    _, on = page_and_macro
    off = Space.objects.create(key="OFF", name="Switched off")
    _, in_off = publish_page_with_macro(off, people["editor"], title="Elsewhere")
    space_switch.set_snapshots_enabled(off, False)

    assert calls.target_of(on).space_enabled is True
    assert calls.target_of(in_off).space_enabled is False


def _status(client, job_id, key):
    return client.get(f"/api/automation/v1/jobs/{job_id}", HTTP_JIRA_SNAPSHOTS_API_KEY=key)


def test_the_global_key_reads_a_job_of_a_macro_that_never_had_automation(client, page_and_macro, people):
    _, macro = page_and_macro
    job = _queue(macro)
    global_key = globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN).raw

    response = _status(client, job.pk, global_key)

    assert response.status_code == 200
    assert response.json() == {"job": str(job.pk), "status": "queued", "macro": str(macro.public_id), "snapshot": None,
                               "error": None, "progress": None}


def test_a_macro_key_reads_no_job_status_once_its_space_is_switched_off(client, automated, people):
    off = Space.objects.create(key="OFF", name="Switched off")
    elsewhere = enable_and_publish(*publish_page_with_macro(off, people["editor"], title="Elsewhere"), people["editor"])
    job = _queue(automated.macro)
    job_elsewhere = _queue(elsewhere.macro)
    space_switch.set_snapshots_enabled(off, False)

    refused = _status(client, job_elsewhere.pk, elsewhere.key)
    read = _status(client, job.pk, automated.key)

    assert refused.status_code == 403
    assert refused.json() == {"detail": space_switch.SPACE_OFF_SENTENCE, "code": "macro_automation_disabled"}
    assert read.status_code == 200 and read.json()["status"] == "queued"


def test_find_key_answers_the_presented_key_with_its_own_macro(automated, space, people):
    other = enable_and_publish(*publish_page_with_macro(space, people["editor"], title="Other"), people["editor"])
    key = MacroKey.objects.get(macro=other.macro, revoked_at__isnull=True)

    grant = calls.find_key(keys.parse(other.key))

    assert grant == calls.KeyGrant(pk=key.pk, lookup_id=key.lookup_id, hash=key.hash,
                                   target=calls.target_of(_with_automation(other.macro)))


def test_find_key_reads_the_key_its_macro_and_automation_in_one_query(automated, django_assert_num_queries):
    presented = keys.parse(automated.key)

    with django_assert_num_queries(2):  # the key with its macro and automation; the macro's space switch
        grant = calls.find_key(presented)

    assert grant.target.automation_enabled and grant.target.live


def test_find_key_finds_no_key_of_a_deleted_macro(automated):
    Macro.objects.filter(pk=automated.macro.pk).update(deleted_at=timezone.now())

    assert calls.find_key(keys.parse(automated.key)) is None


def test_the_prepared_lookup_shows_in_the_query_log_like_any_query(automated, settings):
    """DEBUG's query log and assertNumQueries see the prepared lookup, which runs on a cursor
    of its own, with its SQL and how long it took."""
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        pytest.skip("only PostgreSQL's lookup runs as a prepared statement")

    with CaptureQueriesContext(connection) as captured:
        calls.find_macro_call(automated.macro.public_id, keys.parse(automated.key))

    [query] = captured.captured_queries
    assert "automation_macrokey" in query["sql"] and "-- prepared, [UUID(" in query["sql"]
    assert 0 <= float(query["time"]) < 5


def test_times_from_a_raw_cursor_come_back_aware():
    naive = datetime(2026, 1, 2, 3, 4, 5)
    two_hours_east = datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt_timezone(timedelta(hours=2)))

    assert calls._aware(naive) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert calls._aware(two_hours_east) is two_hours_east
    assert calls._aware(None) is None


# -- a dropped connection ---------------------------------------------------------------


def _drop_the_kept_connection():
    """What a database restart does to the connection this thread keeps: its next query fails
    with OperationalError. PostgreSQL: the server ends it. SQLite has no server, so the kept
    connection is swapped for one to an empty database (no such table)."""
    connection.ensure_connection()
    dropped = connection.connection
    if connection.vendor == "postgresql":
        import psycopg

        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [dropped.info.backend_pid])
    else:
        connection.connection = sqlite3.connect(":memory:", check_same_thread=False)
        dropped.close()
    return connection.connection


@pytest.fixture
def direct_lookups(settings):
    # The lookup is then the call's first query: the one a dropped connection fails.
    settings.AUTOMATION_THROTTLE = None
    settings.AUTOMATION_REFUSED_THROTTLE = None


@pytest.mark.django_db(transaction=True)
def test_a_trigger_on_a_dropped_connection_runs_its_lookup_once_more_on_a_new_one(client, automated, direct_lookups):
    assert trigger(client, automated, automated.key).json()["coalesced"] is False
    dropped = _drop_the_kept_connection()

    answer = trigger(client, automated, automated.key)

    assert answer.status_code == 202 and answer.json()["coalesced"] is True
    assert connection.connection is not dropped


@pytest.mark.django_db(transaction=True)
def test_a_lookup_that_fails_on_the_new_connection_too_answers_503(client, automated, direct_lookups):
    _drop_the_kept_connection()
    name = connection.settings_dict["NAME"]
    # The new connection fails as well: the database is not there (yet).
    connection.settings_dict["NAME"] = "/nonexistent/snapshots.sqlite3" if connection.vendor == "sqlite" else "no_such_database"
    try:
        answer = trigger(client, automated, automated.key)
    finally:
        connection.settings_dict["NAME"] = name
        connection.close()

    assert answer.status_code == 503
    assert answer.json()["code"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_a_lookup_inside_a_transaction_is_not_run_again_on_a_new_connection(automated):
    presented = keys.parse(automated.key)
    with pytest.raises(OperationalError), transaction.atomic():
        dropped = _drop_the_kept_connection()
        try:
            calls.find_macro_call(automated.macro.public_id, presented)
        finally:
            assert connection.connection is dropped  # neither closed nor replaced mid-transaction

    assert calls.find_macro_call(automated.macro.public_id, presented).grant is not None


# -- counted calls in batches ------------------------------------------------------------


@pytest.fixture
def counts(settings):
    """A counter of the test's own, batching for a minute (the process's one batches nothing in tests)."""
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 60
    counts = calls.CallCounts()
    yield counts
    counts.flush()
    atexit.unregister(counts.flush)


@pytest.fixture
def target(automated) -> CallTarget:
    """The automated macro as the lookup sees it, with a queued job and never called before."""
    _queue(automated.macro)
    return calls.find_macro_call(automated.macro.public_id, keys.parse(automated.key)).target


def _add(counts: calls.CallCounts, target: CallTarget, address: str = "192.0.2.1", *, now=None, coalesced=True) -> None:
    counts.add(target, key_kind="macro", key_lookup="lookup123456", address=address, job_id=target.queued_job_id,
               coalesced=coalesced, now=now or timezone.now())


def _counted() -> dict:
    return dict(AutomationEvent.objects.filter(kind=AutomationEvent.Kind.TRIGGERED).values_list("client_address", "count"))


def _last_called(target: CallTarget):
    return MacroAutomation.objects.get(pk=target.automation_pk).last_called_at


def _waiting_timers(counts: calls.CallCounts) -> list[threading.Timer]:
    return [t for t in threading.enumerate()
            if isinstance(t, threading.Timer) and t.function == counts._flush_from_timer and not t.finished.is_set()]


def _refuse_once(monkeypatch, module, name: str, before=None) -> None:
    """The database refuses the next write through ``module.name`` (then accepts again)."""
    real = getattr(module, name)

    def refuse(*args):
        monkeypatch.setattr(module, name, real)
        if before is not None:
            before()
        raise OperationalError("the database is away")

    monkeypatch.setattr(module, name, refuse)


@pytest.mark.django_db(transaction=True)  # a batch due is written when the call's transaction commits: here at once
def test_a_batch_waits_for_its_timer_a_daemon_set_to_the_flush_interval(counts, target):
    _add(counts, target)
    _add(counts, target)

    assert _counted() == {}
    assert [(t.interval, t.daemon) for t in _waiting_timers(counts)] == [(60, True)]

    counts.flush()

    assert _counted() == {"192.0.2.1": 2}
    assert _waiting_timers(counts) == []


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_due_exactly_at_the_flush_interval_and_leaves_no_timer(counts, target, monkeypatch):
    clock = types.SimpleNamespace(monotonic=lambda: 1000.0)
    monkeypatch.setattr(calls, "time", clock)
    _add(counts, target)  # starts the batch
    clock.monotonic = lambda: 1059.9
    _add(counts, target)
    assert _counted() == {}

    clock.monotonic = lambda: 1060.0
    _add(counts, target)

    assert _counted() == {"192.0.2.1": 3}
    assert _waiting_timers(counts) == []  # nothing left to write: no thread waits


@pytest.mark.django_db(transaction=True)
def test_the_timer_writes_the_batch_and_tries_again_after_a_refusal(counts, target, settings, monkeypatch):
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 0.2
    _refuse_once(monkeypatch, audit, "record_trigger_batch")
    _add(counts, target)

    deadline = time.monotonic() + 10
    while not _counted() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert _counted() == {"192.0.2.1": 1}
    assert _last_called(target) is not None


def test_a_batch_writes_the_last_called_time_of_each_of_its_macros(counts, target, space, people):
    other = enable_and_publish(*publish_page_with_macro(space, people["editor"], title="Other"), people["editor"])
    _queue(other.macro)
    other_target = calls.find_macro_call(other.macro.public_id, keys.parse(other.key)).target
    now = timezone.now()
    _add(counts, target, now=now)
    _add(counts, other_target, "192.0.2.2", now=now)

    counts.flush()

    assert (_last_called(target), _last_called(other_target)) == (now, now)
    assert _counted() == {"192.0.2.1": 1, "192.0.2.2": 1}


def test_a_refused_batch_is_kept_with_its_last_called_time_and_said_so(counts, target, monkeypatch, caplog):
    now = timezone.now()
    _add(counts, target, now=now)
    _add(counts, target, "192.0.2.2", now=now)
    _refuse_once(monkeypatch, audit, "record_trigger_batch")

    with caplog.at_level(logging.WARNING, logger="automation.calls"):
        counts.flush()

    assert [r.getMessage() for r in caplog.records if r.name == "automation.calls"] == [
        "could not write 2 counted automation calls yet (OperationalError: the database is away); kept for the next batch"
    ]
    assert (_counted(), _last_called(target)) == ({}, None)

    counts.flush()

    assert (_counted(), _last_called(target)) == ({"192.0.2.1": 1, "192.0.2.2": 1}, now)


def test_a_refused_last_called_time_is_written_with_the_next_batch_and_the_calls_once(counts, target, monkeypatch):
    now = timezone.now()
    _add(counts, target, now=now)
    _refuse_once(monkeypatch, calls, "_write_last_called")

    counts.flush()
    assert (_counted(), _last_called(target)) == ({"192.0.2.1": 1}, None)
    counts.flush()

    assert (_counted(), _last_called(target)) == ({"192.0.2.1": 1}, now)


def test_calls_counted_while_a_refused_batch_was_written_are_added_to_it(counts, target, monkeypatch):
    _add(counts, target)
    _add(counts, target)
    _refuse_once(monkeypatch, audit, "record_trigger_batch", before=lambda: _add(counts, target))

    counts.flush()
    counts.flush()

    assert _counted() == {"192.0.2.1": 3}


@pytest.mark.django_db(transaction=True)
def test_a_refused_batch_still_counts_towards_a_full_batch(counts, target, monkeypatch):
    counts.FLUSH_AT = 3
    _add(counts, target, "192.0.2.1")
    _add(counts, target, "192.0.2.2")
    _refuse_once(monkeypatch, audit, "record_trigger_batch")
    counts.flush()
    assert _counted() == {}

    _add(counts, target, "192.0.2.1")  # the third call: a full batch, written at once

    assert _counted() == {"192.0.2.1": 2, "192.0.2.2": 1}


@pytest.mark.django_db(transaction=True)
def test_a_call_never_waits_for_a_batch_another_thread_is_writing(counts, target, monkeypatch):
    writing, release = threading.Event(), threading.Event()
    real = audit.record_trigger_batch

    def slow(batch, now):
        writing.set()
        release.wait(10)
        real(batch, now)

    def write_in_another_thread():
        try:
            counts.flush()
        finally:
            connections.close_all()

    monkeypatch.setattr(audit, "record_trigger_batch", slow)
    _add(counts, target, "192.0.2.1")
    writer = threading.Thread(target=write_in_another_thread)
    writer.start()
    assert writing.wait(10)
    counts.FLUSH_AT = 1  # the next call's batch is due at once
    safety = threading.Timer(3, release.set)  # a call that waited would wait this long
    safety.start()

    started = time.monotonic()
    _add(counts, target, "192.0.2.2")
    took = time.monotonic() - started

    release.set()
    safety.cancel()
    writer.join(10)
    assert took < 1.5
    counts.flush()
    assert _counted() == {"192.0.2.1": 1, "192.0.2.2": 1}


@pytest.mark.parametrize(("ago", "written"), [(59, False), (60, True)])
def test_last_called_is_written_once_it_is_a_minute_old_to_the_second(target, ago, written):
    counts = calls.CallCounts()  # writes each call at once (AUTOMATION_COUNT_FLUSH_SECONDS = 0)
    atexit.unregister(counts.flush)
    now = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)

    _add(counts, replace(target, last_called=(now - timedelta(seconds=ago)).timestamp()), now=now)

    assert _last_called(target) == (now if written else None)
    assert _counted() == {"192.0.2.1": 1}
