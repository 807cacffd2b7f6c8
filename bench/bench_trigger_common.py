"""Shared by bench_trigger.py and bench_trigger_latency.py: a throw-away site, seeded and served."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable

SEED = r"""
import json, sys
from urllib.parse import urlsplit
import django
django.setup()
from django.contrib.auth import get_user_model
from macros import pages
from macros.models import Space
from macros.sources import get_source

jql = sys.argv[1]
user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
space, _ = Space.objects.get_or_create(key="bench", defaults={"name": "Bench"})
page = pages.create_page(space, "Bench page", "", user)
macro = pages.add_macro(pages.get_draft(page, user), "Bench macro")
pages.save_macro_draft(macro, {"title": "Bench macro", "levels": [{"jql": jql, "fields": ["key", "summary", "status", "assignee"]}], "display": {"page_size": 25, "show_count": True}})
pages.publish(page, user)
count = sum(len(p.issues) for p in get_source().search_pages(jql, ["status"], page_size=100))
print(json.dumps({"macro": str(macro.public_id), "page": page.pk, "issues": count}))
"""

SEED_MANY = r"""
import json, sys
from urllib.parse import urlsplit
import django
django.setup()
from django.contrib.auth import get_user_model
from automation import service
from automation.models import AutomationEvent
from macros import pages
from macros.models import SnapshotJob, Space
from macros.snapshots import request_snapshot

count, jql = int(sys.argv[1]), sys.argv[2]
user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
space, _ = Space.objects.get_or_create(key="bench", defaults={"name": "Bench"})
made = []
per_page = 100
for first in range(0, count, per_page):
    page = pages.create_page(space, f"Bench page {first // per_page + 1}", "", user)
    draft = pages.get_draft(page, user)
    macros = []
    for n in range(first, min(first + per_page, count)):
        macro = pages.add_macro(draft, f"Bench macro {n}")
        pages.save_macro_draft(macro, {"title": f"Bench macro {n}", "levels": [{"jql": jql, "fields": ["key", "summary"]}], "display": {"page_size": 25, "show_count": True}})
        macros.append(macro)
    pages.publish(page, user)
    for macro in macros:
        macro.refresh_from_db()
        issued = service.enable(macro, user, via=AutomationEvent.Via.COMMAND, live_at_once=True)
        # Queued now (no worker runs), so every call of the benchmark joins it: the burst's steady state.
        request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION)
        made.append({"url_path": urlsplit(issued.url).path, "key": issued.raw})
print(json.dumps(made))
"""

FIND_100 = r"""
import json
import django
django.setup()
from macros.sources import get_source
source = get_source()
best = None
for project in ("WEB", "MOB"):
    for days in range(60, 366):
        jql = f"project = {project} AND created >= -{days}d ORDER BY key ASC"
        n = sum(len(p.issues) for p in source.search_pages(jql, ["status"], page_size=100))
        if best is None or abs(n - 100) < abs(best[1] - 100):
            best = (jql, n)
        if n >= 100:
            break
    if best[1] == 100:
        break
print(json.dumps({"jql": best[0], "issues": best[1]}))
"""


class Site:
    """A fresh database (SQLite file, or a new PostgreSQL database) with the schema."""

    def __init__(self, database: str = "sqlite", extra_env: dict | None = None):
        self.tmp = tempfile.TemporaryDirectory(prefix="snapshots-bench-")
        self.var = Path(self.tmp.name)
        self.pg_name = None
        if database == "postgres":
            self.pg_name = f"snapshots_bench_{os.getpid()}_{int(time.time())}"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {self.pg_name}"], check=True)
            url = f"postgres://postgres@127.0.0.1:5432/{self.pg_name}"
        else:
            url = f"sqlite:///{self.var / 'bench.sqlite3'}"
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "SNAPSHOTS_VAR_DIR": str(self.var),
            "DJANGO_SETTINGS_MODULE": "snapshots_site.settings",
            "PYTHONPATH": str(ROOT),
            "SITE_URL": "http://127.0.0.1:8000",
            **(extra_env or {}),
        }
        self.processes: list[subprocess.Popen] = []
        self.masters: dict[str, int] = {}  # gunicorn's master pid by URL
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("createcachetable")

    def manage(self, *args: str) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def python(self, script: str, *args: str) -> dict:
        done = subprocess.run([PYTHON, "-c", script, *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def automated_macro(self, jql: str) -> dict:
        """A published macro with live automation: {"macro", "page", "issues", "url_path", "key"}."""
        seeded = self.python(SEED, jql)
        issued = json.loads(self.manage("automation", "enable", seeded["macro"], "--json"))
        return {**seeded, "url_path": issued["url"].removeprefix(self.env["SITE_URL"]), "key": issued["api_key"]}

    def gunicorn(self, workers: int | None = 2, app: str = "snapshots_site.wsgi:application", ready: str = "/api/automation/v1/schema/") -> str:
        """Serve ``app`` (the site, or bench_trigger_bare's minimal project) with the same gunicorn settings."""
        port = free_port()
        log = open(self.var / f"gunicorn-{app.split(':')[0]}.log", "w")
        process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", app, *(["--workers", str(workers)] if workers else []),
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}{ready}", process)
        self.masters[url] = process.pid
        return url

    def qcluster(self, workers: int = 2) -> subprocess.Popen:
        log = open(self.var / "qcluster.log", "w")
        process = subprocess.Popen(
            [PYTHON, "manage.py", "qcluster"], cwd=ROOT, env={**self.env, "Q_WORKERS": str(workers)},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def automated_macros(self, count: int, jql: str) -> list[dict]:
        """``count`` published macros with live automation, each with a queued job: [{"url_path", "key"}]."""
        return self.python(SEED_MANY, str(count), jql)

    def server_log(self) -> str:
        path = self.var / "gunicorn-snapshots_site.wsgi.log"
        return path.read_text() if path.exists() else ""

    def stop_servers(self) -> None:
        """SIGTERM, as a deploy does: web workers write what they still count (AUTOMATION_COUNT_FLUSH_SECONDS)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if self.pg_name:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {self.pg_name} WITH (FORCE)"], check=False)
        self.tmp.cleanup()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cpu_by_kind(web_master: int) -> dict[str, float]:
    """CPU seconds used so far by one gunicorn (master and workers, restarted ones included),
    PostgreSQL's processes and Redis, read from /proc (Linux only; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {"web": 0.0, "postgres": 0.0, "redis": 0.0}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
            command = os.path.basename(argv0.split(" ", 1)[0])  # "postgres: 15/main: …" for a backend
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        if pid == web_master:
            found["web"] += (own + reaped) / ticks  # workers that exited (max_requests) are in "reaped"
        elif parent == web_master:
            found["web"] += own / ticks
        elif command.startswith("postgres"):
            found["postgres"] += (own + reaped) / ticks  # the postmaster reaps closed connections' backends
        elif "redis-server" in command:
            found["redis"] += own / ticks
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")
