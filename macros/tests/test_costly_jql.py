"""JQL that used to cost the Sample source seconds or a RecursionError: refused or fast."""

import time

import pytest
from django.urls import reverse

from macros.models import SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources import base as sources_base

STARS = 'summary ~ "c********************qqq"'  # 20 stars: past 20 s with a backtracking regex


@pytest.fixture
def configure(client, people, page_and_macro, settings):
    settings.JIRA_URL = ""  # the bundled Sample source
    page, macro = page_and_macro
    client.force_login(people["editor"])
    url = reverse("macro_configure", args=[page.pk, macro.public_id])

    def post(jql: str, action: str = "preview"):
        started = time.thread_time()
        response = client.post(url, {"title": "Bugs", "level-0-jql": jql, "level-0-fields": "key, summary", "action": action})
        return response, time.thread_time() - started

    return post


@pytest.mark.parametrize("jql", [STARS, 'text ~ "a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t"', 'summary ~ "q*?*?*?*?*?*?*?*?*?*?*?*?qqqq"'])
def test_a_wildcard_term_is_matched_in_linear_time(configure, jql):
    response, elapsed = configure(jql)
    assert response.status_code == 200
    assert "No issues match." in response.content.decode()
    assert elapsed < 1.0, f"{jql}: {elapsed:.2f} s"


def test_a_wildcard_still_finds_what_it_should(configure):
    from macros.sources.sample import Sample

    expected = len(Sample().search('summary ~ "log*"'))
    assert expected > 0
    response, _ = configure('summary ~ "log*"')
    assert response.status_code == 200
    assert f"of {expected} issues." in response.content.decode()


@pytest.mark.parametrize(
    "jql",
    ["(" * 700 + "project = WEB" + ")" * 700, "NOT " * 1200 + "project = WEB", "!" * 1200 + "(project = WEB)"],
    ids=["700 parentheses", "1200 NOT", "1200 !"],
)
def test_deep_nesting_is_refused_with_a_jira_like_sentence(configure, jql):
    response, elapsed = configure(jql[:4000])
    assert response.status_code == 200
    assert "Error in the JQL Query: The query nests parentheses and NOT more than 100 levels deep; simplify it." in response.content.decode()
    assert elapsed < 1.0


def test_nesting_up_to_the_limit_still_works(configure):
    response, _ = configure("(" * 60 + "NOT " * 39 + "project = WEB" + ")" * 60)
    assert response.status_code == 200
    assert "nests parentheses" not in response.content.decode()


def test_a_preview_over_its_time_budget_is_refused_with_a_sentence(configure, monkeypatch):
    monkeypatch.setattr(sources_base, "PREVIEW_SECONDS", 0)
    response, _ = configure("project = WEB ORDER BY key", action="save")
    assert response.status_code == 200, "not saved: the query is at fault"
    assert "The preview took longer than 0 seconds and was stopped; simplify the query" in response.content.decode()


def test_a_snapshot_over_its_time_budget_fails_with_a_sentence(page_and_macro, settings, monkeypatch):
    settings.JIRA_URL = ""
    _, macro = page_and_macro
    monkeypatch.setattr(sources_base, "SNAPSHOT_SEARCH_SECONDS", 0)
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    assert take(job.pk) is None
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.FAILED
    assert job.error.startswith("The searches of this snapshot took longer than 0 seconds and were stopped")


def test_a_two_level_snapshot_with_a_hostile_wildcard_ends_quickly(page_and_macro, settings):
    settings.JIRA_URL = ""
    _, macro = page_and_macro
    macro.levels = [{"jql": "project = WEB", "fields": ["key"]}, {"jql": f"parent = $key AND {STARS}", "fields": ["key"]}]
    macro.save()
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    started = time.thread_time()
    snapshot = take(job.pk)
    assert snapshot is not None and snapshot.counts["levels"][1] == 0
    assert time.thread_time() - started < 5


def test_a_deeply_nested_query_fails_a_job_with_the_sentence_not_an_internal_error(page_and_macro, settings):
    settings.JIRA_URL = ""
    _, macro = page_and_macro
    macro.levels = [{"jql": "NOT " * 1200 + "project = WEB", "fields": ["key"]}]
    macro.save()
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.FAILED
    assert "more than 100 levels deep" in job.error and "internal error" not in job.error
