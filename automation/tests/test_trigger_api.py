"""POST /api/automation/v1/macros/<macro_id>/snapshots: the success body and every refusal, in order."""

import io
import json
import uuid

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from rest_framework import exceptions

from automation import service
from automation.api import TriggerMacroSnapshot, json_exception_handler
from automation.models import AutomationEvent, MacroAutomation
from automation.tests.conftest import enable_and_publish, trigger
from conftest import publish_page_with_macro
from macros import pages as page_service
from macros.models import SiteSettings, SnapshotJob

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024
INVALID = {
    "detail": "This API key is not valid here. It may have been regenerated: copy the current key from the macro's Automation tab.",
    "code": "invalid_api_key",
}


def switch_site(on: bool) -> None:
    SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": on})


# --- success -----------------------------------------------------------------------------


def test_it_queues_a_snapshot_and_answers_202_with_the_job(client, automated, settings):
    response = trigger(client, automated, automated.key)

    assert response.status_code == 202
    job = SnapshotJob.objects.get()
    status_url = f"{settings.SITE_URL}/api/automation/v1/jobs/{job.pk}"
    assert response.json() == {
        "job": str(job.pk),
        "status": "queued",
        "macro": str(automated.macro.public_id),
        "page": automated.page.pk,
        "coalesced": False,
        "status_url": status_url,
    }
    assert response["Location"] == status_url
    assert response["Content-Type"] == "application/json"
    assert (job.trigger, job.key_lookup, job.requested_by) == (SnapshotJob.Trigger.AUTOMATION, automated.key[5:17], None)
    assert job.actor == "automation"


def test_a_second_call_while_the_job_is_queued_joins_it(client, automated):
    first = trigger(client, automated, automated.key).json()
    second = trigger(client, automated, automated.key)

    assert second.status_code == 202
    assert second.json() == {**first, "coalesced": True}
    assert SnapshotJob.objects.count() == 1


def test_a_call_after_the_job_started_queues_a_new_one(client, automated):
    first = trigger(client, automated, automated.key).json()
    SnapshotJob.objects.filter(pk=first["job"]).update(status=SnapshotJob.Status.RUNNING)

    second = trigger(client, automated, automated.key).json()

    assert second["job"] != first["job"]
    assert second["coalesced"] is False


def test_it_accepts_the_key_as_a_bearer_token(client, automated):
    response = client.post(automated.path, HTTP_AUTHORIZATION=f"Bearer {automated.key}")

    assert response.status_code == 202
    assert response.json()["coalesced"] is False


def test_it_ignores_any_body_up_to_one_mib_and_answers_json_whatever_is_accepted(client, automated):
    issue = json.dumps({"issue": {"key": "WEB-1", "fields": {"summary": "x" * 1000}}})
    assert trigger(client, automated, automated.key, data=issue, content_type="application/json").status_code == 202
    broken = trigger(client, automated, automated.key, data="{not json", content_type="application/json", HTTP_ACCEPT="text/html")
    assert broken.status_code == 202
    assert broken.json()["coalesced"] is True
    exactly = trigger(client, automated, automated.key, data=b"x" * MiB, content_type="application/octet-stream")
    assert exactly.status_code == 202


