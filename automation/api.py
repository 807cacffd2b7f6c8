"""The automation API (DESIGN §5): trigger a macro's snapshot, read a job's status.

Every refusal is checked in the contract's order and answered as
``{"detail": …, "code": …}``. The trigger is the hot path: one query finds the site
switch, the macro, its automation, the presented key if it is that macro's, and its
queued job (``calls.find_macro_call``, the same query for every answer); one cheap
Argon2id check; the per-key limit from this process's lease; coalesced calls counted in
batches (``calls.CallCounts``). A coalesced call is one database round trip. Only a call
without a valid key consults the refused-attempts guard. No session, no CSRF, no body
parsing. ``?wait=`` holds the answer until the job ends (``automation.waiting``).
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from typing import NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from automation import audit, calls, keys, waiting
from automation.calls import CallTarget, GlobalGrant, KeyGrant
from automation.models import GlobalKey, MacroKey
from automation.serializers import (
    ErrorSerializer,
    JobStatusSerializer,
    TriggerAcceptedSerializer,
)
from automation.service import site_automation_enabled
from automation.throttles import (
    STATUS_SCOPE,
    TRIGGER_SCOPE,
    RefusedAttemptsGuard,
    key_calls,
    retry_after,
)
from macros import space_switch
from macros.models import SnapshotJob
from macros.snapshots import request_snapshot

MAX_BODY = settings.AUTOMATION_MAX_BODY
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --- Refusals ---------------------------------------------------------------------------


class MethodNotAllowed(exceptions.MethodNotAllowed):
    def __init__(self, method: str, allowed: str):
        super().__init__(method, detail=f"{method} is not allowed here; use {allowed}.")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is larger than 1 MiB. The body is ignored: send none, or a smaller one."


class SiteAutomationDisabled(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "site_automation_disabled"
    default_detail = "Automation is switched off for this site by an administrator."


class NotFound(exceptions.NotFound):
    default_code = "not_found"
    default_detail = "Nothing here: check the URL."


class MissingApiKey(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "missing_api_key"
    default_detail = f"Send the API key in the {keys.HEADER} header (or as Authorization: Bearer <key>)."


class InvalidApiKey(exceptions.APIException):
    # One body whether the key is wrong, revoked or another macro's: the caller learns
    # nothing about which keys exist.
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_api_key"
    default_detail = (
        "This API key is not valid here. It may have been regenerated: copy the current key "
        "from the macro's Automation tab."
    )


class ApiKeyExpired(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "api_key_expired"

    def __init__(self, expired_at):
        super().__init__(
            f"The global API key expired on {expired_at:%Y-%m-%d}. A site administrator can prolong it, "
            "or make a new one, under Site administration → Global API key."
        )


class MacroAutomationDisabled(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "macro_automation_disabled"
    default_detail = "Automation is switched off for this macro."
    pending_detail = (
        "Automation for this macro is switched on but not live yet: it goes live when the page is published."
    )
    unpublished_detail = "This macro is not on the published page yet: publish the page first."


class Throttled(exceptions.Throttled):
    def __init__(self, wait: float, what: str):
        seconds = retry_after(wait)
        super().__init__(detail=f"Too many {what}; try again in {seconds} second{'s' if seconds != 1 else ''}.")
        self.wait = seconds


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error as ``{"detail", "code"}``, DRF's own included."""
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    detail = exc.detail
    if isinstance(detail, (list, dict)):  # never produced here, but keep the shape if DRF does
        code = "invalid"
        detail = "The request is not valid."
    else:
        code = getattr(detail, "code", None) or exc.default_code
    headers = {}
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = f'Bearer realm="snapshots-automation", header="{keys.HEADER}"'
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(retry_after(exc.wait))
    return Response({"detail": str(detail), "code": code}, status=exc.status_code, headers=headers)


# --- Views ------------------------------------------------------------------------------


