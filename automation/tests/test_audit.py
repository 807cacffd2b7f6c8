"""The audit trail: every enable, regenerate, disable, accepted and refused call."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from automation import audit, calls, globalkeys, service
from automation.models import AutomationEvent, MacroAutomation
from automation.tests.conftest import trigger
from conftest import PASSWORD
from macros.models import Macro

pytestmark = pytest.mark.django_db
Kind = AutomationEvent.Kind
WRONG = "snap_aaaaaaaaaaaa_" + "a" * 43


def test_the_key_lifecycle_is_recorded_with_who_and_how(client, page_and_macro, people):
    page, macro = page_and_macro
    client.login(username="editor", password=PASSWORD)
    url = f"/pages/{page.pk}/macros/{macro.public_id}/configure/automation/"
    client.post(url, {"enabled": "on"})
    client.post(url, {"action": "regenerate"})
    client.post(url, {"action": "save"})

    events = list(AutomationEvent.objects.order_by("pk"))

    assert [e.kind for e in events] == [Kind.ENABLED, Kind.REGENERATED, Kind.DISABLED]
    assert {e.actor for e in events} == {people["editor"]}
    assert {e.via for e in events} == {"screen"}
    assert {e.macro for e in events} == {macro}
    assert {e.page for e in events} == {page}
    enabled, regenerated, disabled = events
    assert regenerated.reason == f"replaces {enabled.key_lookup}"
    assert disabled.key_lookup == regenerated.key_lookup
    assert all(len(e.key_lookup) == 12 for e in events)


def test_accepted_calls_are_counted_per_job_key_and_address(client, automated):
    first = trigger(client, automated, automated.key, REMOTE_ADDR="192.0.2.10").json()
    trigger(client, automated, automated.key, REMOTE_ADDR="192.0.2.11")
    trigger(client, automated, automated.key, REMOTE_ADDR="192.0.2.11")

    rows = list(AutomationEvent.objects.filter(kind=Kind.TRIGGERED).order_by("pk"))

    assert [(r.client_address, str(r.job_id), r.reason, r.count) for r in rows] == [
        ("192.0.2.10", first["job"], "queued", 1),
        ("192.0.2.11", first["job"], "coalesced", 2),
    ]
    assert {(r.key_kind, r.key_lookup, r.macro, r.page, r.via) for r in rows} == {
        ("macro", automated.key[5:17], automated.macro, automated.page, "api")
    }
    assert rows[1].last_seen_at > rows[1].created_at


def test_a_new_job_starts_a_new_row(client, automated):
    from macros.models import SnapshotJob

    first = trigger(client, automated, automated.key).json()
    SnapshotJob.objects.filter(pk=first["job"]).update(status="succeeded")
    second = trigger(client, automated, automated.key).json()

    rows = AutomationEvent.objects.filter(kind=Kind.TRIGGERED).order_by("pk")
    assert [(str(r.job_id), r.reason, r.count) for r in rows] == [(first["job"], "queued", 1), (second["job"], "queued", 1)]


def test_refused_calls_are_counted_in_one_row_per_address_reason_and_minute(client, automated, settings, monkeypatch):
    settings.AUTOMATION_REFUSED_THROTTLE = None
    # One fixed moment: on a slow machine the 56 calls may otherwise straddle a minute.
    moment = timezone.now().replace(second=30)
    monkeypatch.setattr(audit.timezone, "now", lambda: moment)
    for _ in range(50):
        trigger(client, automated, WRONG)
    for _ in range(5):
        trigger(client, automated, None)
    trigger(client, automated, WRONG, REMOTE_ADDR="192.0.2.99")

    rows = {(r.client_address, r.reason): r for r in AutomationEvent.objects.refused()}

    assert len(rows) == 3
    assert rows["127.0.0.1", "invalid_api_key"].count == 50
    assert rows["127.0.0.1", "missing_api_key"].count == 5
    assert rows["192.0.2.99", "invalid_api_key"].count == 1
    assert rows["127.0.0.1", "invalid_api_key"].macro == automated.macro
    assert rows["127.0.0.1", "invalid_api_key"].page == automated.page
    assert rows["127.0.0.1", "invalid_api_key"].last_seen_at >= rows["127.0.0.1", "invalid_api_key"].created_at


def test_a_flood_of_random_macro_ids_adds_one_row_a_minute(client, settings, monkeypatch):
    import uuid

    settings.AUTOMATION_REFUSED_THROTTLE = None
    # One fixed moment: a real clock may cross a minute boundary mid-flood.
    moment = datetime(2025, 1, 1, 9, 0, 30, tzinfo=UTC)
    monkeypatch.setattr(audit.timezone, "now", lambda: moment)
    for _ in range(30):
        client.post(f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots")

    row = AutomationEvent.objects.refused().get()
    assert (row.reason, row.count, row.macro) == ("not_found", 30, None)


def test_a_new_minute_starts_a_new_row(monkeypatch, automated):
    moments = iter([datetime(2025, 1, 1, 9, 0, 10, tzinfo=UTC), datetime(2025, 1, 1, 9, 0, 50, tzinfo=UTC), datetime(2025, 1, 1, 9, 1, 5, tzinfo=UTC)])
    monkeypatch.setattr(audit.timezone, "now", lambda: next(moments))
    for _ in range(3):
        audit.record_refusal("invalid_api_key", address="192.0.2.1", macro_id=automated.macro.pk, page_id=automated.page.pk)

    assert sorted(AutomationEvent.objects.refused().values_list("count", flat=True)) == [1, 2]


def test_every_refusal_code_is_recorded(client, automated, settings, fresh_minute):
    from macros.models import SiteSettings

    settings.AUTOMATION_THROTTLE = "1/min"
    client.get(automated.path)
    client.post(automated.path, data=b"x" * (1024 * 1024 + 1), content_type="text/plain")
    trigger(client, automated, automated.key)
    trigger(client, automated, automated.key)
    SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": False})
    trigger(client, automated, automated.key)

    assert set(AutomationEvent.objects.refused().values_list("reason", flat=True)) == {
        "method_not_allowed", "payload_too_large", "throttled", "site_automation_disabled",
    }


def test_recording_an_accepted_call_is_one_write(client, automated, django_assert_max_num_queries):
    trigger(client, automated, automated.key)  # the job exists: the next call coalesces
    # key+macro+page+automation+site switch, guard (cache), key throttle (cache get and
    # set: up to 4 on the database cache), queued job, audit insert, last called.
    with django_assert_max_num_queries(10) as captured:
        assert trigger(client, automated, automated.key).json()["coalesced"] is True
    writes = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    automation_writes = [sql for sql in writes if "snapshots_cache" not in sql]
    assert len(automation_writes) == 1, automation_writes
    assert "automation_automationevent" in automation_writes[0]


def test_the_hot_path_without_throttles_is_two_queries(client, automated, settings, django_assert_num_queries):
    settings.AUTOMATION_THROTTLE = None
    settings.AUTOMATION_REFUSED_THROTTLE = None
    trigger(client, automated, automated.key)

    with django_assert_num_queries(2):  # key + macro + automation + switch + queued job; audit insert
        assert trigger(client, automated, automated.key).json()["coalesced"] is True


@pytest.fixture
def global_key(people) -> str:
    return globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN).raw


@pytest.fixture
def batched(settings, monkeypatch):
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 60
    # A counter of the test's own, built here: the process's one was built at import, so a
    # mistake in building one would show in no test (mutmut forks its children after that).
    monkeypatch.setattr(calls, "call_counts", calls.CallCounts())
    yield settings
    calls.call_counts.flush()


def test_a_coalesced_call_as_shipped_is_one_query(client, automated, batched, django_assert_num_queries):
    # Settings as shipped: the per-key limit and the refused-attempts guard are on.
    assert batched.AUTOMATION_THROTTLE and batched.AUTOMATION_REFUSED_THROTTLE
    trigger(client, automated, automated.key)  # queues the job: written at once
    trigger(client, automated, automated.key)  # takes this process's lease of the key's calls

    with django_assert_num_queries(1):  # the lookup: key, macro, automation, site switch, queued job
        assert trigger(client, automated, automated.key).json()["coalesced"] is True


def test_batched_calls_are_all_counted_when_the_batch_is_written(client, automated, batched, global_key):
    for _ in range(4):
        trigger(client, automated, automated.key)
    trigger(client, automated, automated.key, REMOTE_ADDR="203.0.113.9")
    trigger(client, automated, global_key)  # the same job, another key: a row of its own
    assert _counted() == {("macro", "127.0.0.1", "queued"): 1}

    calls.call_counts.flush()

    assert _counted() == {
        ("macro", "127.0.0.1", "queued"): 4,
        ("macro", "203.0.113.9", "coalesced"): 1,
        ("global", "127.0.0.1", "coalesced"): 1,
    }
    assert service.automation_of(automated.macro).last_called_at is not None


@pytest.mark.django_db(transaction=True)  # written when the call's own transaction, if any, commits
def test_a_full_batch_is_written_without_waiting(client, automated, batched, monkeypatch):
    monkeypatch.setattr(calls.CallCounts, "FLUSH_AT", 3)
    for _ in range(4):  # one that queues, three that join: a full batch
        trigger(client, automated, automated.key)

    assert _counted() == {("macro", "127.0.0.1", "queued"): 4}


def test_a_batch_the_database_refuses_is_kept_for_the_next_one(client, automated, batched, monkeypatch):
    trigger(client, automated, automated.key)
    trigger(client, automated, automated.key)
    real = audit.record_trigger_batch
    monkeypatch.setattr(audit, "record_trigger_batch", lambda *a: (_ for _ in ()).throw(OperationalError("gone")))
    calls.call_counts.flush()
    monkeypatch.setattr(audit, "record_trigger_batch", real)

    calls.call_counts.flush()

    assert _counted() == {("macro", "127.0.0.1", "queued"): 2}


def _counted() -> dict:
    rows = AutomationEvent.objects.filter(kind=Kind.TRIGGERED)
    return {(r.key_kind, r.client_address, r.reason): r.count for r in rows}


def test_last_called_is_written_at_most_once_a_minute(client, automated):
    trigger(client, automated, automated.key)
    automation = service.automation_of(automated.macro)
    automation.refresh_from_db()
    first = automation.last_called_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)

    trigger(client, automated, automated.key)
    automation.refresh_from_db()
    assert automation.last_called_at == first


@pytest.mark.parametrize(("ago", "rewritten"), [(30, False), (90, True)])
def test_last_called_is_rewritten_once_it_is_a_minute_old(client, automated, ago, rewritten):
    # The lookup reads "last called" as seconds in SQL (EXTRACT on PostgreSQL, julianday on
    # SQLite): half a minute ago is too recent, a minute and a half ago is not.
    trigger(client, automated, automated.key)
    earlier = timezone.now() - timedelta(seconds=ago)
    MacroAutomation.objects.filter(macro=automated.macro).update(last_called_at=earlier)

    assert trigger(client, automated, automated.key).status_code == 202

    now_written = MacroAutomation.objects.get(macro=automated.macro).last_called_at
    if rewritten:
        assert timezone.now() - now_written < timedelta(seconds=5)
    else:
        assert now_written == earlier


def test_admins_see_the_audit_log_read_only_with_filters_and_search(client, automated, people):
    trigger(client, automated, automated.key)
    trigger(client, automated, WRONG)
    client.login(username="site_admin", password=PASSWORD)

    listing = client.get("/admin/automation/automationevent/")
    filtered = client.get("/admin/automation/automationevent/", {"kind__exact": "refused"})
    searched = client.get("/admin/automation/automationevent/", {"q": str(automated.macro.public_id)})
    event = AutomationEvent.objects.get(kind=Kind.TRIGGERED)
    detail = client.get(f"/admin/automation/automationevent/{event.pk}/change/")

    assert listing.status_code == filtered.status_code == searched.status_code == detail.status_code == 200
    assert "Snapshot triggered" in listing.content.decode()
    assert {e.kind for e in filtered.context["cl"].result_list} == {Kind.REFUSED}
    assert searched.context["cl"].result_count == AutomationEvent.objects.filter(macro=automated.macro).count()
    assert client.get("/admin/automation/automationevent/add/").status_code == 403
    assert client.post(f"/admin/automation/automationevent/{event.pk}/change/", {"reason": "x"}).status_code == 403
    assert client.post(f"/admin/automation/automationevent/{event.pk}/delete/").status_code == 403
    assert 'name="_save"' not in detail.content.decode()


def test_editors_cannot_open_the_audit_log(client, people):
    client.login(username="editor", password=PASSWORD)

    assert client.get("/admin/automation/automationevent/").status_code == 302


def test_two_rows_for_one_call_site_never_count_a_call_twice(client, automated):
    first = trigger(client, automated, automated.key).json()
    # What two processes starting the same row at once leave behind.
    AutomationEvent.objects.create(kind=Kind.TRIGGERED, via="api", macro=automated.macro, key_kind="macro",
                                   key_lookup=automated.key[5:17], client_address="127.0.0.1", job_id=first["job"], reason="coalesced")

    trigger(client, automated, automated.key)

    assert sum(AutomationEvent.objects.filter(kind=Kind.TRIGGERED).values_list("count", flat=True)) == 3


def test_counted_calls_of_a_page_deleted_meanwhile_are_dropped_and_the_others_written(client, automated, batched, space, people):
    from automation.tests.conftest import enable_and_publish
    from conftest import publish_page_with_macro

    other_page, other_macro = publish_page_with_macro(space, people["editor"], title="Other")
    other = enable_and_publish(other_page, other_macro, people["editor"])
    for target in (automated, automated, other, other):
        trigger(client, target, target.key)
    other_page.delete()

    calls.call_counts.flush()
    calls.call_counts.flush()

    assert _counted() == {("macro", "127.0.0.1", "queued"): 2}
    assert calls.call_counts._pending == 0



def test_the_lookup_is_planned_once_per_connection_on_postgresql(client, automated, batched):
    # Django opens psycopg connections with preparation off; the trigger's lookup turns it
    # back on for itself only (planning it cost the server ten times running it).
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans statements; SQLite's are compiled in the process")

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    assert trigger(client, automated, automated.key).json()["coalesced"] is False  # queues the job
    for _ in range(3):
        assert trigger(client, automated, automated.key).json()["coalesced"] is True
    for _ in range(10):  # more than psycopg's usual threshold for preparing on its own
        assert Macro.objects.filter(pk=automated.macro.pk).exists()

    statements = prepared()
    assert len(statements) == 1, statements
    assert "automation_macrokey" in statements[0] and "macros_snapshotjob" in statements[0]


@pytest.mark.django_db(transaction=True)
def test_a_lookup_on_a_connection_the_server_ended_runs_again_on_a_new_one(client, automated, batched):
    """The lookup keeps its cursor with its connection: a connection PostgreSQL ended (a
    restart, a failover) is replaced, and the lookup prepared again on the new one."""
    if connection.vendor != "postgresql":
        pytest.skip("the kept cursor and prepared lookup are PostgreSQL's")
    import psycopg

    assert trigger(client, automated, automated.key).json()["coalesced"] is False
    assert trigger(client, automated, automated.key).json()["coalesced"] is True
    ended = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended])

    answer = trigger(client, automated, automated.key)

    assert answer.status_code == 202 and answer.json()["coalesced"] is True
    assert connection.connection.info.backend_pid != ended
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 1


def test_prepared_statements_can_be_turned_off_for_a_pooler(client, automated, batched, settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the setting turns off PostgreSQL's prepared statements; SQLite has none to turn off")
    settings.DATABASE_PREPARED_STATEMENTS = False

    def refuse(*args):
        raise AssertionError("prepared although DATABASE_PREPARED_STATEMENTS is off")

    monkeypatch.setattr(calls, "_fetch_one_prepared", refuse)
    for expected in (False, True, True):
        assert trigger(client, automated, automated.key).json()["coalesced"] is expected
