"""Counters every web process shares, incremented atomically, that expire by themselves.

The automation API's rate limits count here (``automation.throttles``). Django's cache
API is not enough: ``cache.incr`` on the database cache is a read followed by a write,
so two processes counting at once lose one another's counts. One store per cache
backend, chosen from ``CACHES["default"]``:

- Redis (production): ``SET NX EX`` then ``INCRBY`` in one script, one round trip.
- Anything else (the embedded default's database cache): one upsert statement on
  ``SharedCounter``, atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import threading
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from automation.models import SharedCounter


class CounterStore(Protocol):
    def add(self, name: str, amount: int, ttl: int) -> int:
        """Add ``amount`` to the counter (made, expiring in ``ttl`` seconds, if absent); its new value."""

    def get_many(self, names: list[str]) -> dict[str, int]:
        """The live counters among ``names`` (absent or expired ones are left out)."""


class RedisCounters:
    """Counters in the cache's Redis, over a connection of each thread's own.

    The commands go straight to a redis-py ``Connection`` (its protocol and hiredis
    parser) rather than through a ``redis.Redis`` client: the client's command path (its
    pool checkout and release, retries, events and metrics) cost about 0.1 ms of CPU per
    command, several times the round trip itself, and a trigger that takes a lease of
    calls pays one (bench/bench_trigger.py).
    """

    # Made with its expiry if absent, then added to: one command, one reply, atomic.
    _ADD = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX') return redis.call('INCRBY', KEYS[1], ARGV[1])"
    _ADD_SHA = hashlib.sha1(_ADD.encode()).hexdigest()

    def __init__(self) -> None:
        self._local = threading.local()

    def _thread(self):
        """This thread's cache and connection to its Redis, made from the cache's own pool
        settings (address, password, timeouts); anew after a fork or a change of CACHES."""
        local, pid = self._local, os.getpid()
        if getattr(local, "caches", None) is not settings.CACHES or local.pid != pid:
            local.cache = caches["default"]
            local.connection = local.cache._cache.get_client(write=True).connection_pool.make_connection()
            local.caches, local.pid = settings.CACHES, pid
        return local

    def _command(self, connection, *args):
        try:
            connection.send_command(*args)
            return connection.read_response()
        except RedisConnectionError:
            # A connection the server dropped (a restart) fails on first use: once more on a
            # new one, which the command reaches first. Failing again, the site answers 503.
            connection.disconnect()
            connection.send_command(*args)
            return connection.read_response()

    def add(self, name: str, amount: int, ttl: int) -> int:
        # make_key, not make_and_validate_key: the validation is memcached's, and our
        # names are short and plain.
        thread = self._thread()
        key = thread.cache.make_key(f"counter:{name}")
        try:
            return int(self._command(thread.connection, "EVALSHA", self._ADD_SHA, 1, key, amount, ttl))
        except NoScriptError:  # a Redis that restarted, or flushed its scripts: sent whole once more
            return int(self._command(thread.connection, "EVAL", self._ADD, 1, key, amount, ttl))

    def get_many(self, names: list[str]) -> dict[str, int]:
        thread = self._thread()
        values = self._command(thread.connection, "MGET", *(thread.cache.make_key(f"counter:{n}") for n in names))
        return {n: int(v) for n, v in zip(names, values, strict=True) if v is not None}


class DatabaseCounters:
    """One row per counter; expired rows are reused in place and swept now and then."""

    _sweep_every = 1000

    def __init__(self) -> None:
        self._calls = itertools.count()

    @functools.cached_property
    def _sql(self) -> str:
        q = connection.ops.quote_name
        table = q(SharedCounter._meta.db_table)
        name, value, expires = (q(SharedCounter._meta.get_field(f).column) for f in ("name", "value", "expires_at"))
        # An expired row starts over rather than adding to a count from another window.
        return (
            f"INSERT INTO {table} ({name}, {value}, {expires}) VALUES (%s, %s, %s)"
            f" ON CONFLICT ({name}) DO UPDATE SET"
            f" {value} = CASE WHEN {table}.{expires} <= %s THEN excluded.{value} ELSE {table}.{value} + excluded.{value} END,"
            f" {expires} = CASE WHEN {table}.{expires} <= %s THEN excluded.{expires} ELSE {table}.{expires} END"
            f" RETURNING {value}"
        )

    def add(self, name: str, amount: int, ttl: int) -> int:
        now = timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        expires, at = adapt(now + timedelta(seconds=ttl)), adapt(now)
        with connection.cursor() as cursor:
            cursor.execute(self._sql, [name, amount, expires, at, at])
            total = cursor.fetchone()[0]
        if next(self._calls) % self._sweep_every == self._sweep_every - 1:
            SharedCounter.objects.filter(expires_at__lte=now).delete()
        return int(total)

    def get_many(self, names: list[str]) -> dict[str, int]:
        rows = SharedCounter.objects.filter(name__in=names, expires_at__gt=timezone.now()).values_list("name", "value")
        return dict(rows)


_STORES = {"django.core.cache.backends.redis.RedisCache": RedisCounters}


@functools.cache
def _store_for(backend: str) -> CounterStore:
    return _STORES.get(backend, DatabaseCounters)()


def store() -> CounterStore:
    return _store_for(settings.CACHES["default"]["BACKEND"])
