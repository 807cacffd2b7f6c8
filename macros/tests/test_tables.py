"""The report table: filter, sort, group, totals, levels and bad input, through the page."""

import re

import pytest

from conftest import StaticSource, make_issue, publish_page_with_macro, use_source
from macros.models import SnapshotJob, SnapshotRowIndex
from macros.snapshots import request_snapshot, take
from macros.tables import TableState, build_table, field_sort_key

PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]


def _issue(n: int) -> dict:
    pid, pname = PRIORITIES[n % 5]
    status = [("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")][n % 3]
    return make_issue(
        n,
        status=status[0],
        category=status[1],
        summary=f"Task {n} {'needle' if n == 47 else 'hay'}",
        priority={"self": f"https://example.atlassian.net/rest/api/3/priority/{pid}", "id": pid, "name": pname},
        customfield_10016=(n % 4) or None,
        created=f"2025-0{1 + n % 9}-1{n % 10}T10:00:00.000+0000",
    )


FIELDS = ["key", "summary", "status", "priority", "customfield_10016", "created"]


@pytest.fixture
def big(monkeypatch, space, people):
    use_source(monkeypatch, StaticSource([_issue(n) for n in range(1, 61)]))
    page, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)
    return page, macro


def _get(client, user, page, **params):
    client.force_login(user)
    return client.get(page.get_absolute_url(), params)


def _keys(html: str) -> list[str]:
    return re.findall(r'<tr class="level-1"[^>]*><td[^>]*>(?:<[^>]+>)*\s*(WEB-\d+)', html)


def test_it_indexes_every_row_while_the_snapshot_is_taken(big):
    _, macro = big
    snapshot = macro.latest_snapshot()
    assert SnapshotRowIndex.objects.filter(snapshot=snapshot).count() == 60
    row = SnapshotRowIndex.objects.get(snapshot=snapshot, position=47)
    assert "needle" in row.search_text and "web-47" in row.search_text
    assert set(row.sort_keys) >= {"key", "summary", "status", "priority"}


def test_a_filter_finds_an_issue_on_another_page(client, people, big):
    page, macro = big
    first = _get(client, people["viewer"], page).content.decode()
    assert "WEB-47" not in first and "Filter issues" in first
    html = _get(client, people["viewer"], page, **{f"q{macro.pk}": "NEEDLE"}).content.decode()
    assert _keys(html) == ["WEB-47"]
    assert "<strong>1</strong> of 60 issues" in html


def test_a_header_sorts_the_whole_snapshot_both_ways_in_natural_order(client, people, big):
    page, macro = big
    html = _get(client, people["viewer"], page, **{f"s{macro.pk}": "key"}).content.decode()
    assert _keys(html)[:3] == ["WEB-1", "WEB-2", "WEB-3"]  # WEB-10 is not second
    assert 'aria-sort="ascending"' in html
    html = _get(client, people["viewer"], page, **{f"s{macro.pk}": "-key"}).content.decode()
    assert _keys(html)[:2] == ["WEB-60", "WEB-59"]
    assert 'aria-sort="descending"' in html
    html = _get(client, people["viewer"], page, **{f"s{macro.pk}": "priority"}).content.decode()
    assert _keys(html)[0] in {f"WEB-{n}" for n in range(5, 61, 5)}  # id 1, Highest, first


def test_numbers_sort_as_numbers_and_empties_go_last_either_way():
    def key(value):
        return field_sort_key({"fields": {"x": value}}, "x", str(value))

    assert key(9) < key(10) < key(100) and key(-5) < key(0.5)
    assert key(None) is None
    assert key("2025-01-02T00:00:00.000+0000") > key("2024-12-31T23:00:00.000-0500")


def test_bad_input_gets_a_message_or_a_default_never_a_500(client, people, big):
    page, macro = big
    m = macro.pk
    response = _get(client, people["viewer"], page, **{f"s{m}": "nonsense", f"q{m}": "x" * 10_000, f"p{m}": "999"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "no column “nonsense” to sort by" in html
    assert "limited to 200 characters" in html
    response = _get(client, people["viewer"], page, **{f"p{m}": "999"})
    assert "There is no page 999; this is the last page, 3." in response.content.decode()
    assert _get(client, people["viewer"], page, **{f"p{m}": "abc"}).status_code == 200


def test_grouping_counts_and_totals_cover_the_whole_snapshot(big):
    _, macro = big
    snapshot = macro.latest_snapshot()
    display = {"page_size": 100, "group_by": "status", "show_totals": True}
    table = build_table(snapshot, display=display, state=TableState(prefix=str(macro.pk)))
    groups = [item.group for item in table.body() if item.kind == "group"]
    assert [g.label for g in groups] == ["To Do", "In Progress", "Done"]  # Jira's category order
    assert [g.count for g in groups] == [20, 20, 20]
    points = FIELDS.index("customfield_10016")
    expected = sum((n % 4) for n in range(1, 61))
    assert table.totals[points] == str(expected)
    assert sum(int(g.totals[points]) for g in groups) == expected


def test_group_by_a_field_the_snapshot_lacks_shows_the_table_ungrouped(big):
    _, macro = big
    table = build_table(macro.latest_snapshot(), display={"group_by": "fixVersions"}, state=TableState(prefix="1"))
    assert not table.group_by and "no column “fixVersions” to group by" in table.messages[0]


def test_a_snapshot_taken_before_the_index_is_indexed_when_first_shown(big):
    _, macro = big
    snapshot = macro.latest_snapshot()
    SnapshotRowIndex.objects.filter(snapshot=snapshot).delete()
    table = build_table(snapshot, display={"page_size": 5}, state=TableState(prefix="1", query="needle"))
    assert [r.key for r in table.rows] == ["WEB-47"]
    assert SnapshotRowIndex.objects.filter(snapshot=snapshot).count() == 60
