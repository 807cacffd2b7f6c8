"""Guards every request passes, so that no single view has to remember them (issue 13).

``RequestGuardMiddleware`` refuses input no screen can use before any view reads it:
NUL characters (PostgreSQL refuses them in text: a DataError, a 500, wherever a field
reaches a query), query strings longer than gunicorn would let through (it refuses a
request line over 4,094 bytes; the development server would pass them on), numbers too
large for any database column (OverflowError, wherever a parameter reaches a query the
form layer did not bound: the admin's filters, for one) and JSON nested past Python's
stack (RecursionError: the admin's JSON fields).

``SecurityHeadersMiddleware`` adds a Content-Security-Policy (scripts only from the
site's own static files, no inline script or handler) and keeps signed-in pages out of
shared caches.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

MAX_QUERY_STRING = 4094  # gunicorn's default limit_request_line, for the whole request line
NUL = "Null characters are not allowed in a request."
TOO_LONG = "The address is too long."
TOO_LARGE = "A number in the request is too large."
TOO_DEEP = "The request is nested too deeply to read."

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/take-snapshot/"))


def refusal(request: HttpRequest, status: int, sentence: str, code: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": sentence, "code": code}, status=status)
    return HttpResponse(sentence, status=status, content_type="text/plain; charset=utf-8")


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_STRING:
            return refusal(request, 414, TOO_LONG, "uri_too_long")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return refusal(request, 400, NUL, "null_character")
        # The automation API reads (or ignores) its own bodies; parsing them here would
        # cost the trigger's hot path for nothing.
        if request.method == "POST" and not _is_api(request) and request.content_type in _FORMS and _has_nul(request.POST):
            return refusal(request, 400, NUL, "null_character")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OverflowError):
            log.warning("refused a request with a number too large for the database: %s", request.path)
            return refusal(request, 400, TOO_LARGE, "number_too_large")
        if isinstance(exception, RecursionError):
            # JSON nested thousands deep in a form field (the admin's JSON fields) or a body.
            log.warning("refused a request nested too deeply to read: %s", request.path)
            return refusal(request, 400, TOO_DEEP, "nested_too_deeply")
        return None


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


# Scripts: the site's own files only. Styles: the site's own files, plus style attributes
# (the nested tables' indentation uses one; an attribute cannot load or run anything).
# The admin and the API's documentation need nothing from elsewhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "html" in response.get("Content-Type", ""):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if _is_api(request):  # machines with keys, no session: nobody's page to keep private
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            # A signed-in page is that person's: no shared cache may keep it, and no
            # cache at all may keep the screens that show a key or the site's settings.
            sensitive = request.path.startswith(("/site-admin/", "/admin/")) or "/configure/" in request.path
            response["Cache-Control"] = "private, no-store" if sensitive else "private, no-cache"
        return response
