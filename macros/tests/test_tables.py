"""The report table: filter, sort, group, totals, levels and bad input, through the page."""

import re

import pytest
from django.urls import reverse

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
    def key(value, schema=None):
        column = {"id": "x", "name": "X", **({"schema": schema} if schema else {})}
        return field_sort_key({"fields": {"x": value}}, column)

    number = {"type": "number"}
    assert key(9, number) < key(10, number) < key(100, number) and key(-5, number) < key(0.5, number)
    assert key(None, number) is None and key(None) is None
    moment = {"type": "datetime"}
    assert key("2025-01-02T00:00:00.000+0000", moment) > key("2024-12-31T23:00:00.000-0500", moment)
    assert key("Sprint 9") < key("sprint 10") < key("Sprint 100")


def test_bad_input_gets_a_message_or_a_default_never_a_500(client, people, big):
    page, macro = big
    m = macro.pk
    response = _get(client, people["viewer"], page, **{f"s{m}": "nonsense", f"q{m}": "x" * 3_000, f"p{m}": "999"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "no column “nonsense” to sort by" in html
    assert "limited to 200 characters" in html
    # Past what gunicorn lets through in a request line, the site's own guard answers.
    too_long = _get(client, people["viewer"], page, **{f"q{m}": "x" * 10_000})
    assert too_long.status_code == 414 and "The address is too long." in too_long.content.decode()
    response = _get(client, people["viewer"], page, **{f"p{m}": "999"})
    assert "There is no page 999; this is the last page, 3." in response.content.decode()
    assert _get(client, people["viewer"], page, **{f"p{m}": "abc"}).status_code == 200
    odd = _get(client, people["viewer"], page, **{f"q{m}": "50%_ off", f"s{m}": "-", f"p{m}": "9" * 30, f"x{m}": "?", f"o{m}": "1,a"})
    assert odd.status_code == 200 and "No issue matches “50%_ off”" in odd.content.decode()
    nul = _get(client, people["viewer"], page, **{f"q{m}": "50%\x00 off"})
    assert nul.status_code == 400 and "Null characters are not allowed" in nul.content.decode()


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


# --- several levels ----------------------------------------------------------------------


@pytest.fixture
def nested(monkeypatch, space, people):
    """Three epics, each with stories (WEB-1xx under WEB-1, …); WEB-3 has none."""
    epics = [make_issue(n, summary=f"Epic {n}") for n in (1, 2, 3)]
    stories = {
        "parent = WEB-1": [make_issue(n, summary=f"Story {n}", customfield_10016=n % 7) for n in (105, 101, 110, 103)],
        "parent = WEB-2": [make_issue(n, summary=f"Story {n} {'needle' if n == 202 else ''}", customfield_10016=1) for n in (203, 202, 201)],
    }
    use_source(monkeypatch, StaticSource(epics, by_jql={"project = WEB": epics, **stories, "parent = WEB-3": []}))
    page, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary"])
    macro.levels = [{"jql": "project = WEB", "fields": ["key", "summary"]}, {"jql": "parent = $key", "fields": ["key", "summary", "customfield_10016"]}]
    macro.display = {"page_size": 25, "empty_level_text": "No stories"}
    macro.save()
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)
    return page, macro


def _tree(table) -> list[tuple[int, str]]:
    return [(r.level, r.key or r.empty_level) for r in table.flat_rows() if not r.heading]


def test_a_sort_orders_each_level_and_keeps_children_under_their_parent(nested):
    _, macro = nested
    snapshot = macro.latest_snapshot()
    table = build_table(snapshot, display=macro.display, state=TableState.from_query({f"s{macro.pk}": "-key"}, str(macro.pk)))
    assert _tree(table) == [
        (1, "WEB-3"), (2, "No stories"),
        (1, "WEB-2"), (2, "WEB-203"), (2, "WEB-202"), (2, "WEB-201"),
        (1, "WEB-1"), (2, "WEB-110"), (2, "WEB-105"), (2, "WEB-103"), (2, "WEB-101"),
    ]


def test_a_filter_matching_a_child_shows_it_under_its_parent(nested):
    _, macro = nested
    table = build_table(macro.latest_snapshot(), display=macro.display, state=TableState.from_query({f"q{macro.pk}": "needle"}, str(macro.pk)))
    assert table.matched == 1
    assert _tree(table) == [(1, "WEB-2"), (2, "WEB-202")]
    table = build_table(macro.latest_snapshot(), display=macro.display, state=TableState.from_query({f"q{macro.pk}": "epic 1"}, str(macro.pk)))
    assert [k for _, k in _tree(table)] == ["WEB-1", "WEB-105", "WEB-101", "WEB-110", "WEB-103"], "a matching parent keeps its children, in Jira's order"


def test_deeper_levels_close_and_open_all_or_one_parent(client, people, nested):
    page, macro = nested
    client.force_login(people["viewer"])
    m = macro.pk
    closed = client.get(page.get_absolute_url(), {f"x{m}": "none"}).content.decode()
    assert "WEB-101" not in closed and "(4 below)" in closed and "Expand all levels" in closed
    snapshot = macro.latest_snapshot()
    first = snapshot.rows.get(issue_key="WEB-1").position
    one = client.get(page.get_absolute_url(), {f"x{m}": "none", f"o{m}": str(first)}).content.decode()
    assert "WEB-101" in one and "WEB-201" not in one
    opened = client.get(page.get_absolute_url()).content.decode()
    assert "WEB-101" in opened and "WEB-201" in opened and "No stories" in opened
    assert client.get(page.get_absolute_url(), {f"o{m}": "x,,-1," + "9" * 50}).status_code == 200


def test_the_macro_block_url_answers_the_same_state_for_live_updates(client, people, big):
    page, macro = big
    client.force_login(people["viewer"])
    url = reverse("macro_block", args=[page.pk, macro.public_id])
    html = client.get(url, {f"q{macro.pk}": "needle", f"s{macro.pk}": "-key"}).content.decode()
    assert html.startswith("<section") and _keys(html) == ["WEB-47"]
    assert 'value="-key"' in html, "the filter form carries the sort along"


def test_the_backfill_command_indexes_old_snapshots_once(big):
    from io import StringIO

    from django.core.management import call_command

    _, macro = big
    snapshot = macro.latest_snapshot()
    SnapshotRowIndex.objects.filter(snapshot=snapshot).delete()
    out = StringIO()
    call_command("index_tables", stdout=out)
    assert f"snapshot {snapshot.pk}: 60 issue(s) indexed" in out.getvalue()
    assert SnapshotRowIndex.objects.filter(snapshot=snapshot).count() == 60
    out = StringIO()
    call_command("index_tables", stdout=out)
    assert "0 snapshot(s) indexed" in out.getvalue()