class AlwaysJSON(BaseContentNegotiation):
    """Answer JSON whatever the client accepts (tools send anything, or nothing)."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@dataclass
class _Refusal:
    """What the view learned before refusing, for the audit row."""

    target: CallTarget | None = None
    key: KeyGrant | GlobalGrant | None = None
    page_id: int | None = None


class AutomationAPIView(APIView):
    """The refusal order's first steps, JSON errors, and counted refusals."""

    method = "POST"
    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
    metadata_class = None

    @property
    def allowed_methods(self) -> list[str]:
        return [self.method]

    def get_exception_handler(self):
        return json_exception_handler

    def perform_authentication(self, request) -> None:
        """Nothing to do up front: calls authenticate by their key, in the views, and
        ``request.user`` is never read (DRF would make an anonymous user for each call)."""

    def initial(self, request, *args, **kwargs) -> None:
        self.refusal = _Refusal()
        # 405 first, then 413, before anything touches the database.
        if request.method != self.method:
            raise MethodNotAllowed(request.method, self.method)
        super().initial(request, *args, **kwargs)
        _check_body_size(request)
        self.wait = waiting.requested_wait(request._request.GET)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        code = response.data.get("code") if isinstance(response.data, dict) else None
        if code:
            self._audit_refusal(code)
        return response

    def _audit_refusal(self, code: str) -> None:
        request = self.request
        key, target = self.refusal.key, self.refusal.target
        audit.record_refusal(
            code,
            address=audit.client_address(request),
            macro_id=target.macro_pk if target is not None else None,
            page_id=target.page_id if target is not None else self.refusal.page_id,
            key_kind=key.kind if key is not None else "",
            key_lookup=key.lookup_id if key is not None else "",
        )

    # -- steps shared by the endpoints, in the contract's order --------------------------

    def refuse(self, refusal: exceptions.APIException) -> NoReturn:
        """Refuse a call that holds no valid key (an unknown id, no key, a wrong key).

        Only these refusals count towards the refused-attempts guard, and only they
        consult it: a client over its limit gets 429 whatever it asked for, so a
        published page and an unknown id answer alike. A valid key never gets here.
        """
        guard = RefusedAttemptsGuard(self.request)
        wait = guard.wait()
        if wait is not None:
            raise Throttled(wait, "refused calls from this address")
        guard.record()
        raise refusal

    def refuse_without_key(self, target_found: bool, presented: keys.PresentedKey | None, not_found: str) -> NoReturn:
        """The contract's order among refusals that hold no valid key: 404, then 401."""
        if not target_found:
            self.refuse(NotFound(not_found))
        if presented is None:
            self.refuse(MissingApiKey())
        self.refuse(InvalidApiKey())

    def check_accepted_calls(self, scope: str, key_lookup: str) -> None:
        wait = key_calls.wait(scope, key_lookup)
        if wait is not None:
            raise Throttled(wait, "calls with this API key")


def _check_body_size(request) -> None:
    """413 for bodies over 1 MiB. The body itself is never read into the request.

    A declared Content-Length decides at once. A chunked body has none, so it is read
    (and dropped) up to the limit here; gunicorn hands the app the de-chunked stream.
    """
    meta = request.META
    declared = meta.get("CONTENT_LENGTH")
    if declared:
        try:
            too_large = int(declared) > MAX_BODY
        except ValueError:
            too_large = False
        if too_large:
            raise PayloadTooLarge()
        return
    if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    stream = meta.get("wsgi.input")
    seen = 0
    while stream is not None:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        seen += len(chunk)
        if seen > MAX_BODY:
            raise PayloadTooLarge()


def _uuid_or_none(value: str) -> uuid.UUID | None:
    return uuid.UUID(value) if _UUID.match(value) else None


def valid_macro_key(grant: KeyGrant | None, presented: keys.PresentedKey | None, target: CallTarget | None) -> bool:
    """Whether ``presented`` is the target macro's active key.

    Every presented key costs one hash check: an unknown, revoked or other macro's key
    (or an unknown macro) is checked against a dummy hash, so it takes as long to refuse
    as a wrong secret.
    """
    if presented is None:
        return False
    if grant is None or target is None or grant.target.macro_pk != target.macro_pk:
        keys.check(keys.DUMMY_HASH, presented)
        return False
    if not keys.check(grant.hash, presented):
        return False
    if keys.needs_rehash(grant.hash):
        MacroKey.objects.filter(pk=grant.pk).update(hash=keys.make_hash(presented.raw))
    return True


def valid_global_key(grant: GlobalGrant | None, presented: keys.PresentedKey | None) -> bool:
    """Whether ``presented`` is the active global key (expired or not: see ``check_expiry``)."""
    if presented is None:
        return False
    if grant is None:
        keys.check(keys.DUMMY_HASH, presented)  # same cost as a wrong secret
        return False
    if not keys.check(grant.hash, presented):
        return False
    if keys.needs_rehash(grant.hash):
        GlobalKey.objects.filter(pk=grant.pk).update(hash=keys.make_hash(presented.raw))
    return True


