"""The per-site limit on calls at once: in one process, and in Redis across processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import delete_redis_keys, redis_or_skip
from macros.sources.concurrency import LocalLimiter, RedisLimiter, in_order
from macros.sources.jira import JiraCloud
from tests.reliability.standin_jira import TOKEN, USER, StandInJira

REDIS_URL = "redis://127.0.0.1:6379/9"
ROOT = Path(__file__).resolve().parents[2]


def run_at_once(limiter, calls: int, seconds: float = 0.02, *, rate_limit_at: int | None = None) -> int:
    """``calls`` calls from as many threads; the most that were ever inside a slot at once."""
    lock = threading.Lock()
    inside = peak = 0

    def call(n: int) -> None:
        nonlocal inside, peak
        with limiter.slot() as slot:
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(seconds)
            if n == rate_limit_at:
                slot.rate_limited(0.3)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=call, args=(n,)) for n in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return peak


def waited_for_a_slot(holder, waiter, *, held: float) -> float:
    """Seconds a call on ``waiter`` waited for a slot while ``holder`` kept the only one ``held`` seconds."""
    waited = []

    def wait() -> None:
        started = time.monotonic()
        with waiter.slot():
            waited.append(time.monotonic() - started)

    with holder.slot():
        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(held)
    thread.join(10)
    return waited[0]


def test_it_never_lets_more_calls_through_than_the_limit():
    limiter = LocalLimiter(start=3, maximum=3)
    assert run_at_once(limiter, 24) == 3


def test_a_429_halves_the_limit_and_pauses_every_caller():
    limiter = LocalLimiter(start=8, maximum=8)
    with limiter.slot() as slot:
        slot.rate_limited(0.4)
        slot.rate_limited(0.4)
    assert limiter.current() == 4, "429s answering calls sent together are one signal"
    started = time.monotonic()
    with limiter.slot():
        waited = time.monotonic() - started
    assert 0.3 <= waited < 1.0, "the next call waited out Retry-After"


def test_the_limit_grows_only_while_calls_reach_it_and_never_past_the_maximum():
    limiter = LocalLimiter(start=2, maximum=5)
    for _ in range(20):
        with limiter.slot():
            pass
    assert limiter.current() == 2, "one call at a time says nothing about two"
    run_at_once(limiter, 200, 0.005)
    assert limiter.current() == 5


def test_a_freed_slot_wakes_a_waiting_call_at_once():
    limiter = LocalLimiter(start=1, maximum=1)
    waited = waited_for_a_slot(limiter, limiter, held=0.2)
    assert 0.15 <= waited < 0.6, "the waiting call went as soon as the slot was given back"


def test_a_call_that_finds_no_slot_in_time_fails_with_a_sentence(monkeypatch):
    """Waiting past MAX_QUEUE_WAIT for a slot (other snapshots hold every call the site
    allows) ends the read with a sentence for the job, not a stack trace."""
    from macros.sources import concurrency
    from macros.sources.base import SourceError

    monkeypatch.setattr(concurrency, "MAX_QUEUE_WAIT", 0.3)
    jira = StandInJira("cloud")
    try:
        jira.behave("project = ONE", total=3)
        limiter = LocalLimiter(start=1, maximum=1)
        source = JiraCloud(jira.url, USER, TOKEN, limiter=limiter)
        started = time.monotonic()
        with limiter.slot(), pytest.raises(SourceError) as refused:
            list(source.read_pages("project = ONE", ["summary"]))
        waited = time.monotonic() - started
    finally:
        jira.close()

    assert str(refused.value) == (
        f"Jira at {jira.url} stayed busy: no call could be sent within 0.3 seconds because other snapshots "
        "were using every call this site allows at once. Try again later."
    )
    assert 0.25 <= waited < 3
    assert jira.requests == [], "nothing was sent"


def test_in_order_gives_results_in_item_order_and_raises_the_first_failure():
    def slow_square(n: int) -> int:
        time.sleep(0.05 if n % 3 == 0 else 0)
        if n == 7:
            raise ValueError("seven")
        return n * n

    assert list(in_order(slow_square, range(7), workers=4)) == [n * n for n in range(7)]
    got = []
    with pytest.raises(ValueError, match="seven"):
        for value in in_order(slow_square, range(20), workers=4):
            got.append(value)
    assert got == [n * n for n in range(7)]


# --- Redis: one limit for every worker process ------------------------------------------


@pytest.fixture
def redis_client():
    client = redis_or_skip(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    yield client, prefix
    delete_redis_keys(client, prefix)


def test_two_processes_share_one_limit_in_redis(redis_client):
    client, prefix = redis_client
    site = "https://example.atlassian.net"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time, redis\n"
            "from macros.sources.concurrency import RedisLimiter\n"
            f"limiter = RedisLimiter(redis.Redis.from_url({REDIS_URL!r}), {site!r}, prefix={prefix!r}, start=3, maximum=3)\n"
            "with limiter.slot(), limiter.slot():\n"
            "    print('holding', flush=True)\n"
            "    time.sleep(1.0)\n"
        )],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        here = RedisLimiter(client, site, prefix=prefix, start=3, maximum=3)
        with here.slot():  # the third call the site allows
            started = time.monotonic()
            other = RedisLimiter(client, site, prefix=prefix, start=3, maximum=3)
            other.owner = lambda: "a-third-worker"
            with other.slot():
                waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert waited >= 0.6, f"the other process held two of the three calls the site allows (waited {waited:.2f} s)"


def test_in_redis_the_limit_grows_only_while_calls_reach_it(redis_client):
    client, prefix = redis_client
    site = "https://grow.example.net"
    alone, other = (RedisLimiter(client, site, prefix=prefix, start=2, maximum=4) for _ in range(2))
    alone.owner, other.owner = (lambda: "worker-a"), (lambda: "worker-b")

    for _ in range(20):
        with alone.slot():
            pass
    assert alone.current() == 2, "one call at a time says nothing about two"

    with alone.slot(), other.slot():  # the second call reaches the limit
        pass
    assert alone.current() == 2.5, "a call that reached the limit and went well grows it by 1/limit"


def test_in_redis_a_freed_slot_is_found_by_a_waiting_worker_within_a_few_polls(redis_client, monkeypatch):
    from macros.sources import concurrency

    client, prefix = redis_client
    # The poll's jitter at its longest every time: the bound below holds whatever the draw.
    monkeypatch.setattr(concurrency.random, "uniform", lambda low, high: max(low, high))
    site = "https://wait.example.net"
    holder, waiter = (RedisLimiter(client, site, prefix=prefix, start=1, maximum=1) for _ in range(2))
    holder.owner, waiter.owner = (lambda: "worker-a"), (lambda: "worker-b")
    waited = waited_for_a_slot(holder, waiter, held=0.3)
    assert 0.25 <= waited < 0.5, f"the waiting worker polls every 10-30 ms; it waited {waited:.2f} s"


def test_a_429_seen_by_one_worker_slows_every_worker_down(redis_client):
    client, prefix = redis_client
    first = RedisLimiter(client, "https://jira.example.com", prefix=prefix, start=6, maximum=8)
    second = RedisLimiter(client, "https://jira.example.com", prefix=prefix, start=6, maximum=8)
    with first.slot() as slot:
        slot.rate_limited(0.5)
    assert second.current() == 3
    started = time.monotonic()
    with second.slot():
        assert time.monotonic() - started >= 0.4


def test_a_slot_whose_process_died_is_given_back(redis_client, monkeypatch):
    client, prefix = redis_client
    monkeypatch.setattr("macros.sources.concurrency.SLOT_LEASE", 0.3)
    limiter = RedisLimiter(client, "https://jira.example.com", prefix=prefix, start=1, maximum=1)
    limiter._acquire()  # taken and never given back, as by a killed worker
    started = time.monotonic()
    with limiter.slot():
        assert 0.2 <= time.monotonic() - started < 2


def test_two_workers_reading_big_results_stay_within_the_shared_limit(redis_client):
    client, prefix = redis_client
    jira = StandInJira("cloud", latency=0.02)
    try:
        jira.behave("project = ONE", total=1_500)
        jira.behave("project = TWO", total=1_500)
        limiters = [RedisLimiter(client, jira.url, prefix=prefix, start=3, maximum=3) for _ in range(2)]
        limiters[0].owner, limiters[1].owner = (lambda: "worker-a"), (lambda: "worker-b")
        sources = [JiraCloud(jira.url, USER, TOKEN, limiter=limiter) for limiter in limiters]
        found: dict[str, int] = {}

        def read(source, jql: str) -> None:
            found[jql] = sum(len(page.issues) for page in source.read_pages(jql, ["summary"]))

        threads = [threading.Thread(target=read, args=(s, q)) for s, q in zip(sources, ["project = ONE", "project = TWO"], strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert found == {"project = ONE": 1_500, "project = TWO": 1_500}
        assert jira.peak <= 3, "both workers together never sent more than the three calls the site allows"
    finally:
        jira.close()


def test_a_worker_takes_at_most_half_the_limit_and_the_others_find_a_call_free(redis_client):
    client, prefix = redis_client
    first = RedisLimiter(client, "https://jira.example.com", prefix=prefix, start=4, maximum=4)
    second = RedisLimiter(client, "https://jira.example.com", prefix=prefix, start=4, maximum=4)
    first.owner = lambda: "worker-a"  # two processes, as the limit sees them
    second.owner = lambda: "worker-b"
    held = [first._acquire()[0], first._acquire()[0]]
    order: list[str] = []

    def take(limiter, name: str) -> None:
        limiter._acquire()
        order.append(name)

    greedy = threading.Thread(target=take, args=(first, "worker-a"))
    greedy.start()
    time.sleep(0.3)
    assert order == [], "two of four calls is the first worker's half"
    take(second, "worker-b")
    assert order == ["worker-b"], "the other worker found a call free at once"
    first._release(held[0], "neutral")
    greedy.join(timeout=5)
    assert order == ["worker-b", "worker-a"]


def test_each_site_has_one_limiter_per_process_kept_in_redis_when_a_url_is_given(redis_client, monkeypatch):
    from macros.sources import concurrency

    _, prefix = redis_client
    monkeypatch.setattr(concurrency, "_limiters", {})
    shared = concurrency.limiter_for("https://jira.example.com", redis_url=REDIS_URL, prefix=prefix, start=2, maximum=4)
    local = concurrency.limiter_for("https://jira.example.com", start=3, maximum=5)

    assert isinstance(shared, RedisLimiter) and (shared.start, shared.maximum, shared.current()) == (2, 4, 2.0)
    assert isinstance(local, LocalLimiter) and (local.start, local.maximum) == (3, 5)
    assert concurrency.limiter_for("https://jira.example.com", redis_url=REDIS_URL, prefix=prefix, start=2, maximum=4) is shared
    # A Redis that stops answering fails a snapshot's call within seconds, never holds it.
    options = shared._client.connection_pool.connection_kwargs
    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (2, 5)


def test_in_redis_each_site_has_a_limit_of_its_own(redis_client):
    client, prefix = redis_client
    busy = RedisLimiter(client, "https://busy.example.net", prefix=prefix, start=4, maximum=4)
    calm = RedisLimiter(client, "https://calm.example.net", prefix=prefix, start=4, maximum=4)
    with busy.slot() as slot:
        slot.rate_limited(2.0)

    started = time.monotonic()
    with calm.slot():
        waited = time.monotonic() - started

    assert (busy.current(), calm.current()) == (2, 4), "one site's 429 halves its own limit only"
    assert waited < 0.5, "nor pauses another site's calls"


@pytest.mark.parametrize("start, maximum, begins_at", [(1, 5, 1), (0, 5, 1), (9, 5, 5), (3, 0, 1)])
def test_a_limit_starts_where_asked_within_one_and_its_maximum(start, maximum, begins_at):
    limiter = LocalLimiter(start=start, maximum=maximum)
    assert limiter.start == limiter.current() == begins_at
