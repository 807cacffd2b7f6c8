"""20,000 issues through ``take()`` with no latency on SQLite: where the time goes.

Issue 12's bar: a 20,000-issue snapshot processed (Jira answering at once) in under 4 s.
Each case takes a real snapshot (``macros.snapshots.take``, SQLite, settings as shipped)
of 20,000 issues from the project's stand-in Jira (tests/reliability/standin_jira.py, in
its own process on 127.0.0.1, no latency, every issue made before the clock starts, and
answered as made — searches and Cloud's bulk fetches alike), Cloud and Data Center, with
two column sets:

* plain: the eight columns of bench_jira_speed.py (``make_issue``'s shape);
* real-shaped: 20 columns of every common type (``macros/tests/jira_fields.varied_fields``:
  people, sprints, cascading selects, times, story points, links, labels…).

Each snapshot is taken twice, the best kept, and split into stages by timing the writer's
parts: Jira read + parse (what is left), row JSON + insert, the table index
(``RowIndexer``), the chart tally (``ChartTally``) and finishing. The stages are the
writer thread's wall time: while it works, the source's threads read and parse the pages
ahead and hold the interpreter in turns, so a stage also holds some of the reading. The
CPU line says where the work went instead: this process, of which the writer thread
(what is left is the Jira reads — HTTP and JSON parsing — and the collector), and the
stand-in's own process (encoding every answer afresh, as a real Jira does on its
servers; here it shares the two cores). The baseline, measured in the same run, is the
same snapshot storing the rows alone (index and tally switched off).

    .venv/bin/python bench/bench_snapshot_processing.py [--profile]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import subprocess  # noqa: E402

from bench_jira_speed import BIG, FIELDS, StandIn, make_macro, setup_django, source_for, take_snapshot  # noqa: E402

ISSUES = 20_000
BAR = 4.0
REAL_FIELDS = [
    "key", "summary", "status", "assignee", "reporter", "priority", "issuetype", "resolution", "labels",
    "created", "updated", "duedate", "customfield_10016", "customfield_10020", "customfield_10031",
    "timeoriginalestimate", "timespent", "components", "fixVersions", "issuelinks",
]
COLUMN_SETS = {"plain": FIELDS, "real-shaped": REAL_FIELDS}


def serve(deployment: str) -> None:
    """The stand-in with every issue made whole before the clock starts.

    Left to itself it makes an issue's real-shaped fields afresh for every answer: its own
    work, in its own process, on the same two cores, which the snapshot would be charged for.
    """
    from macros.tests.jira_fields import varied_fields
    from tests.reliability.standin_jira import StandInJira

    cloud = deployment == "cloud"
    jira = StandInJira(deployment, max_concurrent=10, retry_after=1, dc_cap=1000)  # as bench_jira_speed.py
    jira.behave(BIG, total=ISSUES)
    _, issues = jira.resolve(BIG)
    for issue in issues:  # what the stand-in would answer for these fields, made once
        issue["fields"] = {**varied_fields(int(issue["id"]) - 10000, cloud=cloud), **issue["fields"]}
    print(jira.url, flush=True)
    sys.stdin.read()  # until the bench closes our stdin (or dies)
    jira.close()


class WholeIssues(StandIn):
    def __init__(self, deployment: str):
        args = [sys.executable, __file__, "--serve", deployment]
        self.process = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise SystemExit("the stand-in Jira did not start")


class Stages:
    """Accumulated seconds per stage, by wrapping the writer's parts (the same code runs)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, owner, name: str, stage: str, *, off: bool = False) -> None:
        original = getattr(owner, name)
        seconds = self.seconds

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return None if off else original(*args, **kwargs)
            finally:
                seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started

        timed.original = original
        setattr(owner, name, timed)

    @staticmethod
    def unwrap(owner, name: str) -> None:
        setattr(owner, name, getattr(owner, name).original)


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU seconds of another process so far (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent during ``take()``: this process, the thread that runs ``take()``
    (the writer; the Jira reads run on the source's threads), and the stand-in's process.

    The stand-in's share is work a real Jira does on its own servers; here it runs on the
    same two cores, in parallel with the snapshot.
    """

    def __init__(self, standin_pid: int):
        self.standin_pid = standin_pid
        self.seconds: dict[str, float] = {}

    def wrap(self, owner, name: str) -> None:
        original = getattr(owner, name)
        meter = self

        def measured(*args, **kwargs):
            ours, writer, standin = time.process_time(), time.thread_time(), cpu_seconds_of(meter.standin_pid)
            try:
                return original(*args, **kwargs)
            finally:
                meter.seconds["ours"] = time.process_time() - ours
                meter.seconds["writer"] = time.thread_time() - writer
                after = cpu_seconds_of(meter.standin_pid)
                if standin is not None and after is not None:
                    meter.seconds["stand-in"] = after - standin

        measured.original = original
        setattr(owner, name, measured)

    def text(self) -> str:
        s = self.seconds
        if "ours" not in s:
            return ""
        readers = max(0.0, s["ours"] - s["writer"])
        standin = f", stand-in Jira {s['stand-in']:.2f}" if "stand-in" in s else ""
        return f"CPU: ours {s['ours']:.2f} (writer {s['writer']:.2f}, Jira reads and rest {readers:.2f}){standin}"


def run(macro, deployment: str, jira, fields: list[str], *, rows_only: bool) -> tuple[float, dict, CpuMeter]:
    from macros import chart_data, snapshots, tables

    url = jira.url
    cpu = CpuMeter(jira.process.pid)
    cpu.wrap(snapshots, "take")
    stages = Stages()
    parts = [
        (snapshots, "_to_json", "row JSON + insert", False),
        (snapshots, "_insert_rows", "row JSON + insert", False),
        (tables.RowIndexer, "add", "index", rows_only),
        (tables.RowIndexer, "flush", "index", rows_only),
        (chart_data.ChartTally, "add", "chart tally", rows_only),
        (snapshots, "_finish", "finish", False),
    ]
    for owner, name, stage, off in parts:
        stages.wrap(owner, name, stage, off=off)
    try:
        seconds, rows = take_snapshot(macro, [(BIG, fields)], source_for(deployment, url))
    finally:
        for owner, name, _, _ in parts:
            Stages.unwrap(owner, name)
        Stages.unwrap(snapshots, "take")
    if isinstance(rows, str) or len(rows) != ISSUES:
        raise SystemExit(f"the snapshot failed: {rows if isinstance(rows, str) else len(rows)}")
    stages.seconds["Jira read + parse, rest"] = seconds - sum(stages.seconds.values())
    return seconds, stages.seconds, cpu


def best_of_two(macro, deployment, jira, fields, *, rows_only):
    return min((run(macro, deployment, jira, fields, rows_only=rows_only) for _ in range(2)), key=lambda r: r[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one real-shaped Cloud take")
    parser.add_argument("--only", choices=sorted(COLUMN_SETS), help="one column set")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    ok = True
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp)
        macro = make_macro()
        for deployment in ("cloud", "datacenter"):
            jira = WholeIssues(deployment)
            try:
                for label, fields in COLUMN_SETS.items():
                    if args.only and label != args.only:
                        continue
                    base, _, _ = best_of_two(macro, deployment, jira, fields, rows_only=True)
                    full, full_stages, cpu = best_of_two(macro, deployment, jira, fields, rows_only=False)
                    met = full < BAR
                    ok &= met
                    split = ", ".join(f"{k} {v:.2f}" for k, v in sorted(full_stages.items()))
                    lines.append(
                        f"  {deployment:<10} {label:<11} ({len(fields)} columns): {full:.2f} s "
                        f"(bar < {BAR:.0f} s, {'met' if met else 'MISSED'}) | rows alone {base:.2f} s "
                        f"(ratio {full / base:.2f}) | {split} | {cpu.text()}"
                    )
                if args.profile and deployment == "cloud":
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    profile.enable()
                    take_snapshot(macro, [(BIG, REAL_FIELDS)], source_for(deployment, jira.url))
                    profile.disable()
                    pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            finally:
                jira.close()
    print(f"Snapshot processing bench: {ISSUES:,} issues through take(), SQLite, stand-in Jira with no latency "
          "(best of two; seconds)")
    print("\n".join(lines))
    print(f"  all bars met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