def check_expiry(grant: GlobalGrant) -> GlobalGrant:
    """401 for a global key past its expiry: told only to a caller who holds its secret."""
    if grant.expires_at <= timezone.now():
        raise ApiKeyExpired(grant.expires_at)
    return grant


def accepted_job(job_id, job_status: str, public_id, page_id: int, coalesced: bool) -> dict:
    """One job in a trigger's answer (the macro trigger's whole body, a page trigger's list item)."""
    return {
        "job": str(job_id),
        "status": job_status,
        "macro": str(public_id),
        "page": page_id,
        "coalesced": coalesced,
        "status_url": f"{settings.SITE_URL}{_jobs_path()}{job_id}",
    }


def queue_for_key(target: CallTarget, key_kind: str, key_lookup: str, address: str | None) -> dict:
    """Queue (or join) a snapshot of the target for an accepted key, count it, and answer its body."""
    if target.queued_job_id is not None:
        # The lookup already found the queued job: join it without another query.
        job_id, job_status, coalesced = target.queued_job_id, SnapshotJob.Status.QUEUED.value, True
    else:
        trigger = SnapshotJob.Trigger.GLOBAL_KEY if key_kind == keys.KeyKind.GLOBAL else SnapshotJob.Trigger.AUTOMATION
        job, coalesced = request_snapshot(target.macro(), trigger, key_lookup=key_lookup)
        job_id, job_status = job.pk, job.status
    calls.call_counts.add(
        target, key_kind=key_kind, key_lookup=key_lookup, address=address, job_id=job_id, coalesced=coalesced,
        now=timezone.now(),
    )
    return accepted_job(job_id, job_status, target.public_id, target.page_id, coalesced)


def queue_with_global_key(target: CallTarget, grant: GlobalGrant, address: str | None) -> dict:
    """The global key queues a snapshot of any live macro, whatever the macro's own switch says."""
    return queue_for_key(target, keys.KeyKind.GLOBAL, grant.lookup_id, address)


def check_live(target: CallTarget) -> None:
    """The one place that decides whether a macro's own automation is live (else 403).

    What it reads comes with the call's single lookup (``calls.find_macro_call``).
    """
    if not target.automation_enabled or not target.published or target.deleted:
        raise MacroAutomationDisabled()
    if not target.live:
        raise MacroAutomationDisabled(MacroAutomationDisabled.pending_detail)
    if not target.space_enabled:
        raise MacroAutomationDisabled(space_switch.SPACE_OFF_SENTENCE)


def check_space_on(page_id: int) -> None:
    """Snapshots switched off for the page's space (site administration) refuses its triggers."""
    reason = space_switch.snapshots_off_message(page_id)
    if reason is not None:
        raise MacroAutomationDisabled(reason)


@functools.cache
def _jobs_path() -> str:
    placeholder = uuid.UUID(int=0)
    return reverse("automation_job_status", args=[placeholder]).removesuffix(str(placeholder))


_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="missing_api_key; invalid_api_key (wrong, revoked, or another macro's key); or api_key_expired (the global key is past its expiry)"),
    403: OpenApiResponse(ErrorSerializer, description="site_automation_disabled, or macro_automation_disabled (off, or not live until the page is published)"),
    404: OpenApiResponse(ErrorSerializer, description="not_found: unknown or malformed id"),
    429: OpenApiResponse(ErrorSerializer, description="throttled (see Retry-After): too many refused calls from this address, or too many calls with this key"),
}
WAIT_PARAMETER = OpenApiParameter(
    "wait", OpenApiTypes.NUMBER, OpenApiParameter.QUERY, required=False,
    description=(
        "Seconds (0-60) to hold the answer until the job ends: a job that ended in time answers 200 with its "
        "status (with `page_url` and `version_url`), otherwise the usual answer comes when the time runs out. "
        "The site may hold it for less (its AUTOMATION_MAX_WAIT, 25 s by default). Anything else: 400 `invalid_wait`."
    ),
)
_KEY_HEADER = OpenApiParameter(
    keys.HEADER, str, OpenApiParameter.HEADER, required=False,
    description="The macro's API key (`snap_…`) or the site's global key (`snapglobal_…`). `Authorization: Bearer <key>` works too.",
)


