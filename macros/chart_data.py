"""The numbers behind the charts, counted once when a snapshot is taken.

A snapshot's rows never change once it is complete, so everything a chart shows is
tallied while the rows are written (``ChartTally``, fed by ``macros.snapshots``) and
stored on the snapshot:

* ``Snapshot.counts["sums"]``: per numeric field, its sum per status category
  (``{"customfield_10016": {"To Do": 13.0, "Done": 8.0}}``) — the trend's burn-down;
* ``Snapshot.group_counts``: per column, the issues grouped by the column's value, each
  group's count and its numeric sums — the chart display option. A column with more than
  ``MAX_GROUPS`` distinct values (summaries, dates) is stored as ``None``: no chart of it.

Snapshots taken before this existed are tallied once from their rows (``ensure_counted``,
also run by the data migration) and stored. Charts then read a few small JSON values,
whatever the snapshot's size.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils.timezone import localtime

from macros.fieldtypes import renderer_for
from macros.fieldtypes.memo import UNKEYED, remembered
from macros.fieldtypes.renderers import Duration
from macros.models import Macro, Snapshot, Sticker

COUNTS_VERSION = 1
MAX_GROUPS = 200
# Never grouped: free text, one value per issue. Other columns with too many values are
# dropped by MAX_GROUPS as they are counted.
UNGROUPED = frozenset({"key", "summary", "description", "environment"})
STATUS_CATEGORY = "statusCategory"  # the virtual "field" grouping by status category
CATEGORY_ORDER = {"To Do": 0, "In Progress": 1, "Done": 2}
CATEGORY_KEYS = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
# Priorities read best in their own order (Cloud's five and Data Center's five in one list).
PRIORITY_ORDER = {
    name: rank
    for rank, name in enumerate(["blocker", "highest", "critical", "high", "major", "medium", "minor", "low", "trivial", "lowest"])
}
NONE_LABEL = "None"
NONE_LABELS = {"assignee": "Unassigned", "reporter": "Unassigned"}


class FieldRenderer(Protocol):
    summable: bool

    def text(self, value: Any) -> str: ...

    def number(self, value: Any) -> float | None: ...


class _NumbersByValue:
    """A column stored without Jira's schema (snapshots taken before columns kept it):
    its numbers are the values that are numbers."""

    summable = True  # decided by the values: a column holding anything else is not summed

    def __init__(self, renderer: FieldRenderer):
        self.renderer = renderer

    def text(self, value: Any) -> str:
        return self.renderer.text(value)

    def number(self, value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)


def field_renderer(column: dict) -> FieldRenderer:
    """How one column's values read as group labels and numbers: the field type's renderer."""
    renderer = renderer_for(column)
    if not renderer.summable and not column.get("schema"):
        return _NumbersByValue(renderer)
    return renderer


# Numbers charted in another unit than Jira stores, by renderer type: time in hours, not seconds.
UNITS: dict[type, tuple[str, float]] = {Duration: ("hours", 1 / 3600)}


def unit_of(renderer: FieldRenderer) -> tuple[str, float]:
    return UNITS.get(type(renderer), ("", 1.0))


def field_value(issue: dict, field_id: str) -> Any:
    return (issue.get("fields") or {}).get(field_id)


def category_sort_key(name: str) -> tuple[int, str]:
    return CATEGORY_ORDER.get(name, 9), name


def number_text(value: float) -> str:
    """12 for 12.0, 12.5 for 12.5: counts and story points read like the table's numbers."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


# --------------------------------------------------------------------------------------
# Counting while the rows are written


@dataclass
class _Group:
    count: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    category: str = ""  # for status groups: the status's category, for its colour


