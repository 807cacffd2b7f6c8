"""The Sample source: its generated data, searches, field projection and paging."""

from __future__ import annotations

import gzip
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from macros.jql import parse_jira_datetime
from macros.sources import sample
from macros.sources.base import FieldInfo, Identity, JqlError
from macros.sources.sample import Sample
from macros.sources.sample_data import generate

JIRA_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def keys(jql: str) -> list[str]:
    return [issue["key"] for issue in Sample().search(jql)]


def all_pages(jql: str, fields: list[str], page_size: int = 100) -> list:
    return list(Sample().search_pages(jql, fields, page_size=page_size))


# --- the dataset ----------------------------------------------------------------------------------


def test_the_committed_file_is_what_the_generator_makes():
    committed = json.loads(gzip.decompress(generate.OUTPUT.read_bytes()))
    assert committed == generate.build_dataset()


def test_the_generator_is_deterministic_to_the_byte(tmp_path):
    first = generate.write(tmp_path / "a.json.gz")
    second = generate.write(tmp_path / "b.json.gz")
    assert first.read_bytes() == second.read_bytes()
    assert generate.build_dataset(seed=1) != generate.build_dataset(), "the seed matters"


def test_the_file_stays_small_and_holds_several_hundred_issues():
    assert generate.OUTPUT.stat().st_size < 1_000_000
    issues = sample.dataset().issues
    assert 600 <= len(issues) <= 900
    assert {i["fields"]["project"]["key"] for i in issues} == {"WEB", "MOB", "OPS"}
    assert {i["fields"]["issuetype"]["name"] for i in issues} == {"Epic", "Story", "Task", "Bug", "Sub-task"}
    assert {i["fields"]["status"]["name"] for i in issues} == {"To Do", "In Progress", "In Review", "Done"}


