"""60 seconds of mixed automation calls at the highest rate the machine holds, on each stack.

For each stack — the embedded default (SQLite, ORM broker) and PostgreSQL + Redis — a
fresh database is seeded with pages of Snapshots macros on the Sample data, each macro
with automation on (``manage.py automation enable <macro_id> --json``) and, where the
command exists, a global key for page triggers. gunicorn (``gunicorn.conf.py``) serves
it, a ``qcluster`` takes the snapshots, and wrk (closed loop, N connections) sends:

    valid macro triggers (new jobs, or coalesced into a queued one)   ~45 %
    a burst on one hot macro (coalesced while its job is queued)     ~20 %
    right-shaped keys with a wrong secret                            ~15 %
    page triggers with the global key (if present)                   ~10 %
    unknown macro ids / no key at all                                ~10 %

Around it, wrk measures a bare DRF view that answers 202 on the same gunicorn, before
and after (the baseline, same run). Afterwards every job a 202 named must have ended
succeeded. Printed: rates, p50/p99 latency, status counts, jobs/s, and the mixed rate as
a share of the bare one. Bars: zero 5xx, no "database is locked", every 202 ends in a
succeeded job (a failed one misses the bar, with its reason printed).

Throttles: both automation throttles are OFF by default here (``--throttles off``), not
as shipped, and every line of output says so: the run measures the site under load, and
all its calls come from one address. ``--throttles shipped`` keeps the shipped settings
(429s are then part of the answers).

    .venv/bin/python bench/load_mixed.py                   # both stacks, 60 s each
    .venv/bin/python bench/load_mixed.py --stacks sqlite --seconds 20

Traffic goes to 127.0.0.1 only; every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REDIS_URL = "redis://127.0.0.1:6379/4"

SEED = r"""
import io, json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from macros import pages
from macros.models import Space, SpacePermission

pages_count, per_page = int(sys.argv[1]), int(sys.argv[2])
editor = get_user_model().objects.create_user("load-editor", "load@example.com", "load-password-1")
space = Space.objects.create(key="load", name="Load")
SpacePermission.objects.create(space=space, user=editor, level=SpacePermission.Level.EDIT)
queries = ["project = WEB AND issuetype = Story", "project = MOB AND statusCategory = Done", "project = OPS ORDER BY created DESC",
           "project = WEB AND priority in (High, Highest)", "assignee is EMPTY AND project = MOB", "project = OPS AND updated >= -30d"]
macros, page_ids = [], []
for p in range(pages_count):
    page = pages.create_page(space, f"Load page {p}", "Load test.", editor)
    draft = pages.get_draft(page, editor)
    ids = []
    for m in range(per_page):
        macro = pages.add_macro(draft, f"Macro {p}.{m}")
        jql = queries[(p * per_page + m) % len(queries)]
        pages.save_macro_draft(macro, {"title": f"Macro {p}.{m}", "levels": [{"jql": jql, "fields": ["key", "summary", "status"]}],
                                       "display": {"page_size": 25, "show_count": True}})
        ids.append(macro)
    pages.publish(page, editor)
    page_ids.append(page.pk)
    for macro in ids:
        macro.refresh_from_db()
        out = io.StringIO()
        call_command("automation", "enable", str(macro.public_id), "--json", stdout=out)
        macros.append({"id": str(macro.public_id), "page": page.pk, "key": json.loads(out.getvalue())["api_key"]})
global_key = None
try:
    out = io.StringIO()
    call_command("automation", "global-key", "create", "--json", stdout=out)
    global_key = json.loads(out.getvalue())["api_key"]
except Exception as exc:  # the command may not exist yet
    print(f"no global key: {exc}", file=sys.stderr)
print(json.dumps({"macros": macros, "pages": page_ids, "global_key": global_key}))
"""

DRAIN = r"""
import json, sys, time
import django
django.setup()
from django.db.models import Max, Min
from macros.models import Snapshot, SnapshotJob

ids = [line.strip() for line in open(sys.argv[1]) if line.strip()]
deadline = time.monotonic() + float(sys.argv[2])
terminal = ("succeeded", "failed")
started = time.monotonic()
while time.monotonic() < deadline:
    if not SnapshotJob.objects.filter(pk__in=ids).exclude(status__in=terminal).exists():
        break
    time.sleep(0.5)
