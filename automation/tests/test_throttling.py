"""429 at its two points: refused attempts per client before the key check, accepted calls per key after."""

import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from automation.tests.conftest import trigger

pytestmark = pytest.mark.django_db
WRONG = "snap_aaaaaaaaaaaa_" + "a" * 43


@pytest.fixture
def strict(settings):
    settings.AUTOMATION_REFUSED_THROTTLE = "3/min"
    settings.AUTOMATION_THROTTLE = "100/min"
    return settings


def test_too_many_refused_attempts_block_the_address_even_with_the_right_key(client, automated, strict):
    refused = [trigger(client, automated, WRONG).status_code for _ in range(3)]

    blocked = trigger(client, automated, automated.key)

    assert refused == [401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "throttled"
    assert blocked.json()["detail"].startswith("Too many refused calls from this address; try again in ")
    assert 1 <= int(blocked["Retry-After"]) <= 60


def test_another_address_is_not_blocked(client, automated, strict):
    for _ in range(3):
        trigger(client, automated, WRONG, REMOTE_ADDR="203.0.113.7")

    assert trigger(client, automated, automated.key, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert trigger(client, automated, automated.key, REMOTE_ADDR="203.0.113.8").status_code == 202


def test_ipv6_clients_are_counted_per_64_network(client, automated, strict):
    for n in range(3):
        trigger(client, automated, WRONG, REMOTE_ADDR=f"2001:db8:1:2::{n + 1}")

    assert trigger(client, automated, automated.key, REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert trigger(client, automated, automated.key, REMOTE_ADDR="2001:db8:1:3::1").status_code == 202


def test_missing_keys_and_unknown_ids_count_as_refused_attempts(client, automated, strict):
    trigger(client, automated, None)
    trigger(client, f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots", automated.key)
    trigger(client, "/api/automation/v1/macros/nope/snapshots", automated.key)

    assert trigger(client, automated, automated.key).status_code == 429


def test_the_guard_comes_after_the_not_found_check(client, automated, strict):
    for _ in range(3):
        trigger(client, automated, WRONG)

    response = trigger(client, f"/api/automation/v1/macros/{uuid.uuid4()}/snapshots", automated.key)

    assert response.json()["code"] == "not_found"


def test_x_forwarded_for_is_ignored_unless_proxies_are_declared(client, automated, strict):
    for n in range(3):
        trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    assert trigger(client, automated, automated.key, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_a_declared_proxy_the_forwarded_address_counts(client, automated, strict):
    strict.REST_FRAMEWORK = {**strict.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for _ in range(3):
        trigger(client, automated, WRONG, HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert trigger(client, automated, automated.key, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert trigger(client, automated, automated.key, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 202


def test_accepted_calls_do_not_count_towards_the_guard(client, automated, strict):
    for _ in range(10):
        assert trigger(client, automated, automated.key).status_code == 202


def test_off_means_no_limit(client, automated, settings):
    settings.AUTOMATION_THROTTLE = None
    settings.AUTOMATION_REFUSED_THROTTLE = None

    assert {trigger(client, automated, WRONG).status_code for _ in range(40)} == {401}
    assert {trigger(client, automated, automated.key).status_code for _ in range(40)} == {202}


def test_throttle_history_lives_in_the_cache_every_process_shares(client, automated, strict):
    backend = caches["default"]
    assert not isinstance(backend, LocMemCache)
    trigger(client, automated, WRONG)
    trigger(client, automated, automated.key)

    if isinstance(backend, DatabaseCache):
        with connection.cursor() as cursor:
            cursor.execute("SELECT cache_key FROM snapshots_cache")
            stored = {row[0] for row in cursor.fetchall()}
        assert any("throttle_automation_refused_127.0.0.1" in k for k in stored)
        assert any(f"throttle_automation_key_{automated.key[5:17]}" in k for k in stored)
    else:
        assert isinstance(backend, RedisCache)
