"""A typical JQL search over the whole Sample data set, against a plain Python filter.

The query, ``project in (WEB, MOB) AND statusCategory != Done AND text ~ "screen" ORDER
BY priority DESC, updated DESC``, goes through ``Sample.search_pages`` (parse, validate,
compile, evaluate, sort, page, project fields). The baseline, measured in the same run
over the same issues: a hand-written Python filter and sort doing the same selection (a
substring test standing in for the text match). Bar (exit status 1 when missed): the
search takes at most ``BAR`` times the plain filter's median.

    .venv/bin/python bench/bench_jql_search.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snapshots_site.settings")

JQL = 'project in (WEB, MOB) AND statusCategory != Done AND text ~ "screen" ORDER BY priority DESC, updated DESC'
FIELDS = ["summary", "status", "priority", "updated", "project", "description"]
ROUNDS = 60
BAR = 30.0
RANKS = {"Highest": 0, "High": 1, "Medium": 2, "Low": 3, "Lowest": 4}


def _median_seconds(work) -> float:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _text(value) -> str:
    from macros.jql import adf_text

    return value if isinstance(value, str) else adf_text(value)


def main() -> int:
    import django

    django.setup()
    from macros.sources.sample import Sample

    source = Sample()
    issues = [issue for page in source.search_pages("", FIELDS, page_size=1000) for issue in page.issues]

    def search():
        return [i["key"] for page in source.search_pages(JQL, ["summary", "status", "priority"]) for i in page.issues]

    def plain_filter():
        kept = [
            i for i in issues
            if i["fields"]["project"]["key"] in ("WEB", "MOB")
            and i["fields"]["status"]["statusCategory"]["key"] != "done"
            and ("screen" in i["fields"]["summary"].lower() or "screen" in _text(i["fields"].get("description")).lower())
        ]
        kept.sort(key=lambda i: i["fields"]["updated"], reverse=True)
        kept.sort(key=lambda i: RANKS[i["fields"]["priority"]["name"]])
        return [i["key"] for i in kept]

    found, plain = search(), plain_filter()  # warm: the first search reads each field once
    search_s, plain_s = _median_seconds(search), _median_seconds(plain_filter)
    ratio = search_s / plain_s
    print(f"JQL search over the Sample data ({len(issues)} issues), median of {ROUNDS}:")
    print(f"  Sample.search_pages: {search_s * 1000:.2f} ms, {len(found)} issues")
    print(f"  plain Python filter: {plain_s * 1000:.2f} ms, {len(plain)} issues (the baseline)")
    print(f"  ratio {ratio:.1f}x (bar {BAR:.0f}x): {'ok' if ratio <= BAR else 'MISSED'}")
    same = set(found) <= set(plain) and len(found) > 0
    print(f"  the search's issues are among the plain filter's: {same}")
    return 0 if ratio <= BAR and same else 1


if __name__ == "__main__":
    sys.exit(main())