jobs = SnapshotJob.objects.filter(pk__in=ids)
counts = {s: jobs.filter(status=s).count() for s in ("queued", "running", "succeeded", "failed")}
span = jobs.aggregate(first=Min("created_at"), last=Max("finished_at"))
errors = sorted(set(jobs.filter(status="failed").values_list("error", flat=True)))[:5]
print(json.dumps({
    "ids": len(ids), "found": jobs.count(), "counts": counts, "drained_s": time.monotonic() - started,
    "first_created": span["first"].timestamp() if span["first"] else None,
    "last_finished": span["last"].timestamp() if span["last"] else None,
    "snapshots": Snapshot.objects.filter(job__in=ids, complete=True).count(),
    "all_jobs": SnapshotJob.objects.count(), "errors": errors,
}))
"""

LUA_COMMON = r"""
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  jobs = {}
  kinds = {new = 0, coalesced = 0, page = 0}
  math.randomseed(os.time() * 100 + tid)
  prepared = {}
  for i, r in ipairs(REQUESTS) do prepared[i] = wrk.format("POST", r[1], r[2], "") end
end
function request()
  return prepared[math.random(#prepared)]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 and body then
    for job in string.gmatch(body, '"job"%s*:%s*"([%x%-]+)"') do jobs[job] = true end
    if string.find(body, '"jobs"', 1, true) then kinds.page = kinds.page + 1
    elseif string.find(body, '"coalesced"%s*:%s*true') then kinds.coalesced = kinds.coalesced + 1
    else kinds.new = kinds.new + 1 end
  end
end
function done(summary, latency, requests)
  local totals, seen, k = {}, {}, {new = 0, coalesced = 0, page = 0}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do totals[code] = (totals[code] or 0) + n end
    for job, _ in pairs(t:get("jobs")) do seen[job] = true end
    for name, n in pairs(t:get("kinds")) do k[name] = k[name] + n end
  end
  for code, n in pairs(totals) do io.write(string.format("STATUS %d %d\n", code, n)) end
  for name, n in pairs(k) do io.write(string.format("KIND %s %d\n", name, n)) end
  for job, _ in pairs(seen) do io.write("JOB " .. job .. "\n") end
  io.write(string.format("SUMMARY %d %d %d %d %d %d\n", summary.requests, summary.duration,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
  io.write(string.format("LATENCY %.3f %.3f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def lua_requests(requests: list[tuple[str, dict]]) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    rows = []
    for path, headers in requests:
        fields = ", ".join(f"[{quote(k)}] = {quote(v)}" for k, v in headers.items())
        rows.append(f"  {{{quote(path)}, {{{fields}}}}},")
    return "REQUESTS = {\n" + "\n".join(rows) + "\n}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, kind: str, args):
        self.kind = kind
        self.args = args
        self.tmp = tempfile.TemporaryDirectory(prefix="snapshots-load-")
        self.var = Path(self.tmp.name)
        self.processes: list[subprocess.Popen] = []
        self.pg_name = None
        self.name = f"load-{os.getpid()}-{kind}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JIRA_", "REDIS_URL", "DATABASE_URL", "DJANGO_ALLOW"))}
        if kind == "postgres":
            self.pg_name = f"snapshots_load_{os.getpid()}"
            self._psql(f'CREATE DATABASE "{self.pg_name}"')
            env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{self.pg_name}", REDIS_URL=REDIS_URL)
        else:
            env.update(DATABASE_URL=f"sqlite:///{self.var / 'load.sqlite3'}")
        self.port = free_port()
        env.update(
            DJANGO_SETTINGS_MODULE="bench.load_mixed_settings",
            PYTHONPATH=str(ROOT),
            SNAPSHOTS_VAR_DIR=str(self.var),
            SITE_URL=f"http://127.0.0.1:{self.port}",
            Q_CLUSTER_NAME=self.name,
            LOG_LEVEL="WARNING",
            PORT=str(self.port),
            WEB_CONCURRENCY=str(args.web_workers),
            Q_WORKERS=str(args.q_workers),
        )
        if args.throttles == "off":
            # Not as shipped (120 calls a minute per key, 30 refused attempts a minute per
            # address): this measures what the site does under load, not its throttles, and
            # every call comes from 127.0.0.1, so the refused-attempts guard tripped by the
            # wrong keys would answer 429 to the valid ones as well. The output says so.
            env.update(AUTOMATION_THROTTLE="off", AUTOMATION_REFUSED_THROTTLE="off")
        self.env = env
        self.url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _psql(sql: str) -> None:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True)

    def run(self, *argv: str, timeout: float = 600) -> str:
        done = subprocess.run(list(argv), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv[:3])} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.var / f"{name}.log", "w")
        self.processes.append(subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.var.glob("*.log"))

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.pg_name:
            self._psql(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        if self.kind == "postgres":
            import redis

            client = redis.from_url(REDIS_URL)
            for pattern in (f"django_q:{self.name}:*", f"{self.name}:*"):
                for key in client.scan_iter(match=pattern, count=1000):
                    client.delete(key)
        self.tmp.cleanup()


def wrk(url: str, script: str, seconds: int, connections: int, var: Path, name: str) -> dict:
    path = var / f"{name}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(path), url],
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    ).stdout
    result: dict = {"statuses": {}, "kinds": {}, "jobs": []}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "STATUS":
            result["statuses"][int(parts[1])] = int(parts[2])
        elif parts[0] == "KIND":
            result["kinds"][parts[1]] = int(parts[2])
        elif parts[0] == "JOB":
            result["jobs"].append(parts[1])
        elif parts[0] == "SUMMARY":
            requests, micros, *errors = map(int, parts[1:])
            result.update(requests=requests, seconds=micros / 1e6, rate=requests / (micros / 1e6), socket_errors=sum(errors))
        elif parts[0] == "LATENCY":
            result.update(p50=float(parts[1]), p99=float(parts[2]))
    return result


