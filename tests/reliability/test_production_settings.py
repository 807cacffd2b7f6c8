"""Production configuration: deploy checks, Redis switches, gunicorn, logs that keep keys out.

These run in `make test` (a few seconds of subprocesses each).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
import requests
from django.db import OperationalError
from django.test import RequestFactory
from redis.exceptions import ConnectionError as RedisConnectionError

from conftest import publish_page_with_macro
from snapshots_site.middleware import DatabaseUnavailableMiddleware, RedactSecretsFilter, redact
from tests.conftest import ROOT
from tests.reliability.conftest import enable_automation

KEY_SHAPED = "snap_abcdefghij12_" + "Q" * 43
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SITE_URL": "https://snapshots.example.com",
    "ALLOWED_HOSTS": "snapshots.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SITE_URL", "SECURE_HSTS_SECONDS", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "snapshots_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_leaves_only_the_hsts_warning_the_readme_explains():
    result = manage("check", "--deploy", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "(security.W004) You have not set a value for the SECURE_HSTS_SECONDS setting." in result.stderr
    assert "System check identified 1 issue (0 silenced)." in result.stdout + result.stderr


def test_check_deploy_is_clean_once_hsts_is_switched_on():
    result = manage(
        "check",
        "--deploy",
        **PRODUCTION,
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced).", result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SNAPSHOT_SWEEP_SECONDS", "45", "SNAPSHOT_SWEEP_SECONDS must be 30 or whole minutes (60, 120, …) (got 45)."),
        ("SNAPSHOT_JOB_TIMEOUT", "2", "SNAPSHOT_JOB_TIMEOUT must be at least 5 (got 2)."),
        ("SNAPSHOT_LEASE_SECONDS", "2", "SNAPSHOT_LEASE_SECONDS must be at least 3 (got 2)."),
        ("Q_CLUSTER_NAME", "two words", "Q_CLUSTER_NAME must be 1-64 letters, digits, '.', '_' or '-' (got 'two words')."),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must be a URL starting with redis:// or rediss:// or unix://"),
        ("TRUSTED_PROXY_COUNT", "one", "TRUSTED_PROXY_COUNT must be a whole number (got 'one')."),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must be at least 0 (got -1)."),
        ("CLIENT_ADDRESS_HEADER", "X Forwarded", "CLIENT_ADDRESS_HEADER must be an HTTP header name such as X-Forwarded-For (got 'X Forwarded')."),
        ("CLIENT_ADDRESS_HEADER", "X-Real-IP", "CLIENT_ADDRESS_HEADER is set but TRUSTED_PROXY_COUNT is 0: set how many proxies add to it."),
        ("AUTOMATION_MAX_WAIT", "90", "AUTOMATION_MAX_WAIT must be at most 60 seconds (got 90)."),
        ("AUTOMATION_COUNT_FLUSH_SECONDS", "soon", "AUTOMATION_COUNT_FLUSH_SECONDS must be a whole number (got 'soon')."),
        ("SIGNIN_FAILURE_LIMIT", "0", "SIGNIN_FAILURE_LIMIT must be at least 1 (got 0)."),
    ],
)
def test_a_bad_value_stops_the_site_with_a_message_naming_the_variable(name, value, message):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_redis_url_moves_the_queue_and_the_cache_to_redis():
    probe = (
        "from django.conf import settings; from django.core.cache import cache; "
        "from django_q.brokers import get_broker; "
        "print(settings.Q_CLUSTER.get('redis'), settings.Q_CLUSTER.get('orm'), settings.Q_CLUSTER['name']); "
        "print(settings.CACHES['default']['BACKEND'], settings.CACHES['default']['KEY_PREFIX']); "
        "broker = get_broker(); print(type(broker).__name__, broker.ping()); "
        "cache.set('probe', 42, 5); print(cache.get('probe')); cache.delete('probe')"
    )
    result = manage("shell", "--no-imports", "-c", probe, REDIS_URL="redis://127.0.0.1:6379/6", Q_CLUSTER_NAME="settings-probe")
    if "Connection refused" in result.stderr or "Error 111" in result.stderr:
        pytest.skip("no Redis on 127.0.0.1:6379")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "redis://127.0.0.1:6379/6 None settings-probe",
        "django.core.cache.backends.redis.RedisCache settings-probe",
        "Redis True",
        "42",
    ]


def test_without_redis_the_queue_and_the_cache_stay_in_the_database():
    probe = "from django.conf import settings; print(settings.Q_CLUSTER.get('orm'), settings.CACHES['default']['BACKEND'])"
    result = manage("shell", "--no-imports", "-c", probe, REDIS_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "default django.core.cache.backends.db.DatabaseCache"


def test_gunicorn_refuses_a_bad_thread_count_by_name():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "snapshots_site.wsgi"],
        cwd=ROOT,
        env={**os.environ, "WEB_THREADS": "many"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "WEB_THREADS must be a whole number (got 'many')." in result.stdout + result.stderr


def test_gunicorn_logs_every_call_and_never_the_api_key(people, space, processes):
    _, macro = publish_page_with_macro(space, people["editor"])
    key = enable_automation(macro)
    web = processes.web(workers=1)
    path = f"/api/automation/v1/macros/{macro.public_id}/snapshots"
    calls = [
        web.http.post(web.url + path, headers={"jira-snapshots-api-key": key}),
        web.http.post(web.url + path, headers={"Authorization": f"Bearer {key}"}),
        web.http.post(web.url + path, headers={"jira-snapshots-api-key": KEY_SHAPED}),
        web.http.post(web.url + path + f"?api_key={key}", headers={"jira-snapshots-api-key": key[:-1] + "x"}),
        web.http.post(web.url + "/api/automation/v1/nowhere", headers={"jira-snapshots-api-key": key}),
    ]
    assert [c.status_code for c in calls] == [202, 202, 401, 401, 404]
    assert calls[0].json()["coalesced"] is False and calls[1].json()["coalesced"] is True
    assert calls[2].json()["code"] == "invalid_api_key"
    web.process.stop()
    log = web.process.output()
    assert f'"POST {path} HTTP/1.1" 202' in log
    assert f'"POST {path} HTTP/1.1" 401' in log
    secret = key.split("_", 2)[2]  # the secret itself may contain "_"
    for needle in (key, secret, KEY_SHAPED, "Q" * 43, "jira-snapshots-api-key", "Bearer"):
        assert needle not in log


def test_with_redis_every_web_process_counts_against_one_throttle(people, space, processes):
    import redis

    try:
        redis.from_url("redis://127.0.0.1:6379/6").ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    _, macro = publish_page_with_macro(space, people["editor"])
    key = enable_automation(macro)
    name = f"throttle-probe-{secrets.token_hex(4)}"
    web = processes.web(workers=3, REDIS_URL="redis://127.0.0.1:6379/6", Q_CLUSTER_NAME=name, AUTOMATION_THROTTLE="5/min")
    path = f"/api/automation/v1/macros/{macro.public_id}/snapshots"
    call = partial(requests.post, web.url + path, headers={"jira-snapshots-api-key": key, "Connection": "close"}, timeout=10)
    try:
        with ThreadPoolExecutor(9) as pool:  # at once, so that every worker takes some
            answers = list(pool.map(lambda _: call(), range(9)))
    finally:
        client = redis.from_url("redis://127.0.0.1:6379/6")
        for pattern in (f"django_q:{name}:*", f"{name}:*"):
            for stale in client.scan_iter(match=pattern):
                client.delete(stale)
    accepted = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code != 202]
    assert len(accepted) == 5 and [a.status_code for a in refused] == [429] * 4
    assert sorted(a.json()["coalesced"] for a in accepted) == [False, True, True, True, True]
    assert {a.json()["code"] for a in refused} == {"throttled"} and all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    web.process.stop()
    pids = {line.rsplit(" ", 1)[-1] for line in web.process.output().splitlines() if f"POST {path} " in line}
    assert len(pids) >= 2, pids  # several processes, one count


def test_the_log_filter_hides_keys_and_authorization_values_wherever_they_appear():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "called with %s and %r", (KEY_SHAPED, {"Authorization": "Bearer abc.def"}), None)
    assert RedactSecretsFilter().filter(record) is True
    assert record.getMessage() == "called with snap_abcdefghij12_*** and {'Authorization': '***'}"
    try:
        raise ValueError(f"bad header jira-snapshots-api-key: {KEY_SHAPED}")
    except ValueError:
        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactSecretsFilter().filter(failing)
    assert "Q" * 43 not in failing.exc_text and "jira-snapshots-api-key: ***" in failing.exc_text
    assert redact("nothing secret here: project = WEB") == "nothing secret here: project = WEB"


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), RedisConnectionError("refused")])
def test_a_database_or_redis_outage_answers_503_json_on_the_api_and_text_on_pages(error):
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    api = middleware.process_exception(RequestFactory().post("/api/automation/v1/macros/x/snapshots"), error)
    page = middleware.process_exception(RequestFactory().get("/spaces/team/"), error)
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert json.loads(api.content) == {"detail": "The service is temporarily unavailable; try again shortly.", "code": "unavailable"}
    assert page.status_code == 503 and page.content == b"The service is temporarily unavailable; try again shortly."
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("a bug")) is None
