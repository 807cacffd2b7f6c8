"""How many calls one Jira site gets at once: one adaptive limit per site, and ordered fan-out.

Every HTTP call to Jira goes through ``Limiter.slot()`` (``macros.sources.jira._Http.call``
is the one caller), so the limit lives here and nowhere else. The limit adapts the way TCP
congestion control does (additive increase, multiplicative decrease): it starts modest,
grows by about one call at once for every round of calls Jira answers well while the
limit is actually reached (calls made one at a time prove nothing), halves when Jira
answers 429, and every caller waits out Jira's ``Retry-After`` before its next call.
Near the limit at which Jira last said 429 it grows ten times slower, so a site whose
limit is known is not probed past it every few calls.

With Redis configured the limit, the calls in flight and the pause are kept in Redis, so
every thread of every worker process shares them: one snapshot cannot trip the rate
limit for everyone else. Without Redis they are kept per process.

Nothing here imports Django; ``macros.sources.get_source`` passes the settings in.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

log = logging.getLogger(__name__)

START = 4  # calls at once for a site we know nothing about yet
MAXIMUM = 8  # never more than this at once per site, however well Jira answers
DEFAULT_WAIT = 1.0  # a 429 without Retry-After
MAX_SHARED_PAUSE = 60.0  # the longest pause one 429 imposes on every caller of the site
# A 429 halves the limit down to this, not to one: with one call at a time a single slow
# call would hold every snapshot of the site back. Jira's Retry-After pause still applies.
FLOOR = 2
SLOT_LEASE = 120.0  # a slot held longer than this (its process died) is given back
MAX_QUEUE_WAIT = 600.0  # waiting this long for a slot means something is badly wrong

T = TypeVar("T")
R = TypeVar("R")


class NoSlot(Exception):
    """No slot came free within ``MAX_QUEUE_WAIT`` seconds."""


class Slot:
    """One call's permission to run; the call says how Jira answered."""

    def __init__(self, limiter: Limiter, token: str, saturated: bool):
        self.limiter = limiter
        self.token = token
        self.saturated = saturated  # this call used the last call the limit allows
        self.throttled = False
        self.failed = False
        self.held = True

    def step_out(self) -> None:
        """Give the slot back while the call waits to retry: a wait is not a call in flight."""
        if self.held:
            self.held = False
            self.limiter._release(self.token, "neutral")

    def step_in(self) -> None:
        """Take a slot again to retry (after any pause Jira asked for)."""
        if not self.held:
            self.token, self.saturated = self.limiter._acquire()
            self.held = True

    def rate_limited(self, wait: float | None) -> None:
        """Jira answered 429 (or 503 with Retry-After): everyone at this site slows down now."""
        self.throttled = True
        wait = DEFAULT_WAIT if wait is None else max(0.0, float(wait))
        self.limiter.rate_limited(min(wait, MAX_SHARED_PAUSE))


class Limiter:
    """The adaptive limit of one Jira site (base class; see LocalLimiter and RedisLimiter)."""

    def __init__(self, *, start: int = START, maximum: int = MAXIMUM):
        self.maximum = max(1, int(maximum))
        self.start = max(1, min(int(start), self.maximum))

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        token, saturated = self._acquire()
        slot = Slot(self, token, saturated)
        try:
            yield slot
        except BaseException:
            slot.failed = True
            raise
        finally:
            if slot.held:
                grows = slot.saturated and not (slot.throttled or slot.failed)
                self._release(slot.token, "ok" if grows else "neutral")

    def rate_limited(self, wait: float) -> None:
        raise NotImplementedError

    def current(self) -> float:
        """The limit now (for tests and the benchmark)."""
        raise NotImplementedError

    def _acquire(self) -> tuple[str, bool]:
        raise NotImplementedError

    def _release(self, token: str, outcome: str) -> None:
        raise NotImplementedError


