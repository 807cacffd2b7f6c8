"""Global-key triggers (DESIGN §5): every macro on a page, and many targets at once.

``POST /api/automation/v1/pages/<page_id>/snapshots`` and the reference product's
``POST /take-snapshot/<page_id>`` queue one job per Snapshots macro on the published
page, whatever each macro's own switch says, coalescing per macro. The bulk
``POST /api/automation/v1/snapshots`` takes ``{"pages": [...], "macros": [...]}`` and
answers a result per target: an unknown id is that target's refusal, not the call's.

A macro key on these paths is an invalid key (401 ``invalid_api_key``): it opens one
macro, never a page.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from automation import audit, calls, keys, waiting
from automation.api import (
    _ERRORS,
    _KEY_HEADER,
    MAX_BODY,
    WAIT_PARAMETER,
    AutomationAPIView,
    MacroAutomationDisabled,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SiteAutomationDisabled,
    _Refusal,
    _uuid_or_none,
    check_expiry,
    check_space_on,
    job_status_body,
    queue_with_global_key,
    valid_global_key,
)
from automation.calls import CallTarget, GlobalGrant
from automation.serializers import (
    BulkAcceptedSerializer,
    BulkRequestSerializer,
    ErrorSerializer,
    PageAcceptedSerializer,
)
from automation.throttles import TRIGGER_SCOPE
from macros import space_switch
from macros.models import Macro, Page

MAX_TARGETS = 500


class InvalidBody(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_body"
    default_detail = 'Send a JSON object such as {"pages": [12, 15], "macros": ["<macro id>"]}.'


class GlobalKeyView(AutomationAPIView):
    """The refusal order for a global-key-only path, up to and including the key check."""

    method = "POST"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options", "trace"]

    def global_grant(self, request) -> tuple[keys.PresentedKey | None, GlobalGrant | None]:
        presented = keys.from_request(request)
        site_on, grant = calls.find_global_key(presented)
        if not site_on:
            raise SiteAutomationDisabled()
        return presented, grant

    def accepted(self, body: dict, jobs: list[dict]) -> Response:
        """202; with ``?wait=`` and every job ended in time, 200 with each job's status in its place."""
        ended = waiting.wait_for_jobs([uuid.UUID(j["job"]) for j in jobs], self.wait)
        if ended is None:
            return Response(body, status=status.HTTP_202_ACCEPTED)
        for job in jobs:
            job.update(job_status_body(ended[uuid.UUID(job["job"])]))
        return Response(body)

    def check_key(self, presented: keys.PresentedKey | None, grant: GlobalGrant | None, *,
                  target_found: bool = True, not_found: str = "") -> GlobalGrant:
        """The global key, or a refusal: 404 (unknown target), 401, or the guard's 429.

        A valid key is told about an unknown target without the guard; a caller without
        one gets the same 429 for every id while the guard holds it, so published pages
        cannot be told from other ids by probing.
        """
        if not valid_global_key(grant, presented):  # a macro key finds no grant: invalid
            self.refuse_without_key(target_found, presented, not_found)
        self.refusal.key = check_expiry(grant)
        if not target_found:
            raise NotFound(not_found)
        self.check_accepted_calls(TRIGGER_SCOPE, grant.lookup_id)
        return grant


