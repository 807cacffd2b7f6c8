"""Accepted triggers per second vs a bare DRF view in a minimal project of its own (DESIGN §8).

The bare view (bench/bench_trigger_bare.py: no middleware, no database, no
authentication, permissions or parsers) and the site are served by the same gunicorn
command (sync workers, as many as gunicorn.conf.py ships: 2 per CPU + 1; --workers N
for another count) on the same machine and measured alternately with wrk: bare,
trigger, bare, trigger, … Every trigger call carries a valid key and joins its macro's
queued job (no worker runs), which is the steady state of a burst. wrk sends the bare
view the very same requests (path aside): same headers, key and body, made by the same
Lua function, so the load generator, which shares the two cores, costs both runs alike.

Settings as shipped: the per-key limit AUTOMATION_THROTTLE (120/min) is on, and so is the
refused-attempts guard. A key may make 120 calls a minute, so the calls go round --keys
macros, each with its own key, enough that none reaches its limit (any 429 would show
as non-2xx and fail the run). --throttle-off measures one key with AUTOMATION_THROTTLE=off
instead, and says so in its output.

    .venv/bin/python bench/bench_trigger.py [--seconds 6] [--rounds 5] [--keys 3000] [--throttle-off]
        [--database sqlite|postgres] [--redis URL]

Bar: trigger ≥ 50% of bare, no non-2xx, no 5xx, no "database is locked", and every
accepted call counted in the audit once the web workers have stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_trigger_common import Site, cpu_by_kind

LUA_COMMON = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local totals = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do totals[code] = (totals[code] or 0) + n end
  end
  for code, n in pairs(totals) do io.write(string.format("STATUS %d %d\\n", code, n)) end
  io.write(string.format("LATENCY p50=%.2fms p99=%.2fms\\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""
BODY = '{"issue": {"key": "WEB-1", "fields": {"summary": "Jira Automation sends issue data"}}}'


def bare_lua(targets: list[dict]) -> str:
    """The same requests as the trigger's, key header and body included, sent to the bare view.

    Both runs make their requests the same way (a Lua function that picks the next key
    and formats the request), so wrk, which shares the machine, costs both sides alike
    and the figure compares the servers only."""
    return trigger_lua([{**t, "url_path": "/bench/bare"} for t in targets])


def trigger_lua(targets: list[dict]) -> str:
    rows = ",\n".join(f'  {{"{t["url_path"]}", "{t["key"]}"}}' for t in targets)
    return f"""