def bare(stack: Stack, seconds: int, connections: int, label: str) -> dict:
    return wrk(stack.url + "/bench/bare", lua_requests([("/bench/bare", {})]) + LUA_COMMON, seconds, connections, stack.var, label)


def measure(kind: str, args) -> dict:
    stack = Stack(kind, args)
    try:
        stack.run(PYTHON, "manage.py", "migrate", "--noinput", "-v", "0")
        stack.run(PYTHON, "manage.py", "createcachetable")
        seeded = json.loads(stack.run(PYTHON, "-c", SEED, str(args.pages), str(args.macros_per_page)).strip().splitlines()[-1])
        stack.start("gunicorn", [PYTHON, "-m", "gunicorn", "snapshots_site.wsgi"])
        stack.start("qcluster", [PYTHON, "manage.py", "qcluster"])
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", stack.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start:\n" + stack.logs()[-3000:]) from None
                time.sleep(0.2)

        macros, rng = seeded["macros"], random.Random(7)
        mix: list[tuple[str, dict]] = []
        trigger = "/api/automation/v1/macros/{}/snapshots"
        for m in macros:  # valid calls, spread over every macro
            mix += [(trigger.format(m["id"]), {"jira-snapshots-api-key": m["key"]})] * 3
        hot = macros[0]
        mix += [(trigger.format(hot["id"]), {"jira-snapshots-api-key": hot["key"]})] * round(len(mix) * 20 / 45)
        valid = len(mix)
        for m in rng.sample(macros, min(len(macros), 10)):  # right lookup id, wrong secret
            mix += [(trigger.format(m["id"]), {"jira-snapshots-api-key": m["key"][:-6] + "wrong0"})] * round(valid * 15 / 65 / 10)
        mix += [(trigger.format(uuid.UUID(int=rng.getrandbits(128))), {"jira-snapshots-api-key": hot["key"]}) for _ in range(round(valid * 5 / 65))]
        mix += [(trigger.format(hot["id"]), {})] * round(valid * 5 / 65)
        if seeded["global_key"]:
            mix += [(f"/api/automation/v1/pages/{p}/snapshots", {"jira-snapshots-api-key": seeded["global_key"]}) for p in seeded["pages"]] * max(1, round(valid * 10 / 65 / len(seeded["pages"])))

        # gunicorn's workers load the site after the port opens: warm every one up first.
        bare(stack, 5, args.connections, "warmup")
        wrk(stack.url + "/", lua_requests(mix) + LUA_COMMON, 3, args.connections, stack.var, "warmup-mixed")
        before = bare(stack, args.baseline_seconds, args.connections, "bare-before")
        mixed = wrk(stack.url + "/", lua_requests(mix) + LUA_COMMON, args.seconds, args.connections, stack.var, "mixed")
        load_end = time.time()
        ids_file = stack.var / "jobs.txt"
        ids_file.write_text("\n".join(mixed["jobs"]))
        drained = json.loads(stack.run(PYTHON, "-c", DRAIN, str(ids_file), "300").strip().splitlines()[-1])
        # Measured once the workers are idle again, like the first one.
        after = bare(stack, args.baseline_seconds, args.connections, "bare-after")
        logs = stack.logs()
        return {
            "kind": kind,
            "page_triggers": bool(seeded["global_key"]),
            "macros": len(macros),
            "before": before,
            "after": after,
            "mixed": mixed,
            "drained": drained,
            "load_end": load_end,
            "locked": logs.count("database is locked"),
            "tracebacks": logs.count("Traceback"),
        }
    finally:
        stack.close()