class ChartTally:
    """Tallies a snapshot's level-1 issues for its charts, one issue at a time."""

    def __init__(self, columns: list[dict]):
        self.columns = [c for c in columns if c.get("id") and c["id"] != "key"]
        self.renderers = {c["id"]: field_renderer(c) for c in self.columns}
        self.summable = {c["id"] for c in self.columns if self.renderers[c["id"]].summable}
        self.not_numbers: set[str] = set()
        self.sums: dict[str, Counter] = {f: Counter() for f in self.summable}
        self._summing = sorted(self.summable)  # less those found holding something else
        self.units = {f: unit_of(self.renderers[f]) for f in self.summable}
        self.groups: dict[str, dict[str, _Group] | None] = {
            c["id"]: {} for c in self.columns if c["id"] not in UNGROUPED
        }
        # Per column: its labels and its number per distinct value (macros.fieldtypes.memo).
        self.label_memos: dict[str, dict] = {f: {} for f in self.groups}
        self.number_memos: dict[str, dict] = {f: {} for f in self.summable}
        self._labellers = {f: functools.partial(self._labels_of, f) for f in self.groups}

    def add(self, issue: dict, category: str, keys: dict | None = None) -> None:
        """Count one issue; ``keys``: its fields' ``value_keys``, when the writer has them already."""
        numbers: dict[str, float] = {}
        fields = issue.get("fields") or {}
        known = keys or {}
        for field_id in self._summing:
            value = fields.get(field_id)
            if value is None or value == "":
                continue
            number = remembered(self.number_memos[field_id], value, self.renderers[field_id].number,
                                known.get(field_id, UNKEYED))
            if number is None:
                self.not_numbers.add(field_id)
                self._summing = [f for f in self._summing if f != field_id]
            else:
                number *= self.units[field_id][1]
                numbers[field_id] = number
                self.sums[field_id][category] += number
        for field_id, groups in self.groups.items():
            if groups is None:
                continue
            value = fields.get(field_id)
            for label in remembered(self.label_memos[field_id], value, self._labellers[field_id],
                                    known.get(field_id, UNKEYED)):
                group = groups.get(label)
                if group is None:
                    if len(groups) >= MAX_GROUPS:
                        self.groups[field_id] = None
                        break
                    group = groups[label] = _Group()
                    if field_id == "status":
                        group.category = category
                group.count += 1
                for number_field, number in numbers.items():
                    group.sums[number_field] = group.sums.get(number_field, 0) + number

    def _labels_of(self, field_id: str, value: Any) -> list[str]:
        """The groups a value counts in (never changed: a list may be remembered for the next issue)."""
        renderer = self.renderers[field_id]
        if isinstance(value, list):
            # A multi-valued field (components, fix versions, labels): the issue counts
            # once in each of its values' groups.
            labels = [renderer.text([item]) for item in value]
            labels = [label for label in labels if label]
        else:
            text = renderer.text(value) if value is not None else ""
            labels = [text] if text else []
        return labels or [NONE_LABELS.get(field_id, NONE_LABEL)]

    def summed_fields(self) -> set[str]:
        return {f for f in self.summable if self.sums[f] and f not in self.not_numbers}

    def counts(self) -> dict:
        """What goes into ``Snapshot.counts`` beside the status categories."""
        summed = sorted(self.summed_fields())
        units = {f: self.units[f][0] for f in summed if self.units[f][0]}
        return {"sums": {f: dict(self.sums[f]) for f in summed}, **({"units": units} if units else {}), "charts": COUNTS_VERSION}

    def group_counts(self) -> dict:
        summed = self.summed_fields()
        out: dict[str, dict | None] = {}
        for field_id, groups in self.groups.items():
            if groups is None:
                out[field_id] = None
                continue
            out[field_id] = {
                label: {
                    "count": g.count,
                    "sums": {f: v for f, v in g.sums.items() if f in summed},
                    **({"category": g.category} if g.category else {}),
                }
                for label, g in groups.items()
            }
        return out


def status_category(issue: dict) -> str:
    status = (issue.get("fields") or {}).get("status") or {}
    category = status.get("statusCategory") or {}
    return category.get("name") or status.get("name") or "No status"


def tally(columns: list[list[dict]], level_one_issues: Iterable[dict]) -> tuple[dict, dict]:
    """``(counts additions, group counts)`` of a finished snapshot's level-1 issues."""
    counter = ChartTally(columns[0] if columns else [])
    for issue in level_one_issues:
        counter.add(issue, status_category(issue))
    return counter.counts(), counter.group_counts()


def is_counted(snapshot: Snapshot) -> bool:
    return snapshot.group_counts is not None and (snapshot.counts or {}).get("charts") == COUNTS_VERSION


