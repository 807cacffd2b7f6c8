"""429 at its two points: refused attempts per client (only for calls without a valid key), accepted calls per key."""

import threading
import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from automation import counters
from automation.api import Throttled
from automation.models import SharedCounter
from automation.tests.conftest import trigger
from automation.throttles import RefusedAttemptsGuard

pytestmark = pytest.mark.django_db
WRONG = "snap_aaaaaaaaaaaa_" + "a" * 43
GLOBAL_WRONG = "snapglobal_aaaaaaaaaaaa_" + "a" * 43


@pytest.fixture
def strict(settings, fresh_minute):
    settings.AUTOMATION_REFUSED_THROTTLE = "3/min"
    settings.AUTOMATION_THROTTLE = "100/min"
    return settings


def test_too_many_refused_attempts_get_429_instead_of_401(client, automated, strict):
    refused = [trigger(client, automated, WRONG).status_code for _ in range(3)]

    blocked = trigger(client, automated, WRONG)

    assert refused == [401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert blocked.json()["detail"].startswith("Too many refused calls from this address; try again in ")
    assert 1 <= int(blocked["Retry-After"]) <= 120


def test_a_valid_key_is_never_refused_by_the_guard(client, automated, strict):
    # Behind a shared proxy address, someone else's guessing must not lock out real callers.
    for _ in range(10):
        trigger(client, automated, WRONG)

    answer = trigger(client, automated, automated.key)

    assert answer.status_code == 202, answer.json()
    assert answer.json()["macro"] == str(automated.macro.public_id)


def test_a_valid_key_never_reads_the_guard(client, automated, strict, monkeypatch):
    reads = []
    monkeypatch.setattr(RefusedAttemptsGuard, "wait", lambda self: reads.append(self) or None)

    assert trigger(client, automated, automated.key).status_code == 202
    assert trigger(client, automated, WRONG).status_code == 401
    assert len(reads) == 1


def test_while_blocked_every_refusal_answers_the_same(client, automated, strict):
    for _ in range(3):
        trigger(client, automated, WRONG)

    answers = [
        trigger(client, automated, None),
        trigger(client, f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots", WRONG),
        trigger(client, "/api/automation/v1/macros/nope/snapshots", None),
    ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [(429, "throttled")] * 3


def test_while_blocked_take_snapshot_cannot_tell_published_pages_from_other_ids(client, automated, strict):
    for _ in range(3):
        trigger(client, f"/take-snapshot/{automated.page.pk}", GLOBAL_WRONG)

    published = trigger(client, f"/take-snapshot/{automated.page.pk}", GLOBAL_WRONG)
    unknown = trigger(client, f"/take-snapshot/{automated.page.pk + 1000}", GLOBAL_WRONG)
    api_page = trigger(client, f"/api/automation/v1/pages/{automated.page.pk + 1000}/snapshots", None)

    assert (published.status_code, published.json()["code"]) == (429, "throttled")
    assert (unknown.status_code, unknown.json()["code"]) == (429, "throttled")
    assert (api_page.status_code, api_page.json()["code"]) == (429, "throttled")
    assert published.json()["detail"].split(" try again")[0] == unknown.json()["detail"].split(" try again")[0]


def test_another_address_is_not_blocked(client, automated, strict):
    for _ in range(3):
        trigger(client, automated, WRONG, REMOTE_ADDR="203.0.113.7")

    assert trigger(client, automated, WRONG, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert trigger(client, automated, WRONG, REMOTE_ADDR="203.0.113.8").status_code == 401


def test_ipv6_clients_are_counted_per_64_network(client, automated, strict):
    for n in range(3):
        trigger(client, automated, WRONG, REMOTE_ADDR=f"2001:db8:1:2::{n + 1}")

    assert trigger(client, automated, WRONG, REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert trigger(client, automated, WRONG, REMOTE_ADDR="2001:db8:1:3::1").status_code == 401


def test_missing_keys_and_unknown_ids_count_as_refused_attempts(client, automated, strict):
    trigger(client, automated, None)
    trigger(client, f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots", automated.key)
    trigger(client, "/api/automation/v1/macros/nope/snapshots", automated.key)

    assert trigger(client, automated, WRONG).status_code == 429
    assert trigger(client, automated, automated.key).status_code == 202


def test_x_forwarded_for_is_ignored_unless_proxies_are_declared(client, automated, strict):
    for n in range(3):
        trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    assert trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_a_declared_proxy_the_forwarded_address_counts(client, automated, strict):
    strict.TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 401


def test_the_forwarded_address_header_is_configurable(client, automated, strict):
    strict.TRUSTED_PROXY_COUNT = 2
    strict.CLIENT_ADDRESS_META = "HTTP_X_REAL_CLIENT"
    # Two proxies of ours: the client is the second hop from the right; what it wrote itself is ignored.
    for n in range(3):
        trigger(client, automated, WRONG, HTTP_X_REAL_CLIENT=f"10.9.9.{n}, 198.51.100.5, 10.0.0.1",
                HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert trigger(client, automated, WRONG, HTTP_X_REAL_CLIENT="198.51.100.5, 10.0.0.2").status_code == 429
    assert trigger(client, automated, WRONG, HTTP_X_REAL_CLIENT="198.51.100.6, 10.0.0.1").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_refusals_are_counted_atomically_by_concurrent_processes(rf, settings):
    settings.AUTOMATION_REFUSED_THROTTLE = "100000/min"
    request = rf.post("/", REMOTE_ADDR="192.0.2.44")
    errors = []

    def refuse_many():
        try:
            guard = RefusedAttemptsGuard(request)
            for _ in range(25):
                guard.record()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refuse_many) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert errors == []
    names = [n for n in _counter_names() if n.startswith("refused:192.0.2.44:")]
    assert sum(counters.store().get_many(names).values()) == 150


def _counter_names() -> list[str]:
    if isinstance(caches["default"], RedisCache):
        client = caches["default"]._cache.get_client()
        prefix = caches["default"].make_and_validate_key("counter:")
        return [k.decode().removeprefix(prefix) for k in client.scan_iter(match=prefix + "*")]
    return list(SharedCounter.objects.values_list("name", flat=True))


def test_accepted_calls_do_not_count_towards_the_guard(client, automated, strict):
    for _ in range(10):
        assert trigger(client, automated, automated.key).status_code == 202


def test_off_means_no_limit(client, automated, settings):
    settings.AUTOMATION_THROTTLE = None
    settings.AUTOMATION_REFUSED_THROTTLE = None

    assert {trigger(client, automated, WRONG).status_code for _ in range(40)} == {401}
    assert {trigger(client, automated, automated.key).status_code for _ in range(40)} == {202}


def test_counts_live_where_every_process_sees_them(client, automated, strict):
    trigger(client, automated, WRONG)
    trigger(client, automated, automated.key)

    names = _counter_names()
    assert any(n.startswith("refused:127.0.0.1:") for n in names)
    assert any(n.startswith(f"calls:trigger:{automated.key[5:17]}:") for n in names)


@pytest.mark.parametrize(
    "wait, said",
    [(0.2, "1 second"), (1, "1 second"), (1.2, "2 seconds"), (2, "2 seconds"), (59.5, "60 seconds")],
)
def test_the_wait_is_said_in_whole_seconds_with_one_second_singular(wait, said):
    refusal = Throttled(wait, "calls with this key")

    assert refusal.detail == f"Too many calls with this key; try again in {said}."
    assert refusal.wait == int(said.split()[0])
