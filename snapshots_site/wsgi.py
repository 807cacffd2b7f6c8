"""The WSGI application gunicorn serves (``gunicorn snapshots_site.wsgi``).

The automation API's calls come from machines: no session, no sign-in, no CSRF form, no
messages, no static files. They go to a second Django handler built with
``AUTOMATION_API_MIDDLEWARE`` (the security headers and request guards every answer
gets, and the 503 on a lost database) instead of the whole ``MIDDLEWARE`` chain, which
cost the trigger about a quarter of its time (bench/bench_trigger.py). Everything else,
the API's description pages included, goes through the site's full chain.
"""

import functools
import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snapshots_site.settings")
site = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after the settings module is chosen
from django.urls import URLResolver  # noqa: E402
from django.urls.resolvers import RegexPattern  # noqa: E402


class AutomationAPIHandler(WSGIHandler):
    """A Django handler whose middleware chain is ``AUTOMATION_API_MIDDLEWARE``, and whose
    paths resolve against the API's own patterns (``automation.api_urls``) rather than
    through the site's URLconf and its includes (17 µs a call against 63 µs, measured on 5 Dec)."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; swapped only while it does,
        # once, when the process starts.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.AUTOMATION_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full

    def resolve_request(self, request):
        # reverse() still uses the site's URLconf: only resolving is narrowed.
        match = _api_resolver().resolve(request.path_info)
        request.resolver_match = match
        return match


@functools.cache
def _api_resolver() -> URLResolver:
    from automation.api_urls import handler_urlpatterns

    return URLResolver(RegexPattern(r"^/"), handler_urlpatterns)


api = AutomationAPIHandler()


def _load_views() -> None:
    """Import every URLconf and view now, as a first request would: gunicorn loads this
    module once in its master (``preload_app``) and forks the workers from it. Nothing
    here touches the database."""
    from automation.api import _jobs_path

    _jobs_path()  # reverse(): imports the whole URLconf
    _api_resolver().resolve("/api/automation/v1/jobs/-")  # the API handler's own patterns


_load_views()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith(settings.AUTOMATION_API_PREFIXES):
        return api(environ, start_response)
    return site(environ, start_response)
