"""Rate limits of the automation API, on the cache every process shares.

Two limits, at two points of the refusal order (DESIGN §5):

- ``RefusedAttemptsThrottle``, before the key is checked: a client network that has
  collected too many refused attempts (no key, wrong key, unknown id) is answered 429
  whatever it sends, so guessing costs it time and costs us no hash checks.
- ``AcceptedCallsThrottle``, after: accepted calls per key at ``AUTOMATION_THROTTLE``.

Both are DRF ``SimpleRateThrottle``s keyed explicitly by the view; the default cache
is the database cache or Redis, never per-process memory.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from automation.audit import client_address, client_network


class RefusedAttemptsThrottle(SimpleRateThrottle):
    """Checked (read-only) before the key check; a refusal adds to it afterwards."""

    scope = "automation_refused"

    def get_rate(self) -> str | None:
        return settings.AUTOMATION_REFUSED_THROTTLE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_network(client_address(request))}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        self.history = self._current_history()
        return len(self.history) < self.num_requests

    def record_refusal(self, request, view) -> None:
        if self.rate is None:
            return
        self.key = self.get_cache_key(request, view)
        self.history = self._current_history()
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history[: self.num_requests], self.duration)

    def wait(self) -> float:
        # Blocked until the num_requests-th newest refusal leaves the window.
        oldest_counted = self.history[min(len(self.history), self.num_requests) - 1]
        return max(1.0, oldest_counted + self.duration - self.now)

    def _current_history(self) -> list[float]:
        self.now = self.timer()
        history = self.cache.get(self.key, [])
        return [t for t in history if t > self.now - self.duration]


class AcceptedCallsThrottle(SimpleRateThrottle):
    """Accepted calls per API key (the key's lookup id, set by the view)."""

    scope = "automation_key"

    def __init__(self, ident: str):
        self.ident = ident
        super().__init__()

    def get_rate(self) -> str | None:
        return settings.AUTOMATION_THROTTLE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}

    def wait(self) -> float:
        waited = super().wait()
        return self.duration if waited is None else waited


class StatusCallsThrottle(AcceptedCallsThrottle):
    """Status reads per key: the same rate, its own bucket, so polling never blocks triggers."""

    scope = "automation_status"


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))
