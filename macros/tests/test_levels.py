"""Batched and concurrent reading equals the one-search-per-parent, one-page-after-another
answer: rows, order, nesting and positions, against the stand-in Jira on 127.0.0.1
(tests/reliability/standin_jira.py), including 429 storms, a Data Center total that grows
while it is read, and Data Center past its deep-paging limit."""

from __future__ import annotations

import pytest

from conftest import publish_page_with_macro, use_source
from macros.models import SnapshotJob
from macros.snapshots import _fields_to_fetch, request_snapshot, take
from macros.sources import SourceError
from macros.sources import jira as jira_module
from macros.sources.concurrency import LocalLimiter
from macros.sources.jira import JiraCloud, JiraDataCenter
from macros.sources.levels import Children, _reader_for, plan_batches, sequential_rows
from macros.tests.jira_stub import make_issue
from tests.reliability.standin_jira import TOKEN, USER, StandInJira

EPICS = "project = EPICS ORDER BY key ASC"
OPTIONS = {"timeout": (2, 10), "retry_budget_seconds": 30, "max_retries": 20, "backoff_factor": 0.01}


def stand_in(deployment: str, *, parents: int = 0, children=lambda k: 2, **kw) -> StandInJira:
    """A stand-in whose ``EPICS`` has ``parents`` issues (ABC-1 …) with ``children(k)`` sub-tasks each."""
    jira = StandInJira(deployment, **kw)
    jira.behave(EPICS, total=parents)
    for k in range(1, parents + 1):
        kids = []
        for j in range(children(k)):
            child = make_issue(500_000 + k * 1000 + j, cloud=deployment == "cloud", project="SUB")
            child["fields"]["parent"] = {"id": str(10_000 + k - 1), "key": f"ABC-{k}"}
            kids.append(child)
        jira.add_children(f"ABC-{k}", kids)
    return jira


def source_for(jira: StandInJira, limiter=None):
    source_class = JiraCloud if jira.deployment == "cloud" else JiraDataCenter
    return source_class(jira.url, USER, TOKEN, limiter=limiter or LocalLimiter(), **OPTIONS)


@pytest.fixture(params=["cloud", "datacenter"])
def deployment(request) -> str:
    return request.param


@pytest.fixture
def close():
    opened: list[StandInJira] = []
    yield opened.append
    for jira in opened:
        jira.close()


def snapshot_rows(macro, source) -> list[tuple]:
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    rows = job.snapshot.rows.order_by("position").values_list("position", "level", "parent_position", "issue_key", "data")
    return [tuple(row) for row in rows]


def set_levels(macro, *levels) -> list[dict]:
    macro.levels = [{"jql": jql, "fields": fields} for jql, fields in levels]
    macro.save(update_fields=["levels"])
    return macro.levels


def test_a_batched_level_equals_one_search_per_parent(people, space, deployment, monkeypatch, close):
    # 230 parents: three batches; some parents have no children, one has 120 (pages).
    jira = stand_in(deployment, parents=230, children=lambda k: (0, 1, 2, 3)[k % 4] if k != 7 else 120)
    close(jira)
    source = source_for(jira)
    use_source(monkeypatch, source)
    _, macro = publish_page_with_macro(space, people["editor"])
    levels = set_levels(macro, (EPICS, ["key", "summary", "status"]), ("parent = $key", ["key", "summary"]))

    before = jira.calls()
    rows = snapshot_rows(macro, source)
    fast_calls = jira.calls() - before
    before = jira.calls()
    expected = sequential_rows(source, levels, _fields_to_fetch)
    sequential_calls = jira.calls() - before

    assert rows == expected
    assert len(rows) == 230 + sum((0, 1, 2, 3)[k % 4] for k in range(1, 231) if k != 7) + 120
    assert sequential_calls >= 1 + 230
    assert fast_calls <= 16, f"three batched searches instead of 230 ({fast_calls} calls)"
    assert all("parent" not in data["fields"] for *_, data in rows), "the parent is fetched, not kept"


