"""The global API key on every path (DESIGN §5): macro, page, take-snapshot, status and bulk."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation import calls, globalkeys, site, waiting
from automation.models import AutomationEvent, GlobalKey
from automation.tests.conftest import enable_and_publish, trigger
from conftest import publish_page_with_macro
from macros import pages as page_service
from macros import space_switch
from macros.models import SnapshotJob, Space

pytestmark = pytest.mark.django_db
Via = AutomationEvent.Via
INVALID = {
    "detail": "This API key is not valid here. It may have been regenerated: copy the current key from the macro's Automation tab.",
    "code": "invalid_api_key",
}
SITE_OFF = {"detail": "Automation is switched off for this site by an administrator.", "code": "site_automation_disabled"}
NO_PAGE = {"detail": "There is no published page with this id.", "code": "not_found"}
GLOBAL_WRONG = "snapglobal_aaaaaaaaaaaa_" + "a" * 43


@pytest.fixture
def global_key(people) -> str:
    return globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN).raw


@pytest.fixture
def two_macro_page(space, people):
    """A published page with two macros, neither with automation on."""
    page, first = publish_page_with_macro(space, people["editor"], title="Release status")
    draft = page_service.get_draft(page, people["editor"])
    second = page_service.add_macro(draft, "Bugs")
    page_service.save_macro_draft(second, {"title": "Bugs", "levels": [{"jql": "type = Bug", "fields": ["key"]}], "display": {"page_size": 25, "show_count": True}})
    page_service.publish(page, people["editor"])
    second.refresh_from_db()
    return page, [first, second]


def page_path(page) -> str:
    return f"/api/automation/v1/pages/{page.pk}/snapshots"


def post_json(client, path: str, key: str | None, body) -> object:
    headers = {} if key is None else {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **headers)


def job_body(job: SnapshotJob, settings, *, coalesced: bool = False) -> dict:
    return {
        "job": str(job.pk),
        "status": "queued",
        "macro": str(job.macro.public_id),
        "page": job.macro.page_id,
        "coalesced": coalesced,
        "status_url": f"{settings.SITE_URL}/api/automation/v1/jobs/{job.pk}",
    }


# --- the four paths ----------------------------------------------------------------------


def test_the_global_key_refreshes_every_macro_on_a_page_whatever_their_own_switch(client, two_macro_page, global_key, settings):
    page, macros = two_macro_page

    response = trigger(client, page_path(page), global_key)

    assert response.status_code == 202
    jobs = [SnapshotJob.objects.get(macro=m) for m in macros]
    assert response.json() == {"page": page.pk, "jobs": [job_body(j, settings) for j in jobs]}
    assert {(j.trigger, j.key_lookup) for j in jobs} == {(SnapshotJob.Trigger.GLOBAL_KEY, global_key[11:23])}
    assert jobs[0].actor == "automation (global key)"


def test_the_reference_products_take_snapshot_path_does_the_same(client, two_macro_page, global_key, settings):
    page, macros = two_macro_page

    response = trigger(client, f"/take-snapshot/{page.pk}", global_key)

    assert response.status_code == 202
    assert [j["macro"] for j in response.json()["jobs"]] == [str(m.public_id) for m in macros]
    assert response.json()["page"] == page.pk


def test_a_page_trigger_that_waits_answers_200_with_each_jobs_end_in_its_place(client, two_macro_page, global_key, monkeypatch):
    # The jobs end while the call waits (a worker's part, stood in for here).
    page, macros = two_macro_page

    def jobs_end(job_ids, wait):
        SnapshotJob.objects.filter(pk__in=job_ids).update(status="failed", error="Jira said no.", finished_at=timezone.now())
        return {job.pk: job for job in SnapshotJob.objects.filter(pk__in=job_ids)}

    monkeypatch.setattr(waiting, "wait_for_jobs", jobs_end)
    response = trigger(client, page_path(page) + "?wait=5", global_key)

    assert response.status_code == 200
    jobs = response.json()["jobs"]
    assert [(j["macro"], j["status"], j["error"]) for j in jobs] == [(str(m.public_id), "failed", "Jira said no.") for m in macros]
    assert [j["job"] for j in jobs] == [str(SnapshotJob.objects.get(macro=m).pk) for m in macros]


def test_a_page_trigger_coalesces_per_macro(client, two_macro_page, global_key, settings):
    page, _ = two_macro_page
    first = trigger(client, page_path(page), global_key).json()

    second = trigger(client, f"/take-snapshot/{page.pk}", global_key)

    assert second.status_code == 202
    assert second.json() == {"page": page.pk, "jobs": [{**job, "coalesced": True} for job in first["jobs"]]}
    assert SnapshotJob.objects.count() == 2


def test_the_global_key_works_on_any_macros_url_even_with_its_automation_off(client, page_and_macro, global_key, settings):
    _, macro = page_and_macro

    response = trigger(client, f"/api/automation/v1/macros/{macro.public_id}/snapshots", global_key)

    assert response.status_code == 202
    job = SnapshotJob.objects.get()
    assert response.json() == job_body(job, settings)
    assert response["Location"] == job_body(job, settings)["status_url"]
    assert job.trigger == SnapshotJob.Trigger.GLOBAL_KEY


def test_the_global_key_joins_a_job_a_macro_key_queued(client, automated, global_key, settings):
    first = trigger(client, automated, automated.key).json()

    response = trigger(client, automated, global_key)

    assert response.status_code == 202
    assert response.json() == {**first, "coalesced": True}


def test_the_written_out_lookups_work_when_built_in_the_call(client, automated, global_key, monkeypatch):
    # A process writes out the SQL of these lookups on first use and keeps it: clear what
    # earlier tests left, so this test's calls build it (as a fresh worker's first call does).
    for name in ("_sql", "_global_sql", "_macro_sql"):
        monkeypatch.setattr(calls, name, None)

    first = trigger(client, automated, automated.key)
    joined = trigger(client, automated, global_key)

    assert first.status_code == joined.status_code == 202
    assert joined.json() == {**first.json(), "coalesced": True}


def test_the_global_key_reads_any_jobs_status(client, automated, global_key):
    job_id = trigger(client, automated, automated.key).json()["job"]

    response = client.get(f"/api/automation/v1/jobs/{job_id}", HTTP_AUTHORIZATION=f"Bearer {global_key}")

    assert response.status_code == 200
    assert response.json() == {"job": job_id, "status": "queued", "macro": str(automated.macro.public_id), "snapshot": None, "error": None, "progress": None}


def test_the_global_key_on_an_unpublished_macro_is_refused(client, space, people, global_key):
    page = page_service.create_page(space, "Draft only", "", people["editor"])
    macro = page_service.add_macro(page_service.get_draft(page, people["editor"]), "Not yet")

    response = trigger(client, f"/api/automation/v1/macros/{macro.public_id}/snapshots", global_key)

    assert response.status_code == 403
    assert response.json() == {"detail": "This macro is not on the published page yet: publish the page first.", "code": "macro_automation_disabled"}


# --- refusals on the page paths ----------------------------------------------------------


def test_a_macro_key_on_a_page_path_is_an_invalid_key(client, automated):
    for path in (page_path(automated.page), f"/take-snapshot/{automated.page.pk}"):
        response = trigger(client, path, automated.key)

        assert response.status_code == 401
        assert response.json() == INVALID
    assert not SnapshotJob.objects.exists()


def test_a_page_path_without_a_key_or_for_an_unknown_page(client, page_and_macro, global_key):
    page, _ = page_and_macro

    assert (trigger(client, page_path(page)).status_code, trigger(client, page_path(page)).json()["code"]) == (401, "missing_api_key")
    for path in ("/api/automation/v1/pages/999999/snapshots", "/take-snapshot/abc", "/take-snapshot/999999"):
        response = trigger(client, path, global_key)
        assert response.status_code == 404
        assert response.json() == {"detail": "There is no published page with this id.", "code": "not_found"}


def test_a_page_path_answers_405_to_get(client, page_and_macro, global_key):
    page, _ = page_and_macro

    response = client.get(f"/take-snapshot/{page.pk}", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"


def test_an_unknown_page_without_the_global_key_answers_the_page_triggers_own_404(client, automated):
    # 404 comes before 401 (DESIGN §5): a missing, wrong or macro key on an unknown page is told it is unknown.
    for path in ("/api/automation/v1/pages/999999/snapshots", "/take-snapshot/999999", "/take-snapshot/abc"):
        for key in (None, GLOBAL_WRONG, automated.key):
            response = trigger(client, path, key)
            assert response.status_code == 404, (path, key)
            assert response.json() == NO_PAGE
    assert not SnapshotJob.objects.exists()


@pytest.mark.parametrize("method", ["get", "put"])
def test_bulk_answers_405_to_anything_but_post(client, global_key, method):
    response = getattr(client, method)("/api/automation/v1/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {"detail": f"{method.upper()} is not allowed here; use POST.", "code": "method_not_allowed"}
    assert not SnapshotJob.objects.exists()


def test_macro_page_and_bulk_triggers_with_the_global_key_count_against_one_limit(client, automated, global_key, settings, fresh_minute):
    settings.AUTOMATION_THROTTLE = "2/min"
    assert trigger(client, automated, global_key).status_code == 202
    assert trigger(client, automated, global_key).status_code == 202

    answers = [
        trigger(client, page_path(automated.page), global_key),
        trigger(client, f"/take-snapshot/{automated.page.pk}", global_key),
        post_json(client, "/api/automation/v1/snapshots", global_key, {"pages": [automated.page.pk]}),
    ]

    for answer in answers:
        assert answer.status_code == 429
        wait = int(answer["Retry-After"])
        assert 1 <= wait <= 60
        assert answer.json() == {
            "detail": f"Too many calls with this API key; try again in {wait} second{'s' if wait != 1 else ''}.",
            "code": "throttled",
        }
    assert SnapshotJob.objects.count() == 1


# --- lifecycle: expiry, prolong, regenerate, revoke -----------------------------------------


def test_a_key_past_its_expiry_is_refused_as_expired_on_every_path(client, automated, global_key):
    expired_at = timezone.now() - timedelta(minutes=1)
    GlobalKey.objects.update(expires_at=expired_at)
    expired = {
        "detail": f"The global API key expired on {expired_at:%Y-%m-%d}. A site administrator can prolong it, "
        "or make a new one, under Site administration → Global API key.",
        "code": "api_key_expired",
    }
    job_id = trigger(client, automated, automated.key).json()["job"]

    responses = [trigger(client, path, global_key) for path in (automated.path, page_path(automated.page), f"/take-snapshot/{automated.page.pk}")]
    responses.append(post_json(client, "/api/automation/v1/snapshots", global_key, {"pages": [automated.page.pk]}))
    responses.append(client.get(f"/api/automation/v1/jobs/{job_id}", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key))

    assert [(r.status_code, r.json()) for r in responses] == [(401, expired)] * 5
    assert SnapshotJob.objects.count() == 1


def test_a_wrong_secret_with_an_expired_keys_lookup_id_is_only_invalid(client, automated, global_key):
    GlobalKey.objects.update(expires_at=timezone.now() - timedelta(days=1))

    response = trigger(client, automated, global_key[:-3] + "abc")

    assert response.status_code == 401
    assert response.json() == INVALID


def test_prolonging_an_expired_key_makes_it_work_again(client, automated, global_key, people):
    GlobalKey.objects.update(expires_at=timezone.now() - timedelta(days=1))

    key = globalkeys.prolong(people["site_admin"], via=Via.SITE_ADMIN)

    assert timedelta(days=89) < key.expires_at - timezone.now() <= timedelta(days=90)
    assert trigger(client, automated, global_key).status_code == 202


def test_regenerating_kills_the_old_key_at_once(client, automated, global_key, people):
    new = globalkeys.regenerate(people["site_admin"], via=Via.SITE_ADMIN)

    assert trigger(client, automated, global_key).json() == INVALID
    assert trigger(client, automated, new.raw).status_code == 202
    assert GlobalKey.objects.active().count() == 1


def test_a_revoked_key_is_invalid(client, automated, global_key, people):
    globalkeys.revoke(people["site_admin"], via=Via.SITE_ADMIN)

    response = trigger(client, page_path(automated.page), global_key)

    assert response.status_code == 401
    assert response.json() == INVALID


def test_the_key_is_stored_only_as_a_hash_with_its_own_prefix(global_key):
    row = GlobalKey.objects.get()

    assert global_key.startswith(f"snapglobal_{row.lookup_id}_")
    assert row.hash.startswith("$argon2id$") and global_key not in row.hash
    assert timedelta(days=89) < row.expires_at - timezone.now() <= timedelta(days=90)


# --- the site switch ----------------------------------------------------------------------


def test_the_site_switch_refuses_every_path_before_any_key_work_and_resumes_with_the_same_keys(client, automated, global_key, people, monkeypatch):
    from automation import keys

    site.set_automation_enabled(False, people["site_admin"], via=Via.SITE_ADMIN)
    checks = []
    monkeypatch.setattr(keys, "check", lambda *args: checks.append(args) or True)

    calls = [
        trigger(client, automated, automated.key),
        trigger(client, automated, global_key),
        trigger(client, page_path(automated.page), global_key),
        trigger(client, f"/take-snapshot/{automated.page.pk}", global_key),
        trigger(client, "/take-snapshot/999999", None),
        post_json(client, "/api/automation/v1/snapshots", global_key, {"pages": [automated.page.pk]}),
    ]

    assert [(r.status_code, r.json()) for r in calls] == [(403, SITE_OFF)] * len(calls)
    assert checks == []
    assert not SnapshotJob.objects.exists()

    monkeypatch.undo()
    site.set_automation_enabled(True, people["site_admin"], via=Via.SITE_ADMIN)
    assert trigger(client, automated, automated.key).status_code == 202
    assert trigger(client, page_path(automated.page), global_key).status_code == 202


# --- bulk ---------------------------------------------------------------------------------


def test_bulk_answers_a_result_per_target_with_unknown_ids_reported_not_failing_the_call(client, two_macro_page, automated, global_key, settings):
    page, macros = two_macro_page
    unknown_macro = str(uuid.uuid4())

    response = post_json(
        client, "/api/automation/v1/snapshots", global_key,
        {"pages": [page.pk, 999999, "nope"], "macros": [str(automated.macro.public_id), unknown_macro, "not-a-uuid"]},
    )

    assert response.status_code == 202
    body = response.json()
    page_jobs = [SnapshotJob.objects.get(macro=m) for m in macros]
    macro_job = SnapshotJob.objects.get(macro=automated.macro)
    no_page = {"detail": "There is no published page with this id.", "code": "not_found"}
    no_macro = {"detail": "There is no Snapshots macro with this id.", "code": "not_found"}
    assert body == {
        "accepted": 2,
        "refused": 4,
        "results": [
            {"page": page.pk, "jobs": [job_body(j, settings) for j in page_jobs]},
            {"page": 999999, "error": no_page},
            {"page": "nope", "error": no_page},
            job_body(macro_job, settings),
            {"macro": unknown_macro, "error": no_macro},
            {"macro": "not-a-uuid", "error": no_macro},
        ],
    }
    assert SnapshotJob.objects.count() == 3


def test_bulk_refuses_malformed_bodies_with_400_and_queues_nothing(client, page_and_macro, global_key):
    page, _ = page_and_macro
    cases = [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        ([page.pk], "invalid_body"),
        ({"pages": page.pk}, "invalid_body"),
        ({"pages": [], "macros": []}, "invalid_body"),
        ({"pages": [{"id": 1}]}, "invalid_body"),
        ({"pages": [page.pk], "spaces": ["x"]}, "invalid_body"),
        ({"pages": [page.pk] * 501}, "too_many_targets"),
    ]
    for body, code in cases:
        response = post_json(client, "/api/automation/v1/snapshots", global_key, body)
        assert response.status_code == 400, body
        assert set(response.json()) == {"detail", "code"}
        assert response.json()["code"] == code
    assert not SnapshotJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (b'{"pages": [%d, NaN]}', "invalid_json", "The body is not valid JSON (NaN is not a JSON value)."),
        (b'{"pages": [%d, Infinity]}', "invalid_json", "The body is not valid JSON (Infinity is not a JSON value)."),
        (b'{"pages": [%d, 1e999]}', "invalid_json", "The body is not valid JSON (1e999 is too large a number)."),
        # A long number is quoted by its first 40 characters.
        (b'{"pages": [%d, ' + b"9" * 45 + b'.5e999]}', "invalid_json", f"The body is not valid JSON ({'9' * 40} is too large a number)."),
        # A value is quoted whole up to 40 characters, cut to 37 and "..." past them.
        (b'{"pages": [%d], "macros": [[' + b"1" * 38 + b"]]}", "invalid_body",
         f'Macro ids are strings, such as "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40"; [{"1" * 38}] is not one.'),
        (b'{"pages": [%d], "macros": [[' + b"1" * 39 + b"]]}", "invalid_body",
         f'Macro ids are strings, such as "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40"; [{"1" * 36}... is not one.'),
        (b'{"pages": [%d, 1.5]}', "invalid_body", "Page ids are whole numbers, such as 12; 1.5 is not one."),
        (b'{"pages": [%d, true]}', "invalid_body", "Page ids are whole numbers, such as 12; true is not one."),
        (b'{"pages": [%d, null]}', "invalid_body", "Page ids are whole numbers, such as 12; null is not one."),
        (b'{"pages": [%d], "macros": [7]}', "invalid_body", 'Macro ids are strings, such as "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40"; 7 is not one.'),
        (b'{"pages": [%d], "macros": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "invalid_json", "The body is nested too deeply to be a list of targets."),
    ],
)
def test_bulk_refuses_a_bad_value_anywhere_in_the_body_before_queueing_anything(client, page_and_macro, global_key, body, code, detail):
    page, _ = page_and_macro
    body = body.replace(b"%d", str(page.pk).encode(), 1)

    response = client.post("/api/automation/v1/snapshots", body, content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)

    assert (response.status_code, response.json()) == (400, {"detail": detail, "code": code})
    assert not SnapshotJob.objects.exists()  # the valid page before the bad value queued nothing


def test_page_ids_are_whole_numbers_from_1_to_the_largest_a_database_key_holds():
    from automation.page_api import _page_id_or_none

    assert [_page_id_or_none(v) for v in (1, 126, 2**63 - 1, "126", "9" * 18)] == [1, 126, 2**63 - 1, 126, int("9" * 18)]
    assert [_page_id_or_none(v) for v in (0, -1, 2**63, True, "0x10", "1.5", "", "9" * 19, "١٢")] == [None, None, None, None, None, None, None, None, None]


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"pages": 5}, "invalid_body", '"pages" and "macros" are lists of ids.'),
        ({"macros": "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40"}, "invalid_body", '"pages" and "macros" are lists of ids.'),
        ({"pages": [12] * 300, "macros": ["x"] * 201}, "too_many_targets", "At most 500 targets per call; this one names 501. Split it."),
    ],
)
def test_bulk_says_why_a_body_of_the_wrong_shape_or_size_is_refused(client, page_and_macro, global_key, body, code, detail):
    response = post_json(client, "/api/automation/v1/snapshots", global_key, body)

    assert (response.status_code, response.json()) == (400, {"detail": detail, "code": code})
    assert not SnapshotJob.objects.exists()


def test_bulk_takes_up_to_500_targets(client, page_and_macro, global_key):
    page, _ = page_and_macro

    response = post_json(client, "/api/automation/v1/snapshots", global_key, {"pages": [page.pk] * 250, "macros": [str(uuid.uuid4())] * 250})

    assert response.status_code == 202
    assert (response.json()["accepted"], response.json()["refused"]) == (250, 250)
    assert SnapshotJob.objects.count() == 1  # the same macro 250 times: one job, joined


def test_bulk_refuses_a_body_over_one_mib(client, global_key):
    body = json.dumps({"pages": [], "macros": ["x" * (1024 * 1024)]})

    response = post_json(client, "/api/automation/v1/snapshots", global_key, body)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_bulk_needs_the_global_key(client, automated):
    no_key = post_json(client, "/api/automation/v1/snapshots", None, {"pages": [automated.page.pk]})
    macro_key = post_json(client, "/api/automation/v1/snapshots", automated.key, {"pages": [automated.page.pk]})

    assert (no_key.status_code, no_key.json()["code"]) == (401, "missing_api_key")
    assert (macro_key.status_code, macro_key.json()) == (401, INVALID)


def test_global_key_calls_are_counted_in_the_audit_log(client, automated, global_key):
    trigger(client, page_path(automated.page), global_key)

    row = AutomationEvent.objects.get(kind=AutomationEvent.Kind.TRIGGERED)
    assert (row.key_kind, row.key_lookup, row.macro_id, row.page_id) == ("global", global_key[11:23], automated.macro.pk, automated.page.pk)


def test_bulk_and_page_triggers_record_the_callers_address_in_the_audit_log(client, two_macro_page, global_key):
    page, macros = two_macro_page
    body = json.dumps({"pages": [page.pk], "macros": [str(macros[0].public_id)]})

    bulk = client.post("/api/automation/v1/snapshots", data=body, content_type="application/json",
                       HTTP_JIRA_SNAPSHOTS_API_KEY=global_key, REMOTE_ADDR="203.0.113.9")
    single = trigger(client, page_path(page), global_key, REMOTE_ADDR="198.51.100.7")

    assert (bulk.status_code, single.status_code) == (202, 202)
    rows = AutomationEvent.objects.filter(kind=AutomationEvent.Kind.TRIGGERED)
    assert sorted((r.macro_id, r.client_address, r.reason, r.count) for r in rows) == sorted([
        (macros[0].pk, "203.0.113.9", "queued", 2),  # named again as a macro: counted in the row of the job its page queued
        (macros[1].pk, "203.0.113.9", "queued", 1),
        (macros[0].pk, "198.51.100.7", "coalesced", 1),
        (macros[1].pk, "198.51.100.7", "coalesced", 1),
    ])


@pytest.fixture
def batched(db, settings, monkeypatch):
    """Counts of calls that join a job written in batches, as shipped (a joining call then writes nothing)."""
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 60
    monkeypatch.setattr(calls, "call_counts", calls.CallCounts())
    yield settings
    calls.call_counts.flush()


def test_a_macro_named_twice_in_a_bulk_call_joins_its_first_job_without_another_query(client, two_macro_page, global_key, batched, settings):
    settings.AUTOMATION_THROTTLE = settings.AUTOMATION_REFUSED_THROTTLE = None  # no lease taken in one call only
    _, (once, twice) = two_macro_page  # neither has a job yet

    with CaptureQueriesContext(connection) as named_once:
        first = post_json(client, "/api/automation/v1/snapshots", global_key, {"macros": [str(once.public_id)]})
    with CaptureQueriesContext(connection) as named_twice:
        second = post_json(client, "/api/automation/v1/snapshots", global_key, {"macros": [str(twice.public_id)] * 2})

    assert (first.status_code, second.status_code) == (202, 202)
    job = SnapshotJob.objects.get(macro=twice)
    assert second.json() == {"accepted": 2, "refused": 0, "results": [job_body(job, settings), job_body(job, settings, coalesced=True)]}
    assert len(named_twice) == len(named_once), [q["sql"] for q in named_twice.captured_queries]
    assert SnapshotJob.objects.count() == 2


def test_bulk_answers_a_macro_whose_space_has_snapshots_off_with_that_sentence(client, page_and_macro, global_key):
    page, macro = page_and_macro
    space_switch.set_snapshots_enabled(page.space, False)

    response = post_json(client, "/api/automation/v1/snapshots", global_key, {"macros": [str(macro.public_id)]})

    assert response.status_code == 202
    assert response.json() == {
        "accepted": 0,
        "refused": 1,
        "results": [{"macro": str(macro.public_id), "error": {"detail": space_switch.SPACE_OFF_SENTENCE, "code": "macro_automation_disabled"}}],
    }
    assert not SnapshotJob.objects.exists()


def test_bulk_refuses_a_page_whose_space_has_snapshots_off_as_the_page_trigger_does(client, page_and_macro, global_key, space, people):
    """The page is refused as a whole, with the space's sentence (it used to crash the call
    with a 500), and the other targets of the call still go ahead."""
    page, _ = page_and_macro
    other_space = Space.objects.create(key="OTHER", name="Other")
    other_page, other_macro = publish_page_with_macro(other_space, people["editor"], title="Elsewhere")
    space_switch.set_snapshots_enabled(page.space, False)

    response = post_json(client, "/api/automation/v1/snapshots", global_key, {"pages": [page.pk, other_page.pk]})
    single = trigger(client, f"/api/automation/v1/pages/{page.pk}/snapshots", global_key)

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["refused"]) == (1, 1)
    assert body["results"][0] == {"page": page.pk, "error": {"detail": space_switch.SPACE_OFF_SENTENCE, "code": "macro_automation_disabled"}}
    assert body["results"][1]["page"] == other_page.pk and [j["macro"] for j in body["results"][1]["jobs"]] == [str(other_macro.public_id)]
    assert single.status_code == 403 and single.json() == body["results"][0]["error"]
    assert list(SnapshotJob.objects.values_list("macro_id", flat=True)) == [other_macro.pk]


def test_bulk_refuses_a_content_length_that_is_not_a_number_with_a_sentence(client, global_key):
    response = client.post(
        "/api/automation/v1/snapshots", data=b'{"pages": [1]}', content_type="application/json",
        CONTENT_LENGTH="abc", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key,
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "The Content-Length header is not a number, so the body cannot be read.", "code": "invalid_json"}


def test_an_enabled_macros_own_key_keeps_working_next_to_the_global_key(client, space, people, global_key):
    page, macro = publish_page_with_macro(space, people["editor"], title="Other")
    other = enable_and_publish(page, macro, people["editor"])

    assert trigger(client, other, other.key).status_code == 202
    assert trigger(client, other, global_key).json()["coalesced"] is True


def test_anything_else_under_take_snapshot_answers_json_404(client, page_and_macro, global_key):
    page, _ = page_and_macro

    response = trigger(client, f"/take-snapshot/{page.pk}/extra", global_key)

    assert response.status_code == 404
    assert response.json() == {"detail": "Nothing here: check the URL.", "code": "not_found"}