class LocalLimiter(Limiter):
    """The limit kept in this process, shared by its threads."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._cond = threading.Condition()
        self._limit = float(self.start)
        self._in_flight = 0
        self._pause_until = 0.0
        self._next_cut = 0.0
        self._ceiling = float("inf")  # the limit at the last 429
        self.cuts = 0

    def current(self) -> float:
        with self._cond:
            return self._limit

    def _acquire(self) -> tuple[str, bool]:
        deadline = time.monotonic() + MAX_QUEUE_WAIT
        with self._cond:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    raise NoSlot()
                if now < self._pause_until:
                    self._cond.wait(self._pause_until - now)
                elif self._in_flight >= int(self._limit):
                    self._cond.wait(deadline - now)  # a freed slot or a new limit notifies
                else:
                    self._in_flight += 1
                    return "", self._in_flight >= int(self._limit)

    def _release(self, token: str, outcome: str) -> None:
        with self._cond:
            self._in_flight -= 1
            if outcome == "ok":
                step = 1.0 / self._limit if self._limit + 1 < self._ceiling else 0.1 / self._limit
                self._limit = min(float(self.maximum), self._limit + step)
            self._cond.notify_all()

    def rate_limited(self, wait: float) -> None:
        with self._cond:
            now = time.monotonic()
            # A burst of 429s answering calls sent together is one signal, not several:
            # cut once per pause.
            if now >= self._next_cut:
                self._ceiling = self._limit
                self._limit = max(float(min(FLOOR, self.maximum)), self._limit / 2)
                self.cuts += 1
                self._next_cut = now + max(wait, 0.1)
            self._pause_until = max(self._pause_until, now + wait)
            self._cond.notify_all()


_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local limit = tonumber(redis.call('HGET', KEYS[1], 'limit') or ARGV[4])
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause_until') or '0')
if now < pause then return tostring(pause - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
limit = math.floor(limit)
local owner = ARGV[6]
local prefix = owner .. '|'
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
local mine = 0
for _, member in ipairs(members) do
  if string.sub(member, 1, #prefix) == prefix then mine = mine + 1 end
end
local others_waiting = redis.call('ZCARD', KEYS[3])
if redis.call('ZSCORE', KEYS[3], owner) then others_waiting = others_waiting - 1 end
local share = math.max(1, math.ceil(limit / 2))
if others_waiting > 0 then share = math.max(1, math.min(share, math.floor(limit / (others_waiting + 1)))) end
if #members < limit and mine < share then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), prefix .. ARGV[2])
  redis.call('ZREM', KEYS[3], owner)
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  if #members + 1 >= limit then return 'saturated' end
  return 'ok'
end
redis.call('ZADD', KEYS[3], now + 1, owner)
redis.call('EXPIRE', KEYS[3], ARGV[5])
return 'full'
"""

_RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'ok' then
  local limit = tonumber(redis.call('HGET', KEYS[1], 'limit') or ARGV[3])
  local ceiling = tonumber(redis.call('HGET', KEYS[1], 'ceiling') or '1e9')
  local step = 1 / limit
  if limit + 1 >= ceiling then step = 0.1 / limit end
  limit = math.min(tonumber(ARGV[4]), limit + step)
  redis.call('HSET', KEYS[1], 'limit', tostring(limit))
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return 1
"""

_RATE_LIMITED = """
local now = tonumber(ARGV[1])
local wait = tonumber(ARGV[2])
local limit = tonumber(redis.call('HGET', KEYS[1], 'limit') or ARGV[3])
local next_cut = tonumber(redis.call('HGET', KEYS[1], 'next_cut') or '0')
if now >= next_cut then
  redis.call('HSET', KEYS[1], 'ceiling', tostring(limit))
  limit = math.max(tonumber(ARGV[5]), limit / 2)
  redis.call('HSET', KEYS[1], 'limit', tostring(limit), 'next_cut', tostring(now + math.max(wait, 0.1)))
