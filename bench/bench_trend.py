"""Server time of a 52-snapshot trend on the page's History (issue 15), against the same
History without the chart, measured alternately in the same run.

A macro gets 52 weekly snapshots through the real snapshot service (``take``), each of
``--issues`` issues with story points, and stickers on a few of them. Then, in this
process with the shipped settings (DEBUG off), Django's test client asks for, in turns:

* the History page as shipped (the trend of the macro, its table, the version list);
* the same History page with the trends left out (``chart_views.page_trends`` answering
  no trend): the baseline;
* the trend alone: ``trend_of`` + its template, the part the trend adds;
* the trend's sum of story points (a burn-down), and its CSV;
* the page of one ``--big-issues`` snapshot (50,000) with a bar chart of story points by
  assignee, against the same page without the chart.

The numbers come from the counts stored with each snapshot, so the figures do not grow
with ``--issues``: try ``--issues 5000``. Counting them is a cost of taking a snapshot:
the run also times ``ChartTally`` over 50,000 generated issues (bench_jira_memory's, with
bench_snapshot_50k's ten columns) against ``json.dumps`` of the same issues, which every
row write does anyway.

    .venv/bin/python bench/bench_trend.py                       # SQLite in a temporary file
    .venv/bin/python bench/bench_trend.py --database-url postgres://postgres@127.0.0.1:5432/chart15_db

Bar: the trend alone (median) under 100 ms; the History page with the trend within
100 ms of the page without it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SNAPSHOTS = 52
BAR_MS = 100.0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=1000, help="issues per snapshot (default 1000)")
    parser.add_argument("--rounds", type=int, default=30, help="timed requests of each kind (default 30)")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary file")
    parser.add_argument("--big-issues", type=int, default=50_000, help="issues of the one big snapshot charted (0: skip)")
    return parser.parse_args()


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "snapshots_site.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


FIELDS = ["key", "summary", "status", "assignee", "priority", "customfield_10016"]
CHART = {"type": "bar", "group_by": "assignee", "measure": "customfield_10016", "placement": "above"}


def weekly_source(issues: int, week: int):
    """A source whose ``issues`` move from To Do to Done over the 52 weeks."""
    from macros.sources.base import FieldInfo, Identity, ResultPage, Source

    categories = [("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")]

    class Week(Source):
        name = "bench"

        def search_pages(self, jql, fields, *, page_size=100):
            done_share = week / SNAPSHOTS
            for start in range(0, issues, page_size):
                found = []
                for n in range(start, min(start + page_size, issues)):
                    position = n / issues
                    state = categories[2] if position < done_share else categories[1] if position < done_share + 0.15 else categories[0]
                    found.append({
                        "id": str(10000 + n), "key": f"WEB-{n + 1}",
                        "fields": {
                            "summary": f"Issue {n + 1}",
                            "status": {"name": state[0], "statusCategory": {"key": state[1], "name": state[0]}},
                            "assignee": {"accountId": f"acc{n % 7}", "displayName": f"Person {n % 7}", "active": True},
                            "priority": {"name": ["High", "Medium", "Low"][n % 3]},
                            "customfield_10016": [1, 2, 3, 5, 8][n % 5],
                        },
                    })
                yield ResultPage(found, issues)

        def fields(self):
            return [FieldInfo("summary", "Summary"), FieldInfo("status", "Status"), FieldInfo("assignee", "Assignee"),
                    FieldInfo("priority", "Priority"), FieldInfo("customfield_10016", "Story Points", True, "number")]

        def myself(self):
            return Identity("Bench", "bench")

    return Week()


def page_with_macro(user, space, title: str):
    from macros import pages as page_service

    page = page_service.create_page(space, title, "Weekly status.", user)
    macro = page_service.add_macro(page_service.get_draft(page, user), "Release scope")
    page_service.save_macro_draft(macro, {
        "title": "Release scope",
        "levels": [{"jql": "project = WEB", "fields": FIELDS}],
        "display": {"page_size": 25, "show_count": True},
    })
    page_service.publish(page, user)
    macro.refresh_from_db()
    return page, macro


def snapshot(macro, issues: int, week: int) -> None:
    import macros.sources as sources
    from macros.models import SnapshotJob
    from macros.snapshots import request_snapshot, take

    sources._cached = {}
    sources._build = lambda *config: weekly_source(issues, week)
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION)
    take(job.pk)


def build(issues: int):
    """A page whose macro has 52 weekly snapshots of ``issues`` issues each."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from macros.models import PageVersion, Snapshot, Space, SpacePermission

    user = get_user_model().objects.create_user("lead", "lead@example.com", "bench-password-1")
    space = Space.objects.create(key="bench", name="Bench")
    SpacePermission.objects.create(space=space, user=user, level=SpacePermission.Level.EDIT)
    page, macro = page_with_macro(user, space, "Release train")
    started = time.perf_counter()
    for week in range(SNAPSHOTS):
        snapshot(macro, issues, week)
    taking = time.perf_counter() - started
    first = timezone.now() - timedelta(days=7 * SNAPSHOTS)
    for i, version in enumerate(page.versions.filter(kind="snapshot").order_by("number")):
        moment = first + timedelta(days=7 * i)
        PageVersion.objects.filter(pk=version.pk).update(created_at=moment)
        Snapshot.objects.filter(pk=version.snapshot_id).update(taken_at=moment)
        if i % 13 == 12:
            version.add_sticker(f"Sprint {i // 13 + 1} end", user)
    return user, space, page, macro, taking


