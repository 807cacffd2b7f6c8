"""Memory and speed of a 50,000-issue search through the Jira sources.

A stand-in Jira (Data Center and Cloud endpoints) runs in a separate process on
127.0.0.1 and generates every page on the fly from the issue number, so neither side
ever holds the whole result. This process consumes ``search_pages`` the way the snapshot
service does, keeping only a running count and hash, and reports elapsed time, issues/s
and its own peak RSS against the RSS it had before the search.

The baseline, measured in the same run against the same server: a bare client that posts
the same page requests with ``requests`` and decodes the JSON, nothing else (no retries,
no field handling, no budget). Bars (exit status 1 when missed): each source takes at most
``TIME_BAR`` times the bare client's time, and its peak RSS grows by at most
``MEMORY_BAR`` times the bare client's growth plus ``MEMORY_SLACK_MB`` (holding the whole
result instead of a page at a time would grow it by hundreds of MB).

    .venv/bin/python bench/bench_jira_memory.py            # 50,000 issues
    .venv/bin/python bench/bench_jira_memory.py --issues 5000

It stops by itself (the server process is ended when the run is over).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-not-a-secret"
TIME_BAR = 2.0
MEMORY_BAR = 2.0
MEMORY_SLACK_MB = 30.0
JQL = "project in (P0, P1, P2, P3, P4, P5, P6, P7) ORDER BY key"
DC_CAP = 1000  # Jira Data Center's default page-size cap
CLOUD_CAP = 100  # Jira Cloud returns at most 100 issues a page when fields are named


# --------------------------------------------------------------------------------------
# The stand-in server (runs in its own process)


def issue(n: int, cloud: bool) -> dict:
    person = (
        {
            "accountId": f"5b10ac8d82e05b22cc7d{n % 97:04d}",
            "displayName": f"Person {n % 97}",
            "emailAddress": f"person{n % 97}@example.com",
            "active": True,
        }
        if cloud
        else {
            "name": f"person{n % 97}",
            "key": f"JIRAUSER{10000 + n % 97}",
            "displayName": f"Person {n % 97}",
            "emailAddress": f"person{n % 97}@example.com",
            "active": True,
        }
    )
    text = (
        f"As a user I want feature {n} so that the thing number {n % 1000} works better. "
        * 3
    )
    description = (
        {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": text}]}
            ],
        }
        if cloud
        else text
    )
    category = ("new", "indeterminate", "done")[n % 3]
    return {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": str(100000 + n),
        "self": f"https://jira.example.com/rest/api/2/issue/{100000 + n}",
        "key": f"P{n % 8}-{n + 1}",
        "fields": {
            "summary": f"Generated issue {n}: make the widget {n % 113} faster",
            "status": {
                "name": ("To Do", "In Progress", "Done")[n % 3],
                "id": str(n % 3 + 1),
                "statusCategory": {
                    "key": category,
                    "name": category.title(),
                    "colorName": "blue-gray",
                },
            },
            "assignee": person if n % 4 else None,
            "reporter": person,
            "priority": {
                "name": ("Low", "Medium", "High")[n % 3],
                "id": str(n % 3 + 2),
            },
            "issuetype": {"name": "Story", "id": "10001", "subtask": False},
            "resolution": {"name": "Done"} if category == "done" else None,
            "fixVersions": [
                {"id": str(10200 + n % 5), "name": f"1.{n % 5}", "released": False}
            ],
            "labels": ["backend", f"team-{n % 6}"],
            "created": "2022-06-09T16:29:31.871-0700",
            "updated": "2023-01-19T08:02:11.000-0800",
            "customfield_10016": float(n % 13),
            "description": description,
        },
    }


class StubJira(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real Jira behind a proxy
    total = 50_000

    def log_message(self, *args):  # quiet
        pass

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/rest/api/2/search":
            start = int(body.get("startAt", 0))
            size = min(int(body.get("maxResults", 50)), DC_CAP)
            issues = [
                issue(n, False) for n in range(start, min(start + size, self.total))
            ]
            self._send(
                {
                    "startAt": start,
                    "maxResults": size,
                    "total": self.total,
                    "issues": issues,
                }
            )
        elif self.path == "/rest/api/3/search/approximate-count":
            self._send({"count": self.total})
        elif self.path == "/rest/api/3/search/jql":
            token = body.get("nextPageToken")
            start = int(token.removeprefix("offset:")) if token else 0
            size = min(int(body.get("maxResults", 50)), CLOUD_CAP)
            end = min(start + size, self.total)
            answer: dict = {"issues": [issue(n, True) for n in range(start, end)]}
            if end < self.total:
                answer["nextPageToken"] = f"offset:{end}"
                answer["isLast"] = False
            else:
                answer["isLast"] = True
            self._send(answer)
        else:
            self.send_error(404)


def serve(total: int) -> None:
    StubJira.total = total
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubJira)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# --------------------------------------------------------------------------------------
# The consumer (this process)


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # fall back to /proc
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def consume(source, label: str, page_size: int) -> dict:
    import gc

    gc.collect()
    baseline, baseline_peak = rss_mb(), maxrss_mb()
    digest = hashlib.sha256()
    count = pages = 0
    sampled_peak = baseline
    expected = None
    started = time.perf_counter()
    for page in source.search_pages(
        JQL,
        [
            "summary",
            "status",
            "assignee",
            "reporter",
            "priority",
            "issuetype",
            "resolution",
            "fixVersions",
            "labels",
            "created",
            "updated",
            "customfield_10016",
            "description",
        ],
        page_size=page_size,
    ):
        for item in (
            page.issues
        ):  # what the snapshot service keeps: nothing but a row at a time
            digest.update(item["key"].encode())
            count += 1
        expected = page.expected
        pages += 1
        if pages % 10 == 0:
            sampled_peak = max(sampled_peak, rss_mb())
    elapsed = time.perf_counter() - started
    sampled_peak = max(sampled_peak, rss_mb())
    return {
        "label": label,
        "issues": count,
        "expected": expected,
        "pages": pages,
        "seconds": elapsed,
        "rate": count / elapsed if elapsed else 0.0,
        "baseline_rss": baseline,
        "sampled_peak_rss": sampled_peak,
        "maxrss_before": baseline_peak,
        "maxrss_after": maxrss_mb(),
        "hash": digest.hexdigest()[:12],
    }


class BareClient:
    """The baseline: the same page requests, answered JSON decoded, nothing else."""

    def __init__(self, base: str, cloud: bool):
        import requests

        self.base, self.cloud, self.http = base, cloud, requests.Session()

    def search_pages(self, jql: str, fields: list[str], page_size: int):
        from types import SimpleNamespace

        start, token = 0, None
        while True:
            if self.cloud:
                body = {"jql": jql, "fields": fields, "maxResults": page_size, **({"nextPageToken": token} if token else {})}
                answer = self.http.post(self.base + "/rest/api/3/search/jql", json=body, timeout=60).json()
                yield SimpleNamespace(issues=answer["issues"], expected=None)
                token = answer.get("nextPageToken")
                if answer.get("isLast") or not token:
                    return
            else:
                body = {"jql": jql, "fields": fields, "maxResults": page_size, "startAt": start}
                answer = self.http.post(self.base + "/rest/api/2/search", json=body, timeout=60).json()
                yield SimpleNamespace(issues=answer["issues"], expected=answer["total"])
                start += len(answer["issues"])
                if not answer["issues"] or start >= answer["total"]:
                    return


def consumer(kind: str, port: int) -> None:
    """One fresh process per source, so its ru_maxrss belongs to that search alone."""
    sys.path.insert(0, str(ROOT))
    from macros.sources.jira import JiraCloud, JiraDataCenter

    base = f"http://127.0.0.1:{port}"
    if kind.startswith("bare-"):
        cloud = kind == "bare-cloud"
        result = consume(BareClient(base, cloud), f"bare client, {'Cloud' if cloud else 'Data Center'}", 100 if cloud else 1000)
    elif kind == "datacenter":
        result = consume(
            JiraDataCenter(base, "", TOKEN), "Data Center (pages of 1000)", 1000
        )
    else:
        result = consume(
            JiraCloud(base, "bench@example.com", TOKEN), "Cloud (pages of 100)", 100
        )
    print(json.dumps(result), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--consume", choices=["datacenter", "cloud", "bare-datacenter", "bare-cloud"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.consume:
        consumer(args.consume, args.port)
        return 0

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.issues)],
        stdout=subprocess.PIPE,
        text=True,
    )
    runs = []
    try:
        port = int(server.stdout.readline())
        for kind in ("bare-datacenter", "datacenter", "bare-cloud", "cloud"):
            out = subprocess.run(
                [sys.executable, __file__, "--consume", kind, "--port", str(port)],
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"Jira search memory bench: {args.issues:,} generated issues served on 127.0.0.1 "
        f"(Python {sys.version.split()[0]}; each search consumed in a fresh process)"
    )
    ok = True
    for r in runs:
        print(
            f"  {r['label']:<28} {r['issues']:>7,} issues in {r['pages']:>4} pages, "
            f"{r['seconds']:6.2f} s, {r['rate']:8,.0f} issues/s | RSS before the search {r['baseline_rss']:5.1f} MB, "
            f"peak during it {r['sampled_peak_rss']:5.1f} MB (+{r['sampled_peak_rss'] - r['baseline_rss']:.1f}); "
            f"ru_maxrss {r['maxrss_before']:5.1f} -> {r['maxrss_after']:5.1f} MB "
            f"(+{r['maxrss_after'] - r['maxrss_before']:.1f}) | hash {r['hash']}"
        )
        ok &= r["issues"] == args.issues
    for bare, source in ((runs[0], runs[1]), (runs[2], runs[3])):
        ratio = source["seconds"] / bare["seconds"]
        grew, bare_grew = _growth(source), _growth(bare)
        memory_cap = MEMORY_BAR * bare_grew + MEMORY_SLACK_MB
        time_ok, memory_ok = ratio <= TIME_BAR, grew <= memory_cap
        print(
            f"  {source['label']}: {ratio:.2f}x the bare client's time (bar {TIME_BAR}x) {'ok' if time_ok else 'MISSED'}; "
            f"peak RSS +{grew:.1f} MB against the bare client's +{bare_grew:.1f} MB "
            f"(bar {MEMORY_BAR}x + {MEMORY_SLACK_MB:.0f} MB = {memory_cap:.1f} MB) {'ok' if memory_ok else 'MISSED'}"
        )
        ok &= time_ok and memory_ok and source["hash"] == bare["hash"]
    print(f"  all {args.issues:,} issues seen by both sources, same keys as the bare client, bars met: {ok}")
    return 0 if ok else 1


def _growth(run: dict) -> float:
    return max(run["sampled_peak_rss"] - run["baseline_rss"], run["maxrss_after"] - run["maxrss_before"], 0.0)


if __name__ == "__main__":
    sys.exit(main())
