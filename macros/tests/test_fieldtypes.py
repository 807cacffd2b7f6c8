"""Every common Jira field type reads as Jira shows it, in Cloud and Data Center forms
(macros/fieldtypes): text, HTML cell, sort order and numbers."""

from __future__ import annotations

import pytest

from macros.fieldtypes import cell_html, cell_text, cell_value, column_for, renderer_for
from macros.fieldtypes.formats import duration_text, number_text
from macros.fieldtypes.richtext import wiki_text
from macros.tests.jira_fields import COLUMNS, RAW_MARKERS, expected_text, rich_issue

SITE = "https://jira.example.com"
FORMS = [pytest.param(True, id="cloud"), pytest.param(False, id="datacenter")]


@pytest.fixture(autouse=True)
def utc(settings):
    settings.TIME_ZONE = "UTC"


@pytest.mark.parametrize("cloud", FORMS)
def test_it_reads_every_field_type_as_jira_shows_it(cloud):
    issue = rich_issue(1, cloud=cloud)
    expected = expected_text(cloud=cloud)
    assert {c["id"] for c in COLUMNS} == set(expected), "the fixture covers every column"
    got = {c["id"]: cell_text(issue, c) for c in COLUMNS}
    assert got == expected


@pytest.mark.parametrize("cloud", FORMS)
def test_no_cell_shows_raw_data(cloud):
    issue = rich_issue(1, cloud=cloud)
    for column in COLUMNS:
        for shown in (cell_text(issue, column), cell_html(issue, column, SITE)):
            found = [m for m in RAW_MARKERS if m in shown]
            assert not found, f"{column['name']} shows raw data {found}: {shown!r}"


@pytest.mark.parametrize("cloud", FORMS)
def test_without_a_schema_system_fields_still_read_by_their_id(cloud):
    issue = rich_issue(1, cloud=cloud)
    expected = expected_text(cloud=cloud)
    for column in COLUMNS:
        old = {"id": column["id"], "name": column["name"]}  # a snapshot from before schemas were kept
        text = cell_text(issue, old)
        assert not [m for m in RAW_MARKERS if m in text], (column["id"], text)
        if not column["id"].startswith("customfield_"):
            assert text == expected[column["id"]], column["id"]


def test_unknown_custom_values_without_a_schema_read_as_their_most_readable_text():
    issue = rich_issue(1, cloud=False)
    column = {"id": "customfield_10020", "name": "Sprint"}
    assert cell_text(issue, column) == "Sprint 12, Sprint 13", "a Java toString gives its name"
    assert cell_text(issue, {"id": "customfield_10031"}) == "EMEA › Germany"
    assert cell_text(issue, {"id": "customfield_10039"}) == "On track"
    assert cell_text(rich_issue(1), {"id": "customfield_10036"}) == "Users can sign in again on Safari."
    assert cell_text({"fields": {"customfield_1": {"self": "x", "id": "7"}}}, "customfield_1") == ""
    assert cell_text({"fields": {"customfield_1": True}}, "customfield_1") == "Yes"
    for raw, readable in (
        ('{"name": "Gold", "id": 3}', "Gold"),  # JSON sent as a string
        ("{name=Gold, id=3}", "Gold"),  # a Java map's toString
        ("{id=3}", ""),
        ("[draft] keep as is", "[draft] keep as is"),
        ("{braces} in prose", "{braces} in prose"),
    ):
        assert cell_text({"fields": {"customfield_1": raw}}, "customfield_1") == readable, raw


def test_issue_keys_link_to_jira_on_cloud_and_data_center_alike():
    for cloud, site in ((True, "https://acme.atlassian.net"), (False, "https://jira.acme.internal/jira")):
        issue = rich_issue(1, cloud=cloud)
        html = {c["id"]: cell_html(issue, c, site) for c in COLUMNS}
        assert html["key"] == f'<a class="issue-key" href="{site}/browse/WEB-101" rel="noopener">WEB-101</a>'
        assert f'href="{site}/browse/WEB-12"' in html["issuelinks"] and html["issuelinks"].startswith("blocks <a")
        assert 'title="SSO for partners"' in html["issuelinks"] and "relates to <a" in html["issuelinks"]
        assert f'href="{site}/browse/WEB-21"' in html["subtasks"] and f'href="{site}/browse/WEB-22"' in html["subtasks"]
        assert html["parent"] == f'<a class="issue-key" href="{site}/browse/WEB-1" rel="noopener">WEB-1</a> Login revamp'
    dc = rich_issue(1, cloud=False)
    epic = next(c for c in COLUMNS if c["id"] == "customfield_10014")
    assert 'href="https://jira.acme.internal/jira/browse/WEB-1"' in cell_html(dc, epic, "https://jira.acme.internal/jira")
    assert cell_html(dc, "key", "") == '<span class="issue-key">WEB-101</span>', "no site (sample data): no link"


