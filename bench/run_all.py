"""Run every benchmark in bench/ in turn (`make bench`); each prints its own figures.

Each one measures its baseline in the same run, prints its figures as ratios to it, and
exits non-zero when it misses its bar; this exits non-zero when any of them did.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Quick ones first; each stops by itself and exits non-zero when its bar is not met.
ORDER = ["bench_jql_search.py", "bench_jira_memory.py", "bench_snapshot_50k.py", "bench_trigger.py", "load_mixed.py"]


def main() -> int:
    scripts = [HERE / name for name in ORDER if (HERE / name).exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p not in scripts and not p.stem.endswith(("_common", "_settings", "_urls")))
    failed = []
    for script in scripts:
        print(f"\n===== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode:
            failed.append(script.name)
    print(f"\n{len(scripts) - len(failed)} of {len(scripts)} benchmarks met their bars" + (f"; not: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
