"""The backups endpoint (DESIGN §5), global key only.

``POST /api/automation/v1/backups`` (optional body ``{"spaces": ["KEY", …]}``) queues a
backup on the worker and answers 202 with the run; ``GET …/backups/<id>`` is its status,
with ``download_url`` once it succeeded; ``GET …/backups/<id>/download`` streams the
archive. Refusals come in the automation API's order, from its own helpers.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import FileResponse
from django.urls import reverse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from automation import audit, backup_runs
from automation.api import MethodNotAllowed, NotFound, _Refusal, _uuid_or_none
from automation.backup import BackupError
from automation.models import AutomationEvent, BackupRun
from automation.page_api import GlobalKeyView, InvalidBody, _read_body

Via = AutomationEvent.Via


def run_body(run: BackupRun) -> dict:
    """A backup run as the endpoint answers it."""
    succeeded = run.status == BackupRun.Status.SUCCEEDED
    downloadable = succeeded and run.kind == BackupRun.Kind.BACKUP and bool(run.file_name)
    return {
        "job": str(run.pk),
        "kind": run.kind,
        "status": run.status,
        "spaces": run.spaces,
        "created_at": _iso(run.created_at),
        "finished_at": _iso(run.finished_at),
        "progress": {"done": run.rows_done, "total": run.rows_total} if run.status == BackupRun.Status.RUNNING else None,
        "error": (run.error or None) if run.status == BackupRun.Status.FAILED else None,
        "size": run.size if downloadable else None,
        "status_url": settings.SITE_URL + reverse("automation_backup_status", args=[run.pk]),
        "download_url": settings.SITE_URL + reverse("automation_backup_download", args=[run.pk]) if downloadable else None,
    }


def _iso(moment) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _spaces_from_body(body: bytes) -> list[str] | None:
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidBody(f"The body is not valid JSON ({exc}).", "invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidBody('Send no body for the whole site, or a JSON object such as {"spaces": ["TEAM"]}.')
    spaces = data.get("spaces")
    if spaces is None:
        return None
    if not isinstance(spaces, list) or not all(isinstance(key, str) for key in spaces):
        raise InvalidBody('"spaces" is a list of space keys, such as ["TEAM", "OPS"].')
    if not spaces:
        raise InvalidBody('"spaces" names no space: leave it out to back up the whole site.')
    return spaces


class StartBackup(GlobalKeyView):
    method = "POST"

    def initial(self, request, *args, **kwargs) -> None:
        # Like the bulk trigger: 405, then 413, keeping the body (the size check of the
        # other triggers reads a chunked body only to drop it).
        self.refusal = _Refusal()
        if request.method != self.method:
            raise MethodNotAllowed(request.method, self.method)
        APIView.initial(self, request, *args, **kwargs)
        self.body = _read_body(request)

    def post(self, request) -> Response:
        presented, grant = self.global_grant(request)
        grant = self.check_key(presented, grant)
        spaces = _spaces_from_body(self.body)  # after the key: strangers' bodies are never parsed
        try:
            run = backup_runs.start_backup(spaces, via=Via.API, key_lookup=grant.lookup_id)
        except BackupError as exc:
            raise InvalidBody(str(exc), "unknown_space") from None
        body = run_body(run)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


class _OneRun(GlobalKeyView):
    method = "GET"

    def find(self, request, run_id: str):
        presented, grant = self.global_grant(request)
        run_uuid = _uuid_or_none(run_id)
        run = BackupRun.objects.filter(pk=run_uuid, kind=BackupRun.Kind.BACKUP).first() if run_uuid else None
        grant = self.check_key(presented, grant, target_found=run is not None, not_found="There is no backup with this id.")
        return run, grant


class BackupStatus(_OneRun):
    def get(self, request, run_id: str) -> Response:
        run, _ = self.find(request, run_id)
        return Response(run_body(run))


class DownloadBackup(_OneRun):
    def get(self, request, run_id: str):
        run, grant = self.find(request, run_id)
        path = backup_runs.path_of(run) if run.status == BackupRun.Status.SUCCEEDED else None
        if path is None:
            detail = (
                "This backup is not finished yet: wait for its status to say succeeded."
                if run.is_active
                else "This backup has no file to download (it failed, or it was pruned as older than the ones kept)."
            )
            raise NotFound(detail)
        AutomationEvent.objects.create(
            kind=AutomationEvent.Kind.BACKUP_DOWNLOADED,
            via=Via.API,
            key_kind="global",
            key_lookup=grant.lookup_id,
            client_address=audit.client_address(request),
            job_id=run.pk,
            reason=backup_runs.scope_reason(run.spaces),
        )
        response = FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip")
        response["Cache-Control"] = "no-store"
        return response
