"""A 50,000-issue snapshot through the real snapshot service: time, worker peak RSS, page render.

bench_jira_memory.py measures the Jira sources alone; this runs the whole of
``macros.snapshots.take(job_id)`` — paging through the source, streaming rows into the
database page by page, the final transaction that makes the snapshot and its page
version — in a fresh process, the way a django-q2 worker runs it, and reports:

* the snapshot's wall time and issues/s,
* the taking process's RSS before ``take`` and its peak (``resource.getrusage``),
* the page's render time with the 50,000-row snapshot on it (the table is paged).

A stand-in Jira (the generated issues of bench_jira_memory.py, answering only the fields
asked for, as Jira does) runs in its own process on 127.0.0.1. The database is a fresh
one made for the run and dropped after it: PostgreSQL by default
(postgres://postgres@127.0.0.1:5432), or SQLite.

Baselines measured in the same run, and bars (exit status 1 when one is missed):

* time: a bare client fetching the same pages from the same stand-in (``requests`` and a
  JSON decode, nothing stored); ``take`` may take at most ``TIME_BAR`` times as long;
* memory: the taking process's peak RSS may grow by at most ``MEMORY_BAR_MB`` (a worker
  holding the whole result would grow by far more), and stays under ``PEAK_BAR_MB``;
* render: the same page layout with a 100-issue snapshot; the 50,000-issue page may take
  at most ``RENDER_BAR`` times as long to render (the table is paged).

    .venv/bin/python bench/bench_snapshot_50k.py                       # PostgreSQL, Data Center
    .venv/bin/python bench/bench_snapshot_50k.py --deployment cloud --issues 10000
    .venv/bin/python bench/bench_snapshot_50k.py --database sqlite
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_jira_memory import CLOUD_CAP, DC_CAP, TOKEN, issue  # noqa: E402

JQL = "project in (P0, P1, P2, P3, P4, P5, P6, P7) ORDER BY key"
SMALL_JQL = "project = P9 ORDER BY key"  # the stand-in answers 100 issues to it: the render baseline
SMALL = 100
TIME_BAR = 5.0
MEMORY_BAR_MB = 100.0
PEAK_BAR_MB = 300.0
RENDER_BAR = 2.0
FIELDS = ["key", "summary", "status", "assignee", "priority", "issuetype", "fixVersions", "labels", "updated", "customfield_10016"]
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


# --------------------------------------------------------------------------------------
# Stand-in Jira (own process)


class StandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    total = 50_000

    def log_message(self, *args):
        pass

    def _send(self, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _only(item: dict, fields: list[str]) -> dict:
        wanted = set(fields or [])
        return {**item, "fields": {k: v for k, v in item["fields"].items() if k in wanted}}

    def do_GET(self):
        if self.path.endswith("/field"):
            self._send([{"id": f, "name": f.title()} for f in FIELDS if f != "key"])
        elif self.path.endswith("/serverInfo"):
            self._send({"deploymentType": "Server", "version": "9.12.0"})
        else:
            self.send_error(404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        fields = body.get("fields") or []
        total = SMALL if body.get("jql") == SMALL_JQL else self.total
        if self.path == "/rest/api/2/search":
            start = int(body.get("startAt", 0))
            size = min(int(body.get("maxResults", 50)), DC_CAP)
            issues = [self._only(issue(n, False), fields) for n in range(start, min(start + size, total))]
            self._send({"startAt": start, "maxResults": size, "total": total, "issues": issues})
        elif self.path == "/rest/api/3/search/approximate-count":
            self._send({"count": total})
        elif self.path == "/rest/api/3/search/jql":
            token = body.get("nextPageToken")
            start = int(token.removeprefix("offset:")) if token else 0
            end = min(start + min(int(body.get("maxResults", 50)), CLOUD_CAP), total)
            answer: dict = {"issues": [self._only(issue(n, True), fields) for n in range(start, end)], "isLast": end >= total}
            if end < total:
                answer["nextPageToken"] = f"offset:{end}"
            self._send(answer)
        else:
            self.send_error(404)


def serve(total: int) -> None:
    StandIn.total = total
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# --------------------------------------------------------------------------------------
# Steps that run inside Django (each in a fresh process)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snapshots_site.settings")
    import django

    django.setup()


def setup_site() -> None:
    """A space, a page with one macro on the big query, and a queued job: prints their ids."""
    _django()
    from django.contrib.auth import get_user_model

    from macros import pages
    from macros.models import SnapshotJob, Space, SpacePermission
    from macros.snapshots import request_snapshot

    editor = get_user_model().objects.create_user("bench-editor", "bench@example.com", "bench-password-1")
    space = Space.objects.create(key="bench", name="Bench")
    SpacePermission.objects.create(space=space, user=editor, level=SpacePermission.Level.EDIT)
    page = pages.create_page(space, "Fifty thousand issues", "A big snapshot.", editor)
    draft = pages.get_draft(page, editor)
    macro = pages.add_macro(draft, "All issues")
    pages.save_macro_draft(macro, {"title": "All issues", "levels": [{"jql": JQL, "fields": FIELDS}], "display": {"page_size": 25, "show_count": True}})
    pages.publish(page, editor)
    macro.refresh_from_db()
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=editor)
    small_page = pages.create_page(space, "One hundred issues", "A big snapshot.", editor)
    draft = pages.get_draft(small_page, editor)
    small_macro = pages.add_macro(draft, "All issues")
    pages.save_macro_draft(small_macro, {"title": "All issues", "levels": [{"jql": SMALL_JQL, "fields": FIELDS}], "display": {"page_size": 25, "show_count": True}})
    pages.publish(small_page, editor)
    small_macro.refresh_from_db()
    small_job, _ = request_snapshot(small_macro, SnapshotJob.Trigger.MANUAL, user=editor)
    print(json.dumps({"job": str(job.pk), "page": page.pk, "small_job": str(small_job.pk), "small_page": small_page.pk}))


def bare_fetch(port: int, deployment: str) -> None:
    """The time baseline: the same pages from the same stand-in, decoded and dropped."""
    _django()
    from bench_jira_memory import BareClient, consume

    cloud = deployment == "cloud"
    client = BareClient(f"http://127.0.0.1:{port}", cloud)
    client.search_pages = _with_query(client.search_pages, [f for f in FIELDS if f != "key"])
    from macros.snapshots import PAGE_SIZE

    print(json.dumps(consume(client, "bare", PAGE_SIZE)))  # the page size take() asks for


def _with_query(search_pages, fields):
    return lambda jql, _fields, page_size: search_pages(JQL, fields, page_size)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def take_job(job_id: str) -> None:
    """What a django-q2 worker does with the job, measured from the inside."""
    _django()
    from macros.models import SnapshotJob
    from macros.snapshots import take
    from macros.sources import get_source

    get_source()  # a worker has its source already (built once per process)
    gc.collect()
    before, maxrss_before = rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    snapshot = take(job_id)
    seconds = time.perf_counter() - started
    job = SnapshotJob.objects.get(pk=job_id)
    print(json.dumps({
        "status": job.status,
        "error": job.error,
        "issues": snapshot.issue_count if snapshot else 0,
        "requests": snapshot.requests_made if snapshot else 0,
        "seconds": seconds,
        "rss_before": before,
        "maxrss_before": maxrss_before,
        "maxrss_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def render_page(page_id: int) -> None:
    """The page with the big snapshot, as its editor sees it: median of warm renders."""
    _django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-editor"))
    from macros.models import Page

    url = Page.objects.get(pk=page_id).get_absolute_url()
    timings, status, size = [], None, 0
    for _ in range(12):
        started = time.perf_counter()
        answer = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        status, size = answer.status_code, len(answer.content)
    print(json.dumps({"status": status, "bytes": size, "first_ms": timings[0], "median_ms": statistics.median(timings[2:])}))


# --------------------------------------------------------------------------------------
# The run


def _step(args: list[str], env: dict, timeout: float = 1800) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"step {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)


def _admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def run(deployment: str, database: str, issues: int, port: int) -> dict:
    name = f"snapshots_bench50k_{os.getpid()}_{deployment}"
    tmp = None
    if database == "postgres":
        _admin_sql(f'CREATE DATABASE "{name}"')
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")},
        "DJANGO_SETTINGS_MODULE": "snapshots_site.settings",
        "DATABASE_URL": url,
        "JIRA_URL": f"http://127.0.0.1:{port}",
        "JIRA_DEPLOYMENT": deployment,
        "JIRA_USER": "bench@example.com",
        "JIRA_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        "SNAPSHOTS_VAR_DIR": tmp.name if tmp else str(ROOT / "var"),
    }
    try:
        _manage(env, "migrate", "--noinput")
        _manage(env, "createcachetable")
        site = _step(["--setup"], env)
        bare = _step(["--bare", str(port), "--deployment", deployment], env)
        small = _step(["--take", site["small_job"]], env)
        taken = _step(["--take", site["job"]], env)
        rendered = _step(["--render", str(site["page"])], env)
        small_rendered = _step(["--render", str(site["small_page"])], env)
    finally:
        if database == "postgres":
            _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if tmp:
            tmp.cleanup()
    return {"deployment": deployment, "database": database, **taken, "render": rendered, "bare": bare,
            "small": small, "small_render": small_rendered}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--deployment", choices=["datacenter", "cloud", "both"], default="datacenter")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--take", help=argparse.SUPPRESS)
    parser.add_argument("--render", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        bare_fetch(args.bare, args.deployment)
        return 0
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.setup:
        setup_site()
        return 0
    if args.take:
        take_job(args.take)
        return 0
    if args.render is not None:
        render_page(args.render)
        return 0

    server = subprocess.Popen([sys.executable, __file__, "--serve", str(args.issues)], stdout=subprocess.PIPE, text=True)
    results = []
    try:
        port = int(server.stdout.readline())
        for deployment in (["datacenter", "cloud"] if args.deployment == "both" else [args.deployment]):
            results.append(run(deployment, args.database, args.issues, port))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"Snapshot bench: {args.issues:,} issues through macros.snapshots.take on {args.database} "
          f"(stand-in Jira on 127.0.0.1; the taking process is fresh, like a worker)")
    ok = True
    for r in results:
        print(
            f"  Jira {r['deployment']:<10} {r['status']}: {r['issues']:,} issues, {r['requests']} requests, {r['seconds']:.1f} s "
            f"({r['issues'] / r['seconds']:,.0f} issues/s) | worker RSS before take {r['rss_before']:.0f} MB, "
            f"peak (ru_maxrss) {r['maxrss_after']:.0f} MB (+{r['maxrss_after'] - r['maxrss_before']:.0f}) | "
            f"page render {r['render']['status']}: median {r['render']['median_ms']:.0f} ms, first {r['render']['first_ms']:.0f} ms"
        )
        ok &= r["status"] == "succeeded" and r["issues"] == args.issues and r["render"]["status"] == 200
        ok &= r["small"]["status"] == "succeeded" and r["small"]["issues"] == SMALL and r["small_render"]["status"] == 200
        ratio = r["seconds"] / r["bare"]["seconds"]
        grew = r["maxrss_after"] - r["maxrss_before"]
        render_ratio = r["render"]["median_ms"] / r["small_render"]["median_ms"]
        bars = {
            f"take {ratio:.2f}x a bare fetch of the same pages ({r['bare']['seconds']:.1f} s) (bar {TIME_BAR}x)": ratio <= TIME_BAR,
            f"peak RSS +{grew:.0f} MB (bar +{MEMORY_BAR_MB:.0f} MB), {r['maxrss_after']:.0f} MB (bar {PEAK_BAR_MB:.0f} MB)":
                grew <= MEMORY_BAR_MB and r["maxrss_after"] <= PEAK_BAR_MB,
            f"page render {render_ratio:.2f}x the same page with a {SMALL}-issue snapshot "
            f"({r['small_render']['median_ms']:.0f} ms) (bar {RENDER_BAR}x)": render_ratio <= RENDER_BAR,
        }
        for text, met in bars.items():
            print(f"    {text}: {'ok' if met else 'MISSED'}")
            ok &= met
    print(f"  all snapshots complete, pages rendered, bars met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
