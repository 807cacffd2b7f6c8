"""Jira failing, through the whole stack: API call → gunicorn → queue → qcluster → Jira.

Every macro first gets a good snapshot; then Jira misbehaves in a different way for
each one (an outage that ends and one that does not, 429 storms, slow pages, malformed
JSON, an HTML login page, a JQL error, dropped connections, a failure after two good
pages). Every accepted call must end as a snapshot or as a failed job with a reason a
person can act on, the failed macros keep their last good snapshot on the page, and no
worker is held longer than the job budget (SNAPSHOT_JOB_TIMEOUT = 20 s here).
"""

from __future__ import annotations

import time

import pytest

from conftest import publish_page_with_macro
from macros.models import Snapshot, SnapshotJob
from tests.reliability.conftest import (
    enable_automation,
    latest_snapshot,
    needs_reliability,
    report,
    stack,
    wait_terminal,
)
from tests.reliability.standin_jira import StandInJira

pytestmark = [needs_reliability, pytest.mark.django_db(transaction=True)]

BUDGET = 20
TIMED_OUT = (
    f"The snapshot did not finish within {BUDGET} seconds, the most one snapshot may take, and was stopped. "
    "Jira may be answering slowly, or the query may match too many issues: try again later or narrow the query."
)

# name: (behaviour, expected status, expected error: exact text, or a fragment with "…" around it)
SCENARIOS = {
    "an outage that ends": ({"faults": ["503", "503"]}, "succeeded", ""),
    "a 429 storm that ends": ({"faults": ["429:1", "429:1", "429:1"]}, "succeeded", ""),
    "connections dropped, then answers": ({"faults": ["drop", "drop"]}, "succeeded", ""),
    "a 429 asking for an hour": (
        {"always": "429:3600"},
        "failed",
        "…Jira kept rate-limiting us (HTTP 429) and asked us to wait 3600 seconds…",
    ),
    "malformed JSON": (
        {"always": "badjson"},
        "failed",
        "Jira answered with something that is not JSON (HTTP 200) at {site}; check JIRA_URL and any proxy "
        "between this site and Jira.",
    ),
    "an HTML login page": (
        {"always": "html"},
        "failed",
        "Nothing that looks like Jira answered at {site} (HTTP 200). Check JIRA_URL.",
    ),
    "a JQL error": (
        {"always": "jql"},
        "failed",
        "Field 'sprint' does not exist or you do not have permission to view it.",
    ),
    "malformed JSON after two good pages": ({"total": 500, "faults": ["ok", "ok", "badjson"]}, "failed", "…not JSON (HTTP 200)…"),
    "pages slower than the budget": ({"total": 500, "page_delay": 6}, "failed", TIMED_OUT),
    # Jira's retry budget ends inside the job's own limit, so the reason names the outage.
    "an outage that does not end": ({"always": "503"}, "failed", "…Jira was unavailable (HTTP 503)…"),
}


def _matches(error: str, expected: str, site: str) -> bool:
    expected = expected.replace("{site}", site)
    if expected.startswith("…"):
        return expected.strip("…") in error
    return error == expected


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_every_call_ends_as_a_snapshot_or_a_failed_job_with_a_reason_and_the_last_good_snapshot_stays(
    deployment, people, space, processes, quick_sweep
):
    jira = StandInJira(deployment)
    try:
        _run_scenarios(jira, people, space, processes)
    finally:
        jira.close()


def _run_scenarios(jira, people, space, processes):
    macros = {}
    for n, name in enumerate(SCENARIOS):
        _, macro = publish_page_with_macro(space, people["editor"], jql=f"project = F{n}", title=name)
        macros[name] = (macro, enable_automation(macro))
        jira.behave(f"project = F{n}", total=30)
    web = processes.web(workers=2)
    processes.cluster(jira, timeout=BUDGET, workers=2)
    processes.cluster(jira, timeout=BUDGET, workers=2)

    # A good snapshot of every macro first.
    first = [web.trigger(macro, key) for macro, key in macros.values()]
    assert [r.status_code for r in first] == [202] * len(macros), [r.text for r in first]
    good = wait_terminal([r.json()["job"] for r in first], timeout=90)
    assert {j.status for j in good.values()} == {SnapshotJob.Status.SUCCEEDED}
    good_snapshots = {name: latest_snapshot(macro) for name, (macro, _) in macros.items()}

    # Now Jira misbehaves, differently for each macro.
    served = {}
    for n, (name, (behaviour, _, _)) in enumerate(SCENARIOS.items()):
        served[name] = jira.behave(f"project = F{n}", **{"total": 30, **behaviour})
    started = time.monotonic()
    answers = {name: web.trigger(macro, key) for name, (macro, key) in macros.items()}
    assert {name: r.status_code for name, r in answers.items()} == {name: 202 for name in macros}
    assert all(r.json()["status"] == "queued" and r.json()["coalesced"] is False for r in answers.values())
    jobs = wait_terminal([r.json()["job"] for r in answers.values()], timeout=BUDGET * 4)
    elapsed = time.monotonic() - started

    outcomes = []
    for name, (behaviour, status, error) in SCENARIOS.items():
        macro, key = macros[name]
        job = jobs[answers[name].json()["job"]]
        outcomes.append(f"{name}: {job.status} after {(job.finished_at - job.started_at).total_seconds():.1f} s")
        assert job.status == status, f"{name}: {job.status} {job.error!r}"
        # The faults were really served: the outcome is the site's answer to them.
        answers_served = served[name].served
        if "faults" in behaviour:
            assert answers_served[: len(behaviour["faults"])] == behaviour["faults"], (name, answers_served)
        if "always" in behaviour:
            assert answers_served and set(answers_served) == {behaviour["always"]}, (name, answers_served)
        if status == "succeeded":
            pages = -(-behaviour.get("total", 30) // 100)
            assert answers_served.count("ok") == pages, (name, answers_served)
        # No worker is held longer than the job budget (plus the time to notice).
        assert (job.finished_at - job.started_at).total_seconds() < BUDGET + 2, name
        assert answers[name].json()["status_url"].endswith(f"/api/automation/v1/jobs/{job.pk}")
        status_answer = web.http.get(f"{web.url}/api/automation/v1/jobs/{job.pk}", headers={"jira-snapshots-api-key": key}, timeout=10)
        assert status_answer.status_code == 200
        body = status_answer.json()
        assert body["status"] == status
        if status == "succeeded":
            snapshot = latest_snapshot(macro)
            assert snapshot.job_id == job.pk and snapshot.issue_count == behaviour.get("total", 30)
            assert body["snapshot"]["id"] == snapshot.pk and body["error"] is None
        else:
            assert _matches(job.error, error, jira.url), f"{name}: {job.error!r}"
            assert body["error"] == job.error and body["snapshot"] is None
            assert latest_snapshot(macro) == good_snapshots[name]
            macro.page.refresh_from_db()
            assert macro.page.current_version.snapshot_id == good_snapshots[name].pk
            assert not Snapshot.objects.filter(job=job).exists()
    assert not Snapshot.objects.filter(complete=False).exists()
    report(f"[{stack()}, Jira {jira.deployment}] {len(jobs)} faulty calls settled in {elapsed:.1f} s: " + "; ".join(outcomes))