# --- 405 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options", "head", "trace"])
def test_other_methods_get_405_with_allow_post(client, automated, method):
    response = getattr(client, method)(automated.path, HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "head":
        assert response.json() == {"detail": f"{method.upper()} is not allowed here; use POST.", "code": "method_not_allowed"}
    assert not SnapshotJob.objects.exists()


def test_405_comes_before_every_other_refusal(client):
    switch_site(False)
    response = client.get(f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots", data={"x": "y" * 10})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- 413 ---------------------------------------------------------------------------------


def test_a_body_over_one_mib_gets_413(client, automated):
    response = trigger(client, automated, automated.key, data=b"x" * (MiB + 1), content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is larger than 1 MiB. The body is ignored: send none, or a smaller one.",
        "code": "payload_too_large",
    }
    assert not SnapshotJob.objects.exists()


def test_413_comes_before_the_site_switch_and_the_id(client):
    switch_site(False)
    response = client.post("/api/automation/v1/macros/nope/snapshots", data=b"x" * (2 * MiB), content_type="text/plain")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def _chunked_request(path: str, body: bytes, key: str) -> WSGIRequest:
    # What gunicorn hands the app for Transfer-Encoding: chunked: no CONTENT_LENGTH, a
    # de-chunked stream. Django's own test client always sets a length.
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_JIRA_SNAPSHOTS_API_KEY=key,
        **{"wsgi.input": io.BytesIO(body)},
    )
    environ.pop("CONTENT_LENGTH", None)
    return WSGIRequest(environ)


def test_a_chunked_body_over_one_mib_gets_413(automated):
    view = TriggerMacroSnapshot.as_view()
    request = _chunked_request(automated.path, b"x" * (MiB + 10), automated.key)

    response = view(request, macro_id=str(automated.macro.public_id))

    assert response.status_code == 413
    response.render()
    assert json.loads(response.content)["code"] == "payload_too_large"


def test_a_small_chunked_body_is_accepted(automated):
    view = TriggerMacroSnapshot.as_view()
    request = _chunked_request(automated.path, b'{"issue": {}}', automated.key)

    response = view(request, macro_id=str(automated.macro.public_id))

    assert response.status_code == 202


# --- 403 site_automation_disabled ----------------------------------------------------------


def test_calls_are_refused_while_the_site_switch_is_off(client, automated):
    switch_site(False)

    response = trigger(client, automated, automated.key)

    assert response.status_code == 403
    assert response.json() == {"detail": "Automation is switched off for this site by an administrator.", "code": "site_automation_disabled"}
    assert not SnapshotJob.objects.exists()
    switch_site(True)
    assert trigger(client, automated, automated.key).status_code == 202


def test_the_site_switch_comes_before_the_id_and_the_key(client):
    switch_site(False)

    response = client.post("/api/automation/v1/macros/not-a-uuid/snapshots")

    assert response.status_code == 403
    assert response.json()["code"] == "site_automation_disabled"


# --- 404 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("macro_id", [str(uuid.uuid4()), "not-a-uuid", "123", "%20", "6f1d2c3b4a594e7f8c219b0a1d2e3f40"])
def test_an_unknown_or_malformed_macro_id_gets_json_404(client, automated, macro_id):
    response = client.post(f"/api/automation/v1/macros/{macro_id}/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "There is no Snapshots macro with this id.", "code": "not_found"}


def test_404_comes_before_the_missing_key(client):
    response = client.post(f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_macro_removed_from_the_page_is_not_found(client, automated, people):
    draft = page_service.get_draft(automated.page, people["editor"])
    page_service.remove_macro(draft, automated.macro)
    page_service.publish(automated.page, people["editor"])

    response = trigger(client, automated, automated.key)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/automation/v1/macros/",
        "/api/automation/v1/macros//snapshots",
        "/api/automation/v1/macros/{id}/snapshots/",
        "/api/automation/v1/macros/{id}/snapshots/extra",
        "/api/automation/v2/macros/{id}/snapshots",
        "/api/automation/",
    ],
)
def test_other_paths_under_the_api_get_json_404_not_the_html_page(client, automated, path):
    response = client.post(path.format(id=automated.macro.public_id), HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key)

    assert response.status_code == 404
    assert response.json() == {"detail": "Nothing here: check the URL.", "code": "not_found"}


# --- 401 missing_api_key -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_JIRA_SNAPSHOTS_API_KEY": ""}, {"HTTP_JIRA_SNAPSHOTS_API_KEY": "   "}, {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}, {"HTTP_AUTHORIZATION": "Bearer "}],
)
def test_a_call_without_a_key_gets_401_missing_api_key(client, automated, headers):
    response = client.post(automated.path, **headers)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Send the API key in the jira-snapshots-api-key header (or as Authorization: Bearer <key>).",
        "code": "missing_api_key",
    }
    assert "Bearer" in response["WWW-Authenticate"]


# --- 401 invalid_api_key: one body for wrong, revoked and another macro's key -----------------


def test_wrong_revoked_and_other_macro_keys_get_one_identical_401(client, automated, space, people):
    wrong_secret = automated.key[:-4] + ("AAAA" if not automated.key.endswith("AAAA") else "BBBB")
    garbage = "not-a-key"
    other_page, other_macro = publish_page_with_macro(space, people["editor"], title="Other")
    other = enable_and_publish(other_page, other_macro, people["editor"])
    revoked = automated.key
    current = service.regenerate(automated.macro, people["editor"], via=AutomationEvent.Via.SCREEN).raw

    answers = [trigger(client, automated, key) for key in (wrong_secret, garbage, revoked, other.key)]

    assert [a.status_code for a in answers] == [401] * 4
    bodies = {a.content for a in answers}
    assert len(bodies) == 1
    assert answers[0].json() == INVALID
    assert {tuple(sorted((k, v) for k, v in a.headers.items())) for a in answers} == {tuple(sorted(answers[0].headers.items()))}
    assert not SnapshotJob.objects.exists()
    assert trigger(client, automated, current).status_code == 202


def test_a_disabled_macros_old_key_is_invalid(client, automated, people):
    service.disable(automated.macro, people["editor"], via=AutomationEvent.Via.SCREEN)

    response = trigger(client, automated, automated.key)

    assert response.status_code == 401
    assert response.json() == INVALID


# --- 403 macro_automation_disabled ---------------------------------------------------------


def test_a_valid_key_before_the_page_is_republished_gets_403(client, page_and_macro, people):
    _, macro = page_and_macro
    issued = service.enable(macro, people["editor"], via=AutomationEvent.Via.SCREEN)

    response = client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=issued.raw)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Automation for this macro is switched on but not live yet: it goes live when the page is published.",
        "code": "macro_automation_disabled",
    }
    assert not SnapshotJob.objects.exists()