def big_chart(client, user, space, issues: int, rounds: int) -> None:
    """The page of one ``issues``-issue snapshot with a bar chart (story points by assignee) against the
    same page without it, in turns."""
    from macros.models import Macro

    page, macro = page_with_macro(user, space, "Big release")
    started = time.perf_counter()
    snapshot(macro, issues, SNAPSHOTS // 2)
    taking = time.perf_counter() - started
    displays = {"without the chart (baseline)": dict(macro.display), "with a bar chart": {**macro.display, "chart": CHART}}
    samples: dict[str, list[float]] = {name: [] for name in displays}

    def get(name: str) -> None:
        body = client.get(page.get_absolute_url()).content
        assert (b'class="chart-svg bars"' in body) == (name != "without the chart (baseline)")

    for round_number in range(rounds + 1):
        for name, display in displays.items():
            Macro.objects.filter(pk=macro.pk).update(display=display)
            elapsed = timed(lambda name=name: get(name))
            if round_number:  # the first round warms up
                samples[name].append(elapsed)
    print(f"the page of one {issues:,}-issue snapshot (taken in {taking:.1f} s), medians in ms:")
    for name, values in samples.items():
        print(f"  {name:<40} {statistics.median(values):7.1f}")


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(args.database_url or f"sqlite:///{tmp}/bench.sqlite3")
        from django.db import connection
        from django.template.loader import render_to_string
        from django.test import Client
        from django.test.client import RequestFactory

        from macros import chart_views
        from macros.chart_data import trend_of

        user, space, page, macro, taking = build(args.issues)
        client = Client()
        client.force_login(user)
        history = f"/pages/{page.pk}/history/"
        shipped = chart_views.page_trends

        def page_with_trend():
            response = client.get(history)
            assert response.status_code == 200 and b"Trend of Release scope" in response.content

        def page_without_trend():
            chart_views.page_trends = lambda request, page: []
            try:
                response = client.get(history)
                assert response.status_code == 200 and b"Trend of" not in response.content
            finally:
                chart_views.page_trends = shipped

        request = RequestFactory().get(history)
        request.user = user

        def trend_alone(measure: str = ""):
            def run():
                item = shipped(request, page)[0] if not measure else None
                if measure:
                    request.GET = request.GET.copy()
                    request.GET[f"measure{macro.pk}"] = measure
                    item = shipped(request, page)[0]
                    request.GET = RequestFactory().get(history).GET
                html = render_to_string("macros/charts/_trend.html", {"item": item, "page": page})
                assert item["trend"].points.__len__() == SNAPSHOTS and "Trend of" in html
            return run

        def trend_csv():
            response = client.get(f"/pages/{page.pk}/macros/{macro.public_id}/trend.csv")
            assert response.status_code == 200 and len(b"".join(response.streaming_content).splitlines()) == SNAPSHOTS + 1

        kinds = {
            "History without the trend (baseline)": page_without_trend,
            "History with the trend": page_with_trend,
            "trend alone (data + SVG + table)": trend_alone(),
            "trend alone, sum of Story Points": trend_alone("customfield_10016"),
            "trend CSV": trend_csv,
        }
        for call in kinds.values():  # warm up: templates, the first query plans
            call()
        samples: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(args.rounds):
            for name, call in kinds.items():
                samples[name].append(timed(call))

        trend = trend_of(macro)
        print(f"{connection.vendor}: {SNAPSHOTS} snapshots of {args.issues} issues taken in {taking:.1f} s; "
              f"trend points {len(trend.points)}, {args.rounds} rounds, medians (p90) in ms:")
        medians = {}
        for name, values in samples.items():
            values.sort()
            medians[name] = statistics.median(values)
            p90 = values[int(len(values) * 0.9) - 1]
            print(f"  {name:<40} {medians[name]:7.1f}  ({p90:.1f})")
        added = medians["History with the trend"] - medians["History without the trend (baseline)"]
        alone = medians["trend alone (data + SVG + table)"]
        print(f"  the trend adds {added:.1f} ms to the History page "
              f"({medians['History with the trend'] / medians['History without the trend (baseline)']:.2f}× the baseline); "
              f"the trend alone takes {alone:.1f} ms (bar: < {BAR_MS:.0f} ms)")
        ok = alone < BAR_MS and added < BAR_MS
        print("bar met" if ok else "BAR NOT MET")
        if args.big_issues:
            big_chart(client, user, space, args.big_issues, max(5, args.rounds // 3))
        tally_cost()
        connection.close()
        return 0 if ok else 1


def tally_cost(issues: int = 50_000) -> None:
    import json

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_jira_memory import issue
    from bench_snapshot_50k import FIELDS

    from macros.chart_data import ChartTally, status_category

    generated = [issue(n, cloud=True) for n in range(issues)]
    columns = [{"id": f, "name": f} for f in FIELDS]
    started = time.perf_counter()
    for data in generated:
        json.dumps(data)
    dumps = time.perf_counter() - started
    started = time.perf_counter()
    counter = ChartTally(columns)
    for data in generated:
        counter.add(data, status_category(data))
    counts, groups = counter.counts(), counter.group_counts()
    tallying = time.perf_counter() - started
    grouped = sorted(f for f, g in groups.items() if g is not None)
    print(f"tallying {issues:,} issues ({len(FIELDS)} columns): {tallying:.2f} s; json.dumps of the same issues "
          f"(baseline): {dumps:.2f} s ({tallying / dumps:.2f}×); grouped: {', '.join(grouped)}; summed: {', '.join(counts['sums'])}; "
          f"stored group counts {len(json.dumps(groups)) / 1024:.1f} KiB")


if __name__ == "__main__":
    sys.exit(main())