end
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause_until') or '0')
redis.call('HSET', KEYS[1], 'pause_until', tostring(math.max(pause, now + wait)))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return tostring(limit)
"""


class RedisLimiter(Limiter):
    """The limit kept in Redis, shared by every worker process that talks to the site.

    Each worker process (one snapshot at a time) is an owner. An owner holds at most half
    the limit, and while other owners wait no more than its fair share of it, so a
    snapshot whose calls are slow cannot keep every call the site allows to itself.

    The calls in flight are a sorted set of tokens scored by when their lease ends, so a
    process killed mid-call gives its slot back after ``SLOT_LEASE`` seconds. Times are
    wall-clock seconds: the workers of one site share a clock closely enough for pauses
    of a second or more.
    """

    STATE_TTL = 3600  # an idle site's learnt limit is forgotten after an hour

    def __init__(self, client, site: str, *, prefix: str = "snapshots", **kw):
        super().__init__(**kw)
        digest = hashlib.sha256(site.encode()).hexdigest()[:16]
        self.keys = [f"{prefix}:jira-limit:{digest}:{name}" for name in ("state", "in-flight", "waiting")]
        self._client = client
        self._acquire_script = client.register_script(_ACQUIRE)
        self._release_script = client.register_script(_RELEASE)
        self._rate_limited_script = client.register_script(_RATE_LIMITED)

    def current(self) -> float:
        value = self._client.hget(self.keys[0], "limit")
        return float(value) if value is not None else float(self.start)

    def _acquire(self) -> tuple[str, bool]:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + MAX_QUEUE_WAIT
        while time.monotonic() < deadline:
            now = time.time()
            answer = self._acquire_script(
                keys=self.keys,
                args=[repr(now), token, repr(now + SLOT_LEASE), self.start, self.STATE_TTL, self.owner()],
            )
            answer = answer.decode() if isinstance(answer, bytes) else str(answer)
            if answer in ("ok", "saturated"):
                return f"{self.owner()}|{token}", answer == "saturated"
            # Another process may free a slot at any moment: poll briefly, with jitter so
            # that waiting processes do not all ask at the same instant.
            wait = float(answer) if answer != "full" else 0.0
            time.sleep(max(wait, 0.01) + random.uniform(0, 0.02))
        raise NoSlot()

    @staticmethod
    def owner() -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def _release(self, token: str, outcome: str) -> None:
        self._release_script(keys=self.keys, args=[token, outcome, self.start, self.maximum, self.STATE_TTL])

    def rate_limited(self, wait: float) -> None:
        self._rate_limited_script(
            keys=self.keys, args=[repr(time.time()), repr(wait), self.start, self.STATE_TTL, min(FLOOR, self.maximum)]
        )


_limiters: dict[tuple, Limiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(site: str, *, redis_url: str = "", prefix: str = "snapshots", start: int = START,
                maximum: int = MAXIMUM) -> Limiter:
    """The one limiter of ``site`` in this process (kept in Redis when ``redis_url`` is set)."""
    config = (site, redis_url, prefix, start, maximum)
    with _limiters_lock:
        limiter = _limiters.get(config)
        if limiter is None:
            if redis_url:
                import redis

                client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
                limiter = RedisLimiter(client, site, prefix=prefix, start=start, maximum=maximum)
            else:
                limiter = LocalLimiter(start=start, maximum=maximum)
            _limiters[config] = limiter
        return limiter


# --------------------------------------------------------------------------------------
# Fan-out


def in_order(function: Callable[[T], R], items: Iterable[T], *, workers: int, ahead: int | None = None) -> Iterator[R]:
    """``function(item)`` for every item, run on ``workers`` threads, results in item order.

    At most ``ahead`` items (default: twice the workers) are started before their result
    is taken, so a slow consumer holds a bounded number of answers in memory. The first
    failure is raised in order and the items not yet started are dropped.
    """
    workers = max(1, workers)
    ahead = max(workers, ahead or 2 * workers)
    pending: deque[Future] = deque()
    source = iter(items)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jira")
    try:
        for item in source:
            pending.append(executor.submit(function, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        # Not waiting: a job stopped at its time limit (django-q2 raises in this thread)
        # must not sit out the calls still in flight; their answers are simply dropped.
        executor.shutdown(wait=False, cancel_futures=True)
