"""The shared counters in Redis (``automation.counters.RedisCounters``), against a real Redis.

The rate limits of every web process count here when REDIS_URL is set; these tests use a
Redis database of their own (7) under a key prefix of each test's own, and are skipped
without a Redis on 127.0.0.1:6379.
"""

import os
import threading
import uuid

import pytest
from django.test import override_settings

from automation import counters
from conftest import delete_redis_keys, redis_or_skip

REDIS_URL = "redis://127.0.0.1:6379/7"


@pytest.fixture
def redis_counters():
    client = redis_or_skip(REDIS_URL)
    prefix = f"counters-test-{uuid.uuid4().hex[:8]}"
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}}
    with override_settings(CACHES=caches):
        store = counters.store()
        assert isinstance(store, counters.RedisCounters)
        yield store, client, prefix
    delete_redis_keys(client, prefix)
    client.close()


def test_a_counter_is_made_with_its_expiry_then_added_to(redis_counters):
    store, client, prefix = redis_counters

    first, second = store.add("calls:a", 6, 61), store.add("calls:a", 5, 999)
    other = store.add("calls:b", 1, 30)

    assert (first, second, other) == (6, 11, 1)
    assert store.get_many(["calls:a", "calls:b", "calls:absent"]) == {"calls:a": 11, "calls:b": 1}
    assert client.get(f"{prefix}:1:counter:calls:a") == b"11"
    assert 55 <= client.ttl(f"{prefix}:1:counter:calls:a") <= 61  # the first expiry stays
    assert 25 <= client.ttl(f"{prefix}:1:counter:calls:b") <= 30


def test_a_redis_that_forgot_the_script_gets_it_sent_whole(redis_counters):
    store, client, _ = redis_counters
    store.add("calls:s", 1, 60)

    client.script_flush()  # as a restarted Redis would have it

    assert store.add("calls:s", 2, 60) == 3
    assert store.add("calls:s", 4, 60) == 7  # and it is loaded again


def test_a_connection_the_server_dropped_is_made_again_and_the_count_is_not_doubled(redis_counters):
    store, client, _ = redis_counters
    assert store.add("calls:k", 1, 60) == 1
    ours = [c for c in client.client_list() if c["cmd"] in ("evalsha", "eval")]
    assert ours, "the counters' connection is not seen by the server"

    for found in ours:
        client.client_kill_filter(_id=found["id"])

    assert store.add("calls:k", 1, 60) == 2
    assert store.get_many(["calls:k"]) == {"calls:k": 2}


def test_threads_count_together_each_on_its_own_connection(redis_counters):
    store, _, _ = redis_counters
    errors, used = [], set()

    def count():
        try:
            for _ in range(50):
                store.add("calls:t", 1, 60)
            used.add(id(store._thread().connection))
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert errors == []
    assert store.get_many(["calls:t"]) == {"calls:t": 400}
    assert len(used) == 8


def test_a_forked_process_counts_on_a_connection_of_its_own(redis_counters):
    """gunicorn forks its workers: a child must never share its parent's socket."""
    store, _, _ = redis_counters
    store.add("calls:f", 1, 60)
    parent_port = store._thread().connection._sock.getsockname()[1]
    read, write = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: its own count and the local port of its connection
        try:
            total = store.add("calls:f", 10, 60)
            port = store._thread().connection._sock.getsockname()[1]
            os.write(write, f"{total} {port}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    os.close(read)

    total, child_port = (int(x) for x in answer.split())
    assert total == 11
    assert child_port != parent_port
    assert store.add("calls:f", 1, 60) == 12  # the parent's own connection still answers in step


def test_a_change_of_cache_settings_is_followed(redis_counters):
    store, client, prefix = redis_counters
    store.add("calls:c", 1, 60)
    moved = f"{prefix}-moved"
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": moved}}

    with override_settings(CACHES=caches):
        assert store.add("calls:c", 5, 60) == 5

    assert client.get(f"{moved}:1:counter:calls:c") == b"5"
    assert client.get(f"{prefix}:1:counter:calls:c") == b"1"
    client.delete(f"{moved}:1:counter:calls:c")
