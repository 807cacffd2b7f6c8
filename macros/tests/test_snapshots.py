import gc

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import StaticSource, make_issue, use_source
from macros import snapshots
from macros.models import PageVersion, Snapshot, SnapshotJob, SnapshotRow
from macros.snapshots import request_snapshot, take
from macros.sources import JqlError, SourceError

Status = SnapshotJob.Status


def _take(macro, user=None) -> SnapshotJob:
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=user)
    take(job.pk)
    job.refresh_from_db()
    return job


def test_it_stores_the_snapshot_rows_and_a_page_version(page_and_macro, people, static_source):
    page, macro = page_and_macro
    versions_before = page.versions.count()
    job = _take(macro, people["editor"])
    assert job.status == Status.SUCCEEDED
    snapshot = job.snapshot
    assert snapshot.complete and snapshot.issue_count == 7
    assert list(snapshot.rows.values_list("issue_key", flat=True)) == [f"WEB-{n}" for n in range(1, 8)]
    assert snapshot.rows.first().data["fields"]["summary"] == "Issue number 1"
    assert snapshot.columns == [[{"id": "key", "name": "Key"}, {"id": "summary", "name": "Summary"}, {"id": "status", "name": "Status"}]]
    assert snapshot.actor == "editor"
    assert snapshot.counts["status_categories"] == {"To Do": 7}
    version = page.versions.order_by("-number").first()
    assert page.versions.count() == versions_before + 1
    assert version.kind == PageVersion.Kind.SNAPSHOT and version.snapshot == snapshot
    page.refresh_from_db()
    assert page.current_version == version


def test_the_person_who_asked_is_read_with_the_job_not_by_a_query_of_its_own(page_and_macro, people, static_source):
    _, macro = page_and_macro
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    users = connection.ops.quote_name(get_user_model()._meta.db_table)

    with CaptureQueriesContext(connection) as queries:
        snapshot = take(job.pk)

    assert snapshot.taken_by == people["editor"]
    assert [q["sql"] for q in queries if f"FROM {users}" in q["sql"]] == []


def test_a_snapshot_holds_up_to_the_limit_exactly_and_fails_one_issue_past_it(page_and_macro, monkeypatch):
    _, macro = page_and_macro
    monkeypatch.setattr(snapshots, "MAX_ISSUES", 1000)
    use_source(monkeypatch, StaticSource([make_issue(n) for n in range(1, 1001)], page_size=300))
    at_the_limit = _take(macro)
    use_source(monkeypatch, StaticSource([make_issue(n) for n in range(1, 1002)], page_size=300))
    past_it = _take(macro)

    assert at_the_limit.status == Status.SUCCEEDED and at_the_limit.snapshot.issue_count == 1000
    assert past_it.status == Status.FAILED
    assert past_it.error == "This snapshot would hold more than 1,000 issues; narrow the query."
    assert not Snapshot.objects.filter(job=past_it).exists()


def test_it_pages_through_the_source_and_reports_progress(page_and_macro, monkeypatch):
    _page, macro = page_and_macro
    source = StaticSource([make_issue(n) for n in range(1, 251)])
    use_source(monkeypatch, source)
    job = _take(macro)
    assert job.status == Status.SUCCEEDED
    assert job.fetched == 250 and job.expected == 250
    assert job.snapshot.rows.count() == 250


def test_a_failed_search_keeps_the_previous_snapshot_and_stores_nothing_partial(page_and_macro, monkeypatch, static_source):
    _page, macro = page_and_macro
    first = _take(macro).snapshot
    failing = StaticSource([make_issue(n) for n in range(1, 300)], fail_after=2)
    use_source(monkeypatch, failing)
    job = _take(macro)
    assert job.status == Status.FAILED
    assert job.error == "Jira was unavailable (HTTP 503)."
    assert macro.latest_snapshot() == first
    assert Snapshot.objects.filter(macro=macro).count() == 1
    assert SnapshotRow.objects.filter(snapshot__macro=macro).count() == 7


class _CollectorWatchingSource(StaticSource):
    """Notes what the garbage collector is told while each page is read."""

    def search_pages(self, jql, fields, *, page_size=100):
        self.seen_while_reading = []
        for page in super().search_pages(jql, fields, page_size=page_size):
            self.seen_while_reading.append((gc.get_freeze_count(), gc.get_threshold()))
            yield page