def ensure_counted(snapshot: Snapshot) -> None:
    """Tally an older snapshot from its rows, once, and store it (its rows never change)."""
    if is_counted(snapshot) or not snapshot.complete:
        return
    issues = snapshot.rows.filter(level=1).order_by("position").values_list("data", flat=True).iterator(chunk_size=1000)
    more, groups = tally(snapshot.columns, issues)
    snapshot.counts = {**(snapshot.counts or {}), **more}
    snapshot.group_counts = groups
    Snapshot.objects.filter(pk=snapshot.pk).update(counts=snapshot.counts, group_counts=groups)


# --------------------------------------------------------------------------------------
# A trend: one macro's snapshots over time


@dataclass
class TrendPoint:
    snapshot_id: int
    version: int | None
    taken_at: datetime
    values: dict[str, float]  # per status category
    stickers: list[str]
    query_changed: bool = False  # its JQL is not the previous snapshot's: a jump may be the query's

    @property
    def total(self) -> float:
        return sum(self.values.values())

    @property
    def remaining(self) -> float:
        return self.total - self.values.get("Done", 0)

    def value(self, category: str) -> float:
        return self.values.get(category, 0)


@dataclass
class Trend:
    title: str
    measure: str  # "" for issue counts, else the summed field's id
    measure_name: str  # "Issues" or "Story Points"
    categories: list[str]
    points: list[TrendPoint]  # oldest first
    total_snapshots: int
    measures: list[tuple[str, str]]  # (id, name) a reader can choose: ("", "Issues"), …

    @property
    def omitted(self) -> int:
        return self.total_snapshots - len(self.points)

    @property
    def is_sum(self) -> bool:
        return bool(self.measure)

    def rows(self) -> list[dict]:
        """The table under the chart, as text: a 52-row table renders without template filters."""
        rows = []
        for p in self.points:
            local = localtime(p.taken_at)
            rows.append(
                {
                    "point": p,
                    "iso": local.isoformat(timespec="seconds"),
                    "taken": local.strftime("%Y-%m-%d %H:%M"),
                    "values": [number_text(p.value(c)) for c in self.categories],
                    "total": number_text(p.total),
                    "remaining": number_text(p.remaining),
                }
            )
        return rows


def trend_of(macro: Macro, measure: str = "", limit: int = 52) -> Trend:
    """The latest ``limit`` snapshots of ``macro`` as counts (or sums of ``measure``) per category."""
    finished = Snapshot.objects.finished().filter(macro=macro)
    latest = list(
        finished.order_by("-taken_at", "-pk")
        .annotate(uncounted=ExpressionWrapper(Q(group_counts__isnull=True), output_field=BooleanField()))
        .values("pk", "taken_at", "counts", "uncounted", "page_version__number", "levels")[:limit]
    )
    latest.reverse()
    total = len(latest) if len(latest) < limit else finished.count()
    uncounted = [row["pk"] for row in latest if row["uncounted"] or (row["counts"] or {}).get("charts") != COUNTS_VERSION]
    if uncounted:  # taken before charts existed and missed by the migration: once only
        for snapshot in Snapshot.objects.filter(pk__in=uncounted):
            ensure_counted(snapshot)
        fresh = dict(Snapshot.objects.filter(pk__in=uncounted).values_list("pk", "counts"))
        for row in latest:
            row["counts"] = fresh.get(row["pk"], row["counts"])
    stickers: dict[int, list[str]] = {}
    ids = [row["pk"] for row in latest]
    for snapshot_id, label in Sticker.objects.filter(version__snapshot__in=ids).order_by("created_at", "pk").values_list(
        "version__snapshot_id", "label"
    ):
        stickers.setdefault(snapshot_id, []).append(label)

    names = summed_field_names(macro, latest)
    measure = measure if measure in names else ""
    points = []
    categories: set[str] = set()
    previous_query = None
    for row in latest:
        query = [level.get("jql") for level in row["levels"] or []]
        counts = row["counts"] or {}
        if measure:
            values = dict((counts.get("sums") or {}).get(measure) or {})
        else:
            values = dict(counts.get("status_categories") or {})
        categories.update(values)
        changed = previous_query is not None and query != previous_query
        previous_query = query
        points.append(
            TrendPoint(row["pk"], row["page_version__number"], row["taken_at"], values, stickers.get(row["pk"], []), changed)
        )
    ordered = sorted(categories | {"To Do", "In Progress", "Done"}, key=category_sort_key)
    return Trend(
        title=macro.title or "Jira issues",
        measure=measure,
        measure_name=names.get(measure, "Issues") if measure else "Issues",
        categories=ordered,
        points=points,
        total_snapshots=total,
        measures=[("", "Issues"), *sorted(((f, n) for f, n in names.items()), key=lambda item: item[1].lower())],
    )


