"""Comparing two snapshots: the diff itself, the screen, and its speed on 10,000 issues."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from conftest import publish_page_with_macro
from macros.compare import (
    ADDED,
    CHANGED,
    REMOVED,
    FieldChange,
    compare,
    diff_rows,
    latest_pair,
)
from macros.models import Snapshot, SnapshotRow
from macros.tests.history_helpers import issue, snapshot_of

FIELDS = ["key", "summary", "status", "assignee", "priority"]
COLUMNS = [[{"id": "key", "name": "Key"}, {"id": "summary", "name": "Summary"}, {"id": "status", "name": "Status"},
            {"id": "assignee", "name": "Assignee"}]]


def rows(*issues, level=1, start=1, parent=None):
    return [(start + i, parent, level, data["key"], json.dumps(data)) for i, data in enumerate(issues)]


def reader(older_rows):
    """What ``diff_rows`` reads the older snapshot with: every row, or those at some positions."""
    return lambda positions: [r for r in older_rows if positions is None or r[0] in positions]


# --- the pure diff ---------------------------------------------------------------------

def test_it_finds_added_removed_and_changed_issues_with_old_and_new_values():
    older = rows(issue(1), issue(2), issue(3, assignee=0), issue(4))
    newer = rows(
        issue(1),
        issue(2, status="Done", category="done"),
        issue(3, assignee=1, summary="Renamed issue"),
        issue(5),
    )
    diff = diff_rows(reader(older), newer, COLUMNS, COLUMNS)

    assert [e.key for e in diff.added] == ["WEB-5"]
    assert [e.key for e in diff.removed] == ["WEB-4"]
    assert [e.key for e in diff.changed] == ["WEB-2", "WEB-3"]
    assert diff.changed[0].changes == [FieldChange("Status", "To Do", "Done")]
    assert diff.changed[1].changes == [
        FieldChange("Summary", "Issue number 3", "Renamed issue"),
        FieldChange("Assignee", "Ada Lovelace", "Grace Hopper"),
    ]
    assert diff.unchanged == 1
    assert diff.added[0].cells == ["WEB-5", "Issue number 5", "To Do", ""]
    assert diff.removed[0].summary == "Issue number 4"
    assert [e.kind for e in diff.entries()] == [ADDED, REMOVED, CHANGED, CHANGED]


def test_a_difference_in_a_field_the_table_does_not_show_is_not_a_change():
    older = rows(issue(1, updated="2026-01-01T10:00:00.000+0000"))
    newer = rows(issue(1, updated="2026-02-01T10:00:00.000+0000", priority="High"))
    diff = diff_rows(reader(older), newer, COLUMNS, COLUMNS)
    assert diff.changed == [] and diff.unchanged == 1


def test_a_change_only_in_a_persons_avatar_is_not_a_change():
    before, after = issue(1, assignee=0), issue(1, assignee=0)
    after["fields"]["assignee"]["avatarUrls"] = {"48x48": "https://example.com/new.png"}
    diff = diff_rows(reader(rows(before)), rows(after), COLUMNS, COLUMNS)
    assert diff.changed == [] and diff.unchanged == 1


def test_columns_only_one_snapshot_shows_are_not_compared_and_are_named():
    wider = [[*COLUMNS[0], {"id": "priority", "name": "Priority"}]]
    older = rows(issue(1, priority="Low"))
    newer = rows(issue(1, priority="High"))
    diff = diff_rows(reader(older), newer, COLUMNS, wider)
    assert diff.changed == []
    assert diff.compared_columns == [["Summary", "Status", "Assignee"]]
    assert diff.skipped_columns == [["Priority"]]


def test_an_unchanged_pair_reads_the_older_rows_once():
    reads = []

    def older(positions):
        reads.append(positions)
        return reader(rows(issue(1), issue(2)))(positions)

    diff = diff_rows(older, rows(issue(1), issue(2)), COLUMNS, COLUMNS)
    assert diff.total == 0 and diff.unchanged == 2
    assert reads == [None]


def test_only_the_older_rows_that_differ_are_read_again():
    reads = []

    def older(positions):
        reads.append(positions)
        return reader(rows(issue(1), issue(2), issue(3), issue(4)))(positions)

    diff = diff_rows(older, rows(issue(1), issue(2, status="Done", category="done"), issue(3)), COLUMNS, COLUMNS)
    assert [e.key for e in diff.changed] == ["WEB-2"] and [e.key for e in diff.removed] == ["WEB-4"]
    assert reads == [None, [2, 4]]


def test_nested_issues_are_matched_under_their_parent():
    sub = [[{"id": "key", "name": "Key"}, {"id": "summary", "name": "Summary"}, {"id": "status", "name": "Status"}]]
    columns = [COLUMNS[0], sub[0]]
    older = rows(issue(1), issue(2)) + rows(issue(10, project="SUB"), level=2, start=3, parent=1) \
        + rows(issue(11, project="SUB"), level=2, start=4, parent=2)
    # SUB-10 moves from WEB-1 to WEB-2 and is marked done there; SUB-11 stays.
    newer = rows(issue(1), issue(2)) + rows(issue(11, project="SUB"), issue(10, project="SUB", status="Done", category="done"),
                                            level=2, start=3, parent=2)
    diff = diff_rows(reader(older), newer, columns, columns)
    assert [e.path for e in diff.added] == [("WEB-2", "SUB-10")]
    assert [e.path for e in diff.removed] == [("WEB-1", "SUB-10")]
    assert diff.changed == [] and diff.unchanged == 3
    assert diff.added[0].level == 2 and diff.added[0].parents == ("WEB-2",)


# --- snapshots from the database -----------------------------------------------------

@pytest.fixture
def macro_with_history(space, people, monkeypatch):
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    first = snapshot_of(macro, monkeypatch, [issue(1), issue(2), issue(3, assignee=0), issue(4)], user=people["editor"])
    second = snapshot_of(
        macro,
        monkeypatch,
        [issue(1), issue(2, status="In Progress", category="indeterminate"), issue(3, assignee=2), issue(5), issue(6, status="Done", category="done")],
        user=people["editor"],
    )
    return page, macro, first, second


def test_it_compares_two_real_snapshots_and_counts_per_status_category(macro_with_history):
    _, macro, first, second = macro_with_history
    comparison = compare(first, second)
    diff = comparison.diff
    assert [e.key for e in diff.added] == ["WEB-5", "WEB-6"]
    assert [e.key for e in diff.removed] == ["WEB-4"]
    assert {e.key: e.changes for e in diff.changed} == {
        "WEB-2": [FieldChange("Status", "To Do", "In Progress")],
        "WEB-3": [FieldChange("Assignee", "Ada Lovelace", "Alan Turing")],
    }
    assert [(c.name, c.before, c.after, c.delta) for c in comparison.categories] == [
        ("To Do", 4, 3, -1), ("In Progress", 0, 1, 1), ("Done", 0, 1, 1),
    ]
    assert comparison.issue_delta == 1
    assert latest_pair(macro) == (first, second)


def test_the_compare_screen_shows_the_two_latest_snapshots_by_default(client, people, macro_with_history):
    page, macro, first, second = macro_with_history
    client.force_login(people["viewer"])
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]))
    body = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{first.pk}" selected>' in body and f'<option value="{second.pk}" selected>' in body
    assert '<span class="n">+2</span> added' in body
    assert '<span class="n">−1</span> removed' in body
    assert '<span class="n">2</span> changed' in body
    assert "<del>To Do</del>" in body and "<ins>In Progress</ins>" in body
    assert "<del>Ada Lovelace</del>" in body and "<ins>Alan Turing</ins>" in body
    assert '<span class="delta down">−1</span>' in body and '<span class="delta up">+1</span>' in body


def test_the_compare_screen_filters_by_kind_of_change(client, people, macro_with_history):
    page, macro, first, second = macro_with_history
    client.force_login(people["viewer"])
    url = reverse("compare_snapshots", args=[page.pk, macro.public_id])
    body = client.get(url, {"a": first.pk, "b": second.pk, "show": "removed"}).content.decode()
    assert "<strong>WEB-4</strong>" in body
    assert "<strong>WEB-5</strong>" not in body and "<strong>WEB-2</strong>" not in body


def test_compare_with_only_b_compares_with_the_snapshot_before_it(client, people, macro_with_history, monkeypatch):
    page, macro, first, second = macro_with_history
    third = snapshot_of(macro, monkeypatch, [issue(1)])
    client.force_login(people["viewer"])
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]), {"b": second.pk})
    assert response.status_code == 200
    assert response.context["older"] == first and response.context["newer"] == second
    assert third.pk != second.pk


def test_large_diffs_are_paged(client, people, space, monkeypatch):
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    old = snapshot_of(macro, monkeypatch, [issue(n) for n in range(1, 121)])
    new = snapshot_of(macro, monkeypatch, [issue(n, status="Done", category="done") for n in range(1, 121)])
    client.force_login(people["viewer"])
    url = reverse("compare_snapshots", args=[page.pk, macro.public_id])
    first = client.get(url).content.decode()
    assert "Page 1 of 3" in first and "<strong>WEB-50</strong>" in first and "<strong>WEB-51</strong>" not in first
    third = client.get(url, {"a": old.pk, "b": new.pk, "p": 3}).content.decode()
    assert "<strong>WEB-101</strong>" in third and "<strong>WEB-120</strong>" in third and "<strong>WEB-100</strong>" not in third


def test_a_macro_with_one_snapshot_says_so(client, people, space, monkeypatch):
    page, macro = publish_page_with_macro(space, people["editor"])
    snapshot_of(macro, monkeypatch, [issue(1)])
    client.force_login(people["viewer"])
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]))
    assert response.status_code == 200
    assert "only one snapshot so far" in response.content.decode()


def test_comparing_the_first_snapshot_with_the_one_before_says_there_is_none(client, people, macro_with_history):
    page, macro, first, _ = macro_with_history
    client.force_login(people["viewer"])
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]), {"b": first.pk})
    assert response.status_code == 200
    assert "This is the macro's first snapshot: there is nothing earlier to compare it with." in response.content.decode()


@pytest.mark.parametrize("who, status", [("viewer", 200), ("outsider", 404)])
def test_only_people_who_see_the_page_can_compare(client, people, macro_with_history, who, status):
    page, macro, *_ = macro_with_history
    client.force_login(people[who])
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]))
    assert response.status_code == status
    if status == 404:
        assert b"WEB-" not in response.content


def test_a_snapshot_of_another_macro_cannot_be_compared(client, people, macro_with_history, space, monkeypatch):
    page, macro, first, _ = macro_with_history
    _, other = publish_page_with_macro(space, people["editor"], title="Other page")
    foreign = snapshot_of(other, monkeypatch, [issue(9)])
    client.force_login(people["viewer"])
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]), {"a": first.pk, "b": foreign.pk})
    assert response.status_code == 404


def test_anonymous_people_are_sent_to_sign_in_before_comparing(client, macro_with_history):
    page, macro, *_ = macro_with_history
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- 10,000 issues ---------------------------------------------------------------------

def _store(macro, issues: list[dict], *, counts: dict) -> Snapshot:
    """A finished snapshot written the way the snapshot service writes one, minus the source."""
    from django.utils import timezone

    snapshot = Snapshot.objects.create(
        macro=macro, complete=True, taken_at=timezone.now(), source="static", actor="automation",
        levels=[{"jql": "project = WEB", "fields": FIELDS}],
        columns=[[{"id": f, "name": f.title()} for f in FIELDS]],
        issue_count=len(issues), counts=counts,
    )
    SnapshotRow.objects.bulk_create(
        (SnapshotRow(snapshot=snapshot, position=n, level=1, issue_key=data["key"], data=data) for n, data in enumerate(issues, 1)),
        batch_size=2000,
    )
    return snapshot


def _realistic(n: int, *, done: bool = False, assignee: int | None = None) -> dict:
    data = issue(n, status="Done" if done else "In Progress", category="done" if done else "indeterminate",
                 summary=f"Make the checkout page remember the basket across devices, part {n}",
                 assignee=n % 5 if assignee is None else assignee)
    data["fields"]["issuetype"] = {"name": "Story", "id": "10001", "subtask": False, "iconUrl": "https://example.atlassian.net/icon.svg"}
    data["fields"]["status"]["statusCategory"].update({"id": 4, "colorName": "yellow", "self": "https://example.atlassian.net/rest/api/3/statuscategory/4"})
    return data


def test_it_compares_two_10000_issue_snapshots(client, people, space):
    # The time is printed (pytest -s) for the README; the bounds are generous on purpose: a
    # test is about behaviour, and only a compare gone quadratic (minutes) should fail it.
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    older_issues = [_realistic(n) for n in range(1, 10_001)]
    # 200 issues leave, 200 arrive, 500 change status and 300 change assignee.
    newer_issues = [
        _realistic(n, done=n % 20 == 0, assignee=(n + 1) % 5 if n % 33 == 0 else None)
        for n in range(201, 10_201)
    ]
    older = _store(macro, older_issues, counts={"status_categories": {"In Progress": 10_000}})
    newer = _store(macro, newer_issues, counts={"status_categories": {"In Progress": 9_500, "Done": 500}})

    started = time.perf_counter()
    comparison = compare(older, newer)
    elapsed = time.perf_counter() - started

    diff = comparison.diff
    assert len(diff.added) == 200 and len(diff.removed) == 200
    status_changes = [e for e in diff.changed if any(c.column == "Status" for c in e.changes)]
    assert len(status_changes) == len([n for n in range(201, 10_001) if n % 20 == 0])
    assert len(diff.changed) == len([n for n in range(201, 10_001) if n % 20 == 0 or n % 33 == 0])
    assert diff.unchanged == 9_800 - len(diff.changed)
    print(f"\ncompare() of two 10,000-issue snapshots: {elapsed * 1000:.0f} ms ({diff.total} differences)")
    assert elapsed < 20.0

    client.force_login(people["viewer"])
    client.get(reverse("page_history", args=[page.pk]))  # a warm server: URLs resolved, templates compiled
    started = time.perf_counter()
    response = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]), {"show": "changed"})
    served = time.perf_counter() - started
    print(f"the compare screen for them, first page of changes: {served * 1000:.0f} ms")
    assert response.status_code == 200
    assert "Page 1 of" in response.content.decode()
    assert served < 20.0
