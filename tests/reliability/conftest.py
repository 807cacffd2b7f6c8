"""Real processes for the reliability tests: qcluster workers, gunicorn, a stand-in Jira.

These tests start and kill real processes and take minutes, so `make test` skips them;
`make reliability` (and `.ci/run`) runs them with ``SNAPSHOTS_RELIABILITY=1`` on the
stack the environment names: PostgreSQL + Redis in CI (``DATABASE_URL``, ``REDIS_URL``,
and a ``Q_CLUSTER_NAME`` of their own so that a shared Redis is not disturbed), or the
embedded default. The database-restart test also needs ``SNAPSHOTS_DB_RESTART=1``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from macros.apps import ensure_schedules
from macros.models import Snapshot, SnapshotJob
from tests.conftest import ROOT, database_url_for_subprocess, wait_for
from tests.reliability.standin_jira import TOKEN, USER, StandInJira

RELIABILITY = os.environ.get("SNAPSHOTS_RELIABILITY") == "1"
needs_reliability = pytest.mark.skipif(not RELIABILITY, reason="starts and kills real processes: run by `make reliability` / .ci/run")
TERMINAL = (SnapshotJob.Status.SUCCEEDED, SnapshotJob.Status.FAILED)
SWEEP_SECONDS = 30  # the shortest django-q2 honours (its scheduler looks every 30 s)
# What a cluster started with timeout=None leaves at the shipped defaults, whatever the
# environment of the test run says.
DEFAULTED = ("SNAPSHOT_JOB_TIMEOUT", "SNAPSHOT_LEASE_SECONDS", "SNAPSHOT_SWEEP_SECONDS")


FIGURES: list[str] = []


def report(line: str) -> None:
    """A figure worth reading after the run: printed in pytest's closing summary."""
    FIGURES.append(line)


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("reliability figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    setattr(item, f"report_{call.when}", outcome.get_result())


def stack() -> str:
    broker = "redis" if settings.REDIS_URL else "orm"
    return f"{connection.vendor}+{broker}"


@pytest.fixture(autouse=True)
def _reliability_stack(request, settings):
    if not RELIABILITY:
        yield
        return
    if settings.REDIS_URL and settings.Q_CLUSTER_NAME == "snapshots":
        pytest.fail("Give the test run a Q_CLUSTER_NAME of its own (make reliability does) before it touches a shared Redis.")
    if settings.REDIS_URL:
        _forget_redis_keys(settings.REDIS_URL, settings.Q_CLUSTER_NAME)
    yield


@pytest.fixture
def quick_sweep(transactional_db, settings):
    """The sweep every 30 s instead of every minute (the schedule lives in the test database)."""
    settings.SNAPSHOT_SWEEP_SECONDS = SWEEP_SECONDS
    ensure_schedules()


def _forget_redis_keys(url: str, name: str) -> None:
    import redis

    client = redis.from_url(url)
    for pattern in (f"django_q:{name}:*", f"{name}:*"):
        for key in client.scan_iter(match=pattern, count=500):
            client.delete(key)
    client.close()


# --------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A process group of ours (qcluster or gunicorn) with its output in a file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def family(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def runs(self, text: str) -> bool:
        """Whether one of its processes says ``text`` in its title (django-q2 titles workers with the task name)."""
        for proc in self.family():
            try:
                if text in " ".join(proc.cmdline()):
                    return True
            except psutil.Error:
                continue
        return False

    def kill(self) -> None:
        """SIGKILL to the whole process group: no handler runs, nothing is cleaned up."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait()
        try:  # children a SIGTERM left behind
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


def base_env(**extra) -> dict:
    env = {
        # Playwright needs this in the test process; a server must never have it.
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SETTINGS_MODULE": "snapshots_site.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Stack:
    """The processes of one test; everything it started is stopped at the end."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[Process] = []
        self.counter = 0

    def cluster(self, jira: StandInJira | None, *, timeout: int | None = 5, workers: int = 1, **extra) -> Process:
        """A qcluster; ``timeout=None`` leaves SNAPSHOT_JOB_TIMEOUT (and the lease) at their defaults."""
        self.counter += 1
        if timeout is None:
            env = base_env(Q_WORKERS=workers, **extra)
            for name in DEFAULTED:
                if name not in extra:
                    env.pop(name, None)
        else:
            env = base_env(Q_WORKERS=workers, SNAPSHOT_JOB_TIMEOUT=timeout, **extra)
        if jira is not None:
            env.update(JIRA_URL=jira.url, JIRA_DEPLOYMENT=jira.deployment, JIRA_USER=USER, JIRA_TOKEN=TOKEN)
        process = Process(f"qcluster-{self.counter}", [sys.executable, "manage.py", "qcluster"], env, self.log_dir)
        self.processes.append(process)
        return process

    def web(self, *, workers: int = 2, **extra) -> Web:
        self.counter += 1
        port = free_port()
        env = base_env(**{"PORT": port, "WEB_CONCURRENCY": workers, "AUTOMATION_THROTTLE": "off", "AUTOMATION_REFUSED_THROTTLE": "off", **extra})
        process = Process(
            f"gunicorn-{self.counter}", [sys.executable, "-m", "gunicorn", "snapshots_site.wsgi"], env, self.log_dir
        )
        self.processes.append(process)
        web = Web(f"http://127.0.0.1:{port}", process)
        wait_for(web.ready, timeout=30, interval=0.2)
        return web

    def holder_of(self, job) -> Process:
        return wait_for(
            lambda: next((p for p in self.processes if p.name.startswith("qcluster") and p.alive() and p.runs(f"snapshot-{job.pk}")), None),
            timeout=30,
        )

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()

    def dump(self) -> None:
        for process in self.processes:
            print(f"----- {process.name} (pid {process.pid}) -----")
            print(process.output()[-6000:])


class Web:
    def __init__(self, url: str, process: Process):
        self.url = url
        self.process = process
        self.http = requests.Session()

    def ready(self) -> bool:
        try:
            requests.get(self.url + "/accounts/login/", timeout=5)
            return True
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine's first answer
            return False

    def trigger(self, macro, key: str, timeout: float = 10) -> requests.Response:
        return self.http.post(
            f"{self.url}/api/automation/v1/macros/{macro.public_id}/snapshots",
            headers={"jira-snapshots-api-key": key},
            timeout=timeout,
        )


@pytest.fixture
def processes(request, tmp_path, transactional_db):
    stack_ = Stack(tmp_path)
    yield stack_
    stack_.stop_all()
    report_call = getattr(request.node, "report_call", None)
    if report_call is None or report_call.failed:
        stack_.dump()  # the processes' logs, beside the failure


@pytest.fixture
def jira():
    stand_in = StandInJira("cloud")
    yield stand_in
    stand_in.close()


# --------------------------------------------------------------------------------------
# Helpers


def enable_automation(macro) -> str:
    """The macro's API key, through the documented command (``automation enable --json``)."""
    out = io.StringIO()
    call_command("automation", "enable", str(macro.public_id), "--json", stdout=out)
    return json.loads(out.getvalue())["api_key"]


def job_state(job_id) -> SnapshotJob | None:
    job = SnapshotJob.objects.get(pk=job_id)
    return job if job.status in TERMINAL else None


class _ByJobId(dict):
    """Jobs by id, whether the id comes as a UUID (the ORM) or a string (the API)."""

    def __getitem__(self, key):
        return super().__getitem__(str(key))


def wait_terminal(job_ids, timeout: float) -> dict:
    """Every job's final state (or an AssertionError naming those still open)."""
    ids = list(job_ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        open_ = SnapshotJob.objects.filter(pk__in=ids).exclude(status__in=TERMINAL).count()
        if not open_:
            break
        time.sleep(0.2)
    jobs = _ByJobId({str(job.pk): job for job in SnapshotJob.objects.filter(pk__in=ids)})
    still_open = [f"{j.pk} {j.status} attempts={j.attempts}" for j in jobs.values() if j.status not in TERMINAL]
    assert not still_open, f"jobs still open after {timeout} s: {still_open}"
    return jobs


def latest_snapshot(macro) -> Snapshot | None:
    return Snapshot.objects.filter(macro=macro, complete=True).order_by("-taken_at").first()