@pytest.mark.parametrize("fail_after", [None, 1])
def test_the_collector_is_eased_only_while_a_snapshot_is_taken(page_and_macro, monkeypatch, fail_after):
    _page, macro = page_and_macro
    source = _CollectorWatchingSource([make_issue(n) for n in range(1, 251)], fail_after=fail_after)
    use_source(monkeypatch, source)
    young, middle, full = before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    job = _take(macro)
    assert job.status == (Status.SUCCEEDED if fail_after is None else Status.FAILED)
    assert len(source.seen_while_reading) == (3 if fail_after is None else 1)
    for frozen, thresholds in source.seen_while_reading:
        assert frozen > 10_000, "what the process held before is left out of full passes"
        assert thresholds == (young, middle, full * 10), "full passes ten times less often"
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before, "handed back, whatever the outcome"


def test_the_collector_is_handed_back_when_the_last_of_two_snapshots_ends():
    collector = snapshots._EasedCollector()
    before = gc.get_threshold()
    first, second = collector.easing(), collector.easing()
    first.__enter__()
    second.__enter__()
    eased = gc.get_threshold()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == eased and gc.get_freeze_count() > 0, "the second snapshot still runs"
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_bad_jql_fails_the_job_with_the_sources_words(space, people, static_source):
    from conftest import publish_page_with_macro

    _, macro = publish_page_with_macro(space, people["editor"], jql="project = BAD")
    job = _take(macro)
    assert job.status == Status.FAILED
    assert job.error == "Error in the JQL Query: Expecting operator but got 'BAD'."


def test_a_redelivered_job_makes_one_snapshot(page_and_macro, static_source):
    _, macro = page_and_macro
    job = _take(macro)
    assert take(job.pk) is None  # the broker delivers it again
    assert Snapshot.objects.filter(macro=macro).count() == 1
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and job.attempts == 1


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(page_and_macro, static_source):
    from datetime import timedelta

    from django.utils import timezone

    _, macro = page_and_macro
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    # The first worker claimed it, wrote a page of rows, and was killed.
    SnapshotJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, attempts=1, lease_until=timezone.now() + timedelta(minutes=5))
    dead = Snapshot.objects.create(macro=macro, job=job, source="static", actor="x")
    SnapshotRow.objects.create(snapshot=dead, position=1, issue_key="WEB-1", data={})
    assert take(job.pk) is None, "a live lease must not be taken over"
    SnapshotJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    snapshot = take(job.pk)
    assert snapshot is not None and snapshot.issue_count == 7
    assert Snapshot.objects.filter(macro=macro).count() == 1
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and job.attempts == 2


def test_further_requests_join_the_queued_job(page_and_macro, people):
    _, macro = page_and_macro
    first, coalesced = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    second, coalesced_again = request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION, key_lookup="abc")
    assert (coalesced, coalesced_again) == (False, True)
    assert second.pk == first.pk
    assert SnapshotJob.objects.filter(macro=macro).count() == 1


def test_a_running_job_does_not_absorb_new_requests(page_and_macro):
    _, macro = page_and_macro
    first, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    SnapshotJob.objects.filter(pk=first.pk).update(status=Status.RUNNING)
    second, coalesced = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    assert not coalesced and second.pk != first.pk


def test_the_database_refuses_a_second_queued_job(page_and_macro):
    from django.db import IntegrityError, transaction

    _, macro = page_and_macro
    SnapshotJob.objects.create(macro=macro, trigger=SnapshotJob.Trigger.MANUAL)
    with pytest.raises(IntegrityError), transaction.atomic():
        SnapshotJob.objects.create(macro=macro, trigger=SnapshotJob.Trigger.MANUAL)


def test_multi_level_macros_run_once_per_parent_with_key_replaced(space, people, monkeypatch):
    from conftest import publish_page_with_macro

    parents = [make_issue(1, issuetype={"name": "Epic"}), make_issue(2, issuetype={"name": "Epic"})]
    children = {
        "parent = WEB-1": [make_issue(11), make_issue(12, status="Done", category="done")],
        "parent = WEB-2": [make_issue(21)],
    }
    source = StaticSource(by_jql={"issuetype = Epic": parents, **children})
    use_source(monkeypatch, source)
    _page, macro = publish_page_with_macro(space, people["editor"], jql="issuetype = Epic")
    macro.levels = [*macro.levels, {"jql": "parent = $key", "fields": ["key", "summary"]}]
    macro.save()
    job = _take(macro)
    assert job.status == Status.SUCCEEDED
    assert source.calls == ["issuetype = Epic", "parent = WEB-1", "parent = WEB-2"]
    rows = list(job.snapshot.rows.values_list("issue_key", "level", "parent_position"))
    assert rows == [("WEB-1", 1, None), ("WEB-2", 1, None), ("WEB-11", 2, 1), ("WEB-12", 2, 1), ("WEB-21", 2, 2)]
    assert job.snapshot.issue_count == 2 and job.snapshot.counts["levels"] == [2, 3]


