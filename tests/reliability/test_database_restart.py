"""PostgreSQL stops and starts again under load: 503 while it is away, then business as usual.

This stops the machine's shared PostgreSQL server for a few seconds, so it runs only when
asked (``SNAPSHOTS_DB_RESTART=1``: `make reliability-db-restart`, its own step of
`.ci/run`), never in `make test`. The server is started again whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from conftest import publish_page_with_macro
from macros.models import Snapshot, SnapshotJob
from tests.reliability.conftest import enable_automation, needs_reliability, report, stack, wait_terminal

pytestmark = [
    needs_reliability,
    pytest.mark.skipif(os.environ.get("SNAPSHOTS_DB_RESTART") != "1", reason="stops the shared PostgreSQL: set SNAPSHOTS_DB_RESTART=1"),
    pytest.mark.django_db(transaction=True),
]

OUTAGE_SECONDS = 4


def _cluster_version() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]


def _pg(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster_version(), "main", action, *(["-m", "fast"] if action == "stop" else [])],
        check=True,
        timeout=60,
    )


def _pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], timeout=10).returncode == 0


@pytest.fixture
def postgres_comes_back():
    yield
    if not _pg_ready():
        _pg("start")


def test_the_web_answers_503_while_postgresql_is_down_recovers_by_itself_and_loses_no_job(
    people, space, jira, processes, quick_sweep, postgres_comes_back
):
    if connection.vendor != "postgresql":
        pytest.skip("about PostgreSQL: run with DATABASE_URL=postgres://…")
    macros = []
    for n in range(8):
        _, macro = publish_page_with_macro(space, people["editor"], jql=f"project = R{n}", title=f"Restart {n}")
        macros.append((macro, enable_automation(macro)))
        jira.behave(f"project = R{n}", total=300, page_delay=0.3)  # about a second per snapshot
    web = processes.web(workers=2)
    processes.cluster(jira, workers=2)
    processes.cluster(jira, workers=2)

    answers: list[tuple[float, int, dict | str]] = []  # (sent at, status, body)
    stop_at = time.monotonic() + 30

    def load() -> None:
        http = requests.Session()
        n = 0
        while time.monotonic() < stop_at:
            macro, key = macros[n % len(macros)]
            n += 1
            sent = time.monotonic()
            try:
                reply = http.post(f"{web.url}/api/automation/v1/macros/{macro.public_id}/snapshots", headers={"jira-snapshots-api-key": key}, timeout=15)
                body = reply.json() if reply.headers.get("Content-Type", "").startswith("application/json") else reply.text
                answers.append((sent, reply.status_code, body))
            except requests.RequestException as exc:
                answers.append((sent, 0, repr(exc)))
            time.sleep(0.05)

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(6)
    stopping_at = time.monotonic()
    _pg("stop")
    down_at = time.monotonic()  # stop returns once the server is gone (after its shutdown checkpoint)
    try:
        time.sleep(OUTAGE_SECONDS)
    finally:
        starting_at = time.monotonic()
        _pg("start")
    up_at = time.monotonic()  # start returns once the server accepts connections
    thread.join()
    connection.close()  # the test's own connection died with the server

    during = [(s, b) for t, s, b in answers if down_at < t < starting_at]
    after = [(t, s) for t, s, b in answers if t > up_at]
    first_ok_after = next((t - up_at for t, s in after if s == 202), None)
    assert during, "no call landed while the database was down"
    assert {s for s, _ in during} == {503}, during[:5]
    assert all(b == {"detail": "The service is temporarily unavailable; try again shortly.", "code": "unavailable"} for _, b in during)
    assert not [s for _, s, _ in answers if s not in (202, 503)], sorted({s for _, s, _ in answers})
    assert first_ok_after is not None and first_ok_after < 5, first_ok_after
    assert all(s == 202 for t, s in after if t > up_at + first_ok_after)

    accepted = {b["job"] for _, s, b in answers if s == 202}
    jobs = wait_terminal(accepted, timeout=150)
    assert {j.status for j in jobs.values()} == {SnapshotJob.Status.SUCCEEDED}, [j.error for j in jobs.values() if j.error]
    assert Snapshot.objects.filter(job__in=list(jobs), complete=True).count() == len(jobs)
    report(
        f"[{stack()}] PostgreSQL stopping/stopped/starting for {up_at - stopping_at:.1f} s under load: {len(answers)} calls, "
        f"{len(during)} answered 503 while it was down, none 500; first 202 {first_ok_after:.2f} s after it was back; "
        f"{len(jobs)} accepted jobs, all succeeded"
    )