def show(r: dict, args) -> bool:
    title = {"sqlite": "SQLite (WAL) + ORM broker", "postgres": "PostgreSQL + Redis broker and cache"}[r["kind"]]
    m, d = r["mixed"], r["drained"]
    baseline = (r["before"]["rate"] + r["after"]["rate"]) / 2
    fivexx = sum(n for code, n in m["statuses"].items() if code >= 500) + sum(n for code, n in r["before"]["statuses"].items() if code >= 500)
    terminal = d["counts"]["succeeded"] + d["counts"]["failed"]
    span = (d["last_finished"] - d["first_created"]) if d["last_finished"] and d["first_created"] else 0
    print(f"\n{title}: gunicorn {args.web_workers} sync workers, 1 qcluster x {args.q_workers} workers, "
          f"wrk 2 threads x {args.connections} connections, {r['macros']} macros, page triggers {'on' if r['page_triggers'] else 'absent'}, "
          f"automation throttles {'OFF (not as shipped)' if args.throttles == 'off' else 'as shipped'}")
    for label, b in (("bare DRF 202, before", r["before"]), ("bare DRF 202, after", r["after"])):
        print(f"  {label:<24} {b['rate']:8.0f} req/s   p50 {b['p50']:6.1f} ms   p99 {b['p99']:6.1f} ms")
    print(f"  {'mixed automation calls':<24} {m['rate']:8.0f} req/s   p50 {m['p50']:6.1f} ms   p99 {m['p99']:6.1f} ms   "
          f"= {m['rate'] / baseline:.0%} of the bare view ({m['requests']:,} calls in {m['seconds']:.0f} s)")
    print(f"  statuses {dict(sorted(m['statuses'].items()))}; 202s: {m['kinds'].get('new', 0):,} new jobs, "
          f"{m['kinds'].get('coalesced', 0):,} coalesced, {m['kinds'].get('page', 0):,} page triggers; socket errors {m['socket_errors']}")
    print(f"  jobs named by 202s: {d['ids']:,}; terminal {terminal:,} (succeeded {d['counts']['succeeded']:,}, failed {d['counts']['failed']:,}), "
          f"still open {d['counts']['queued'] + d['counts']['running']}; {d['snapshots']:,} snapshots; "
          f"{terminal / span if span else 0:.1f} jobs/s over {span:.0f} s (drained {d['drained_s']:.0f} s after the load)")
    print(f"  5xx: {fivexx}; 'database is locked': {r['locked']}; tracebacks in the logs: {r['tracebacks']}")
    if d["errors"]:
        print(f"  failure reasons: {d['errors']}")
    return fivexx == 0 and r["locked"] == 0 and d["counts"]["succeeded"] == d["ids"] == d["found"] and d["counts"]["failed"] == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", default="sqlite,postgres")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--baseline-seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=min(2 * (os.cpu_count() or 1) + 1, 8))
    parser.add_argument("--q-workers", type=int, default=2)
    parser.add_argument("--throttles", choices=["off", "shipped"], default="off")
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--macros-per-page", type=int, default=3)
    args = parser.parse_args()
    if not re.fullmatch(r"(sqlite|postgres)(,(sqlite|postgres))*", args.stacks):
        parser.error("--stacks is a comma-separated list of sqlite and postgres")
    results = [measure(kind, args) for kind in args.stacks.split(",")]
    print(f"Mixed load bench ({os.cpu_count()} CPUs; load generator, web and workers share them)")
    ok = all([show(r, args) for r in results])
    print(f"\nbars (zero 5xx, no 'database is locked', every 202 ends in a succeeded job): {'met' if ok else 'NOT met'}"
          f"; automation throttles {'OFF (not as shipped)' if args.throttles == 'off' else 'as shipped'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