def test_a_bad_lower_level_names_the_level(space, people, monkeypatch):
    from conftest import publish_page_with_macro

    source = StaticSource(by_jql={"issuetype = Epic": [make_issue(1)]})
    use_source(monkeypatch, source)
    _, macro = publish_page_with_macro(space, people["editor"], jql="issuetype = Epic")
    macro.levels = [*macro.levels, {"jql": "BAD = $key", "fields": ["key"]}]
    macro.save()
    job = _take(macro)
    assert job.status == Status.FAILED
    assert job.error.startswith("Level 2: Error in the JQL Query")
    assert not Snapshot.objects.filter(macro=macro).exists()


def test_it_refuses_a_different_jira_site_until_an_admin_confirms(page_and_macro, monkeypatch):
    from macros.models import SiteSettings

    _, macro = page_and_macro
    source = StaticSource([make_issue(1)])
    source.site_url = "https://new.atlassian.net"
    use_source(monkeypatch, source)
    SiteSettings.objects.update_or_create(pk=1, defaults={"jira_site_url": "https://old.atlassian.net"})
    job = _take(macro)
    assert job.status == Status.FAILED
    assert "came from https://old.atlassian.net" in job.error and "Same site, new URL" in job.error


def test_it_remembers_the_first_jira_site(page_and_macro, monkeypatch):
    from macros.models import SiteSettings

    _, macro = page_and_macro
    source = StaticSource([make_issue(1)])
    source.site_url = "https://acme.atlassian.net"
    use_source(monkeypatch, source)
    assert _take(macro).status == Status.SUCCEEDED
    assert SiteSettings.load().jira_site_url == "https://acme.atlassian.net"


def test_an_unexpected_error_fails_the_job_without_leaking_details(page_and_macro, monkeypatch):
    _, macro = page_and_macro
    source = StaticSource([make_issue(1)], fail_after=0, failure=RuntimeError("secret internals"))
    use_source(monkeypatch, source)
    job = _take(macro)
    assert job.status == Status.FAILED
    assert "internal error" in job.error and "secret" not in job.error


def test_jql_error_is_a_source_error():
    assert issubclass(JqlError, SourceError)
    assert str(JqlError(["a.", "b."])) == "a. b."


def test_the_sweep_fails_runs_nobody_will_retry_and_requeues_lost_queued_jobs(page_and_macro, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import OrmQ

    from macros.snapshots import reap_stale_jobs

    _, macro = page_and_macro
    long_ago = timezone.now() - timedelta(hours=5)
    dead = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, lease_until=long_ago, attempts=3)
    lost = SnapshotJob.objects.create(macro=macro, trigger="manual", created_at=long_ago)
    fresh_running = SnapshotJob.objects.create(macro=macro, trigger="manual", status=Status.RUNNING, lease_until=timezone.now() + timedelta(minutes=1))
    queued_before = OrmQ.objects.count()
    assert reap_stale_jobs() == {"requeued": 1, "failed": 1}
    dead.refresh_from_db()
    fresh_running.refresh_from_db()
    assert dead.status == Status.FAILED and "worker taking this snapshot stopped" in dead.error
    assert fresh_running.status == Status.RUNNING
    assert OrmQ.objects.count() == queued_before + 1
    assert SnapshotJob.objects.get(pk=lost.pk).status == Status.QUEUED


def test_a_lost_database_leaves_the_job_for_a_retry_instead_of_failing_it(page_and_macro, monkeypatch):
    from django.db import OperationalError

    _, macro = page_and_macro
    use_source(monkeypatch, StaticSource([make_issue(1)], fail_after=0, failure=OperationalError("server closed the connection")))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    with pytest.raises(OperationalError):
        take(job.pk)
    job.refresh_from_db()
    assert job.status == Status.RUNNING and job.error == ""


def test_a_job_out_of_attempts_is_not_taken_over_again(page_and_macro, static_source, settings):
    from datetime import timedelta

    from django.utils import timezone

    _, macro = page_and_macro
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    SnapshotJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, attempts=settings.Q_CLUSTER["max_attempts"], lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert take(job.pk) is None
    job.refresh_from_db()
    assert job.status == Status.RUNNING and job.attempts == settings.Q_CLUSTER["max_attempts"]
