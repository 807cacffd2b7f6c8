"""Answer 503 instead of a stack trace while the database is unreachable (restarts, failover)."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("database unavailable: %s", type(exception).__name__)
        if request.path.startswith("/api/") or request.path.startswith("/take-snapshot/"):
            response = JsonResponse(
                {"detail": "The service is temporarily unavailable; try again shortly.", "code": "unavailable"},
                status=503,
            )
        else:
            response = HttpResponse("The service is temporarily unavailable; try again shortly.", status=503)
        response["Retry-After"] = "5"
        return response
