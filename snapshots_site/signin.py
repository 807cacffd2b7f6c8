"""Sign-in brute-force protection: django-axes, per user name and per client address.

Axes counts failed sign-ins (``AccessAttempt`` rows) and, past ``SIGNIN_FAILURE_LIMIT``
for a user name or for an address, refuses further attempts for
``SIGNIN_LOCKOUT_MINUTES`` with 429 and the page ``registration/locked_out.html`` — the
site's sign-in and the Django admin's alike, since both go through ``authenticate()``.
The address is the one the automation API's guard uses (``TRUSTED_PROXY_COUNT``).
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render


class SignInThrottleBackend(AxesStandaloneBackend):
    """Axes' check, for sign-ins that come with a request.

    ``authenticate()`` without a request is code, not a client: the test client's
    ``login()``, a script. There is no address to count, and axes would raise; the next
    backend decides as it always did. Every sign-in form passes its request.
    """

    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """Axes' answer while a user name or address is paused: the sign-in page, saying so (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
