"""The OpenAPI description (drf-spectacular) and the docs page made from it, with no CDN."""

import json

import pytest

from automation.serializers import JobStatusSerializer, TriggerAcceptedSerializer
from automation.tests.conftest import trigger

pytestmark = pytest.mark.django_db


def test_the_schema_describes_every_endpoint_and_the_key_header(client):
    response = client.get("/api/automation/v1/schema/", {"format": "json"})

    schema = json.loads(response.content)
    assert response.status_code == 200
    assert set(schema["paths"]) == {
        "/api/automation/v1/macros/{macro_id}/snapshots",
        "/api/automation/v1/pages/{page_id}/snapshots",
        "/take-snapshot/{page_id}",
        "/api/automation/v1/snapshots",
        "/api/automation/v1/jobs/{job_id}",
    }
    trigger_op = schema["paths"]["/api/automation/v1/macros/{macro_id}/snapshots"]["post"]
    assert set(trigger_op["responses"]) == {"200", "202", "401", "403", "404", "405", "413", "429"}
    assert "wait" in {p["name"] for p in trigger_op["parameters"]}
    assert set(schema["paths"]["/api/automation/v1/jobs/{job_id}"]["get"]["responses"]) == {"200", "401", "403", "404", "405", "429"}
    bulk = schema["paths"]["/api/automation/v1/snapshots"]["post"]
    assert set(bulk["responses"]) == {"200", "202", "400", "401", "403", "405", "413", "429"}
    assert bulk["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BulkRequest"}
    page_op = schema["paths"]["/take-snapshot/{page_id}"]["post"]
    assert page_op["operationId"] == "take_snapshot_of_page"
    assert "global key" in page_op["description"]
    assert schema["components"]["securitySchemes"]["macroKey"] == {"type": "apiKey", "in": "header", "name": "jira-snapshots-api-key"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "detail"]


def test_the_bodies_match_what_the_schema_says(client, automated, settings):
    accepted = trigger(client, automated, automated.key).json()
    job_status = client.get(accepted["status_url"].removeprefix(settings.SITE_URL), HTTP_JIRA_SNAPSHOTS_API_KEY=automated.key).json()

    assert set(accepted) == set(TriggerAcceptedSerializer().fields)
    # A job that has not ended yet has no page_url / version_url.
    assert set(job_status) == set(JobStatusSerializer().fields) - {"page_url", "version_url"}


def test_the_docs_page_is_readable_and_works_offline(client):
    response = client.get("/api/automation/v1/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Snapshots automation API" in html
    assert "/api/automation/v1/macros/{macro_id}/snapshots" in html
    assert "/api/automation/v1/jobs/{job_id}" in html
    assert "invalid_api_key" in html and "macro_automation_disabled" in html and "payload_too_large" in html
    assert "jira-snapshots-api-key" in html
    assert "<code>coalesced: true</code>" in html and "`" not in html.split("<pre", 1)[0]
    assert html.index("/api/automation/v1/macros/{macro_id}/snapshots</code></h2>") < html.index("/api/automation/v1/jobs/{job_id}</code></h2>")
    assert "cdn" not in html.lower()
    assert 'src="http' not in html and 'href="http' not in html.replace(f'href="{"http://127.0.0.1:8000"}', "")


def test_the_docs_and_schema_paths_without_a_slash_redirect(client):
    assert client.get("/api/automation/v1/docs").status_code == 301
    assert client.get("/api/automation/v1/schema").status_code == 301


def test_inline_code_escapes_everything_else():
    from automation.docs import inline_code

    assert inline_code("use `<b>` & `x`") == "use <code>&lt;b&gt;</code> &amp; <code>x</code>"
