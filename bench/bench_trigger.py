"""Accepted triggers per second vs a bare DRF view that answers 202 (DESIGN §8, issue 4).

Both are served by the same gunicorn (2 sync workers) on the same machine, measured
alternately with wrk: bare, trigger, bare, trigger, … The trigger calls carry a valid key
and coalesce into the one queued job (no worker runs), which is the steady state of a
burst. AUTOMATION_THROTTLE is off; the refused-attempts guard stays on, as in production.

    .venv/bin/python bench/bench_trigger.py [--seconds 10] [--rounds 3] [--database sqlite|postgres] [--redis URL]

Bar: trigger ≥ 50% of bare, no non-2xx, no 5xx, no "database is locked".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_trigger_common import Site

LUA = """
wrk.method = "POST"
wrk.body = '{"issue": {"key": "WEB-1", "fields": {"summary": "Jira Automation sends issue data"}}}'
wrk.headers["Content-Type"] = "application/json"
%(header)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do totals[code] = (totals[code] or 0) + n end
  end
  for code, n in pairs(totals) do io.write(string.format("STATUS %%d %%d\\n", code, n)) end
  io.write(string.format("LATENCY p50=%%.2fms p99=%%.2fms\\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), "--timeout", "10s", url],
        capture_output=True, text=True, check=True,
    ).stdout
    statuses = {int(code): int(n) for code, n in re.findall(r"STATUS (\d+) (\d+)", out)}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "statuses": statuses,
        "non_2xx": sum(n for code, n in statuses.items() if not 200 <= code < 300),
        "errors": re.search(r"Socket errors:.*", out)[0] if "Socket errors" in out else "",
        "latency": re.search(r"LATENCY (.*)", out)[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", metavar="URL", help="cache (throttles) and queue on Redis, as in production with PostgreSQL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    from automation.keys import bench_hash_check  # measured here too, for the record

    env = {"AUTOMATION_THROTTLE": "off"}
    if args.redis:
        env.update(REDIS_URL=args.redis, Q_CLUSTER_NAME=f"bench-trigger-{os.getpid()}")
    with Site(args.database, env) as site, tempfile.TemporaryDirectory() as tmp:
        automated = site.automated_macro("project = WEB ORDER BY key ASC")
        base = site.gunicorn(workers=2)
        bare_lua, trigger_lua = Path(tmp, "bare.lua"), Path(tmp, "trigger.lua")
        bare_lua.write_text(LUA % {"header": ""})
        trigger_lua.write_text(LUA % {"header": f'wrk.headers["jira-snapshots-api-key"] = "{automated["key"]}"'})
        trigger_lua.chmod(0o600)
        # Warm both paths (imports, first connections), then measure alternately.
        wrk(f"{base}/bench/bare", bare_lua, 2, args.connections)
        wrk(f"{base}{automated['url_path']}", trigger_lua, 2, args.connections)
        bare_runs, trigger_runs = [], []
        for round_number in range(1, args.rounds + 1):
            bare = wrk(f"{base}/bench/bare", bare_lua, args.seconds, args.connections)
            trig = wrk(f"{base}{automated['url_path']}", trigger_lua, args.seconds, args.connections)
            bare_runs.append(bare)
            trigger_runs.append(trig)
            print(
                f"round {round_number}: bare {bare['rps']:8.0f} req/s ({bare['latency']})  "
                f"trigger {trig['rps']:8.0f} req/s ({trig['latency']})  "
                f"ratio {trig['rps'] / bare['rps']:.0%}  trigger statuses {trig['statuses']} {trig['errors']}"
            )
        jobs = site.python(
            "import json, django; django.setup(); from macros.models import SnapshotJob; "
            "from automation.models import AutomationEvent as E; "
            "from django.db.models import Sum; "
            "print(json.dumps({'jobs': SnapshotJob.objects.count(), 'triggered': E.objects.filter(kind='triggered').aggregate(n=Sum('count'))['n']}))"
        )
        log = site.server_log()
        problems = [line for line in log.splitlines() if any(w in line for w in ("Error", "error", "unavailable", "Traceback", "locked"))]
        if problems:
            print("server log, problems (first 20):", *problems[:20], sep="\n  ")

    bare_rps = sum(r["rps"] for r in bare_runs) / len(bare_runs)
    trigger_rps = sum(r["rps"] for r in trigger_runs) / len(trigger_runs)
    non_2xx = sum(r["non_2xx"] for r in trigger_runs)
    server_errors = sum(n for r in trigger_runs for code, n in r["statuses"].items() if code >= 500)
    locked = log.count("database is locked")
    ratio = trigger_rps / bare_rps
    print()
    print(f"database: {args.database}; cache: {'redis' if args.redis else 'database'}; gunicorn 2 sync workers; wrk -t2 -c{args.connections}; {args.rounds} × {args.seconds} s each, alternating")
    print(f"Argon2id key check: {bench_hash_check(500) * 1e6:.0f} µs")
    print(f"bare DRF 202:      {bare_rps:8.0f} req/s")
    print(f"trigger (coalesced): {trigger_rps:6.0f} req/s  = {ratio:.0%} of bare (bar ≥ 50%)")
    print(f"trigger non-2xx: {non_2xx}; 5xx: {server_errors}; 'database is locked' in the server log: {locked}")
    calls = sum(sum(r["statuses"].values()) for r in trigger_runs)
    print(f"snapshot jobs queued by all those calls: {jobs['jobs']}; accepted calls counted in the audit: {jobs['triggered']} (measured rounds: {calls}, plus warm-up)")
    ok = ratio >= 0.5 and non_2xx == 0 and server_errors == 0 and locked == 0 and jobs["jobs"] == 1
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
