"""Coalescing and revocation under real concurrency: several gunicorn worker processes
on the test database (SQLite or PostgreSQL), called from several client processes."""

import json
import subprocess
import sys
import threading
import time

import pytest

from automation import service
from automation.models import AutomationEvent
from automation.tests.servers import gunicorn, post
from macros.models import SnapshotJob

pytestmark = pytest.mark.django_db(transaction=True)
NO_THROTTLES = {"AUTOMATION_THROTTLE": "off", "AUTOMATION_REFUSED_THROTTLE": "off"}

# Each client process starts its threads at the same moment and prints what it got.
CLIENT = r"""
import json, sys, threading, time, urllib.request, urllib.error
url, key, start_at, threads, calls = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
results = []
def run():
    while time.time() < start_at:
        time.sleep(0.001)
    for _ in range(calls):
        request = urllib.request.Request(url, method="POST", data=b"{}", headers={"jira-snapshots-api-key": key})
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                results.append([r.status, json.loads(r.read())])
        except urllib.error.HTTPError as e:
            results.append([e.code, json.loads(e.read() or b"{}")])
workers = [threading.Thread(target=run) for _ in range(threads)]
[w.start() for w in workers]
[w.join() for w in workers]
print(json.dumps(results))
"""


def test_concurrent_calls_from_several_processes_queue_exactly_one_job(automated):
    with gunicorn(workers=3, env=NO_THROTTLES) as base:
        start_at = time.time() + 1.5
        clients = [
            subprocess.Popen([sys.executable, "-c", CLIENT, base + automated.path, automated.key, str(start_at), "4", "5"], stdout=subprocess.PIPE)
            for _ in range(4)
        ]
        results = [answer for c in clients for answer in json.loads(c.communicate(timeout=120)[0])]

    assert len(results) == 4 * 4 * 5
    assert {status for status, _ in results} == {202}
    assert len({body["job"] for _, body in results}) == 1
    assert sum(1 for _, body in results if not body["coalesced"]) == 1
    assert SnapshotJob.objects.count() == 1
    assert sum(AutomationEvent.objects.filter(kind=AutomationEvent.Kind.TRIGGERED).values_list("count", flat=True)) == 80


def test_no_call_with_the_old_key_succeeds_once_regenerate_has_returned(automated, people):
    answers: list[tuple[float, int]] = []
    stop = threading.Event()

    with gunicorn(workers=2, env=NO_THROTTLES) as base:
        def hammer():
            while not stop.is_set():
                sent = time.monotonic()
                status, _ = post(base + automated.path, automated.key)
                answers.append((sent, status))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        started = time.monotonic()
        new_key = service.regenerate(automated.macro, people["editor"], via=AutomationEvent.Via.SCREEN).raw
        returned = time.monotonic()
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()
        after, _ = post(base + automated.path, new_key)

    # Calls sent before the regeneration may land on either side of it; none sent after
    # it returned may succeed.
    before = [status for sent, status in answers if sent < started]
    late = [status for sent, status in answers if sent > returned]
    assert before.count(202) > 10
    assert set(before) <= {202, 401}
    assert len(late) > 10 and set(late) == {401}, late
    assert after == 202
