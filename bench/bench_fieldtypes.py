"""What reading every field as Jira shows it costs (macros/fieldtypes).

Measured in one run, on the same issues (real-shaped Cloud and Data Center JSON of every
common field type, macros/tests/jira_fields.py):

* **cells**: a row's cells as text through the renderer registry, against two baselines —
  ``str(value)`` (the raw data the issue complains about, the cheapest thing a cell can
  show) and the shape-guessing ``value_text`` this registry replaced (kept below, as it
  was). Reported as cells/s and as ratios.
* **JSON export row**: the row as the export writes it now (decode the stored JSON, render
  the readable ``cells``, copy the raw issue text) against the row as it was written
  before (the raw text copied, nothing decoded).
* **page table**: one page of 25 rows × 51 columns rendered to HTML cells.

Bars, as ratios to baselines of the same run (the run exits non-zero when one is missed):
reading a cell right costs at most 3× guessing it (the old ``value_text``); a JSON-export
row with its readable cells costs at most 2× the CSV row of the same cells; an HTML cell
costs at most 5× its text.

    .venv/bin/python bench/bench_fieldtypes.py [--issues 2000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snapshots_site.settings")

import django  # noqa: E402

django.setup()

from macros.fieldtypes import cell_html, cell_text  # noqa: E402
from macros.tests.jira_fields import COLUMNS, varied_fields  # noqa: E402


# The shape-guessing renderer this registry replaced, as it was (the baseline).
def old_value_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        if len(value) >= 19 and value[4] == "-" and value[10] == "T":
            try:
                return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").strftime("%Y-%m-%d %H:%M")
            except ValueError:
                pass
        return value
    if isinstance(value, list):
        return ", ".join(filter(None, (old_value_text(v) for v in value)))
    if isinstance(value, dict):
        if "key" in value and "fields" in value:
            return f"{value['key']} {value['fields'].get('summary', '')}".strip()
        for key in ("displayName", "name", "value", "key"):
            if value.get(key) is not None:
                return str(value[key])
    return str(value)


def old_cell_text(issue: dict, field_id: str) -> str:
    if field_id == "key":
        return issue.get("key", "")
    return old_value_text((issue.get("fields") or {}).get(field_id))


def raw_cell(issue: dict, field_id: str) -> str:
    return issue.get("key", "") if field_id == "key" else str((issue.get("fields") or {}).get(field_id))


def best_of(runs: int, work) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=2000)
    args = parser.parse_args()
    issues = [
        {"id": str(n), "key": f"WEB-{n}", "fields": varied_fields(n, cloud=n % 2 == 0)} for n in range(1, args.issues + 1)
    ]
    ids = [c["id"] for c in COLUMNS]
    cells = len(issues) * len(COLUMNS)
    print(f"{len(issues)} issues × {len(COLUMNS)} columns = {cells:,} cells (half Cloud, half Data Center shapes)")

    raw = best_of(3, lambda: [raw_cell(i, f) for i in issues for f in ids])
    old = best_of(3, lambda: [old_cell_text(i, f) for i in issues for f in ids])
    new = best_of(3, lambda: [cell_text(i, c) for i in issues for c in COLUMNS])
    html = best_of(3, lambda: [cell_html(i, c, "https://jira.example.com") for i in issues for c in COLUMNS])
    print(f"cells as text: str(value) {cells / raw:,.0f}/s · old guesser {cells / old:,.0f}/s · registry {cells / new:,.0f}/s"
          f" · registry HTML {cells / html:,.0f}/s")
    print(f"  registry / str(value) = {new / raw:.2f}×   registry / old guesser = {new / old:.2f}×   HTML / text = {html / new:.2f}×")

    stored = [json.dumps(i) for i in issues]
    writer = csv.writer(io.StringIO())

    def export_before():
        for n, text in enumerate(stored):
            f'{{"position": {n}, "level": 1, "parent_position": null, "key": "K", "issue": {text}}}'

    def export_csv():
        for text in stored:
            issue = json.loads(text)
            writer.writerow([cell_text(issue, c) for c in COLUMNS])

    def export_now():
        for n, text in enumerate(stored):
            issue = json.loads(text)
            readable = {c["id"]: cell_text(issue, c) for c in COLUMNS}
            f'{{"position": {n}, "level": 1, "parent_position": null, "key": "K", "cells": {json.dumps(readable, ensure_ascii=False)}, "issue": {text}}}'

    before = best_of(3, export_before)
    csv_rows = best_of(3, export_csv)
    now = best_of(3, export_now)
    per_row = now / len(stored) * 1000
    print(f"JSON export rows: raw copy (before) {len(stored) / before:,.0f} rows/s · with readable cells {len(stored) / now:,.0f} rows/s"
          f" ({per_row:.3f} ms a row of {len(COLUMNS)} columns) · CSV rows {len(stored) / csv_rows:,.0f} rows/s")
    print(f"  JSON row / CSV row = {now / csv_rows:.2f}×")

    page = issues[:25]
    table = best_of(5, lambda: [[cell_html(i, c, "https://jira.example.com") for c in COLUMNS] for i in page])
    print(f"one table page (25 rows × {len(COLUMNS)} columns): {table * 1000:.1f} ms")

    failures = []
    if new / old > 3:
        failures.append(f"reading a cell right costs {new / old:.1f}× guessing it (bar: 3×)")
    if now / csv_rows > 2:
        failures.append(f"a JSON export row costs {now / csv_rows:.1f}× its CSV row (bar: 2×)")
    if html / new > 5:
        failures.append(f"an HTML cell costs {html / new:.1f}× its text (bar: 5×)")
    for failure in failures:
        print("NOT MET:", failure)
    print("bars met" if not failures else "")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