def test_a_level_that_cannot_be_batched_runs_concurrently_and_equals_the_sequential_run(
    people, space, deployment, monkeypatch, close
):
    # linkedIssues($key) takes one key: one search per parent, several at once. The same
    # issue is linked to two parents, so the third level (key = $key, batched) must give it
    # back under each.
    jira = stand_in(deployment, parents=40, latency=0.02)
    close(jira)
    shared = jira.children["ABC-1"][0]
    jira.add_children("ABC-2", [shared])
    source = source_for(jira)
    use_source(monkeypatch, source)
    _, macro = publish_page_with_macro(space, people["editor"])
    levels = set_levels(
        macro,
        (EPICS, ["key", "summary"]),
        ("issue in linkedIssues($key) ORDER BY key", ["key", "summary"]),
        ("key = $key", ["key", "status"]),
    )
    rows = snapshot_rows(macro, source)
    assert jira.peak > 1, "the per-parent searches ran concurrently"
    jira.latency = 0
    assert rows == sequential_rows(source, levels, _fields_to_fetch)
    keys_under = [(level, key) for _, level, _, key, _ in rows if key == shared["key"]]
    assert keys_under == [(2, shared["key"]), (2, shared["key"]), (3, shared["key"]), (3, shared["key"])]


def test_a_429_storm_slows_the_site_down_and_the_answer_stays_the_same(
    people, space, deployment, monkeypatch, close, settings
):
    # The stand-in refuses more than two calls at once; we start at four, up to eight.
    # The snapshot takes longer than a third of the shipped lease: its heartbeat would wait
    # on the test's own open transaction (it holds the job's row), and the job's end on it.
    settings.SNAPSHOT_LEASE_SECONDS = 600
    jira = stand_in(deployment, parents=20, max_concurrent=2, retry_after=1, latency=0.02)
    close(jira)
    jira.behave("project = BIG", total=60)
    limiter = LocalLimiter(start=4, maximum=8)
    source = source_for(jira, limiter)
    use_source(monkeypatch, source)
    _, macro = publish_page_with_macro(space, people["editor"])
    levels = set_levels(macro, ("project = BIG", ["key", "summary"]), ("issue in linkedIssues($key)", ["key"]))
    monkeypatch.setattr("macros.snapshots.MAX_SUBQUERIES", 5000)
    rows = snapshot_rows(macro, source)
    calls, refused = jira.calls(), jira.throttled
    assert refused > 0 and limiter.cuts > 0, "the stand-in answered 429 and the limit was cut"
    # 60 linked-issue searches: without the shared limit, most of
    # the calls of eight threads would be refused.
    print(f"{refused} of {calls} calls refused, {limiter.cuts} cuts")
    assert refused < calls / 5, f"{refused} of {calls} calls were refused"
    jira.latency = 0  # the one-search-at-a-time answer to compare with: no storm in it
    assert rows == sequential_rows(source, levels, _fields_to_fetch)


@pytest.mark.parametrize("grow_at", ["end", "front"])
def test_data_center_total_growing_while_read_gives_the_sequential_answer(grow_at, close):
    # From the second call on, 700 more issues match (after the others, or before them).
    def run(read) -> list[str]:
        jira = StandInJira("datacenter", dc_cap=1000, latency=0.01)
        close(jira)
        jira.behave("project = GROW", total=2_500, grow_after=1, grow_by=700, grow_at=grow_at)
        return [i["key"] for page in read(source_for(jira)) for i in page.issues]

    concurrent = run(lambda source: source.read_pages("project = GROW", ["summary"]))
    sequential = run(lambda source: source.search_pages("project = GROW", ["summary"], page_size=1000))
    assert concurrent == sequential
    assert len(set(concurrent)) == len(concurrent), "no duplicates"
    assert len(concurrent) == (3_200 if grow_at == "end" else 2_500)


def test_cloud_reads_ids_first_then_fields_by_bulkfetch_in_the_query_order(close):
    jira = StandInJira("cloud", latency=0.02)
    close(jira)
    jira.behave("project = BIG", total=12_345)
    source = source_for(jira)
    pages = list(source.read_pages("project = BIG", ["summary", "status"]))
    keys = [i["key"] for page in pages for i in page.issues]
    assert keys == [f"ABC-{n + 1}" for n in range(12_345)], "the query's order, though bulkfetch answers reversed"
    assert set(pages[-1].issues[0]["fields"]) == {"summary", "status"}
    # One page with fields, three pages of 5,000 ids, 123 bulk fetches of 100.
    assert jira.calls() == 1 + 3 + 123 == sum(page.calls for page in pages)
    assert jira.peak > 1
    assert pages[1].expected == 12_345


