"""The automation API's OpenAPI description and a readable page made from it.

The page is rendered on the server from the same schema, with no CDN: Snapshots often
runs where users have no internet access (a Jira Data Center behind a firewall).
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings
from drf_spectacular.views import SpectacularAPIView

from automation import keys

API_URLCONF = "automation.api_urls"


def schema_settings() -> dict:
    return {
        "TITLE": "Snapshots automation API",
        "DESCRIPTION": (
            "Take snapshots of Jira data from Jira Automation, CI/CD pipelines and scheduled jobs. "
            f"Send the macro's API key in the `{keys.HEADER}` header (or `Authorization: Bearer <key>`). "
            "The site's global key (`snapglobal_…`, made by a site administrator, valid 90 days unless prolonged) "
            "works on every path: any macro, every macro of a page, many targets at once, and any job's status. "
            'Every error is JSON: `{"detail": "<a sentence>", "code": "<machine code>"}`.'
        ),
        "VERSION": "1",
        "SERVERS": [{"url": settings.SITE_URL}],
        "APPEND_COMPONENTS": {
            "securitySchemes": {
                "macroKey": {"type": "apiKey", "in": "header", "name": keys.HEADER},
                "bearer": {"type": "http", "scheme": "bearer"},
            }
        },
        "SECURITY": [{"macroKey": []}, {"bearer": []}],
    }


class SchemaView(SpectacularAPIView):
    urlconf = API_URLCONF

    @property
    def custom_settings(self) -> dict:  # read per request: SITE_URL may differ in tests
        return schema_settings()


def build_schema() -> dict:
    with patched_settings(schema_settings()):
        generator = SchemaGenerator(urlconf=API_URLCONF)
        return generator.get_schema(request=None, public=True)


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    schema = build_schema()
    components = schema.get("components", {}).get("schemas", {})
    endpoints = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = []
            for code, response in sorted(operation.get("responses", {}).items()):
                content = response.get("content", {}).get("application/json", {})
                examples = [json.dumps(e.get("value"), indent=2) for e in content.get("examples", {}).values()]
                responses.append(
                    {
                        "status": code,
                        "description": inline_code(response.get("description", "")),
                        "schema": _ref_name(content.get("schema")),
                        "examples": examples,
                    }
                )
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": inline_code(operation.get("description", "")),
                    "parameters": [{**p, "description": inline_code(p.get("description", ""))} for p in operation.get("parameters", [])],
                    "responses": responses,
                    "anchor": operation.get("operationId", ""),
                }
            )
    endpoints.sort(key=lambda e: (e["method"] != "POST", e["path"]))  # the trigger first
    shapes = [{"name": name, "fields": _fields(body, components)} for name, body in components.items() if "properties" in body]
    return render(
        request,
        "automation/api_docs.html",
        {"info": {**schema["info"], "description": inline_code(schema["info"].get("description", ""))}, "endpoints": endpoints, "shapes": shapes, "site_url": settings.SITE_URL, "header": keys.HEADER},
    )


def inline_code(text: str) -> str:
    """The schema's Markdown `code` spans as HTML, everything else escaped."""
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def _ref_name(schema: dict | None) -> str:
    if not schema:
        return ""
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def _fields(body: dict, components: dict) -> list[dict]:
    required = set(body.get("required", []))
    fields = []
    for name, prop in body.get("properties", {}).items():
        kind = prop.get("type") or _ref_name(prop) or " or ".join(_ref_name(p) or p.get("type", "") for p in prop.get("oneOf", prop.get("allOf", [])))
        if prop.get("format"):
            kind = f"{kind} ({prop['format']})"
        if prop.get("enum"):
            kind = " | ".join(str(v) for v in prop["enum"])
        fields.append(
            {
                "name": name,
                "type": kind,
                "nullable": prop.get("nullable", False),
                "required": name in required,
                "description": inline_code(prop.get("description", "")),
            }
        )
    return fields
