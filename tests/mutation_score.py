"""Mutation scores per module from mutmut's results (`make mutation`), and CI's sample.

    .venv/bin/python tests/mutation_score.py              # after `mutmut run`: the score per module
    .venv/bin/python tests/mutation_score.py --sample 30  # CI: run ~30 random mutants, score them

mutmut keeps its results in ``mutants/<module>.meta``. The score is killed (timeouts
count as killed, as mutmut counts them) over all mutants that were tested (one no test
covers counts as not killed). A sample
run fails when fewer than ``--floor`` of its mutants were killed: a sign that the
mutated code is not what the tests run, or that the tests stopped testing much.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [str(Path(sys.executable).parent / "mutmut")]
KILLED = {1, 3, 36, -24, 24, 152, 255}  # mutmut's exit codes for "killed" and "timeout"
SURVIVED = {0}
NO_TESTS = {5, 33}  # no test covers the mutated function: not killed either


def modules() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return [line.strip() for line in config.get("mutmut", "only_mutate").splitlines() if line.strip()]


def results() -> dict[str, dict[str, int | None]]:
    """Exit code by mutant name, per module."""
    found = {}
    for module in modules():
        meta = ROOT / "mutants" / f"{module}.meta"
        if meta.exists():
            found[module] = json.loads(meta.read_text())["exit_code_by_key"]
    return found


def report(by_module: dict[str, dict[str, int | None]], only: set[str] | None = None) -> tuple[int, int]:
    all_killed = all_tested = 0
    for module, codes in by_module.items():
        if only is not None:
            codes = {name: code for name, code in codes.items() if name in only}
            if not codes:
                continue
        counts = Counter(
            "killed" if c in KILLED else "survived" if c in SURVIVED or c in NO_TESTS else "not checked" if c is None else "other"
            for c in codes.values()
        )
        tested = counts["killed"] + counts["survived"]
        all_killed += counts["killed"]
        all_tested += tested
        score = f"{100 * counts['killed'] / tested:5.1f} %" if tested else "    -  "
        print(f"  {module:<28} {score}  killed {counts['killed']:>4} of {tested:>4} tested"
              + (f", {counts['not checked']} not checked" if counts["not checked"] else "")
              + (f", {counts['other']} other (suspicious, interrupted…)" if counts["other"] else ""))
        for name, code in sorted(codes.items()):
            if code in SURVIVED or code in NO_TESTS:
                print(f"      {'survived' if code in SURVIVED else 'no tests'}: {name}")
    if all_tested:
        print(f"  {'all':<28} {100 * all_killed / all_tested:5.1f} %  killed {all_killed} of {all_tested}")
    return all_killed, all_tested


def sample(size: int, floor: float, seed: int, children: int = 2) -> int:
    os.chdir(ROOT)
    # First run: mutants made, the tests' coverage collected; the filter matches nothing.
    subprocess.run([*MUTMUT, "run", "--max-children", str(children), "no-such-mutant-*"], capture_output=True)
    names = sorted(name for codes in results().values() for name in codes)
    if not names:
        print("mutation sample: mutmut made no mutants (see `mutmut run`)")
        return 1
    chosen = random.Random(seed).sample(names, min(size, len(names)))
    print(f"mutation sample: {len(chosen)} of {len(names)} mutants (seed {seed})", flush=True)
    subprocess.run([*MUTMUT, "run", "--max-children", str(children), *chosen], capture_output=True)
    killed, tested = report(results(), only=set(chosen))
    if tested < len(chosen) * 0.9:
        print(f"mutation sample: only {tested} of {len(chosen)} mutants were tested")
        return 1
    share = killed / tested
    print(f"mutation sample: {share:.0%} killed (floor {floor:.0%})")
    return 0 if share >= floor else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, help="run this many random mutants and score them")
    parser.add_argument("--floor", type=float, default=0.4, help="the share a sample must kill")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("MUTATION_SEED", random.randrange(1 << 30))))
    # Each child runs its tests in a test database of its own (the root conftest.py).
    parser.add_argument("--children", type=int, default=2, help="mutmut children at once")
    args = parser.parse_args()
    if args.sample:
        return sample(args.sample, args.floor, args.seed, args.children)
    by_module = results()
    if not by_module:
        print("No mutmut results: run `make mutation` first.")
        return 1
    print("Mutation score per module (mutmut, the fast tests):")
    report(by_module)
    return 0


if __name__ == "__main__":
    sys.exit(main())
