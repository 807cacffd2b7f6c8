"""Costly inputs (issue 13): page bodies and Sample-source JQL, against baselines of the same run.

Page bodies: each hostile body is rendered by the site's renderer (cmark + nh3, with its
limits) and by the renderer it replaced (python-markdown + nh3) at 8,000 characters, the
size the review measured; the site's renderer also at the longest body a page may have.
The bar: no body of the allowed size takes more than 100 ms (the best of three runs).
Times are the process's CPU time: the work a request costs, whoever else shares the machine.

JQL: hostile queries on the Sample source, each against a plain query of the same shape
on the same data (one term without wildcards, 200 OR terms without wildcards). The bar:
none takes more than 20 times its plain query; deep nesting is refused at once.

    .venv/bin/python bench/bench_hostile_input.py            # all of it (~1 min: the old renderer is slow)
    .venv/bin/python bench/bench_hostile_input.py --quick    # without the old renderer
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snapshots_site.settings")
os.environ["JIRA_URL"] = ""

import django

django.setup()

from macros.rendering import MAX_BODY_CHARS, render_body  # noqa: E402
from macros.sources.base import SourceError  # noqa: E402
from macros.sources.sample import Sample  # noqa: E402

BODY_BAR = 0.100
JQL_BAR_RATIO = 20


def bodies(n: int) -> dict[str, str]:
    return {
        "plain prose (baseline)": ("The quick brown fox jumps over the lazy dog. " * (n // 45 + 1))[:n],
        "[ x n": "[" * n,
        "![ x n/2": "![" * (n // 2),
        "[a x n/2": "[a" * (n // 2),
        "[]( x n/3": "[](" * (n // 3),
        "<[ x n/2": "<[" * (n // 2),
        "<a  x n/3": "<a " * (n // 3),
        "`` ` x n/4": "`` `" * (n // 4),
        "<http:// x n/8": "<http://" * (n // 8),
        "*_ x n/2": "*_" * (n // 2),
        "*a x n/2": "*a" * (n // 2),
        "> x n (nested quotes)": ">" * n + " x",
        "nested lists": "".join(" " * (2 * i) + "- x\n" for i in range(int((n / 2) ** 0.5))),
        "<div> x n/5": "<div>" * (n // 5),
        "table 60 cols": "|" + "a|" * 60 + "\n|" + "-|" * 60 + "\n" + ("|x" * 60 + "|\n") * (n // 130),
        "link references": "\n".join(f"[r{i}]: http://x/{i}" for i in range(n // 40)) + "\n" + " ".join(f"[a][r{i}]" for i in range(n // 40)),
    }


def best_of(function, text: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        function(text)
        times.append(time.process_time() - started)
    return min(times)


def old_renderer(text: str) -> str:
    import markdown
    import nh3

    from macros.rendering import _ALLOWED_TAGS

    html = markdown.markdown(text, extensions=["tables", "sane_lists"])
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}}, url_schemes={"http", "https", "mailto"})


def bench_bodies(quick: bool) -> bool:
    ok = True
    print(f"Page bodies: best of 3 (old renderer: 1 run); bar {BODY_BAR * 1000:.0f} ms at up to {MAX_BODY_CHARS:,} characters")
    print(f"{'body':26s} {'old 8k':>10s} {'new 8k':>9s} {'old/new':>8s} {'new max':>9s} {'max/prose':>9s}")
    small, large = bodies(8000), bodies(MAX_BODY_CHARS)
    prose = best_of(render_body, large["plain prose (baseline)"])
    for name in small:
        old = None if quick else best_of(old_renderer, small[name], runs=1)
        new_small = best_of(render_body, small[name])
        new_large = best_of(render_body, large[name][:MAX_BODY_CHARS])
        ok &= new_large <= BODY_BAR
        old_text = "-" if old is None else f"{old * 1000:8.1f}ms"
        ratio = "-" if old is None else f"{old / new_small:7.0f}x"
        print(f"{name:26s} {old_text:>10s} {new_small * 1000:7.1f}ms {ratio:>8s} {new_large * 1000:7.1f}ms {new_large / prose:8.1f}x")
    return ok


def bench_jql() -> bool:
    sample = Sample()
    sample.search("ORDER BY key")  # load and warm the dataset
    # Each hostile query beside a plain one of the same shape: the bar is on the ratio.
    pairs = {
        "16 stars in a ~ term": ('summary ~ "login"', 'summary ~ "c****************qqq"'),
        "20 stars in a ~ term": ('summary ~ "login"', 'summary ~ "c********************qqq"'),
        "40 stars, text field": ('text ~ "login"', 'text ~ "a' + "*b" * 40 + '"'),
        "?* mix": ('summary ~ "login"', 'summary ~ "q' + "*?" * 30 + 'qqqq"'),
        "200 OR wildcard terms": (" OR ".join(f'summary ~ "w{i}x"' for i in range(200)), " OR ".join(f'summary ~ "w{i}*x"' for i in range(200))),
        "700 parentheses": ("project = WEB", "(" * 700 + "project = WEB" + ")" * 700),
        "1,200 NOT": ("project = WEB", "NOT " * 1200 + "project = WEB"),
        "1,200 !": ("project = WEB", "!" * 1200 + "(project = WEB)"),
    }
    print(f"\nJQL on the Sample source: best of 3, each against a plain query of the same shape (bar {JQL_BAR_RATIO}x)")
    print(f"  {'query':24s} {'plain':>9s} {'hostile':>10s} {'ratio':>7s}  outcome")
    worst = 0.0
    for name, (plain, hostile) in pairs.items():
        base, _ = _timed_search(sample, plain)
        took, outcome = _timed_search(sample, hostile)
        worst = max(worst, took / base)
        print(f"  {name:24s} {base * 1000:7.1f}ms {took * 1000:8.1f}ms {took / base:6.1f}x  {outcome}")
    return worst <= JQL_BAR_RATIO


def _timed_search(sample: Sample, jql: str) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(3):
        started = time.process_time()
        try:
            outcome = f"{len(sample.search(jql))} issues"
        except SourceError as exc:
            outcome = "refused: " + str(exc)[:60]
        except RecursionError:
            outcome = "RecursionError"
        best = min(best, time.process_time() - started)
    return best, outcome


def main() -> int:
    quick = "--quick" in sys.argv
    ok_bodies = bench_bodies(quick)
    ok_jql = bench_jql()
    print(f"\nbodies {'met' if ok_bodies else 'MISSED'} their bar; JQL {'met' if ok_jql else 'MISSED'} its bar")
    return 0 if ok_bodies and ok_jql else 1


if __name__ == "__main__":
    sys.exit(main())
