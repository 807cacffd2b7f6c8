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
import itertools
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from automation.models import SharedCounter


class CounterStore(Protocol):
    def add(self, name: str, amount: int, ttl: int) -> int:
        """Add ``amount`` to the counter (made, expiring in ``ttl`` seconds, if absent); its new value."""

    def get_many(self, names: list[str]) -> dict[str, int]:
        """The live counters among ``names`` (absent or expired ones are left out)."""


class RedisCounters:
    # Made with its expiry if absent, then added to: one command, one reply, atomic.
    _ADD = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX') return redis.call('INCRBY', KEYS[1], ARGV[1])"

    def __init__(self) -> None:
        self._made_by = None
        self._clients = None

    def _client(self):
        """A redis client and the add script, kept per Django cache client (whose connection
        pool is per process).

        Django's ``get_client()`` builds a new ``redis.Redis`` on every call, and filling its
        table of response callbacks cost about 0.1 ms, more than the round trip it was for.
        """
        made_by = cache._cache
        if made_by is not self._made_by:
            client = made_by.get_client(write=True)
            self._clients, self._made_by = (client, client.register_script(self._ADD)), made_by
        return self._clients

    def add(self, name: str, amount: int, ttl: int) -> int:
        key = cache.make_and_validate_key(f"counter:{name}")
        _, add = self._client()
        return int(add(keys=[key], args=[amount, ttl]))  # EVALSHA (the script is loaded on first use)

    def get_many(self, names: list[str]) -> dict[str, int]:
        keys = [cache.make_and_validate_key(f"counter:{n}") for n in names]
        client, _ = self._client()
        values = client.mget(keys)
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