class TriggerMacroSnapshot(AutomationAPIView):
    method = "POST"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options", "trace"]

    @extend_schema(
        operation_id="trigger_macro_snapshot",
        summary="Take a snapshot of one macro",
        description=(
            "Queues a snapshot of the macro and answers at once with the job. While a job for the macro is "
            "queued, further calls return that job with `coalesced: true`: a burst of calls costs one Jira "
            "search. Any request body up to 1 MiB is accepted and ignored (Jira Automation sends issue data). "
            "The site's global key works here too, on any macro of a published page, whether or not the "
            "macro's own automation is on; its snapshots are labelled “automation (global key)”."
        ),
        parameters=[_KEY_HEADER, WAIT_PARAMETER, OpenApiParameter("macro_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The macro's id, as in its Web request URL.")],
        request=None,
        responses={
            200: OpenApiResponse(JobStatusSerializer, description="With `?wait=`: the job ended in time; its status."),
            202: OpenApiResponse(TriggerAcceptedSerializer, description="Queued (or joined the queued job). `Location` is the status URL."),
            405: OpenApiResponse(ErrorSerializer, description="method_not_allowed (`Allow: POST`)"),
            413: OpenApiResponse(ErrorSerializer, description="payload_too_large"),
            **_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Queued",
                value={
                    "job": "0b5f3c1e-7a51-4c2e-9d55-3f1c7b2e8a10",
                    "status": "queued",
                    "macro": "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40",
                    "page": 42,
                    "coalesced": False,
                    "status_url": "https://snapshots.example.com/api/automation/v1/jobs/0b5f3c1e-7a51-4c2e-9d55-3f1c7b2e8a10",
                },
                response_only=True,
                status_codes=["202"],
            ),
            OpenApiExample(
                "Invalid key", value={"detail": InvalidApiKey.default_detail, "code": "invalid_api_key"},
                response_only=True, status_codes=["401"],
            ),
        ],
        tags=["Snapshots"],
    )
    def post(self, request, macro_id: str) -> Response:
        macro_uuid = _uuid_or_none(macro_id)
        presented = keys.from_request(request)
        if presented is not None and presented.kind == keys.KeyKind.GLOBAL:
            return self.post_with_global_key(request, macro_uuid, presented)
        call = calls.find_macro_call(macro_uuid, presented)  # the call's one query
        if not call.site_automation_enabled:
            raise SiteAutomationDisabled()
        target, grant = call.target, call.grant
        self.refusal.target = target
        if not valid_macro_key(grant, presented, target):
            self.refuse_without_key(target is not None, presented, "There is no Snapshots macro with this id.")
        self.refusal.key = grant
        check_live(target)
        self.check_accepted_calls(TRIGGER_SCOPE, grant.lookup_id)
        body = queue_for_key(target, keys.KeyKind.MACRO, grant.lookup_id, audit.client_address(request))
        return self.accepted(body)

    def post_with_global_key(self, request, macro_uuid: uuid.UUID | None, presented: keys.PresentedKey) -> Response:
        """The global key works on any published macro, whatever its own automation switch says."""
        site_on, grant = calls.find_global_key(presented)
        if not site_on:
            raise SiteAutomationDisabled()
        target = calls.find_macro_with_queued_job(macro_uuid)
        self.refusal.target = target
        if not valid_global_key(grant, presented):
            self.refuse_without_key(target is not None, presented, "There is no Snapshots macro with this id.")
        self.refusal.key = check_expiry(grant)
        if target is None:
            raise NotFound("There is no Snapshots macro with this id.")
        if not target.published:
            raise MacroAutomationDisabled(MacroAutomationDisabled.unpublished_detail)
        if not target.space_enabled:
            raise MacroAutomationDisabled(space_switch.SPACE_OFF_SENTENCE)
        self.check_accepted_calls(TRIGGER_SCOPE, grant.lookup_id)
        body = queue_with_global_key(target, grant, audit.client_address(request))
        return self.accepted(body)

    def accepted(self, body: dict) -> Response:
        """202 with the job, or, with ``?wait=`` and the job ended in time, 200 with its status."""
        headers = {"Location": body["status_url"]}
        ended = waiting.wait_for_jobs([uuid.UUID(body["job"])], self.wait) if self.wait > 0 else None
        if ended is not None:
            return Response(job_status_body(next(iter(ended.values()))), headers=headers)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class JobStatus(AutomationAPIView):
    method = "GET"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options", "trace"]

    @extend_schema(
        operation_id="job_status",
        summary="Read a snapshot job's status",
        description=(
            "Readable with the API key of the job's macro (whoever queued it: a coalesced call may have "
            "joined a job someone else started), or with the global key, which reads any job. "
            "`snapshot` is set once the job succeeded; `progress` while it runs."
        ),
        parameters=[_KEY_HEADER, WAIT_PARAMETER, OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The job's id, from the trigger's answer.")],
        responses={200: OpenApiResponse(JobStatusSerializer, description="The job's status."), 405: OpenApiResponse(ErrorSerializer, description="method_not_allowed (`Allow: GET`)"), **_ERRORS},
        examples=[
            OpenApiExample(
                "Succeeded",
                value={
                    "job": "0b5f3c1e-7a51-4c2e-9d55-3f1c7b2e8a10",
                    "status": "succeeded",
                    "macro": "6f1d2c3b-4a59-4e7f-8c21-9b0a1d2e3f40",
                    "snapshot": {"id": 981, "taken_at": "2025-11-21T09:30:12.511Z", "issue_count": 100},
                    "error": None,
                    "progress": None,
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        tags=["Snapshots"],
    )
    def get(self, request, job_id: str) -> Response:
        job_uuid = _uuid_or_none(job_id)
        presented = keys.from_request(request)
        global_key = presented is not None and presented.kind == keys.KeyKind.GLOBAL
        if global_key:
            site_on, grant = calls.find_global_key(presented)
        else:
            site_on, grant = site_automation_enabled(), calls.find_key(presented)
        if not site_on:
            raise SiteAutomationDisabled()
        job = (
            SnapshotJob.objects.select_related("macro__automation", "snapshot__page_version").filter(pk=job_uuid, macro__deleted_at__isnull=True).first()
            if job_uuid is not None
            else None
        )
        target = calls.target_of(job.macro) if job is not None else None
        self.refusal.target = target
        if global_key:
            if not valid_global_key(grant, presented):
                self.refuse_without_key(job is not None, presented, "There is no snapshot job with this id.")
            # The global key reads any job, whatever its macro's own switch says.
            self.refusal.key = check_expiry(grant)
        else:
            if not valid_macro_key(grant, presented, target):
                self.refuse_without_key(job is not None, presented, "There is no snapshot job with this id.")
            self.refusal.key = grant
            check_live(target)
        if job is None:
            raise NotFound("There is no snapshot job with this id.")
        self.check_accepted_calls(STATUS_SCOPE, grant.lookup_id)
        if job.status not in waiting.FINISHED:
            job = (waiting.wait_for_jobs([job.pk], self.wait) or {}).get(job.pk, job)
        return Response(job_status_body(job))


def job_status_body(job: SnapshotJob) -> dict:
    """The status of a job; once it has ended, also where to see the page and the version it made."""
    snapshot = getattr(job, "snapshot", None)
    if snapshot is not None and not snapshot.complete:
        snapshot = None
    body = {
        "job": str(job.pk),
        "status": job.status,
        "macro": str(job.macro.public_id),
        "snapshot": None
        if snapshot is None
        else {"id": snapshot.pk, "taken_at": _iso(snapshot.taken_at), "issue_count": snapshot.issue_count},
        "error": (job.error or None) if job.status == SnapshotJob.Status.FAILED else None,
        "progress": {"fetched": job.fetched, "expected": job.expected} if job.status == SnapshotJob.Status.RUNNING else None,
    }
    if job.status in waiting.FINISHED:
        version = getattr(snapshot, "page_version", None) if snapshot is not None else None
        body["page_url"] = settings.SITE_URL + reverse("page", args=[job.macro.page_id])
        body["version_url"] = settings.SITE_URL + version.get_absolute_url() if version is not None else None
    return body


def _iso(moment) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class NotFoundView(AutomationAPIView):
    """Any other path under the API: JSON 404, never the site's HTML page."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options", "trace"]

    @property
    def default_response_headers(self) -> dict:
        return {}

    def initial(self, request, *args, **kwargs) -> None:
        self.refusal = _Refusal()
        raise NotFound()

    def handle_exception(self, exc: Exception) -> Response:
        return APIView.handle_exception(self, exc)  # not a refused trigger: not counted