def _page_id_or_none(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _published_page(page_id: int | None) -> Page | None:
    if page_id is None:
        return None
    return Page.objects.filter(pk=page_id, published_at__isnull=False).only("pk").first()


_PAGE_EXAMPLE = {
    "page": 42,
    "jobs": [
        {
            "job": "0b5f3c1e-7a51-4c2e-9d55-3f1c7b2e8a10",
            "status": "queued",
            "macro": "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40",
            "page": 42,
            "coalesced": False,
            "status_url": "https://snapshots.example.com/api/automation/v1/jobs/0b5f3c1e-7a51-4c2e-9d55-3f1c7b2e8a10",
        }
    ],
}


_PAGE_SCHEMA = dict(
    operation_id="trigger_page_snapshots",
    summary="Take a snapshot of every macro on a page (global key)",
    description=(
        "Queues one snapshot job per Snapshots macro on the published page, whatever each macro's own "
        "automation switch says; a macro that already has a queued job joins it (`coalesced: true`). "
        "Needs the site's global key: a macro key is refused as `invalid_api_key`. "
        "`POST /take-snapshot/<page_id>` is the same call at the path the reference product uses."
    ),
    parameters=[_KEY_HEADER, WAIT_PARAMETER, OpenApiParameter("page_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The page's id, as in its address /pages/<id>/.")],
    request=None,
    responses={
        200: OpenApiResponse(PageAcceptedSerializer, description="With `?wait=`: every job ended in time; each carries its status."),
        202: OpenApiResponse(PageAcceptedSerializer, description="One job per macro on the published page."),
        405: OpenApiResponse(ErrorSerializer, description="method_not_allowed (`Allow: POST`)"),
        413: OpenApiResponse(ErrorSerializer, description="payload_too_large"),
        **_ERRORS,
    },
    examples=[OpenApiExample("Queued", value=_PAGE_EXAMPLE, response_only=True, status_codes=["202"])],
    tags=["Snapshots"],
)


class TriggerPageSnapshots(GlobalKeyView):
    @extend_schema(**_PAGE_SCHEMA)
    def post(self, request, page_id: str) -> Response:
        presented, grant = self.global_grant(request)
        page = _published_page(_page_id_or_none(page_id))
        self.refusal.page_id = page.pk if page is not None else None
        grant = self.check_key(presented, grant, target_found=page is not None, not_found="There is no published page with this id.")
        check_space_on(page.pk)
        address = audit.client_address(request)
        with transaction.atomic():  # one commit for the page's jobs; they are enqueued after it
            jobs = [queue_with_global_key(t, grant, address) for t in calls.live_targets(page.live_macros().only("pk", "public_id", "page_id"))]
        return self.accepted({"page": page.pk, "jobs": jobs}, jobs)


class TakeSnapshotOfPage(TriggerPageSnapshots):
    """``POST /take-snapshot/<page_id>``: the reference product's path for the page trigger."""

    @extend_schema(**{**_PAGE_SCHEMA, "operation_id": "take_snapshot_of_page", "summary": "Take a snapshot of every macro on a page (the reference product's path)"})
    def post(self, request, page_id: str) -> Response:
        return super().post(request, page_id)


class TriggerSnapshots(GlobalKeyView):
    """Bulk: many pages and macros in one call."""

    # Only for the OpenAPI description (request.data is never read: the body is parsed
    # by _parse_targets after the key check, so a stranger's body costs nothing).
    parser_classes = [JSONParser]

    def initial(self, request, *args, **kwargs) -> None:
        # Like the other triggers (405, then 413) but this one keeps its body: it is the request.
        self.refusal = _Refusal()
        if request.method != self.method:
            raise MethodNotAllowed(request.method, self.method)
        super(AutomationAPIView, self).initial(request, *args, **kwargs)
        self.body = _read_body(request)
        self.wait = waiting.requested_wait(request._request.GET)

    @extend_schema(
        operation_id="trigger_snapshots",
        summary="Take snapshots of many pages and macros (global key)",
        description=(
            f"Up to {MAX_TARGETS} targets: pages (every macro on the published page) and macros (by id). "
            "Each target gets its own result, in the order sent: the jobs it queued or joined, or an `error` "
            "with the same `detail` and `code` a single call would answer (`not_found` for an unknown id). "
            "An unknown target does not fail the call. Needs the site's global key. "
            "A body that is not JSON, not of this shape, or names no target (or too many) is refused with 400 "
            "(`invalid_json`, `invalid_body`, `too_many_targets`) and queues nothing."
        ),
        parameters=[_KEY_HEADER, WAIT_PARAMETER],
        request=BulkRequestSerializer,
        responses={
            200: OpenApiResponse(BulkAcceptedSerializer, description="With `?wait=`: every job ended in time; each carries its status."),
            202: OpenApiResponse(BulkAcceptedSerializer, description="A result per target."),
            400: OpenApiResponse(ErrorSerializer, description="invalid_json, invalid_body, or too_many_targets"),
            405: OpenApiResponse(ErrorSerializer, description="method_not_allowed (`Allow: POST`)"),
            413: OpenApiResponse(ErrorSerializer, description="payload_too_large"),
            **{code: response for code, response in _ERRORS.items() if code != 404},
        },
        examples=[
            OpenApiExample("Request", value={"pages": [42, 999], "macros": ["6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40"]}, request_only=True),
            OpenApiExample(
                "Mixed",
                value={
                    "accepted": 2,
                    "refused": 1,
                    "results": [
                        _PAGE_EXAMPLE,
                        {"page": 999, "error": {"detail": "There is no published page with this id.", "code": "not_found"}},
                        _PAGE_EXAMPLE["jobs"][0],
                    ],
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
        tags=["Snapshots"],
    )
    def post(self, request) -> Response:
        presented, grant = self.global_grant(request)
        grant = self.check_key(presented, grant)
        pages, macros = _parse_targets(self.body)  # after the key: strangers' bodies are never parsed

        address = audit.client_address(request)
        page_ids = {p for p in (_page_id_or_none(v) for v in pages) if p is not None}
        macro_ids = {m for m in (_uuid_or_none(v) if isinstance(v, str) else None for v in macros) if m is not None}
        # Published pages, each with its space's Snapshots switch.
        published_pages = dict(Page.objects.filter(pk__in=page_ids, published_at__isnull=False).values_list("pk", "space__snapshots_enabled"))
        live = Macro.objects.filter(published_at__isnull=False, deleted_at__isnull=True).order_by("position", "pk")
        macros_of_page: dict[int, list[Macro]] = {}
        for macro in live.filter(page_id__in=[p for p, on in published_pages.items() if on]).only("pk", "public_id", "page_id"):
            macros_of_page.setdefault(macro.page_id, []).append(macro)
        named = {
            m.public_id: m
            for m in Macro.objects.filter(public_id__in=macro_ids, deleted_at__isnull=True).only("pk", "public_id", "page_id", "published_at")
        }

        named_live = [m for m in named.values() if m.published_at is not None]
        targets = {t.macro_pk: t for t in calls.live_targets([m for ms in macros_of_page.values() for m in ms] + named_live)}
        results = []
        with transaction.atomic():  # one commit for every job; they are enqueued after it
            for value in pages:
                page_id = _page_id_or_none(value)
                if page_id not in published_pages:
                    results.append({"page": value, "error": _error(NotFound("There is no published page with this id."))})
                    continue
                if not published_pages[page_id]:  # as the page trigger answers it: the whole page refused
                    results.append({"page": page_id, "error": _error(MacroAutomationDisabled(space_switch.SPACE_OFF_SENTENCE))})
                    continue
                jobs = [_queue(targets, m, grant, address) for m in macros_of_page.get(page_id, [])]
                results.append({"page": page_id, "jobs": jobs})
            for value in macros:
                macro = named.get(_uuid_or_none(value) if isinstance(value, str) else None)
                if macro is None:
                    results.append({"macro": value, "error": _error(NotFound("There is no Snapshots macro with this id."))})
                elif macro.published_at is None:
                    results.append({"macro": value, "error": _error(MacroAutomationDisabled(MacroAutomationDisabled.unpublished_detail))})
                else:
                    results.append(_queue(targets, macro, grant, address))
        refused = sum(1 for r in results if "error" in r)
        jobs = [job for r in results if "error" not in r for job in (r["jobs"] if "jobs" in r else [r])]
        return self.accepted({"accepted": len(results) - refused, "refused": refused, "results": results}, jobs)


def _queue(targets: dict[int, CallTarget], macro: Macro, grant: GlobalGrant, address: str | None) -> dict:
    """Queue or join; a target named twice joins the job its first mention queued."""
    if not targets[macro.pk].space_enabled:
        return {"macro": str(macro.public_id), "error": _error(MacroAutomationDisabled(space_switch.SPACE_OFF_SENTENCE))}
    body = queue_with_global_key(targets[macro.pk], grant, address)
    if not body["coalesced"]:
        targets[macro.pk] = replace(targets[macro.pk], queued_job_id=uuid.UUID(body["job"]))
    return body


def _error(exc: exceptions.APIException) -> dict:
    return {"detail": str(exc.detail), "code": exc.detail.code}


def _parse_targets(body: bytes) -> tuple[list, list]:
    """The whole body checked before anything is queued: a body refused here queues nothing."""
    if not body.strip():
        raise InvalidBody('The body is empty. Send a JSON object such as {"pages": [12], "macros": []}.', "invalid_json")
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidBody("The body is nested too deeply to be a list of targets.", "invalid_json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBody(f"The body is not valid JSON ({exc}).", "invalid_json") from None
    if not isinstance(data, dict) or set(data) - {"pages", "macros"}:
        raise InvalidBody()
    pages, macros = data.get("pages", []), data.get("macros", [])
    if not isinstance(pages, list) or not isinstance(macros, list):
        raise InvalidBody('"pages" and "macros" are lists of ids.')
    count = len(pages) + len(macros)
    if count == 0:
        raise InvalidBody("Name at least one page or macro.")
    if count > MAX_TARGETS:
        raise InvalidBody(f"At most {MAX_TARGETS} targets per call; this one names {count}. Split it.", "too_many_targets")
    for value in pages:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidBody(f"Page ids are whole numbers, such as 12; {_shown(value)} is not one.")
    for value in macros:
        if not isinstance(value, str):
            raise InvalidBody(f'Macro ids are strings, such as "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40"; {_shown(value)} is not one.')
    return pages, macros


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str):
    # Python's json reads NaN and Infinity, which are not JSON and cannot be answered back.
    raise _NotFinite(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotFinite(f"{text[:40]} is too large a number")
    return value


def _shown(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_body(request) -> bytes:
    """The body, at most 1 MiB (413 above), whether Content-Length was declared or it came chunked."""
    meta = request.META
    declared = meta.get("CONTENT_LENGTH")
    if declared:
        try:
            length = int(declared)
        except ValueError:  # no body can be read by a length that is not one (Django would fail)
            raise InvalidBody("The Content-Length header is not a number, so the body cannot be read.", "invalid_json") from None
        if length > MAX_BODY:
            raise PayloadTooLarge()
        return request._request.body
    if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""
    stream, parts, seen = meta.get("wsgi.input"), [], 0
    while stream is not None:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        seen += len(chunk)
        if seen > MAX_BODY:
            raise PayloadTooLarge()
        parts.append(chunk)
    return b"".join(parts)