def test_data_center_past_its_deep_paging_limit_is_read_in_id_blocks(monkeypatch, close):
    monkeypatch.setattr(jira_module, "DC_DEEP_PAGING_LIMIT", 1_000)
    refusing = StandInJira("datacenter", dc_cap=100, deep_limit=1_000)
    willing = StandInJira("datacenter", dc_cap=100)
    close(refusing)
    close(willing)
    for jira in (refusing, willing):
        jira.behave("project = HUGE ORDER BY key", total=3_456)
    blocks = [i["key"] for page in source_for(refusing).read_pages("project = HUGE ORDER BY key", ["summary"]) for i in page.issues]
    reference = [i["key"] for page in source_for(willing).search_pages("project = HUGE ORDER BY key", ["summary"], page_size=100) for i in page.issues]
    assert blocks == reference and len(blocks) == 3_456
    assert refusing.searches("(project = HUGE) AND id > 10999 ORDER BY id ASC") >= 1, "the second block starts after the first"

    refusing.behave("project = HUGE ORDER BY updated DESC", total=3_456)
    with pytest.raises(SourceError) as failure:
        list(source_for(refusing).read_pages("project = HUGE ORDER BY updated DESC", ["summary"]))
    assert "cannot page past" in str(failure.value) and "ORDER BY key" in str(failure.value)


@pytest.mark.parametrize(
    ("template", "batched"),
    [
        ("parent = $key", "parent in (A-1, B-2)"),
        ('project = X AND "parent" = "$key" ORDER BY rank', 'project = X AND "parent" in (A-1, B-2) ORDER BY rank'),
        ("key = $key", "key in (A-1, B-2)"),
        ("issue in ($key) AND status = Done", "issue in (A-1, B-2) AND status = Done"),
        ('"Epic Link" = $key', '"Epic Link" in (A-1, B-2)'),
        ("cf[10014] = $key", "cf[10014] in (A-1, B-2)"),
        ("issue in linkedIssues($key)", None),
        ("parent = $key OR labels = x", None),
        ("project = X AND (parent = $key OR labels = x)", None),
        ("NOT parent = $key", None),
        ("parent != $key", None),
        ("parent = $key AND summary ~ $key", None),
        ("assignee = $key", None),
        ("summary ~ \"$key\"", None),
        ("status = Done ORDER BY parent = $key", None),  # nothing after ORDER BY is a clause
        ("cf[10099] = $key", None),  # a custom field this site does not name
    ],
)
def test_only_a_clause_that_takes_a_list_is_batched(template, batched):
    plan = plan_batches(template, {"customfield_10014": "Epic Link"})
    assert (plan.jql(["A-1", "B-2"]) if plan else None) == batched


def test_a_batched_level_that_shows_the_parent_field_keeps_it(close):
    jira = stand_in("datacenter", parents=2)
    close(jira)
    children = Children(source_for(jira), "parent = $key", ["summary", "parent"], [(1, "ABC-1"), (2, "ABC-2")], {})
    got = dict(children)
    assert jira.searches("parent in (ABC-1, ABC-2)") == 1
    assert {p: [i["fields"]["parent"]["key"] for i in issues] for p, issues in got.items()} == {1: ["ABC-1"] * 2, 2: ["ABC-2"] * 2}


def test_an_epic_link_is_read_only_as_a_key():
    fetch, value_of = _reader_for("cf[10014]", {"customfield_10014": "Epic Link"})
    assert fetch == "customfield_10014"
    assert value_of({"fields": {"customfield_10014": "ABC-1"}}) == "ABC-1"
    assert value_of({"fields": {"customfield_10014": {"key": "ABC-1"}}}) is None
    assert _reader_for("cf[10099]", {}) is None


def test_a_child_that_names_no_parent_of_its_batch_sends_the_batch_one_parent_at_a_time(close):
    jira = stand_in("datacenter", parents=3)
    close(jira)
    stray = jira.children["ABC-2"][0]
    stray["fields"]["parent"] = {"key": "ZZZ-9"}  # answered for ABC-2, but names another parent
    source = source_for(jira)
    children = Children(source, "parent = $key", ["summary"], [(1, "ABC-1"), (2, "ABC-2"), (3, "ABC-3")], {})
    got = {position: [i["key"] for i in issues] for position, issues in children}
    assert got == {k: [c["key"] for c in jira.children[f"ABC-{k}"]] for k in (1, 2, 3)}
    assert jira.searches("parent in (ABC-1, ABC-2, ABC-3)") == 1
    assert [jira.searches(f"parent = ABC-{k}") for k in (1, 2, 3)] == [1, 1, 1]