def test_issues_have_jira_clouds_shape():
    issues = sample.dataset().issues
    first = issues[0]
    assert isinstance(first["id"], str) and re.fullmatch(r"[A-Z]+-\d+", first["key"])
    assert first["self"] == f"https://sample.atlassian.net/rest/api/3/issue/{first['id']}"
    for issue in issues:
        f = issue["fields"]
        assert JIRA_DATE.match(f["created"]) and JIRA_DATE.match(f["updated"])
        assert f["created"] <= f["updated"]
        assert (f["resolution"] is None) == (f["resolutiondate"] is None) == (f["status"]["statusCategory"]["key"] != "done")
        assert f["status"]["statusCategory"]["key"] in ("new", "indeterminate", "done")
        assert f["duedate"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d", f["duedate"])
        assert f["reporter"]["accountId"] and f["reporter"]["displayName"]
        assert f["issuetype"]["subtask"] == (f["issuetype"]["name"] == "Sub-task")
        if f["issuetype"]["subtask"]:
            assert f["parent"]["fields"]["issuetype"]["name"] in ("Story", "Task", "Bug")
        assert f["description"] is None or f["description"]["type"] == "doc"
    people = {i["fields"]["reporter"]["accountId"] for i in issues} | {
        i["fields"]["assignee"]["accountId"] for i in issues if i["fields"]["assignee"]
    }
    assert len(people) == 12
    assert any(i["fields"]["assignee"] is None for i in issues)


def test_stories_link_to_epics_and_sprints_have_clouds_shape():
    issues = sample.dataset().issues
    stories_with_epics = [i for i in issues if i["fields"]["issuetype"]["name"] == "Story" and i["fields"].get("parent")]
    assert stories_with_epics and all(i["fields"]["parent"]["fields"]["issuetype"]["name"] == "Epic" for i in stories_with_epics)
    sprints = [s for i in issues for s in i["fields"]["customfield_10020"] or []]
    assert {s["state"] for s in sprints} == {"closed", "active", "future"}
    assert set(sprints[0]) >= {"id", "name", "state", "boardId"}


def test_dates_are_shifted_so_the_newest_update_is_three_hours_old():
    # A fresh load: the process's cached dataset may have been loaded minutes ago in a long run.
    loaded_at = datetime.now(UTC)
    issues = sample.load(sample.DATA_FILE, now=loaded_at).issues
    newest = max(parse_jira_datetime(i["fields"]["updated"]) for i in issues)
    age = loaded_at - newest
    assert timedelta(hours=2, minutes=58) <= age <= timedelta(hours=3, minutes=5)
    assert len(keys("updated >= -7d")) > 20


def test_load_shifts_every_kind_of_date_by_the_same_amount():
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    shifted = sample.load(sample.DATA_FILE, now=now)
    raw = json.loads(gzip.decompress(sample.DATA_FILE.read_bytes()))["issues"]
    exact = (now - timedelta(hours=3)) - max(parse_jira_datetime(i["fields"]["updated"]) for i in raw)
    assert timedelta(0) <= exact - shifted.shift < timedelta(minutes=1), "whole minutes, never into the future"
    assert shifted.shift.seconds % 60 == 0 and shifted.shift.microseconds == 0
    for before, after in zip(raw, shifted.issues, strict=True):
        assert parse_jira_datetime(after["fields"]["created"]) - parse_jira_datetime(before["fields"]["created"]) == shifted.shift
        for old, new in zip(before["fields"]["customfield_10020"] or [], after["fields"]["customfield_10020"] or [], strict=True):
            if "endDate" in old:
                assert parse_jira_datetime(new["endDate"]) - parse_jira_datetime(old["endDate"]) == shifted.shift
                assert new["endDate"].endswith("Z")


def test_the_dataset_is_loaded_once_per_process():
    assert sample.dataset() is sample.dataset()


# --- searching ------------------------------------------------------------------------------------


def test_it_searches_with_jql_and_orders_as_asked():
    found = Sample().search("project = WEB AND status = Done ORDER BY created ASC")
    assert found and all(i["key"].startswith("WEB-") and i["fields"]["status"]["name"] == "Done" for i in found)
    created = [i["fields"]["created"] for i in found]
    assert created == sorted(created)


def test_it_orders_by_created_descending_without_order_by():
    found = Sample().search("project = MOB")
    ids = [int(i["id"]) for i in found]
    assert ids == sorted(ids, reverse=True)
    created = [i["fields"]["created"] for i in found]
    assert created == sorted(created, reverse=True)


def test_it_answers_relative_dates_from_the_injected_now():
    newest = max(parse_jira_datetime(i["fields"]["updated"]) for i in sample.dataset().issues)
    later = Sample(now=lambda: newest + timedelta(days=30))
    assert later.search("updated >= -7d") == []
    assert len(Sample(now=lambda: newest).search("updated >= -1m")) >= 1


def test_current_user_is_nobody_unless_configured():
    alice = sample.dataset().issues[0]["fields"]["reporter"]
    assert Sample().search("assignee = currentUser()") == []
    mine = Sample(current_user=alice["accountId"]).search("reporter = currentUser()")
    assert mine and all(i["fields"]["reporter"]["accountId"] == alice["accountId"] for i in mine)


def test_it_raises_jiras_errors_for_bad_jql():
    with pytest.raises(JqlError) as raised:
        list(Sample().search_pages("project = NOPE AND colour = red", ["summary"]))
    assert raised.value.messages == [
        "The value 'NOPE' does not exist for the field 'project'.",
        "Field 'colour' does not exist or you do not have permission to view it.",
    ]


def test_a_typical_search_over_the_whole_dataset_finds_its_issues_in_order():
    # How fast: bench/bench_jql_search.py (against a plain filter, in the same run). Here
    # only a bound no working machine misses, so that a search gone quadratic still shows.
    source = Sample()
    jql = 'project in (WEB, MOB) AND statusCategory != Done AND text ~ "screen" ORDER BY priority DESC, updated DESC'
    source.search(jql)  # the first search reads each field once; later ones reuse it
    started = time.perf_counter()
    pages = list(source.search_pages(jql, ["summary", "status", "priority"]))
    elapsed = time.perf_counter() - started
    issues = [issue for page in pages for issue in page.issues]
    assert issues, "the query finds something"
    assert {issue["key"].split("-")[0] for issue in issues} <= {"WEB", "MOB"}
    assert all(issue["fields"]["status"]["statusCategory"]["name"] != "Done" for issue in issues)
    ranks = ["Highest", "High", "Medium", "Low", "Lowest"]
    order = [ranks.index(issue["fields"]["priority"]["name"]) for issue in issues]
    assert order == sorted(order), "ordered by priority, highest first"
    assert elapsed < 2.0, f"search took {elapsed * 1000:.1f} ms"


# --- field projection and paging ------------------------------------------------------------------


def test_it_returns_only_the_requested_fields():
    page = all_pages("project = OPS", ["summary", "status", "customfield_10016", "nonexistent"])[0]
    first = page.issues[0]
    assert set(first) == {"id", "key", "self", "fields"}
    assert set(first["fields"]) == {"summary", "status", "customfield_10016"}
    assert first["key"].startswith("OPS-")


def test_all_and_navigable_return_every_field_and_minus_removes_one():
    everything = all_pages("key = WEB-1", ["*all"])[0].issues[0]["fields"]
    assert {"summary", "description", "customfield_10020", "customfield_10016", "fixVersions"} <= set(everything)
    assert all_pages("key = WEB-1", ["*navigable"])[0].issues[0]["fields"] == everything
    trimmed = all_pages("key = WEB-1", ["*all", "-description"])[0].issues[0]["fields"]
    assert "description" not in trimmed and "summary" in trimmed


def test_a_requested_field_that_is_empty_comes_back_as_null():
    issue = Sample().search("assignee is EMPTY")[0]
    page = all_pages(f"key = {issue['key']}", ["assignee", "summary"])[0]
    assert page.issues[0]["fields"] == {"assignee": None, "summary": issue["fields"]["summary"]}


def test_it_pages_with_the_expected_total_and_a_short_last_page():
    total = len(keys("project = WEB"))
    pages = all_pages("project = WEB", ["summary"], page_size=100)
    assert [len(p.issues) for p in pages] == [100] * (total // 100) + [total % 100]
    assert {p.expected for p in pages} == {total}
    assert [i["key"] for p in pages for i in p.issues] == keys("project = WEB")


def test_page_size_one_gives_one_issue_a_page():
    pages = all_pages("parent = WEB-1", ["summary"], page_size=1)
    assert len(pages) == pages[0].expected >= 1
    assert all(len(p.issues) == 1 for p in pages)


def test_no_match_gives_one_empty_page():
    pages = all_pages("project = WEB AND project = OPS", ["summary"])
    assert len(pages) == 1 and pages[0].issues == [] and pages[0].expected == 0


def test_preview_returns_the_first_issues_and_the_total():
    preview = Sample().preview("project = OPS ORDER BY key ASC", ["summary"], limit=3)
    assert [i["key"] for i in preview.issues] == ["OPS-1", "OPS-2", "OPS-3"]
    assert preview.expected == len(keys("project = OPS"))


# --- metadata -------------------------------------------------------------------------------------


def test_fields_describe_every_field_with_jiras_names():
    by_id = {f.id: f for f in Sample().fields()}
    story_points = by_id["customfield_10016"]
    assert (story_points.id, story_points.name, story_points.custom, story_points.schema_type) == ("customfield_10016", "Story Points", True, "number")
    assert story_points.schema["custom"] == "com.atlassian.jira.plugin.system.customfieldtypes:float"
    sprint = by_id["customfield_10020"]
    assert (sprint.name, sprint.custom, sprint.schema_type) == ("Sprint", True, "array")
    assert sprint.schema == {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint", "customId": 10020}
    assert by_id["summary"].name == "Summary" and by_id["status"].name == "Status" and by_id["key"].name == "Key"
    assert by_id["assignee"] == FieldInfo("assignee", "Assignee", False, "user", {"type": "user", "system": "assignee"})
    issue_fields = set(sample.dataset().issues[0]["fields"]) | {"parent"}
    assert set(by_id) - {"key"} == issue_fields


def test_myself_is_the_sample():
    assert Sample().myself() == Identity("Sample data", "sample")
    assert Sample.name == "sample" and Sample.site_url == ""
