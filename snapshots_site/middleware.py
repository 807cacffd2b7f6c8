"""What the site does about trouble below it and secrets beside it.

``DatabaseUnavailableMiddleware`` answers 503 instead of a stack trace while the database
(or Redis, when it holds the cache and the queue) is unreachable: a restart, a failover.
Django reconnects by itself on the next request (``CONN_HEALTH_CHECKS``), so the site
recovers without anyone restarting it.

``RedactSecretsFilter`` is a logging filter on every handler: an API key must never reach a
log line, whoever wrote the line (Django, gunicorn, django-q2, us).
"""

from __future__ import annotations

import logging
import re

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

try:  # redis is only needed when REDIS_URL is set
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    _UNAVAILABLE: tuple[type[BaseException], ...] = (
        OperationalError,
        InterfaceError,
        RedisConnectionError,
        RedisTimeoutError,
    )
except ImportError:  # pragma: no cover
    _UNAVAILABLE = (OperationalError, InterfaceError)

UNAVAILABLE = "The service is temporarily unavailable; try again shortly."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, _UNAVAILABLE):
            return None
        # The exception's text can name the host and user; its type is enough to act on.
        log.warning("%s unavailable: %s", "redis" if "redis" in type(exception).__module__ else "database", type(exception).__name__)
        if request.path.startswith("/api/") or request.path.startswith("/take-snapshot/"):
            response = JsonResponse({"detail": UNAVAILABLE, "code": "unavailable"}, status=503)
        else:
            response = HttpResponse(UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "5"
        return response


# An automation key: a lowercase prefix, a 12-character lookup id and a 43-character secret
# (automation/keys.py). The prefix and lookup id are not secret and help whoever reads the
# log; the secret part is replaced.
_KEY = re.compile(r"(?<![a-z0-9])([a-z]{2,16}_[a-z0-9]{12}_)[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
_HEADER = re.compile(r"(?i)((?:jira-snapshots-api-key|HTTP_JIRA_SNAPSHOTS_API_KEY|authorization|HTTP_AUTHORIZATION)['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+|basic\s+)?[^\s'\",}]+")


def redact(text: str) -> str:
    return _HEADER.sub(r"\1***", _KEY.sub(r"\1***", text))


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record whose message would show an API key or an Authorization value."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: the handler reports it as usual
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Tracebacks quote local variables' reprs only in debug pages, but an
            # exception's message may carry a header value: format it here, cleaned.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
