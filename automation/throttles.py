"""Rate limits of the automation API, counted in ``automation.counters`` (shared by every process).

Two limits, at two points of the refusal order (DESIGN §5):

- ``RefusedAttemptsGuard``: refused attempts (no key, a wrong key, an unknown id) per
  client network. It is consulted only when a call is about to be refused: a call with a
  valid key never reads it and is never refused by it (behind a shared proxy address,
  someone else's guessing must not lock out real callers). A client over the limit gets
  429 instead of any 401 or 404, so guessing costs it time and it learns nothing about
  which ids exist.
- ``KeyCallLimiter``: accepted calls per key at ``AUTOMATION_THROTTLE``.

The guard is a sliding-window counter (this window's count plus the previous window's,
weighted by how much of it still overlaps), incremented atomically.

The per-key limit is on the hot path, so a process does not touch the shared counter on
every call: it takes a small lease of calls from the key's counter for the current
window and spends it locally. The shared count never exceeds the limit; the price is
that a process may hold a few unspent calls of a key while another process refuses it
(at most ``lease - 1`` per process and window, ``lease`` being a twentieth of the
limit). One process, as in tests, counts exactly.
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from automation import counters
from automation.audit import client_address, client_network


def _parse(rate: str | None) -> tuple[int, int] | None:
    if rate is None:
        return None
    return SimpleRateThrottle.parse_rate(None, rate)


class RefusedAttemptsGuard:
    """Refused attempts per client network, sliding window, atomic increments."""

    def __init__(self, request) -> None:
        self.rate = _parse(settings.AUTOMATION_REFUSED_THROTTLE)
        self.network = client_network(client_address(request))

    def _names(self, now: float) -> tuple[str, str, float, int]:
        duration = self.rate[1]
        window = int(now // duration)
        into = (now - window * duration) / duration
        return f"refused:{self.network}:{window}", f"refused:{self.network}:{window - 1}", into, duration

    def wait(self) -> float | None:
        """Seconds until this client may be answered again, or None when it is not blocked."""
        if self.rate is None:
            return None
        limit, _ = self.rate
        now = time.time()
        current, previous, into, duration = self._names(now)
        counts = counters.store().get_many([current, previous])
        this, last = counts.get(current, 0), counts.get(previous, 0)
        if last * (1 - into) + this < limit:
            return None
        if this >= limit:
            # Next window: this one becomes "previous" and fades until under the limit.
            return (1 - into) * duration + duration * (1 - limit / this)
        return duration * (1 - (limit - this) / last) - into * duration

    def record(self) -> None:
        if self.rate is None:
            return
        current, _, _, duration = self._names(time.time())
        counters.store().add(current, 1, 2 * duration)


class KeyCallLimiter:
    """Accepted calls per key and scope, in leases taken from the shared counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (scope, key, rate) -> [window, calls left in this process's lease, window exhausted]
        self._leases: dict[tuple[str, str, str], list] = {}

    def wait(self, scope: str, ident: str) -> float | None:
        """None when the call may go ahead (and is counted), else seconds until it may."""
        rate = settings.AUTOMATION_THROTTLE
        parsed = _parse(rate)
        if parsed is None:
            return None
        limit, duration = parsed
        now = time.time()
        window = int(now // duration)
        slot = (scope, ident, rate)
        with self._lock:
            lease = self._leases.get(slot)
            if lease is None or lease[0] != window:
                lease = self._leases[slot] = [window, 0, False]
                if len(self._leases) > 10_000:
                    self._forget_old(window, duration)
            if lease[1] > 0:
                lease[1] -= 1
                return None
            if lease[2]:
                return (window + 1) * duration - now
        size = max(1, limit // 20)
        total = counters.store().add(f"calls:{scope}:{ident}:{window}", size, duration + 1)
        granted = min(size, limit - (total - size))
        with self._lock:
            if granted <= 0:
                lease[2] = True
                return (window + 1) * duration - now
            lease[1] += granted - 1
            lease[2] = total >= limit
        return None

    def _forget_old(self, window: int, duration: int) -> None:
        for slot in [s for s, lease in self._leases.items() if lease[0] < window]:
            del self._leases[slot]

    def reset(self) -> None:
        """Forget this process's leases (tests, between cases)."""
        with self._lock:
            self._leases.clear()


key_calls = KeyCallLimiter()
TRIGGER_SCOPE = "trigger"
STATUS_SCOPE = "status"  # polling has its own bucket, so it never blocks triggers


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))