def test_a_valid_key_of_a_macro_switched_off_gets_403(client, automated):
    # Off without revoking the key (e.g. a future admin "suspend"): still refused.
    MacroAutomation.objects.filter(macro=automated.macro).update(enabled=False, live_since=None)

    response = trigger(client, automated, automated.key)

    assert response.status_code == 403
    assert response.json() == {"detail": "Automation is switched off for this macro.", "code": "macro_automation_disabled"}


def test_a_macro_not_yet_on_the_published_page_gets_403(client, automated, people):
    draft = page_service.get_draft(automated.page, people["editor"])
    new_macro = page_service.add_macro(draft, "Later")
    issued = service.enable(new_macro, people["editor"], via=AutomationEvent.Via.SCREEN)

    response = client.post(f"/api/automation/v1/macros/{new_macro.public_id}/snapshots", HTTP_JIRA_SNAPSHOTS_API_KEY=issued.raw)

    assert response.status_code == 403
    assert response.json()["code"] == "macro_automation_disabled"


# --- 429 after the key check -----------------------------------------------------------------


def test_too_many_accepted_calls_with_one_key_get_429_with_retry_after(client, automated, settings, fresh_minute):
    settings.AUTOMATION_THROTTLE = "2/min"

    answers = [trigger(client, automated, automated.key) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    body = answers[2].json()
    assert body["code"] == "throttled"
    retry_after = int(answers[2]["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["detail"] == f"Too many calls with this API key; try again in {retry_after} second{'s' if retry_after != 1 else ''}."


def test_the_key_throttle_comes_after_the_key_check(client, automated, settings, fresh_minute):
    settings.AUTOMATION_THROTTLE = "1/min"
    assert trigger(client, automated, automated.key).status_code == 202

    assert trigger(client, automated, "snap_aaaaaaaaaaaa_" + "a" * 43).json()["code"] == "invalid_api_key"
    assert trigger(client, automated, None).json()["code"] == "missing_api_key"
    assert trigger(client, automated, automated.key).json()["code"] == "throttled"


def test_an_unknown_key_a_wrong_secret_and_an_unknown_macro_cost_the_same(client, automated, monkeypatch, settings):
    # Same statements, one hash check each: the refusals' timing cannot tell them apart.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from automation import keys

    settings.AUTOMATION_REFUSED_THROTTLE = None  # the guard's own reads are not what is compared
    checks = []
    real_check = keys.check
    monkeypatch.setattr(keys, "check", lambda stored, key: checks.append(stored) or real_check(stored, key))
    unknown_key = "snap_zzzzzzzzzzzz_" + "a" * 43
    wrong_secret = automated.key[:-2] + ("xx" if not automated.key.endswith("xx") else "yy")
    other_macro = "/api/automation/v1/macros/00000000-0000-4000-8000-000000000000/snapshots"

    statements = {}
    for label, path, key in (("unknown key", automated.path, unknown_key), ("wrong secret", automated.path, wrong_secret),
                             ("unknown macro", other_macro, wrong_secret)):
        with CaptureQueriesContext(connection) as captured:
            trigger(client, path, key)
        # The audit row of the refusal is written after the answer is decided: not compared.
        statements[label] = [q["sql"].split(" WHERE ")[0].split(" ON ")[0] for q in captured.captured_queries
                             if "automation_automationevent" not in q["sql"] and "SAVEPOINT" not in q["sql"]
                                 and "synchronous_commit" not in q["sql"]]  # the audit write's own setting

    assert statements["unknown key"] == statements["wrong secret"] == statements["unknown macro"]
    assert len(statements["wrong secret"]) == 1
    assert len(checks) == 3


def test_every_invalid_key_costs_one_hash_check_so_timing_tells_nothing(client, automated, space, people, monkeypatch):
    from automation import keys

    other_page, other_macro = publish_page_with_macro(space, people["editor"], title="Other")
    other = enable_and_publish(other_page, other_macro, people["editor"])
    checks = []
    real_check = keys.check
    monkeypatch.setattr(keys, "check", lambda stored, key: checks.append(stored) or real_check(stored, key))

    for key in ("snap_zzzzzzzzzzzz_" + "a" * 43, automated.key[:-2] + "xx", other.key, "junk"):
        assert trigger(client, automated, key).json() == INVALID

    assert len(checks) == 4


@pytest.mark.parametrize("detail", [["a list"], {"field": ["a message"]}])
def test_an_error_with_a_list_or_dict_detail_keeps_the_one_shape(detail):
    # DRF gives such details to validation errors; no endpoint raises one today, and if one
    # does its client still gets one sentence and a code, not DRF's structure.
    answer = json_exception_handler(exceptions.ValidationError(detail), {})

    assert answer.status_code == 400
    assert answer.data == {"detail": "The request is not valid.", "code": "invalid"}
