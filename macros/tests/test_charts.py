"""Charts: counts stored with each snapshot, the History's trend, the Chart display option, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import publish_page_with_macro
from macros import pages as page_service
from macros.chart_data import MAX_GROUPS, ensure_counted, grouped, tally, trend_of
from macros.models import PageVersion, Snapshot
from macros.tests.history_helpers import issue, snapshot_of

POINTS = "customfield_10016"
FIELDS = ["key", "summary", "status", "assignee", "priority", "components", POINTS]
TODO, DOING, DONE = ("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")


def story(n: int, state=TODO, points=None, assignee=None, components=(), priority="Medium") -> dict:
    return issue(
        n, status=state[0], category=state[1], assignee=assignee, priority=priority,
        components=[{"id": str(i), "name": c} for i, c in enumerate(components)], **{POINTS: points},
    )


def sprint(states: list) -> list[dict]:
    return [story(n, state, points) for n, (state, points) in enumerate(states, start=1)]


@pytest.fixture
def macro_page(space, people):
    return publish_page_with_macro(space, people["editor"], fields=FIELDS)


@pytest.fixture
def three_weeks(macro_page, people, monkeypatch):
    """Three weekly snapshots: 6 issues all To Do; 2/2/2; then 1/1/4 with story points."""
    page, macro = macro_page
    weeks = [
        [(TODO, 3)] * 6,
        [(TODO, 3), (TODO, 3), (DOING, 5), (DOING, 2), (DONE, 1), (DONE, 1)],
        [(TODO, 3), (DOING, 5), (DONE, 2), (DONE, 1), (DONE, 1), (DONE, 8)],
    ]
    snapshots = [snapshot_of(macro, monkeypatch, sprint(states), user=people["editor"]) for states in weeks]
    start = timezone.now() - timedelta(days=14)
    for i, snapshot in enumerate(snapshots):
        Snapshot.objects.filter(pk=snapshot.pk).update(taken_at=start + timedelta(days=7 * i))
    return page, macro, snapshots


# --------------------------------------------------------------------------------------
# Counted once, when the snapshot is taken


def test_it_stores_sums_per_category_and_group_counts_with_the_snapshot(macro_page, monkeypatch):
    _, macro = macro_page
    issues = [
        story(1, TODO, 3, assignee=0, components=["Checkout", "Payments"], priority="High"),
        story(2, DOING, 5, assignee=1, components=["Checkout"]),
        story(3, DONE, 2.5, assignee=0),
        story(4, DONE, None, assignee=None, components=["Payments"]),
    ]
    snapshot = snapshot_of(macro, monkeypatch, issues)
    assert snapshot.counts["status_categories"] == {"To Do": 1, "In Progress": 1, "Done": 2}
    assert snapshot.counts["sums"] == {POINTS: {"To Do": 3.0, "In Progress": 5.0, "Done": 2.5}}
    groups = snapshot.group_counts
    assert groups["assignee"] == {
        "Ada Lovelace": {"count": 2, "sums": {POINTS: 5.5}},
        "Grace Hopper": {"count": 1, "sums": {POINTS: 5.0}},
        "Unassigned": {"count": 1, "sums": {}},
    }
    assert {label: g["count"] for label, g in groups["components"].items()} == {"Checkout": 2, "Payments": 2, "None": 1}
    assert groups["status"]["Done"] == {"count": 2, "sums": {POINTS: 2.5}, "category": "Done"}
    assert groups["priority"]["High"]["count"] == 1 and groups["priority"]["Medium"]["count"] == 3
    assert "summary" not in groups and "key" not in groups, "free text is never grouped"


def test_a_column_with_too_many_values_is_not_grouped_and_text_is_not_summed(macro_page, monkeypatch):
    _, macro = macro_page
    issues = [story(n, TODO, "three" if n == 5 else 3, assignee=n) for n in range(1, MAX_GROUPS + 3)]
    for n, data in enumerate(issues):
        data["fields"]["assignee"] = {"accountId": f"a{n}", "displayName": f"Person {n}", "active": True}
    snapshot = snapshot_of(macro, monkeypatch, issues)
    assert snapshot.group_counts["assignee"] is None
    assert POINTS not in snapshot.counts["sums"], "a field holding text is not a number to add up"
    chart = grouped(snapshot, "assignee")
    assert "more than 200 different values" in chart.problem


def test_an_older_snapshot_is_counted_once_from_its_rows(macro_page, monkeypatch, django_assert_max_num_queries):
    _, macro = macro_page
    snapshot = snapshot_of(macro, monkeypatch, [story(1, TODO, 2), story(2, DONE, 3)])
    Snapshot.objects.filter(pk=snapshot.pk).update(group_counts=None, counts={"levels": [2], "status_categories": {"To Do": 1, "Done": 1}})
    snapshot.refresh_from_db()
    ensure_counted(snapshot)
    snapshot.refresh_from_db()
    assert snapshot.counts["sums"] == {POINTS: {"To Do": 2.0, "Done": 3.0}}
    assert snapshot.group_counts["status"]["To Do"]["count"] == 1
    with django_assert_max_num_queries(0):
        ensure_counted(snapshot)


def test_the_data_migration_counts_snapshots_taken_before_charts(macro_page, monkeypatch):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("macros.migrations.0004_snapshot_chart_counts")
    _, macro = macro_page
    old = snapshot_of(macro, monkeypatch, [story(1, TODO, 2, assignee=1), story(2, DONE, 3, assignee=1)])
    Snapshot.objects.filter(pk=old.pk).update(group_counts=None, counts={"levels": [2], "status_categories": {"To Do": 1, "Done": 1}})
    migration.count_existing_snapshots(apps, None)
    old.refresh_from_db()
    assert old.counts == {"levels": [2], "status_categories": {"To Do": 1, "Done": 1}, "sums": {POINTS: {"To Do": 2.0, "Done": 3.0}}, "charts": 1}
    assert old.group_counts["assignee"] == {"Grace Hopper": {"count": 2, "sums": {POINTS: 5.0}}}


def test_the_migration_and_the_row_writer_count_the_same(macro_page, monkeypatch):
    _, macro = macro_page
    snapshot = snapshot_of(macro, monkeypatch, [story(1, TODO, 2, assignee=1, components=["A"]), story(2, DOING, 1)])
    data = list(snapshot.rows.filter(level=1).order_by("position").values_list("data", flat=True))
    more, groups = tally(snapshot.columns, data)
    assert more["sums"] == snapshot.counts["sums"] and groups == snapshot.group_counts


# --------------------------------------------------------------------------------------
# The trend on the History


def trend_rows(body: str) -> list[list[str]]:
    table = body.split('<table class="issues trend-numbers">', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S):
        rows.append([re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
    return rows


def test_the_history_shows_a_trend_with_the_same_numbers_as_its_table(client, people, three_weeks):
    page, *_ = three_weeks
    client.force_login(people["viewer"])
    response = client.get(reverse("page_history", args=[page.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="img" aria-label="Trend of Open issues: issues per status category over 3 snapshots' in body
    assert "latest To Do 1, In Progress 1, Done 4, total 6" in body
    rows = trend_rows(body)
    assert [r[0] for r in rows] == ["v2", "v3", "v4"]
    assert [r[2:6] for r in rows] == [["6", "0", "0", "6"], ["2", "2", "2", "6"], ["1", "1", "4", "6"]]
    # Each point opens its version.
    for number in (2, 3, 4):
        assert f'<a href="{reverse("page_version", args=[page.pk, number])}" class="point" tabindex="-1">' in body
    assert body.count('class="band cat-') == 3


def test_a_trend_sums_a_numeric_field_per_category_for_a_burn_down(client, people, three_weeks):
    page, macro, _ = three_weeks
    client.force_login(people["viewer"])
    body = client.get(reverse("page_history", args=[page.pk]), {f"measure{macro.pk}": POINTS}).content.decode()
    assert 'aria-label="Trend of Open issues: sum of Story Points per status category over 3 snapshots' in body
    rows = trend_rows(body)
    # To Do, In Progress, Done, Total, Remaining (not Done)
    assert [r[2:7] for r in rows] == [["18", "0", "0", "18", "18"], ["6", "7", "2", "15", "13"], ["3", "5", "12", "20", "8"]]
    assert 'aria-current="true" class="active">Sum of' in body


def test_the_history_pages_keep_the_chosen_measure(client, people, three_weeks):
    page, macro, _ = three_weeks
    PageVersion.objects.bulk_create(
        PageVersion(page=page, number=n, kind=PageVersion.Kind.PUBLISH, title=page.title, actor="editor") for n in range(5, 60)
    )
    client.force_login(people["viewer"])
    body = client.get(reverse("page_history", args=[page.pk]), {f"measure{macro.pk}": POINTS}).content.decode()
    assert f'<a href="?measure{macro.pk}={POINTS}&amp;p=2">Older ›</a>' in body
    second = client.get(reverse("page_history", args=[page.pk]), {f"measure{macro.pk}": POINTS, "p": 2}).content.decode()
    assert "Trend of Open issues: sum of Story Points" in second


def test_stickers_are_marked_on_the_time_axis(client, people, three_weeks):
    page, *_ = three_weeks
    PageVersion.objects.get(page=page, number=4).add_sticker("Sprint 12 end", people["editor"])
    client.force_login(people["viewer"])
    body = client.get(reverse("page_history", args=[page.pk])).content.decode()
    assert '<g class="sticker-mark"><title>Sprint 12 end</title>' in body and ">★ Sprint 12 end</text>" in body
    assert trend_rows(body)[2][-1] == "Sprint 12 end"


def test_a_changed_query_is_noted_where_it_changed(client, people, three_weeks):
    page, macro, snapshots = three_weeks
    Snapshot.objects.filter(pk=snapshots[2].pk).update(levels=[{"jql": "project = WEB AND sprint = 13", "fields": FIELDS}])
    client.force_login(people["viewer"])
    rows = trend_rows(client.get(reverse("page_history", args=[page.pk])).content.decode())
    assert [r[-1] for r in rows] == ["", "", "query changed"]
    assert [p.query_changed for p in trend_of(macro).points] == [False, False, True]


def test_no_trend_for_a_macro_with_one_snapshot(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    snapshot_of(macro, monkeypatch, [story(1)])
    client.force_login(people["viewer"])
    body = client.get(reverse("page_history", args=[page.pk])).content.decode()
    assert "Trend of" not in body and "trend-numbers" not in body


def test_the_trend_reads_stored_counts_not_rows(three_weeks, django_assert_max_num_queries):
    _, macro, _ = three_weeks
    with django_assert_max_num_queries(4):
        trend = trend_of(macro)
    assert [p.total for p in trend.points] == [6, 6, 6]


def test_a_trend_keeps_the_latest_snapshots_and_says_so(three_weeks):
    _, macro, snapshots = three_weeks
    trend = trend_of(macro, limit=2)
    assert [p.snapshot_id for p in trend.points] == [s.pk for s in snapshots[1:]]
    assert trend.omitted == 1


def test_the_trend_data_downloads_as_csv(client, people, three_weeks):
    page, macro, _ = three_weeks
    client.force_login(people["viewer"])
    response = client.get(reverse("trend_csv", args=[page.pk, macro.public_id]), {"measure": POINTS})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].endswith('-trend.csv"')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    assert rows[0][:3] == ["Version", "Snapshot", "Taken at"] and rows[0][-3:] == ["Remaining (not Done)", "Stickers", "Query changed"]
    assert [r[3:8] for r in rows[1:]] == [["18", "0", "0", "18", "18"], ["6", "7", "2", "15", "13"], ["3", "5", "12", "20", "8"]]


def test_an_outsider_gets_no_trend_data(client, people, three_weeks):
    page, macro, _ = three_weeks
    client.force_login(people["outsider"])
    assert client.get(reverse("trend_csv", args=[page.pk, macro.public_id])).status_code == 404


# --------------------------------------------------------------------------------------
# The Chart display option


def set_chart(page, macro, user, **chart):
    draft = macro.draft_config()
    display = {**draft.get("display", {}), "chart": {"placement": "above", "measure": "", **chart}}
    page_service.save_macro_draft(macro, {**draft, "display": display})
    page_service.publish(page, user)
    macro.refresh_from_db()


def bars_of(body: str) -> dict[str, str]:
    return dict(re.findall(r'<g class="bar"><title>([^<]*): ([^<]*)</title>', body))


def test_the_display_tab_saves_a_chart_option(client, people, macro_page):
    page, macro = macro_page
    client.force_login(people["editor"])
    url = reverse("macro_display", args=[page.pk, macro.public_id])
    body = client.get(url).content.decode()
    assert '<label for="id_chart-type">Chart</label>' in body
    assert '<option value="assignee">Assignee</option>' in body and '<option value="statusCategory">Status category</option>' in body
    response = client.post(url, {"page_size": 25, "show_count": "on", "chart-type": "pie", "chart-group_by": "assignee",
                                 "chart-measure": "", "chart-placement": "instead"})
    assert response.status_code == 302
    macro.refresh_from_db()
    assert macro.draft["display"]["chart"] == {"type": "pie", "group_by": "assignee", "measure": "", "placement": "instead"}
    assert macro.draft["display"]["page_size"] == 25


def test_the_display_tab_refuses_a_chart_without_a_field(client, people, macro_page):
    page, macro = macro_page
    client.force_login(people["editor"])
    url = reverse("macro_display", args=[page.pk, macro.public_id])
    response = client.post(url, {"page_size": 25, "chart-type": "bar", "chart-group_by": "", "chart-placement": "above"})
    assert response.status_code == 200
    assert "Choose a field to group the issues by." in response.content.decode()
    response = client.post(url, {"page_size": 25, "chart-type": "bar", "chart-group_by": "nonsense"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_the_page_shows_bars_of_the_snapshot_above_the_table(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    set_chart(page, macro, people["editor"], type="bar", group_by="assignee")
    snapshot_of(macro, monkeypatch, [story(1, assignee=0), story(2, assignee=0), story(3, assignee=1), story(4)])
    client.force_login(people["viewer"])
    body = client.get(page.get_absolute_url()).content.decode()
    assert bars_of(body) == {"Ada Lovelace": "2", "Grace Hopper": "1", "Unassigned": "1"}
    assert 'role="img" aria-label="Chart of Open issues: issues by Assignee. Ada Lovelace 2; Grace Hopper 1; Unassigned 1"' in body
    assert body.index('class="chart-svg bars"') < body.index('<table class="issues">')


def test_priorities_keep_their_own_order(macro_page, monkeypatch):
    _, macro = macro_page
    priorities = ["Medium", "Medium", "Medium", "Low", "Highest", "High", "High"]
    snapshot = snapshot_of(macro, monkeypatch, [story(n, priority=p) for n, p in enumerate(priorities, start=1)])
    assert [(b.label, b.value) for b in grouped(snapshot, "priority").bars] == [("Highest", 1), ("High", 2), ("Medium", 3), ("Low", 1)]
    assert [b.label for b in grouped(snapshot, "assignee").bars] == ["Unassigned"]


def test_a_chart_can_sum_a_field_and_replace_the_table(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    set_chart(page, macro, people["editor"], type="bar", group_by="status", measure=POINTS, placement="instead")
    snapshot_of(macro, monkeypatch, [story(1, TODO, 3), story(2, DOING, 5), story(3, DONE, 8), story(4, DONE, 1)])
    client.force_login(people["viewer"])
    body = client.get(page.get_absolute_url()).content.decode()
    assert bars_of(body) == {"To Do": "3", "In Progress": "5", "Done": "9"}
    assert 'class="cat-indeterminate"' in body, "status bars take their category's colour"
    assert '<table class="issues">' not in body


def test_a_pie_chart_shows_slices_with_shares(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    set_chart(page, macro, people["editor"], type="pie", group_by="statusCategory")
    snapshot_of(macro, monkeypatch, [story(1, TODO), story(2, DONE), story(3, DONE), story(4, DONE)])
    client.force_login(people["viewer"])
    body = client.get(page.get_absolute_url()).content.decode()
    assert "<title>To Do: 1 (25%)</title>" in body and "<title>Done: 3 (75%)</title>" in body
    assert 'class="slice cat-done"' in body


def test_an_old_version_keeps_its_chart(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    set_chart(page, macro, people["editor"], type="bar", group_by="priority")
    snapshot_of(macro, monkeypatch, [story(1, priority="High"), story(2)])
    number = page.versions.order_by("-number").first().number
    set_chart(page, macro, people["editor"], type="bar", group_by="assignee")
    client.force_login(people["viewer"])
    body = client.get(reverse("page_version", args=[page.pk, number])).content.decode()
    assert bars_of(body) == {"High": "1", "Medium": "1"}


def test_an_empty_snapshot_draws_no_chart_and_says_why(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    set_chart(page, macro, people["editor"], type="pie", group_by="assignee")
    snapshot_of(macro, monkeypatch, [])
    client.force_login(people["viewer"])
    body = client.get(page.get_absolute_url()).content.decode()
    assert "No issues to chart." in body and 'class="chart-svg' not in body
    set_chart(page, macro, people["editor"], type="bar", group_by="assignee", measure=POINTS)
    snapshot_of(macro, monkeypatch, [story(1, points=0), story(2, points=0)])
    body = client.get(page.get_absolute_url()).content.decode()
    assert "Nothing to add up: every issue's Story Points is empty or 0." in body


def test_a_chart_of_a_field_the_snapshot_lacks_says_so(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    set_chart(page, macro, people["editor"], type="bar", group_by="fixVersions")
    snapshot_of(macro, monkeypatch, [story(1)])
    client.force_login(people["viewer"])
    body = client.get(page.get_absolute_url()).content.decode()
    assert "This snapshot has no fixVersions column" in body
    assert '<table class="issues">' in body


def test_the_chart_data_downloads_as_csv(client, people, macro_page, monkeypatch):
    page, macro = macro_page
    snapshot = snapshot_of(macro, monkeypatch, [story(1, TODO, 2, components=["=cmd"]), story(2, DONE, 3, components=["Web"])])
    client.force_login(people["viewer"])
    response = client.get(reverse("chart_csv", args=[page.pk, snapshot.pk]), {"group_by": "components", "measure": POINTS})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    assert list(csv.reader(io.StringIO(text))) == [["components", "Sum of Story Points"], ["Web", "3"], ["'=cmd", "2"]]
    bad = client.get(reverse("chart_csv", args=[page.pk, snapshot.pk]), {"group_by": "nothing"})
    assert bad.status_code == 400 and "has no nothing column" in bad.content.decode()


# --------------------------------------------------------------------------------------
# Compare


def test_compare_draws_the_two_snapshots_category_counts(client, people, three_weeks):
    page, macro, snapshots = three_weeks
    client.force_login(people["viewer"])
    body = client.get(reverse("compare_snapshots", args=[page.pk, macro.public_id]), {"a": snapshots[0].pk, "b": snapshots[2].pk}).content.decode()
    assert 'role="img" aria-label="Issues per status category, before and after: To Do 6 → 1; In Progress 0 → 1; Done 0 → 4"' in body
    assert "<title>Done: 4</title>" in body


# --------------------------------------------------------------------------------------
# Geometry


def test_points_sit_at_their_time_and_the_axis_counts_in_whole_numbers(three_weeks):
    from macros.chart_svg import trend_figure

    page, macro, snapshots = three_weeks
    start = timezone.now() - timedelta(days=28)
    for snapshot, days in zip(snapshots, (0, 7, 28), strict=True):
        Snapshot.objects.filter(pk=snapshot.pk).update(taken_at=start + timedelta(days=days))
    figure = trend_figure(trend_of(macro), page.pk)
    xs = [p.x for p in figure.points]
    assert xs[0] == figure.left and xs[2] == figure.right
    assert abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - 0.25) < 0.01
    assert [t.label for t in figure.y_ticks] == ["0", "2", "4", "6"]
    assert [p.y for p in figure.points] == [figure.top] * 3, "the total, 6, is the top of the scale"
    assert [p.href for p in figure.points] == [reverse("page_version", args=[page.pk, n]) for n in (2, 3, 4)]


def test_a_pie_of_one_group_is_a_whole_circle_and_shares_add_up():
    from macros.chart_data import GroupBar, GroupedCounts
    from macros.chart_svg import pie_figure

    whole = pie_figure(GroupedCounts("priority", "Priority", "", "Issues", [GroupBar("High", 4)]), "Bugs")
    assert whole.whole and whole.slices[0].percent == "100%"
    many = [GroupBar(f"Person {n}", 1) for n in range(12)]
    pie = pie_figure(GroupedCounts("assignee", "Assignee", "", "Issues", many), "Bugs")
    assert [s.label for s in pie.slices][-1] == "Other (5 more)" and len(pie.slices) == 8
    assert sum(s.value for s in pie.slices) == 12
    assert pie.slices[-1].css == "pal-other"


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_every_field_type_groups_under_readable_labels(cloud):
    from macros.tests.jira_fields import COLUMNS, RAW_MARKERS, varied_fields

    issues = [{"key": f"WEB-{n}", "fields": varied_fields(n, cloud=cloud)} for n in range(1, 41)]
    counts, groups = tally([COLUMNS], issues)
    for field_id, labels in groups.items():
        for label in labels or {}:
            # "None" is the group of issues without a value, as Jira's own charts name it.
            assert label == "None" or not any(marker in label for marker in RAW_MARKERS), (field_id, label)
    assert set(groups["status"]) == {"To Do", "In Progress", "In Review", "Done"}
    assert groups["status"]["In Review"]["category"] == "In Progress"
    assert sum(g["count"] for g in groups["priority"].values()) == 40
    points = sum(i["fields"]["customfield_10016"] or 0 for i in issues)
    assert sum(counts["sums"]["customfield_10016"].values()) == points
    assert "summary" not in groups and "description" not in groups
    estimates = sum(i["fields"]["timeestimate"] for i in issues) / 3600
    assert sum(counts["sums"]["timeestimate"].values()) == pytest.approx(estimates)
    assert counts["units"] == {f: "hours" for f in counts["sums"] if "time" in f}
    sprints = set(groups["customfield_10020"])
    assert sprints and all("Sprint" in s or "sprint" in s.lower() for s in sprints), sprints