def summed_field_names(macro: Macro, rows: list[dict]) -> dict[str, str]:
    """Field id → name of the numeric fields summed in any of these snapshots."""
    ids: set[str] = set()
    units: dict[str, str] = {}
    for row in rows:
        ids.update(((row["counts"] or {}).get("sums") or {}).keys())
        units.update((row["counts"] or {}).get("units") or {})
    if not ids:
        return {}
    names = column_names(macro)
    return {f: _with_unit(names.get(f, f), units.get(f)) for f in ids}


def _with_unit(name: str, unit: str | None) -> str:
    return f"{name} ({unit})" if unit else name


def column_names(macro: Macro) -> dict[str, str]:
    """Field id → column name, from the macro's latest snapshot (names as Jira gave them)."""
    columns = (
        Snapshot.objects.finished().filter(macro=macro).order_by("-taken_at", "-pk").values_list("columns", flat=True).first()
    )
    return {c["id"]: c["name"] for level in (columns or []) for c in level}


# --------------------------------------------------------------------------------------
# One snapshot's issues grouped by a field (the chart display option)


@dataclass
class GroupBar:
    label: str
    value: float
    category: str = ""  # status category key ("new", "indeterminate", "done") for colour


@dataclass
class GroupedCounts:
    field: str
    field_name: str
    measure: str  # "" = issue count
    measure_name: str
    bars: list[GroupBar]
    problem: str = ""  # why there is nothing to draw, in a sentence

    @property
    def total(self) -> float:
        return sum(b.value for b in self.bars)


def grouped(snapshot: Snapshot, group_by: str, measure: str = "") -> GroupedCounts:
    """``snapshot``'s level-1 issues grouped by ``group_by``, counted or summing ``measure``."""
    ensure_counted(snapshot)
    names = {c["id"]: c["name"] for level in (snapshot.columns or []) for c in level}
    names[STATUS_CATEGORY] = "Status category"
    field_name = names.get(group_by, group_by)
    unit = ((snapshot.counts or {}).get("units") or {}).get(measure)
    measure_name = f"Sum of {_with_unit(names.get(measure, measure), unit)}" if measure else "Issues"
    result = GroupedCounts(group_by, field_name, measure, measure_name, [])
    sums = (snapshot.counts or {}).get("sums") or {}
    if measure and measure not in sums:
        result.problem = f"{names.get(measure, measure)} has no numbers to add up in this snapshot."
        return result
    if group_by == STATUS_CATEGORY:
        values = sums[measure] if measure else (snapshot.counts or {}).get("status_categories") or {}
        result.bars = [GroupBar(n, v, CATEGORY_KEYS.get(n, "")) for n, v in sorted(values.items(), key=lambda i: category_sort_key(i[0]))]
        return result
    groups = (snapshot.group_counts or {}).get(group_by, "missing")
    if groups == "missing":
        result.problem = f"This snapshot has no {field_name} column: add the field to the macro's query to chart it."
        return result
    if groups is None:
        result.problem = f"{field_name} has more than {MAX_GROUPS} different values in this snapshot: too many to chart."
        return result
    bars = []
    for label, group in groups.items():
        value = group["sums"].get(measure, 0) if measure else group["count"]
        bars.append(GroupBar(label, value, CATEGORY_KEYS.get(group.get("category", ""), "")))
    if group_by == "status":
        bars.sort(key=lambda b: (category_sort_key(_category_name(b.category)), -b.value, b.label))
    elif group_by == "priority":
        bars.sort(key=lambda b: (PRIORITY_ORDER.get(b.label.casefold(), len(PRIORITY_ORDER)), -b.value, b.label))
    else:
        bars.sort(key=lambda b: (-b.value, b.label.lower()))
    result.bars = bars
    return result


def _category_name(key: str) -> str:
    return next((name for name, k in CATEGORY_KEYS.items() if k == key), key)