def test_status_is_a_lozenge_and_progress_a_bar():
    issue = rich_issue(1)
    assert cell_html(issue, {"id": "status"}) == '<span class="lozenge cat-indeterminate">In Review</span>'
    issue["fields"]["status"] = {"name": "Open"}  # very old servers send no category
    assert cell_html(issue, {"id": "status"}) == '<span class="lozenge cat-none">Open</span>'
    progress = cell_html(rich_issue(1), {"id": "progress", "schema": {"type": "progress", "system": "progress"}})
    assert '<progress max="100" value="60"' in progress and "60%" in progress


def test_html_is_escaped():
    issue = {"key": "X-1", "fields": {"summary": "<script>alert(1)</script>", "labels": ["<b>"],
                                      "parent": {"key": "X-0", "fields": {"summary": "a & <i>b</i>"}}}}
    assert cell_html(issue, "summary") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert cell_html(issue, "labels") == "&lt;b&gt;"
    assert cell_html(issue, "parent", "https://j.example") == '<a class="issue-key" href="https://j.example/browse/X-0" rel="noopener">X-0</a> a &amp; &lt;i&gt;b&lt;/i&gt;'


def test_numbers_durations_and_counts_feed_totals():
    issue = rich_issue(1)
    by_id = {c["id"]: c for c in COLUMNS}

    def number(field_id):
        return renderer_for(by_id[field_id]).number(cell_value(issue, field_id))

    assert number("customfield_10016") == 5 and renderer_for(by_id["customfield_10016"]).summable
    assert number("customfield_10035") == 1234.5
    assert number("timeoriginalestimate") == 36000 and renderer_for(by_id["timespent"]).summable
    assert number("votes") == 3 and number("watches") == 2 and number("comment") == 2
    assert number("attachment") == 2 and number("progress") == 60
    assert number("summary") is None and not renderer_for(by_id["summary"]).summable
    assert renderer_for(by_id["timespent"]).total_text(36000 + 21600) == "2d"
    assert renderer_for(by_id["customfield_10035"]).total_text(1234.5 * 2) == "2,469"
    assert renderer_for(by_id["votes"]).total_text(7.0) == "7"


def test_sorting_is_natural_with_empty_values_last():
    def order(column, values):
        renderer = renderer_for(column)
        return sorted(values, key=renderer.sort_key)

    priority = {"id": "priority", "schema": {"type": "priority", "system": "priority"}}
    assert [p and p["name"] for p in order(priority, [
        {"name": "Low", "id": "4"}, None, {"name": "Highest", "id": "1"}, {"name": "Medium", "id": "3"}, {"name": "P0", "id": "1"},
    ])] == ["Highest", "P0", "Medium", "Low", None]
    status = {"id": "status"}
    assert [s and s["name"] for s in order(status, [
        {"name": "Done", "statusCategory": {"key": "done"}}, None,
        {"name": "In Review", "statusCategory": {"key": "indeterminate"}}, {"name": "Backlog", "statusCategory": {"key": "new"}},
    ])] == ["Backlog", "In Review", "Done", None]
    assert order({"id": "key"}, ["WEB-10", "WEB-9", "ABC-100"]) == ["ABC-100", "WEB-9", "WEB-10"]
    points = {"id": "customfield_10016", "schema": {"type": "number"}}
    assert order(points, [8, None, 0.5, 13, 2]) == [0.5, 2, 8, 13, None]
    created = {"id": "created"}
    assert order(created, ["2026-01-02T00:00:00.000+0000", None, "2026-01-01T23:00:00.000-0700"]) == [
        "2026-01-02T00:00:00.000+0000", "2026-01-01T23:00:00.000-0700", None]
    assert order({"id": "timespent"}, [None, 3600, 60]) == [60, 3600, None]


def test_jira_number_and_duration_forms():
    assert number_text(5.0) == "5" and number_text(1234.5) == "1,234.5" and number_text(1234567) == "1,234,567"
    assert number_text(0.125) == "0.125" and number_text(2 / 3) == "0.667"
    assert duration_text(36000) == "1d 2h" and duration_text(0) == "0m" and duration_text(5400) == "1h 30m"
    assert duration_text(144000 + 3600) == "1w 1h"


