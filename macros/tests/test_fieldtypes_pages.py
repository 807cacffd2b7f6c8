"""Real-shaped Jira answers of every field type, from a stand-in Jira Cloud and Data Center
on 127.0.0.1, through a real snapshot to the page table, the CSV and the JSON export."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from django.urls import reverse

from conftest import publish_page_with_macro, use_source
from macros.exports import safe_cell
from macros.models import SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources.jira import JiraCloud, JiraDataCenter
from macros.tests import jira_stub as stub
from macros.tests.jira_fields import FIELD_LIST, RAW_MARKERS, expected_text, rich_issue

FIELDS = ["key", *(f["id"] for f in FIELD_LIST)]
OPTIONS = {"timeout": (2, 5), "retry_budget_seconds": 5, "max_retries": 1, "backoff_factor": 0.01}
TOP = "project = WEB ORDER BY key"
CHILDREN = "parent = $key"


def empty_issue(cloud: bool) -> dict:
    """Issue 2: every field empty, the way Jira sends empties (null, [], zero totals)."""
    issue = rich_issue(2, cloud=cloud)
    fields = issue["fields"]
    for name in list(fields):
        if name not in ("summary", "status", "project", "issuetype"):
            fields[name] = [] if isinstance(fields[name], list) else None
    fields["progress"] = {"progress": 0, "total": 0}
    fields["votes"] = {"self": "…", "votes": 0, "hasVoted": False}
    fields["comment"] = {"comments": [], "maxResults": 0, "total": 0, "startAt": 0}
    fields["timetracking"] = {}
    return issue


@pytest.fixture(scope="module")
def running():
    server = stub.start_server()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(params=[True, False], ids=["cloud", "datacenter"])
def jira(request, running, monkeypatch, settings):
    settings.TIME_ZONE = "UTC"
    running.clear()
    cloud = request.param
    by_jql = {TOP: [rich_issue(1, cloud=cloud), empty_issue(cloud)], "parent = WEB-101": [rich_issue(3, cloud=cloud, project="SUB")]}
    stub.serve_field_types(running, cloud=cloud, by_jql=by_jql)
    kind = JiraCloud if cloud else JiraDataCenter
    source = kind(stub.base_url(running), stub.USER if cloud else "", stub.TOKEN, **OPTIONS)
    use_source(monkeypatch, source)
    yield cloud
    running.clear()


@pytest.fixture
def snapshot(jira, space, people):
    _, macro = publish_page_with_macro(space, people["editor"], jql=TOP, fields=FIELDS)
    macro.levels = [{"jql": TOP, "fields": FIELDS}, {"jql": CHILDREN, "fields": ["key", "summary", "timetracking", "customfield_10020"]}]
    macro.save(update_fields=["levels"])
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    return job.snapshot


def expected_empty() -> dict[str, str]:
    texts = dict.fromkeys(FIELDS, "")
    texts.update(key="WEB-102", summary="Login fails on Safari (2)", status="In Review", project="Web Storefront",
                 issuetype="Bug", resolution="Unresolved", votes="0")
    return texts


def table_rows(body: str) -> list[list[str]]:
    """Each body row of the page's table as the texts a reader sees."""
    rows = []
    for row in re.findall(r'<tr class="level-\d">(.*?)</tr>', body, re.S):
        # Issue 11's tables: cells carry layout classes, an empty one shows the empty cell
        # text (class "empty"), and a parent's first cell starts with its open/close link.
        cells = [("" if "empty" in attrs else c) for attrs, c in re.findall(r"<td([^>]*)>(.*?)</td>", row, re.S)]
        cells = [re.sub(r'<a class="level-toggle".*?</a>', "", c, flags=re.S) for c in cells]
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c.replace("<br>", "\n"))).removeprefix("↳ ").strip() for c in cells])
    return rows


