"""Multi-level macros end to end: configured on the screen, run on Sample data and on a
stand-in Jira (Cloud and Data Center) on 127.0.0.1, rendered as nested rows."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from conftest import publish_page_with_macro, use_source
from macros import snapshots
from macros.models import Snapshot, SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources.jira import JiraCloud, JiraDataCenter
from macros.sources.sample import Sample
from macros.tests import jira_stub as stub
from macros.tests.jira_stub import (
    CLOUD_COUNT,
    CLOUD_SEARCH,
    DC_SEARCH,
    Handler,
    json_response,
)

EPICS = "project = WEB AND issuetype = Epic ORDER BY key ASC"
CHILDREN = "parent = $key ORDER BY key ASC"


def run(macro, user=None) -> SnapshotJob:
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=user)
    take(job.pk)
    job.refresh_from_db()
    return job


def set_levels(macro, *levels) -> None:
    macro.levels = [{"jql": jql, "fields": fields} for jql, fields in levels]
    macro.save(update_fields=["levels"])


def tree(snapshot: Snapshot) -> list[tuple[int, str | None, str]]:
    """(level, parent key, key) of every row, in position order."""
    keys = dict(snapshot.rows.values_list("position", "issue_key"))
    return [(level, keys.get(parent), key) for level, parent, key in snapshot.rows.order_by("position").values_list("level", "parent_position", "issue_key")]


# --- Sample data -----------------------------------------------------------------------

@pytest.fixture
def sample(monkeypatch) -> Sample:
    source = Sample()
    use_source(monkeypatch, source)
    return source


def test_the_configuration_screen_adds_a_level_and_the_page_shows_nested_rows(client, people, space, sample):
    page, macro = publish_page_with_macro(space, people["editor"])
    client.force_login(people["editor"])
    url = reverse("macro_configure", args=[page.pk, macro.public_id])
    assert "Add level" in client.get(url).content.decode()

    added = client.post(url, {"title": "Epics and their stories", "level-0-jql": EPICS, "level-0-fields": "key, summary, status", "action": "add_level"})
    assert added.status_code == 200
    assert 'name="level-1-jql"' in added.content.decode() and "parent = $key" in added.content.decode()

    saved = client.post(url, {
        "title": "Epics and their stories",
        "level-0-jql": EPICS, "level-0-fields": "key, summary, status",
        "level-1-jql": CHILDREN, "level-1-fields": "key, summary, status",
        "action": "save",
    })
    assert saved.status_code == 302, saved.content.decode()
    published = client.post(reverse("page_edit", args=[page.pk]), {"title": page.title, "body": page.body, "action": "publish"})
    assert published.status_code == 302
    macro.refresh_from_db()
    assert [level["jql"] for level in macro.levels] == [EPICS, CHILDREN]

    assert client.post(reverse("take_snapshot", args=[page.pk, macro.public_id])).status_code == 302
    job = SnapshotJob.objects.get(macro=macro)
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error

    epics = [i["key"] for i in sample.search(EPICS)]
    stories = {e: [i["key"] for i in sample.search(f"parent = {e} ORDER BY key ASC")] for e in epics}
    snapshot = job.snapshot
    assert snapshot.counts["levels"] == [len(epics), sum(len(s) for s in stories.values())]
    assert snapshot.issue_count == len(epics) and all(stories.values())

    body = client.get(page.get_absolute_url()).content.decode()
    first_epic, first_story = epics[0], stories[epics[0]][0]
    assert '<tr class="level-2">' in body
    assert body.index(f">{first_epic}<") < body.index(f">{first_story}<") < body.index(f">{epics[1]}<"), \
        "a story is listed under its epic, before the next epic"


def test_three_levels_run_on_sample_data_each_below_its_parent(people, space, sample):
    _, macro = publish_page_with_macro(space, people["editor"])
    set_levels(
        macro,
        (EPICS, ["key", "summary", "status"]),
        (CHILDREN, ["key", "summary", "assignee"]),
        ("parent = $key", ["key", "summary"]),
    )
    job = run(macro)
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    snapshot = job.snapshot
    rows = tree(snapshot)
    assert {level for level, _, _ in rows} == {1, 2, 3}
    for level, parent, key in rows:
        if level > 1:
            assert key in {i["key"] for i in sample.search(f"parent = {parent}")}, f"{key} is not a child of {parent}"
    parents = sum(snapshot.counts["levels"][:2])
    assert snapshot.requests_made == 1 + parents, "one search per issue of the level above (all fit one page)"
    assert [(c["id"], c["name"]) for c in snapshot.columns[1]] == [("key", "Key"), ("summary", "Summary"), ("assignee", "Assignee")]
    assert snapshot.columns[1][2]["schema"] == {"type": "user", "system": "assignee"}, "each column keeps Jira's schema"


def test_a_bad_lower_level_query_fails_the_job_with_the_level_named(people, space, sample, monkeypatch):
    _, macro = publish_page_with_macro(space, people["editor"])
    set_levels(macro, (EPICS, ["key", "summary"]), ("parent = $key AND nonsense = 1", ["key"]))
    job = run(macro)
    assert job.status == SnapshotJob.Status.FAILED
    assert job.error.startswith("Level 2: ") and "nonsense" in job.error
    assert not Snapshot.objects.filter(macro=macro).exists(), "nothing partial is kept"


# --- a stand-in Jira on 127.0.0.1 --------------------------------------------------------

PROJECT = "project = ABC ORDER BY key ASC"
SUBTASKS = "parent = $key"
FIELD_LIST = [
    {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string"}},
    {"id": "status", "name": "Status", "custom": False, "schema": {"type": "status"}},
    {"id": "assignee", "name": "Assignee", "custom": False, "schema": {"type": "user"}},
]


def subtask(parent: int, n: int, cloud: bool = True) -> dict:
    data = stub.make_issue(parent * 1000 + n, cloud=cloud, project="SUB")
    data["key"] = f"SUB-{parent}{n:03d}"
    data["fields"]["summary"] = f"Sub-task {n} of ABC-{parent}"
    data["fields"]["parent"] = {"id": str(10000 + parent - 1), "key": f"ABC-{parent}"}
    return data


def issues_for(jql: str, cloud: bool) -> list[dict] | None:
    """What the stand-in answers: 3 stories; ABC-1 has 150 sub-tasks (two pages), ABC-2 none, ABC-3 two."""
    if jql == PROJECT:
        return [stub.make_issue(n, cloud=cloud) for n in range(3)]
    counts = {1: 150, 2: 0, 3: 2}
    match = re.fullmatch(r"parent (?:= (ABC-\d+)|in \(([^)]*)\))", jql)
    if match:
        keys = [match.group(1)] if match.group(1) else match.group(2).split(", ")
        parents = [int(key.rsplit("-", 1)[1]) for key in keys]
        return [subtask(parent, n, cloud) for parent in sorted(parents) for n in range(1, counts.get(parent, 0) + 1)]
    return None


def by_id(ident: str) -> dict | None:
    number = int(ident) - 10000
    parent, n = divmod(number, 1000)
    return subtask(parent, n) if 1 <= n <= {1: 150, 3: 2}.get(parent, 0) else None


def bad_jql(jql: str):
    return json_response({"errorMessages": [f"Error in the JQL Query: the query '{jql}' is not understood."], "errors": {}}, 400)


class CloudByJql(Handler):
    """``/rest/api/3/search/jql`` answering per query, token paging."""

    def answer(self, request, body, index):
        found = issues_for(body["jql"], cloud=True)
        if found is None:
            return bad_jql(body["jql"])
        if body["fields"] == ["id"]:
            found = [{"id": issue["id"]} for issue in found]
        start = int((body.get("nextPageToken") or "p-0").split("-")[1])
        end = start + min(int(body["maxResults"]), 5000 if body["fields"] == ["id"] else 100)
        answer = {"issues": found[start:end], "isLast": end >= len(found)}
        if end < len(found):
            answer["nextPageToken"] = f"p-{end}"
        return json_response(answer)


class BulkFetch(Handler):
    """``/rest/api/3/issue/bulkfetch``: the sub-tasks by id."""

    def answer(self, request, body, index):
        found = [by_id(ident) for ident in body["issueIdsOrKeys"]]
        return json_response({"issues": [issue for issue in found if issue], "issueErrors": []})


class DcByJql(Handler):
    """``/rest/api/2/search`` answering per query, startAt paging, the server capping pages at 100."""

    def answer(self, request, body, index):
        found = issues_for(body["jql"], cloud=False)
        if found is None:
            return bad_jql(body["jql"])
        start, size = int(body["startAt"]), min(int(body["maxResults"]), 100)
        return json_response({"startAt": start, "maxResults": size, "total": len(found), "issues": found[start : start + size]})


@pytest.fixture(scope="module")
def running():
    server = stub.start_server()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def server(running):
    running.clear()
    yield running
    running.clear()


OPTIONS = {"timeout": (2, 5), "retry_budget_seconds": 5, "max_retries": 1, "backoff_factor": 0.01}


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request, server, monkeypatch):
    """A Jira source of each kind pointed at the stand-in, with the handler that records the searches."""
    if request.param == "cloud":
        search = CloudByJql()
        server.expect_request(CLOUD_SEARCH, method="POST").respond_with_handler(search)
        server.expect_request("/rest/api/3/issue/bulkfetch", method="POST").respond_with_handler(BulkFetch())
        server.expect_request(CLOUD_COUNT, method="POST").respond_with_handler(lambda r: json_response({"count": 3}))
        server.expect_request("/rest/api/3/field", method="GET").respond_with_json(FIELD_LIST)
        source = JiraCloud(stub.base_url(server), stub.USER, stub.TOKEN, **OPTIONS)
        auth = stub.basic_header()
    else:
        search = DcByJql()
        server.expect_request(DC_SEARCH, method="POST").respond_with_handler(search)
        server.expect_request("/rest/api/2/field", method="GET").respond_with_json(FIELD_LIST)
        source = JiraDataCenter(stub.base_url(server), "", stub.TOKEN, **OPTIONS)
        auth = f"Bearer {stub.TOKEN}"
    use_source(monkeypatch, source)
    return request.param, search, auth


def test_one_job_fetches_every_level_from_jira(people, space, jira):
    kind, search, auth = jira
    _, macro = publish_page_with_macro(space, people["editor"])
    set_levels(macro, (PROJECT, ["key", "summary", "status"]), (SUBTASKS, ["key", "summary", "assignee"]))
    job = run(macro, people["editor"])
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    snapshot = job.snapshot
    assert snapshot.counts["levels"] == [3, 152]
    assert snapshot.source == f"jira-{kind}" and snapshot.source_site.startswith("http://127.0.0.1:")
    rows = tree(snapshot)
    assert rows[:3] == [(1, None, "ABC-1"), (1, None, "ABC-2"), (1, None, "ABC-3")]
    assert [k for level, parent, k in rows if parent == "ABC-1"] == [f"SUB-1{n:03d}" for n in range(1, 151)]
    assert [k for level, parent, k in rows if parent == "ABC-3"] == ["SUB-3001", "SUB-3002"]
    assert not [k for level, parent, k in rows if parent == "ABC-2"]

    jqls = [body["jql"] for body in search.bodies]
    batch = "parent in (ABC-1, ABC-2, ABC-3)"
    assert jqls == [PROJECT, batch, batch], "one search for the sub-tasks of all three: 152 take two calls"
    if kind == "cloud":
        # A page with the fields, then every id at once, then the 52 others by id.
        assert [body["fields"] for body in search.bodies[1:]] == [["summary", "assignee", "status", "parent"], ["id"]]
        assert snapshot.requests_made == 4
    else:
        assert [body["startAt"] for body in search.bodies] == [0, 0, 100]
        assert all(body["fields"] == ["summary", "assignee", "status", "parent"] for body in search.bodies[1:])
        assert snapshot.requests_made == 3
    assert search.bodies[0]["fields"] == ["summary", "status"]
    assert not any("parent" in row["fields"] for row in snapshot.rows.values_list("data", flat=True)), \
        "the parent is fetched to give each sub-task back to its parent, not kept"
    assert all(seen.headers["Authorization"] == auth for seen in search.seen)
    assert snapshot.columns[1][2] == {"id": "assignee", "name": "Assignee", "schema": {"type": "user"}}, "names and schemas come from Jira's field list"


def test_a_bad_lower_level_query_in_jira_fails_with_jiras_words_and_keeps_the_last_snapshot(people, space, jira):
    _, macro = publish_page_with_macro(space, people["editor"])
    set_levels(macro, (PROJECT, ["key", "summary"]))
    good = run(macro).snapshot
    set_levels(macro, (PROJECT, ["key", "summary"]), ("parent = $key AND bogus ~", ["key"]))
    job = run(macro)
    assert job.status == SnapshotJob.Status.FAILED
    assert job.error == "Level 2: Error in the JQL Query: the query 'parent = ABC-1 AND bogus ~' is not understood."
    assert macro.latest_snapshot() == good
    assert Snapshot.objects.filter(macro=macro).count() == 1


def test_lower_levels_are_bounded_in_jira_calls(people, space, jira, monkeypatch):
    _, search, _ = jira
    monkeypatch.setattr(snapshots, "MAX_SUBQUERIES", 2)
    _, macro = publish_page_with_macro(space, people["editor"])
    set_levels(macro, (PROJECT, ["key", "summary"]), ("issue in linkedIssues($key)", ["key"]))
    job = run(macro)
    assert job.status == SnapshotJob.Status.FAILED
    assert job.error == (
        "Level 2 would run 3 searches for the 3 issues of level 1; the limit is 2. Narrow the query of level 1."
    )
    assert [body["jql"] for body in search.bodies] == [PROJECT], "no lower-level search was sent"


def test_a_batched_level_counts_its_batches_against_the_bound(people, space, jira, monkeypatch):
    _, search, _ = jira
    monkeypatch.setattr(snapshots, "MAX_SUBQUERIES", 2)
    _, macro = publish_page_with_macro(space, people["editor"])
    set_levels(macro, (PROJECT, ["key", "summary"]), (SUBTASKS, ["key"]))
    job = run(macro)
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    assert job.snapshot.counts["levels"] == [3, 152]
    assert {body["jql"] for body in search.bodies} == {PROJECT, "parent in (ABC-1, ABC-2, ABC-3)"}