def test_dates_follow_the_site_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    column = {"id": "created", "schema": {"type": "datetime", "system": "created"}}
    assert cell_text({"fields": {"created": "2026-11-20T16:29:31.871-0700"}}, column) == "2026-11-21 00:29"
    assert cell_text({"fields": {"created": "2026-07-01T10:00:00.000Z"}}, column) == "2026-07-01 12:00"
    assert cell_text({"fields": {"duedate": "2026-12-01"}}, "duedate") == "2026-12-01"


def test_wiki_markup_becomes_readable_text():
    markup = (
        "h1. Plan\n*Bold* and _italic_ and -gone- and {{mono}} and +under+.\n"
        "* one\n** nested\n# first\n# second\n"
        "||Name||Score||\n|Ada|5|\n"
        "bq. quoted\n{quote}said{quote}\n{color:red}red{color}\n"
        "[Docs|https://example.com] [https://example.org] [~ada] !shot.png|thumbnail!\n"
        "{noformat}\n*kept* as is\n{noformat}\nline\\\\break"
    )
    assert wiki_text(markup) == (
        "Plan\nBold and italic and gone and mono and under.\n"
        "• one\n  • nested\n1. first\n2. second\n"
        "Name | Score\nAda | 5\n"
        "quoted\nsaid\nred\n"
        "Docs https://example.org ada shot.png\n"
        "*kept* as is\nline\nbreak"
    )
    assert wiki_text("2026-11-29 - a date, not a strike-through") == "2026-11-29 - a date, not a strike-through"


def test_columns_keep_only_the_schema_keys_that_say_what_a_value_is():
    column = column_for("customfield_10020", "Sprint", {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint", "customId": 10020, "extra": 1})
    assert column == {"id": "customfield_10020", "name": "Sprint", "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint", "customId": 10020}}
    assert column_for("summary", "Summary") == {"id": "summary", "name": "Summary"}


ODD_VALUES = [
    None, "", [], {}, "text", "2026-01-01", "2026-01-01T10:00:00.000+0000", 0, 5, 2.5, True,
    {"name": "a", "id": "x"}, {"value": "b"}, [{"name": "c"}, "d"], {"type": "doc", "content": []},
    {"key": "WEB-1", "fields": {}}, ["com.atlassian.greenhopper.service.sprint.Sprint@1[id=1,name=S]"],
    {"votes": "many"}, {"progress": 1, "total": 0}, {"comments": "?"}, [None, {}], "WEB-7",
]


def test_every_renderer_orders_any_values_without_raising_and_shows_no_raw_data():
    from macros.fieldtypes import registry

    renderers = {*registry.BY_CUSTOM.values(), *registry.BY_SYSTEM.values(), *registry.BY_TYPE.values(), registry.FALLBACK}
    for renderer in renderers:
        ordered = sorted(ODD_VALUES, key=renderer.sort_key)
        assert renderer.sort_key(ordered[-1]) == (1,) or not [v for v in ODD_VALUES if renderer.sort_key(v) == (1,)]
        for value in ODD_VALUES:
            for shown in (renderer.text(value), str(renderer.html(value, site_url=SITE))):
                assert not [m for m in RAW_MARKERS if m in shown], (type(renderer).__name__, value, shown)
            number = renderer.number(value)
            assert number is None or isinstance(number, float), (type(renderer).__name__, value, number)


def test_fallbacks_of_users_request_types_resolutions_and_links():
    from macros.fieldtypes import renderers as r

    # A user known only by an email address (some Data Center directories) shows it.
    assert r.User().text({"emailAddress": "ann@example.com", "active": True}) == "ann@example.com"
    # A request type not in Service Management's object form reads as its own text.
    assert r.RequestType().text("Get IT help") == "Get IT help"
    assert r.RequestType().text({"requestType": {"name": "Report a bug"}}) == "Report a bug"
    # Resolutions sort by their names, the empty one last.
    resolution = renderer_for({"id": "resolution"})
    assert sorted([{"name": "Won't Do"}, None, {"name": "Done"}], key=resolution.sort_key) == [{"name": "Done"}, {"name": "Won't Do"}, None]
    # A links value that holds no link is empty: it sorts with the empty ones, last.
    links = renderer_for({"id": "issuelinks"})
    one = [{"type": {"outward": "blocks"}, "outwardIssue": {"key": "WEB-2"}}]
    assert links.sort_key(["not a link"]) == links.sort_key(None) == links.sort_key([])
    assert sorted([["not a link"], one], key=links.sort_key) == [one, ["not a link"]]