local targets = {{
{rows}
}}
local body = '{BODY}'
local n = 0
function request()
  n = n + 1
  local t = targets[n % #targets + 1]
  return wrk.format("POST", t[1], {{["Content-Type"] = "application/json", ["jira-snapshots-api-key"] = t[2]}}, body)
end
""" + LUA_COMMON


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


def measured(web_master: int, run) -> dict:
    """``run()``'s wrk figures, with the CPU each kind of process spent per answered call."""
    before = cpu_by_kind(web_master)
    result = run()
    after = cpu_by_kind(web_master)
    answered = sum(result["statuses"].values()) or 1
    result["cpu_us"] = {kind: (after[kind] - before[kind]) / answered * 1e6 for kind in before}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers for both; 0 (default): gunicorn.conf.py's, as shipped")
    parser.add_argument("--keys", type=int, default=3000, help="macros (each with its own key) the calls go round")
    parser.add_argument("--throttle-off", action="store_true", help="one key, AUTOMATION_THROTTLE=off (not as shipped)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", metavar="URL", help="cache (throttles) and queue on Redis, as in production with PostgreSQL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    from automation.keys import bench_hash_check  # measured here too, for the record

    env = {}
    keys = args.keys
    if args.throttle_off:
        env["AUTOMATION_THROTTLE"], keys = "off", 1
    if args.redis:
        env.update(REDIS_URL=args.redis, Q_CLUSTER_NAME=f"bench-trigger-{os.getpid()}")
    with Site(args.database, env) as site, tempfile.TemporaryDirectory() as tmp:
        targets = site.automated_macros(keys, "project = WEB ORDER BY key ASC")
        base = site.gunicorn(workers=args.workers)
        bare_base = site.gunicorn(workers=args.workers, app="bench.bench_trigger_bare:application", ready="/bench/bare")
        bare_script, trigger_script = Path(tmp, "bare.lua"), Path(tmp, "trigger.lua")
        bare_script.touch(0o600)
        bare_script.write_text(bare_lua(targets))
        trigger_script.touch(0o600)  # it holds the keys
        trigger_script.write_text(trigger_lua(targets))
        # Warm both paths (imports, first connections), then measure alternately.
        wrk(f"{bare_base}/bench/bare", bare_script, 2, args.connections)
        warm = wrk(base, trigger_script, 2, args.connections)
        bare_runs, trigger_runs = [], []
        for round_number in range(1, args.rounds + 1):
            bare = measured(site.masters[bare_base], lambda: wrk(f"{bare_base}/bench/bare", bare_script, args.seconds, args.connections))
            trig = measured(site.masters[base], lambda: wrk(base, trigger_script, args.seconds, args.connections))
            bare_runs.append(bare)
            trigger_runs.append(trig)
            print(
                f"round {round_number}: bare {bare['rps']:8.0f} req/s ({bare['latency']})  "
                f"trigger {trig['rps']:8.0f} req/s ({trig['latency']})  "
                f"ratio {trig['rps'] / bare['rps']:.0%}  trigger statuses {trig['statuses']} {trig['errors']}",
                flush=True,
            )
        site.stop_servers()  # as a deploy does: the workers write the calls they still hold
        counted = site.python(
            "import json, django; django.setup(); from macros.models import SnapshotJob; "
            "from automation.models import AutomationEvent as E; "
            "from django.db.models import Sum; "
            "print(json.dumps({'jobs': SnapshotJob.objects.count(), 'triggered': E.objects.filter(kind='triggered').aggregate(n=Sum('count'))['n'] or 0}))"
        )
        log = site.server_log()
        problems = [line for line in log.splitlines() if any(w in line for w in ("Error", "error", "unavailable", "Traceback", "locked", "could not"))]
        if problems:
            print("server log, problems (first 20):", *problems[:20], sep="\n  ")

    bare_rps = sum(r["rps"] for r in bare_runs) / len(bare_runs)
    trigger_rps = sum(r["rps"] for r in trigger_runs) / len(trigger_runs)
    non_2xx = sum(r["non_2xx"] for r in trigger_runs)
    server_errors = sum(n for r in trigger_runs for code, n in r["statuses"].items() if code >= 500)
    locked = log.count("database is locked")
    # The machine is shared: other load comes and goes between rounds. Each round pairs a
    # bare run with the trigger run right after it; the median of those ratios is the figure.
    ratio = statistics.median(t["rps"] / b["rps"] for b, t in zip(bare_runs, trigger_runs, strict=True))
    accepted = sum(r["statuses"].get(202, 0) for r in [warm, *trigger_runs])
    # wrk stops without reading the answers still in flight: the site counted them, wrk did not.
    in_flight = args.connections * (1 + len(trigger_runs))
    throttle = "AUTOMATION_THROTTLE=off, one key (NOT as shipped)" if args.throttle_off else (
        f"as shipped: AUTOMATION_THROTTLE 120/min per key on, calls spread over {keys} keys")
    print()
    print(f"database: {args.database}; cache: {'redis' if args.redis else 'database'}; gunicorn {args.workers or 'shipped default (2 per CPU + 1)'} sync workers; "
          f"wrk -t2 -c{args.connections}; {args.rounds} × {args.seconds} s each, alternating")
    print(f"throttles: {throttle}; refused-attempts guard on")
    print(f"Argon2id key check: {bench_hash_check(500) * 1e6:.0f} µs")
    print(f"bare DRF 202 (minimal project): {bare_rps:8.0f} req/s")
    print(f"trigger (coalesced):            {trigger_rps:8.0f} req/s  (means: {trigger_rps / bare_rps:.0%} of bare)")
    print(f"trigger / bare, median of the rounds: {ratio:.0%} (bar ≥ 50%)")
    for name, runs in (("bare", bare_runs), ("trigger", trigger_runs)):
        split = {kind: statistics.median(r["cpu_us"][kind] for r in runs) for kind in runs[0]["cpu_us"]}
        print(f"CPU per answered call, {name} (median of the rounds): web workers {split['web']:.0f} µs, "
              f"PostgreSQL {split['postgres']:.0f} µs, Redis {split['redis']:.0f} µs")
    print(f"trigger non-2xx: {non_2xx}; 5xx: {server_errors}; 'database is locked' in the server log: {locked}")
    print(f"jobs: {counted['jobs']} (one per macro: {keys}); accepted calls seen by wrk {accepted}, counted in the audit {counted['triggered']} (+ at most {in_flight} in flight when wrk stopped)")
    ok = (ratio >= 0.5 and non_2xx == 0 and server_errors == 0 and locked == 0 and counted["jobs"] == keys
          and accepted <= counted["triggered"] <= accepted + in_flight)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
