"""Trigger → snapshot visible, on the embedded default (DESIGN §8, issue 4).

A throw-away site on SQLite with the ORM broker, served by gunicorn, with a real
`manage.py qcluster`; a macro whose query returns 100 issues of the bundled Sample data.
Each round POSTs the trigger and polls the job's status URL until it says `succeeded`
(the snapshot and its page version are committed then). A few rounds warm the worker up
first and are not counted. AUTOMATION_THROTTLE is off here, and the output says so: the
status is read every 10 ms, past the per-key limit for status reads (120/min).

    .venv/bin/python bench/bench_trigger_latency.py [--rounds 40] [--warmup 3]

Bars: p50 ≤ 250 ms, p95 ≤ 750 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_trigger_common import FIND_100, Site


def request(url: str, key: str, method: str) -> dict:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None, headers={"jira-snapshots-api-key": key})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {url}: {error.code} {error.read()[:300]!r}") from None


def one_round(base: str, path: str, key: str, poll: float) -> tuple[float, dict]:
    started = time.perf_counter()
    accepted = request(base + path, key, "POST")
    status_path = accepted["status_url"].split("/api/", 1)[1]
    while True:
        job = request(f"{base}/api/{status_path}", key, "GET")
        if job["status"] in ("succeeded", "failed"):
            return time.perf_counter() - started, {**job, "coalesced": accepted["coalesced"]}
        time.sleep(poll)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between status reads (default 0.01)")
    args = parser.parse_args()

    with Site("sqlite", {"AUTOMATION_THROTTLE": "off"}) as site:
        query = site.python(FIND_100)
        automated = site.automated_macro(query["jql"])
        base = site.gunicorn(workers=2)
        site.qcluster(workers=2)
        print(f"query: {query['jql']!r} → {automated['issues']} issues (Sample source)")
        timings, failures = [], 0
        for n in range(args.warmup + args.rounds):
            elapsed, job = one_round(base, automated["url_path"], automated["key"], args.poll)
            if job["status"] != "succeeded" or job["coalesced"]:
                failures += 1
                print(f"round {n}: {job}")
            if n >= args.warmup:
                timings.append(elapsed)
            else:
                print(f"warm-up {n + 1}: {elapsed * 1000:.0f} ms")
        issue_count = job["snapshot"]["issue_count"] if job.get("snapshot") else None

    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    print(f"trigger → succeeded, {len(timings)} rounds, {issue_count} issues each, status polled every {args.poll * 1000:.0f} ms "
          "(AUTOMATION_THROTTLE=off: not as shipped, the polling would pass the per-key limit):")
    print(f"  p50 {p50 * 1000:.0f} ms (bar ≤ 250)   p95 {p95 * 1000:.0f} ms (bar ≤ 750)   "
          f"min {min(timings) * 1000:.0f} ms   max {max(timings) * 1000:.0f} ms")
    ok = p50 <= 0.25 and p95 <= 0.75 and failures == 0 and issue_count == 100
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