def test_the_page_shows_every_field_as_jira_people_read_it(client, people, snapshot, jira):
    client.force_login(people["viewer"])
    response = client.get(snapshot.macro.page.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    for column in FIELD_LIST:
        # A header is a sort button (issue 11): the name ends the link inside the th.
        assert re.search(f">{re.escape(html.escape(column['name']))}(</a>)?</th>", body), column["name"]
    rows = table_rows(body)
    assert len(rows) == 3, "two issues and WEB-101's one child"
    assert dict(zip(FIELDS, rows[0], strict=True)) == expected_text(cloud=jira)
    assert rows[1] == ["SUB-103", "Login fails on Safari (3)", "Original 1d 2h · Remaining 4h · Spent 6h", "Sprint 12, Sprint 13"]
    assert dict(zip(FIELDS, rows[2], strict=True)) == expected_empty()
    site = snapshot.source_site
    assert f'<a class="issue-key" href="{site}/browse/WEB-101" rel="noopener">WEB-101</a>' in body
    assert f'href="{site}/browse/SUB-103"' in body, "nested rows link too"
    assert f'blocks <a class="issue-key" href="{site}/browse/WEB-12"' in body
    assert '<span class="lozenge cat-indeterminate">In Review</span>' in body
    assert '<progress max="100" value="60"' in body


def test_no_cell_of_the_page_shows_raw_data(client, people, snapshot):
    client.force_login(people["viewer"])
    body = client.get(snapshot.macro.page.get_absolute_url()).content.decode()
    cells = [c for row in table_rows(body) for c in row]
    assert len(cells) == 2 * len(FIELDS) + 4
    offending = [(c, m) for c in cells for m in RAW_MARKERS if m in c]
    assert not offending


def test_the_csv_has_the_same_readable_cells(client, people, snapshot, jira):
    client.force_login(people["viewer"])
    response = client.get(reverse("snapshot_export_csv", args=[snapshot.macro.page_id, snapshot.pk]))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    names = {f["id"]: f["name"] for f in FIELD_LIST} | {"key": "Key"}
    assert rows[0] == ["Level", "Parent", *(names[f] for f in FIELDS)]
    # A cell that starts like a formula ("-1h (breached)") keeps the CSV-injection guard's quote.
    in_csv = {k: safe_cell(v) for k, v in expected_text(cloud=jira).items()}
    assert in_csv["customfield_10050"] == "'-1h (breached)"
    assert rows[1][:2] == ["1", ""] and dict(zip(FIELDS, rows[1][2:], strict=True)) == in_csv
    child = dict(zip(FIELDS, rows[2][2:], strict=True))
    assert rows[2][:2] == ["2", "WEB-101"] and child["customfield_10020"] == "Sprint 12, Sprint 13" and child["status"] == ""
    assert dict(zip(FIELDS, rows[3][2:], strict=True)) == expected_empty()
    assert not [(c, m) for row in rows for c in row for m in RAW_MARKERS if m in c]


def test_the_json_export_carries_the_readable_cells_beside_jiras_json(client, people, snapshot, jira):
    client.force_login(people["viewer"])
    response = client.get(reverse("snapshot_export_json", args=[snapshot.macro.page_id, snapshot.pk]))
    assert response.status_code == 200
    data = json.loads(b"".join(response.streaming_content))
    by_key = {row["key"]: row for row in data["rows"]}
    first, child, empty = by_key["WEB-101"], by_key["SUB-103"], by_key["WEB-102"]
    assert child["level"] == 2 and child["parent_position"] == first["position"]
    assert first["cells"] == expected_text(cloud=jira)
    assert first["issue"] == rich_issue(1, cloud=jira), "Jira's own JSON is kept as it came"
    assert child["cells"] == {"key": "SUB-103", "summary": "Login fails on Safari (3)",
                              "timetracking": "Original 1d 2h · Remaining 4h · Spent 6h", "customfield_10020": "Sprint 12, Sprint 13"}
    assert empty["cells"] == expected_empty()
    sprint = next(c for c in data["snapshot"]["columns"][0] if c["id"] == "customfield_10020")
    assert sprint == {"id": "customfield_10020", "name": "Sprint", "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint", "customId": 10020}}


def test_an_old_snapshot_renders_the_same_after_jira_changes_its_field_list(client, people, snapshot, jira, running):
    """The schema travels with the snapshot: a field renamed or gone in Jira later changes nothing."""
    client.force_login(people["viewer"])
    url = snapshot.macro.page.get_absolute_url()
    before = table_rows(client.get(url).content.decode())
    running.clear()
    running.expect_request(re.compile(r"/rest/api/\d/field"), method="GET").respond_with_json([])
    assert table_rows(client.get(url).content.decode()) == before


def test_every_sample_issue_reads_without_raw_data_in_the_page_and_the_csv(client, people, space, monkeypatch, settings):
    """The bundled Sample data holds the richer shapes too (time tracking, progress,
    comments, attachments, links, sub-tasks): the demo shows them as Jira would."""
    from macros.sources import sample

    use_source(monkeypatch, sample.Sample())
    every = list(sample.FIELDS)
    _, macro = publish_page_with_macro(space, people["editor"], jql="project = WEB ORDER BY key", fields=every)
    macro.display = {"page_size": 500, "show_count": True}
    macro.save(update_fields=["display"])
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    take(job.pk)
    job.refresh_from_db()
    snapshot = job.snapshot
    assert snapshot.issue_count > 200
    client.force_login(people["viewer"])
    rows = list(csv.reader(io.StringIO(b"".join(
        client.get(reverse("snapshot_export_csv", args=[snapshot.macro.page_id, snapshot.pk])).streaming_content
    ).decode("utf-8-sig"))))
    assert len(rows) == snapshot.issue_count + 1
    assert not [(c, m) for row in rows for c in row for m in RAW_MARKERS if m in c]
    by_name = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert any(re.fullmatch(r"Original \d.* · Remaining .*", r["Time tracking"]) for r in by_name)
    assert any(re.fullmatch(r"\d+%", r["Progress"]) for r in by_name)
    assert any(re.fullmatch(r"(blocks|is blocked by|relates to|clones|is cloned by) WEB-\d+.*", r["Linked Issues"]) for r in by_name)
    assert any(re.fullmatch(r"WEB-\d+ .+", r["Sub-tasks"]) for r in by_name)
    assert any(re.fullmatch(r"\d+ comments? · .+: .+", r["Comment"]) for r in by_name)
    assert any(re.fullmatch(r"WEB Sprint \d+(, WEB Sprint \d+)*", r["Sprint"]) for r in by_name)
    body = client.get(snapshot.macro.page.get_absolute_url()).content.decode()
    cells = [c for row in table_rows(body) for c in row]
    assert len(cells) >= 25 * len(every)
    assert not [(c, m) for c in cells for m in RAW_MARKERS if m in c]
