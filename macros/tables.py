"""A snapshot as the table a report shows: filtered, sorted, grouped, totalled and paged.

Everything a reader can change (filter, sort, page, which levels are open) lives in the
URL, namespaced by the macro's id so several macros on one page keep their own state.
Filtering and sorting run in the database over ``SnapshotRowIndex`` — one narrow row per
issue with its shown text and an order-preserving sort key per field — written while the
snapshot is taken (``RowIndexer``), so a 50,000-issue snapshot never has its issue JSON
read to answer a filter or a sort: only the rows of the page on screen are.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import struct
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import CharField, Count, F, FloatField, Min, QuerySet, Subquery, Sum, TextField, Value, Window
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Collate
from django.utils.html import escape
from django.utils.safestring import mark_safe

from macros.fieldtypes import cell_value, formats, renderer_for
from macros.fieldtypes.renderers import Date, DateTime
from macros.models import Snapshot, SnapshotRow, SnapshotRowIndex, TableDefaults
from macros.rendering import status_category_key

MAX_FILTER_LENGTH = 200
MAX_FILTER_WORDS = 8
MAX_PAGE_SIZE = 500
MAX_OPEN_TOGGLES = 200
MAX_PAGE_NUMBER = 1_000_000
AGGREGATES_CACHE_SECONDS = 24 * 3600
MAX_GROUP_LABELS = 500  # groups named from a row of theirs; past that the label is its sort key
DEFAULT_EMPTY_CELL = "—"
DEFAULT_DATE_FORMAT = TableDefaults.DateFormat.ISO.value  # what macros/fieldtypes writes anyway
WIDTHS = ("narrow", "auto", "wide")


# --------------------------------------------------------------------------------------
# Field values: macros/fieldtypes renders them (one renderer per Jira field type); these
# wrap it with the site's date format and turn its sort keys into stored strings.


def field_text(issue: dict, column: dict, date_format: str = "") -> str:
    """The text a cell shows (and a filter searches) for one field of one issue."""
    renderer = renderer_for(column)
    value = cell_value(issue, column["id"])
    dated = _dated(renderer, value, date_format)
    return renderer.text(value) if dated is None else dated


def field_html(issue: dict, column: dict, date_format: str, site_url: str) -> str:
    renderer = renderer_for(column)
    value = cell_value(issue, column["id"])
    dated = _dated(renderer, value, date_format)
    return str(renderer.html(value, site_url=site_url)) if dated is None else escape(dated)


def field_sort_key(issue: dict, column: dict) -> str | None:
    """A string whose byte order is the field's natural order; None when the cell is empty.

    The renderer's key (numbers as numbers, dates as dates, statuses To Do → In Progress →
    Done, priorities in Jira's order, issue keys by number) made comparable byte by byte,
    with numbers inside text compared as numbers ("Sprint 9" before "Sprint 10").
    """
    return _stored_key(renderer_for(column).sort_key(cell_value(issue, column["id"])))


def _number(renderer, value) -> float | None:
    number = renderer.number(value)
    if number is None and isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)  # a column stored without its schema (older snapshots)
    return number if number is not None and math.isfinite(number) else None


def _stored_key(key: tuple) -> str | None:
    if not key or key[0] != 0:
        return None  # fieldtypes' EMPTY_KEY: empty cells go last, whichever the direction
    return _encode(key[1:])


def _dated(renderer, value, date_format: str) -> str | None:
    """A date or date-time in the site's format (None: not a date, or the default format)."""
    if not date_format or date_format == DEFAULT_DATE_FORMAT or not isinstance(renderer, (Date, DateTime)):
        return None
    moment = formats.parse_datetime(value)
    if moment is not None and isinstance(renderer, DateTime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
        return moment.strftime(date_format)
    day = formats.parse_date(value)
    return day.strftime(_date_only(date_format)) if day else None


_DIGITS = re.compile(r"\d+")


def _natural_text(text: str) -> str:
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _DIGITS.sub(lambda m: m.group().lstrip("0").rjust(12, "0")[-12:], text.casefold())


def _encode(parts: tuple) -> str:
    """Order-preserving text for a tuple of numbers and strings (compared byte by byte)."""
    out = []
    for part in parts:
        if isinstance(part, (int, float)):
            bits = struct.unpack(">Q", struct.pack(">d", float(part)))[0]
            bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63
            out.append(f"1{bits:016x}")
        else:
            out.append("2" + _natural_text(str(part)).replace("\x00", ""))
    return "\x01".join(out)


def _date_only(date_format: str) -> str:
    return date_format.replace(" %H:%M", "").replace("%H:%M", "").strip() or "%Y-%m-%d"


# --------------------------------------------------------------------------------------
# The index, written while a snapshot is taken.


class RowIndexer:
    """Writes one ``SnapshotRowIndex`` per ``SnapshotRow`` as the rows are stored.

    The snapshot writer calls ``write(rows)`` after each page of rows. It has to stay
    cheap (a 20,000-issue snapshot has a budget of 4 s in all), hence: the text and sort
    key of a repeated value (a status, a person, a priority, a version) are worked out
    once per snapshot, and the page goes in as one written-out multi-row INSERT rather
    than through model instances.
    """

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        columns_by_level = snapshot.columns or [[{"id": "key", "name": "Key"}]]
        self.renderers = [[(c["id"], renderer_for(c)) for c in level] for level in columns_by_level]
        self.date_format = TableDefaults.load().date_format
        self.roots: dict[int, int] = {}  # position -> level-1 ancestor, for rows that may have children
        self.memo: dict[tuple, tuple[str, str | None]] = {}
        self.pending: list[tuple] = []

    def write(self, rows: Iterable[SnapshotRow]) -> None:
        """Index a page of stored rows; written out a thousand at a time (fewer commits)."""
        self.pending.extend(self.values(r.position, r.level, r.parent_position, r.data) for r in rows)
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write what is pending; the snapshot writer calls it when a search is complete."""
        if self.pending:
            _copy_index_rows(self.pending)
            self.pending = []

    def values(self, position: int, level: int, parent: int | None, issue: dict) -> tuple:
        columns = self.renderers[min(level, len(self.renderers)) - 1]
        values = issue.get("fields") or {}
        key_text = issue.get("key", "")
        texts, keys, numbers = [key_text], {}, {}
        for field_id, renderer in columns:
            if field_id == "key":
                keys["key"] = _stored_key(renderer.sort_key(key_text))
                continue
            value = values.get(field_id)
            if value is None or value == "" or value == []:
                continue
            number = _number(renderer, value)
            if number is not None:
                numbers[field_id] = number
            signature = _signature(field_id, value)
            cached = self.memo.get(signature) if signature is not None else None
            if cached is None:
                dated = _dated(renderer, value, self.date_format)
                cached = (renderer.text(value) if dated is None else dated, _stored_key(renderer.sort_key(value)))
                if signature is not None:
                    if len(self.memo) > 20_000:
                        self.memo.clear()
                    self.memo[signature] = cached
            text, key = cached
            if text:
                texts.append(text)
            if key is not None:
                keys[field_id] = key
        root = position if level == 1 or parent is None else self.roots.get(parent, parent)
        if level < len(self.renderers):
            self.roots[position] = root
        return (
            self.snapshot.pk, position, level, parent, root,
            "\n".join(texts).lower(), json.dumps(keys, ensure_ascii=False), json.dumps(numbers),
        )


def _signature(field_id: str, value) -> tuple | None:
    """What identifies a repeated value (a status by its URL, a person by account), or None."""
    if isinstance(value, dict):
        ident = value.get("self") or value.get("accountId") or value.get("key") or value.get("id")
        return (field_id, ident) if isinstance(ident, str) and ident else None
    if isinstance(value, list) and len(value) < 20:
        parts = []
        for item in value:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict) and isinstance(item.get("self") or item.get("id") or item.get("name"), str):
                parts.append(item.get("self") or item.get("id") or item.get("name"))
            else:
                return None
        return (field_id, "list", *parts)
    return None


FLUSH_EVERY = 1000
_COLUMNS = ("snapshot_id", "position", "level", "parent_position", "root_position", "search_text", "sort_keys", "numbers")
_insert_sql: dict[int, str] = {}


def _copy_index_rows(values: list[tuple]) -> None:
    """New rows of a snapshot being taken: PostgreSQL's COPY, the cheapest way in."""
    if connection.vendor != "postgresql":
        _insert_index_rows(values)
        return
    q = connection.ops.quote_name
    sql = f"COPY {q(SnapshotRowIndex._meta.db_table)} ({', '.join(q(c) for c in _COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in values:
            copy.write_row(row)


def _insert_index_rows(values: list[tuple]) -> None:
    count = len(values)
    sql = _insert_sql.get(count)
    if sql is None:
        q = connection.ops.quote_name
        table = q(SnapshotRowIndex._meta.db_table)
        columns = ", ".join(q(c) for c in _COLUMNS)
        one = "(%s, %s, %s, %s, %s, %s, %s, %s)"
        # ON CONFLICT: two readers backfilling one old snapshot at once write it once.
        sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * count) + " ON CONFLICT DO NOTHING"
        if count in (100, 1000):  # the snapshot writer's page sizes: the rest are rare
            _insert_sql[count] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for row in values for v in row])


def ensure_index(snapshot: Snapshot) -> None:
    """Index a snapshot taken before the index existed (the backfill), once."""
    if snapshot.issue_count == 0 and not snapshot.counts.get("levels"):
        return
    if SnapshotRowIndex.objects.filter(snapshot=snapshot).exists():
        return
    indexer = RowIndexer(snapshot)
    with transaction.atomic():
        batch = []
        for row in SnapshotRow.objects.filter(snapshot=snapshot).order_by("position").iterator(chunk_size=1000):
            batch.append(row)
            if len(batch) >= 1000:
                _insert_index_rows([indexer.values(r.position, r.level, r.parent_position, r.data) for r in batch])
                batch = []
        if batch:
            _insert_index_rows([indexer.values(r.position, r.level, r.parent_position, r.data) for r in batch])


# --------------------------------------------------------------------------------------
# What the reader asked for (the URL) and what the editor set (the Display tab).


@dataclass
class Sort:
    field: str
    descending: bool = False

    def param(self) -> str:
        return ("-" if self.descending else "") + self.field


@dataclass
class TableState:
    """A reader's view of one macro's table, read from and written to the page's URL."""

    prefix: str  # the macro's pk: several macros on a page keep their own parameters
    query: str = ""
    sort: Sort | None = None
    page: int = 1
    collapsed: bool = False  # deeper levels closed by default
    toggled: frozenset[int] = frozenset()  # parents opened (when collapsed) or closed
    params: Mapping[str, str] = field(default_factory=dict)  # the whole query string
    messages: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, params: Mapping[str, str], prefix: str) -> TableState:
        state = cls(prefix=prefix, params={k: params.get(k) for k in params})
        query = " ".join((params.get(f"q{prefix}") or "").replace("\x00", "").split())
        if len(query) > MAX_FILTER_LENGTH:
            state.messages.append(f"The filter is limited to {MAX_FILTER_LENGTH} characters; the rest was left out.")
            query = query[:MAX_FILTER_LENGTH].strip()
        state.query = query
        raw_sort = (params.get(f"s{prefix}") or "").replace("\x00", "").strip()
        if raw_sort.lstrip("-"):
            state.sort = Sort(raw_sort.lstrip("-"), raw_sort.startswith("-"))
        try:
            state.page = min(MAX_PAGE_NUMBER, max(1, int(params.get(f"p{prefix}") or 1)))
        except (TypeError, ValueError):
            state.page = 1
        state.collapsed = params.get(f"x{prefix}") == "none"
        toggled = set()
        for part in (params.get(f"o{prefix}") or "").split(",")[:MAX_OPEN_TOGGLES]:
            if part.strip().isdigit():
                toggled.add(int(part))
        state.toggled = frozenset(toggled)
        return state

    def words(self) -> list[str]:
        return self.query.lower().split()[:MAX_FILTER_WORDS]

    def url(self, **changes) -> str:
        """This page's address with this table's state changed (None removes a parameter)."""
        values = dict(self.params)
        for name, value in changes.items():
            key = f"{name}{self.prefix}"
            if value in (None, "") or (name == "p" and value == 1):
                values.pop(key, None)
            else:
                values[key] = str(value)
        return "?" + urlencode(values) if values else "?"

    def hidden_inputs(self) -> list[tuple[str, str]]:
        """Everything the filter form must carry along: other macros' state, this sort."""
        own = {f"q{self.prefix}", f"p{self.prefix}"}
        return [(k, v) for k, v in self.params.items() if k not in own and v is not None]

    def is_open(self, position: int) -> bool:
        return (position in self.toggled) == self.collapsed

    def toggle_url(self, position: int) -> str:
        toggled = set(self.toggled) ^ {position}
        return self.url(o=",".join(str(p) for p in sorted(toggled)) or None)


def display_options(display: dict | None) -> dict:
    """A macro's display settings with every key present (older macros lack the new ones)."""
    display = dict(display or {})
    display.setdefault("page_size", 25)
    display.setdefault("sort_by", [])
    display.setdefault("group_by", "")
    display.setdefault("show_totals", False)
    display.setdefault("empty_cell_text", DEFAULT_EMPTY_CELL)
    display.setdefault("empty_level_text", "")
    display.setdefault("columns", {})
    return display


def new_macro_display() -> dict:
    """What a new macro's Display tab starts from: the site's formatting defaults."""
    defaults = TableDefaults.load()
    return {
        "page_size": defaults.page_size,
        "show_count": True,
        "empty_cell_text": defaults.empty_cell_text,
    }


# --------------------------------------------------------------------------------------
# The table.


@dataclass
class Cell:
    field: str
    text: str
    empty: bool = False
    column: Column | None = None
    html: str = ""  # safe HTML: the cell as the table shows it (macros/fieldtypes)


@dataclass
class TableRow:
    key: str
    level: int
    cells: list[Cell]
    category: str
    position: int = 0
    children: list[TableRow] = field(default_factory=list)
    heading: bool = False  # a sub-heading naming a deeper level's own columns
    child_count: int = 0  # children hidden because the reader closed this parent
    is_open: bool = True
    toggle_url: str = ""
    empty_level: str = ""  # shown when this parent has no children in the level below
    group: str | None = None  # the group's key, when the table is grouped
    group_index: int = 0  # the group's number on the page (rows a group heading folds)


@dataclass
class Column:
    field: str
    name: str
    nowrap: bool = False
    width: str = "auto"
    aria_sort: str = "none"
    sort_url: str = ""
    next_direction: str = "ascending"

    @property
    def id(self) -> str:  # the shape older templates and exports read: {"id", "name"}
        return self.field


@dataclass
class Group:
    key: str | None
    label: str
    count: int
    sums: dict[str, float | None] = field(default_factory=dict)
    index: int = 0
    totals: list[str] = field(default_factory=list)  # per column, when the table shows totals


@dataclass
class TableItem:
    """One line of the body: a group heading, a group's totals, or a row."""

    kind: str  # "group" | "row"
    group: Group | None = None
    row: TableRow | None = None


@dataclass
class Table:
    snapshot: Snapshot
    columns: list[Column]
    rows: list[TableRow]
    page_number: int
    num_pages: int
    total: int  # level-1 issues in the snapshot
    columns_by_level: list[list[dict]] = field(default_factory=list)
    matched: int | None = None  # level-1 issues the filter kept (None: no filter)
    state: TableState | None = None
    groups: dict[str | None, Group] = field(default_factory=dict)
    group_by: str = ""
    group_name: str = ""
    totals: list[str] | None = None
    messages: list[str] = field(default_factory=list)
    items: list[TableItem] = field(default_factory=list)
    collapsible: bool = False

    @property
    def has_previous(self) -> bool:
        return self.page_number > 1

    @property
    def has_next(self) -> bool:
        return self.page_number < self.num_pages

    @property
    def shown(self) -> int:
        return self.total if self.matched is None else self.matched

    def page_url(self, number: int) -> str:
        return self.state.url(p=number) if self.state else f"?p{self.snapshot.macro_id}={number}"

    @property
    def previous_url(self) -> str:
        return self.page_url(self.page_number - 1)

    @property
    def next_url(self) -> str:
        return self.page_url(self.page_number + 1)

    @property
    def expand_all_url(self) -> str:
        return self.state.url(x=None, o=None) if self.state else ""

    @property
    def collapse_all_url(self) -> str:
        return self.state.url(x="none", o=None) if self.state else ""

    @property
    def clear_filter_url(self) -> str:
        return self.state.url(q=None, p=None) if self.state else ""

    def flat_rows(self) -> list[TableRow]:
        out: list[TableRow] = []

        def walk(rows: list[TableRow]) -> None:
            for row in rows:
                out.append(row)
                if row.children:
                    level = row.children[0].level
                    columns = self.columns_by_level[min(level, len(self.columns_by_level)) - 1]
                    out.append(TableRow("", level, [Cell(c["id"], c["name"]) for c in columns], "", heading=True, group=row.group))
                    walk(row.children)
                elif row.empty_level:
                    out.append(TableRow("", row.level + 1, [Cell("", row.empty_level, empty=True)], "", empty_level=row.empty_level, group=row.group))

        walk(self.rows)
        return out

    def body(self) -> list[TableItem]:
        """Rows with a heading wherever the group changes (grouped tables)."""
        items: list[TableItem] = []
        current = object()
        for row in self.flat_rows():
            group = self.groups.get(row.group) if self.group_by else None
            if group is not None and row.level == 1 and not row.heading and row.group != current:
                current = row.group
                items.append(TableItem("group", group=group))
            row.group_index = group.index if group is not None else 0
            items.append(TableItem("row", row=row))
        return items


def build_table(
    snapshot: Snapshot,
    page_number: int = 1,
    page_size: int = 25,
    *,
    display: dict | None = None,
    state: TableState | None = None,
) -> Table:
    """One page of the table: a handful of queries, whatever the snapshot's size."""
    display = display_options(display if display is not None else {"page_size": page_size})
    state = state or TableState(prefix="", page=page_number)
    messages = list(state.messages)
    columns_by_level = snapshot.columns or [[{"id": "key", "name": "Key"}]]
    level1 = [c["id"] for c in columns_by_level[0]]
    names = {c["id"]: c["name"] for level in columns_by_level for c in level}
    size = min(MAX_PAGE_SIZE, max(1, _int(display.get("page_size"), 25)))
    empty_text = display.get("empty_cell_text", DEFAULT_EMPTY_CELL)
    date_format = TableDefaults.load().date_format

    sorts = _sorts(state, display, level1, names, messages)
    group_by = display.get("group_by") or ""
    if group_by and group_by not in level1:
        messages.append(f"This snapshot has no column “{group_by}” to group by; the table is shown ungrouped.")
        group_by = ""

    ensure_index(snapshot)
    roots = SnapshotRowIndex.objects.filter(snapshot=snapshot, level=1)
    words = state.words()
    if words:
        if len(columns_by_level) == 1:
            matching = roots  # one level: every row is its own root, no join needed
        else:
            matching = SnapshotRowIndex.objects.filter(snapshot=snapshot)
        for word in words:
            matching = matching.filter(search_text__contains=word)
        roots = matching if len(columns_by_level) == 1 else roots.filter(position__in=Subquery(matching.values("root_position")))
    summable = _summable(snapshot, columns_by_level[0]) if display.get("show_totals") else []

    # One scan answers the counts (and totals): per group when grouped, else for the
    # filtered rows; the unfiltered count is the snapshot's own. A snapshot never changes,
    # so the answer is kept in the cache for the next reader of the same view.
    groups: dict[str | None, Group] = {}
    totals: dict[str, float | None] | None = None
    matched: int | None = None
    aggregates_key = _aggregates_key(snapshot, group_by, words, summable, date_format)
    cached = cache.get(aggregates_key) if group_by or summable or words else None
    if cached is not None:
        groups, totals, matched = copy.deepcopy(cached)
    elif group_by:
        group_column = next(c for c in columns_by_level[0] if c["id"] == group_by)
        groups, totals, count = _groups(snapshot, roots, group_column, summable, date_format)
        matched = count if words else None
    elif summable:
        found = roots.aggregate(count=Count("pk"), **{f"sum_{i}": _sum(f) for i, f in enumerate(summable)})
        matched = found["count"] if words else None
        totals = {f: found[f"sum_{i}"] for i, f in enumerate(summable)}

    ordering = []
    if group_by:
        ordering.append(_key_expr(group_by).asc(nulls_last=True))
    for sort in sorts:
        expression = _key_expr(sort.field)
        ordering.append(expression.desc(nulls_last=True) if sort.descending else expression.asc(nulls_last=True))
    ordering.append(F("position").asc())
    count_with_page = bool(words) and matched is None  # filtered: the page query counts too (one scan)
    wanted = state.page
    if not count_with_page:
        count = snapshot.issue_count if matched is None else matched
        state.page = min(state.page, max(1, math.ceil(count / size)))
    page_rows, counted = _page(roots, ordering, group_by, state.page, size, count_with_page)
    if count_with_page:
        matched = counted if page_rows or state.page == 1 else roots.count()
    count = snapshot.issue_count if matched is None else matched
    if cached is None and (group_by or summable or words):
        cache.set(aggregates_key, (groups, totals, matched), AGGREGATES_CACHE_SECONDS)
    num_pages = max(1, math.ceil(count / size))
    if wanted > num_pages:
        if count:
            messages.append(f"There is no page {wanted}; this is the last page, {num_pages}.")
        if state.page != num_pages:
            state.page = num_pages
            page_rows, _ = _page(roots, ordering, group_by, state.page, size, False)
    positions = [p for p, _ in page_rows]
    group_of = {p: g for p, g in page_rows}
    data = {r.position: r for r in SnapshotRow.objects.filter(snapshot=snapshot, position__in=positions).only("position", "issue_key", "data", "level")}

    options = display.get("columns") or {}
    columns = [_column(c, options.get(c["id"]) or {}, state, sorts) for c in columns_by_level[0]]
    column_of = {c.field: c for c in columns}
    rows = []
    for position in positions:
        if position in data:
            row = _row(data[position], columns_by_level, empty_text, date_format, column_of, snapshot.source_site or "")
            row.group = group_of[position]
            rows.append(row)
    table = Table(
        snapshot,
        columns,
        rows,
        state.page,
        num_pages,
        snapshot.issue_count,
        columns_by_level,
        matched=matched,
        state=state if state.prefix else None,
        group_by=group_by,
        group_name=names.get(group_by, group_by),
        messages=messages,
    )
    if len(columns_by_level) > 1:
        _add_children(table, snapshot, rows, sorts, words, state, display, empty_text, date_format, column_of)
    table.groups = groups
    if display.get("show_totals"):
        table.totals = [_total_text((totals or {}).get(c["id"]), c) for c in columns_by_level[0]]
        for group in groups.values():
            group.totals = [_total_text(group.sums.get(c["id"]), c) for c in columns_by_level[0]]
    return table


def _page(roots: QuerySet, ordering: list, group_by: str, number: int, size: int, count: bool) -> tuple[list[tuple], int]:
    """``[(position, group key)]`` of one page, and with ``count`` how many rows match in all.

    The count rides along as a window over the same scan, so a filter reads the index once.
    """
    rows = roots.annotate(group_key=_key_expr(group_by) if group_by else _null())
    fields = ["position", "group_key"]
    if count:
        rows = rows.annotate(full_count=Window(Count("pk")))
        fields.append("full_count")
    offset = (number - 1) * size
    query = rows.order_by(*ordering).values_list(*fields)[offset : offset + size]
    with transaction.atomic():
        _more_work_mem()  # a deep page of a sort keeps up to 50,000 short keys: in memory, not on disk
        found = list(query)
    total = found[0][2] if count and found else 0
    return [(r[0], r[1]) for r in found], total


def _more_work_mem() -> None:
    """For this transaction, room for PostgreSQL to sort or hash one snapshot's keys in memory."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '32MB'")


def _sorts(state: TableState, display: dict, fields: list[str], names: dict, messages: list[str]) -> list[Sort]:
    if state.sort is not None:
        if state.sort.field in fields:
            return [state.sort]
        messages.append(f"There is no column “{state.sort.field[:60]}” to sort by; the table is in its saved order.")
        state.sort = None
    saved = []
    for item in display.get("sort_by") or []:
        if isinstance(item, dict) and item.get("field") in fields:
            saved.append(Sort(item["field"], bool(item.get("desc"))))
    return saved


def _column(column: dict, options: dict, state: TableState, sorts: list[Sort]) -> Column:
    width = options.get("width") if options.get("width") in WIDTHS else "auto"
    result = Column(column["id"], options.get("heading") or column["name"], bool(options.get("nowrap")), width)
    current = sorts[0] if sorts and sorts[0].field == column["id"] else None
    if current is not None:
        result.aria_sort = "descending" if current.descending else "ascending"
    # First click ascending, second the other way round.
    descending = current is not None and not current.descending
    result.next_direction = "descending" if descending else "ascending"
    if state.prefix:
        result.sort_url = state.url(s=("-" if descending else "") + column["id"], p=None)
    return result


def _key_expr(field_id: str):
    expression = KeyTextTransform(field_id, "sort_keys")
    # Sort keys are built to compare byte by byte; a language collation would reorder them.
    if connection.vendor == "postgresql":
        return Collate(expression, "C")
    # Plain text, so comparisons with Python strings are not read as JSON (SQLite).
    return Cast(expression, TextField())


def _null() -> Value:
    return Value(None, output_field=CharField())


def _row(row: SnapshotRow, columns_by_level: list[list[dict]], empty_text: str, date_format: str, column_of: dict, site_url: str = "") -> TableRow:
    columns = columns_by_level[min(row.level, len(columns_by_level)) - 1]
    cells = []
    for c in columns:
        text = field_text(row.data, c, date_format)
        html = mark_safe(field_html(row.data, c, date_format, site_url)) if text else escape(empty_text)
        cells.append(Cell(c["id"], text or empty_text, empty=not text, column=column_of.get(c["id"]), html=html))
    return TableRow(key=row.issue_key, level=row.level, cells=cells, category=status_category_key(row.data), position=row.position)


def _add_children(table, snapshot, rows, sorts, words, state, display, empty_text, date_format, column_of) -> None:
    """Deeper levels under the page's rows: sorted like level 1, filtered to the matches."""
    depth_count = len(table.columns_by_level)
    visible: set[int] | None = None
    if words:
        visible = _visible_under(snapshot, [r.position for r in rows], words)
    table.collapsible = True
    empty_level = display.get("empty_level_text") or ""
    parents = {r.position: r for r in rows}
    depth = 2
    while parents and depth <= depth_count:
        found = list(SnapshotRow.objects.filter(snapshot=snapshot, level=depth, parent_position__in=list(parents)).only("position", "issue_key", "data", "level", "parent_position"))
        if visible is not None:
            found = [c for c in found if c.position in visible]
        keys = {}
        if sorts and found:
            keys = dict(SnapshotRowIndex.objects.filter(snapshot=snapshot, position__in=[c.position for c in found]).values_list("position", "sort_keys"))
        found.sort(key=lambda c: _python_order(keys.get(c.position) or {}, sorts, c.position))
        next_parents = {}
        for child in found:
            parent = parents[child.parent_position]
            table_row = _row(child, table.columns_by_level, empty_text, date_format, column_of, snapshot.source_site or "")
            table_row.group = parent.group
            parent.child_count += 1
            if parent.is_open:
                parent.children.append(table_row)
                next_parents[child.position] = table_row
        for parent in parents.values():
            parent.is_open = state.is_open(parent.position) and parent.is_open
            if not parent.is_open:
                parent.children = []
            if parent.child_count == 0 and empty_level and visible is None:
                parent.empty_level = empty_level
            if table.state:
                parent.toggle_url = state.toggle_url(parent.position)
        parents = {p: r for p, r in next_parents.items() if r.is_open}
        depth += 1


def _python_order(keys: dict, sorts: list[Sort], position: int) -> tuple:
    parts = []
    for sort in sorts:
        key = keys.get(sort.field)
        if key is None:
            parts.append((1, ""))  # empties last, whichever the direction
        elif sort.descending:
            parts.append((0, _Reversed(key)))
        else:
            parts.append((0, key))
    parts.append((0, position))
    return tuple(parts)


class _Reversed:
    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value


def _visible_under(snapshot: Snapshot, roots: list[int], words: list[str]) -> set[int]:
    """Rows under these roots a filter keeps: matches, their ancestors, their descendants."""
    tree = list(SnapshotRowIndex.objects.filter(snapshot=snapshot, root_position__in=roots).values_list("position", "parent_position", "search_text"))
    parent_of = {p: parent for p, parent, _ in tree}
    children: dict[int, list[int]] = {}
    for p, parent, _ in tree:
        if parent is not None:
            children.setdefault(parent, []).append(p)
    matches = [p for p, _, text in tree if all(w in text for w in words)]
    visible: set[int] = set()
    for p in matches:
        up = p
        while up is not None and up not in visible:
            visible.add(up)
            up = parent_of.get(up)
        stack = list(children.get(p, []))
        while stack:
            q = stack.pop()
            if q not in visible:
                visible.add(q)
                stack.extend(children.get(q, []))
    return visible


def _groups(snapshot, roots: QuerySet, column: dict, summable: list[str], date_format: str) -> tuple[dict, dict, int]:
    """Every group's count and totals over the whole (filtered) snapshot, in one scan.

    Returns ``(groups by key, grand totals, rows counted)``. Groups come in the group
    field's natural order (statuses by category, priorities by Jira's order), empty last.
    """
    aggregates = {"count": Count("pk"), "first": Min("position")}
    aggregates.update({f"sum_{i}": _sum(f) for i, f in enumerate(summable)})
    query = roots.annotate(group_key=_key_expr(column["id"])).values("group_key").annotate(**aggregates).order_by()
    with transaction.atomic():
        _more_work_mem()  # a hash aggregate in memory rather than a sort on disk
        results = list(query)
    results.sort(key=lambda r: (r["group_key"] is None, r["group_key"] or ""))
    shown = results[:MAX_GROUP_LABELS]
    sample = {r.position: r.data for r in SnapshotRow.objects.filter(snapshot=snapshot, position__in=[r["first"] for r in shown]).only("position", "data")}
    groups = {}
    for index, result in enumerate(results, start=1):
        key = result["group_key"]
        label = field_text(sample[result["first"]], column, date_format) if key is not None and result["first"] in sample else ""
        totals = {f: result[f"sum_{i}"] for i, f in enumerate(summable)}
        groups[key] = Group(key, label or (f"No {column['name'].lower()}" if key is None else key), result["count"], totals, index=index)
    grand = {f: _add(r[f"sum_{i}"] for r in results) for i, f in enumerate(summable)}
    return groups, grand, sum(r["count"] for r in results)


def _add(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _aggregates_key(snapshot: Snapshot, group_by: str, words: list[str], summable: list[str], date_format: str) -> str:
    view = json.dumps([group_by, words, summable, date_format], ensure_ascii=False)
    # The time it was taken too: a restored or rebuilt database may reuse a snapshot's id.
    taken = snapshot.taken_at.timestamp() if snapshot.taken_at else 0
    return f"table-aggregates:{snapshot.pk}:{taken:.6f}:{hashlib.sha256(view.encode()).hexdigest()[:32]}"


def _summable(snapshot: Snapshot, columns: list[dict]) -> list[str]:
    """The shown fields totals add up: numeric by their Jira type, or (columns stored
    without a schema) holding numbers in a sample of rows."""
    seen: set[str] = set()
    for numbers in SnapshotRowIndex.objects.filter(snapshot=snapshot, level=1).order_by("position").values_list("numbers", flat=True)[:500]:
        seen.update(numbers or {})
    return [c["id"] for c in columns if c["id"] != "key" and (renderer_for(c).summable or c["id"] in seen)]


def _sum(field_id: str) -> Sum:
    return Sum(Cast(KeyTextTransform(field_id, "numbers"), FloatField()))


def _total_text(value: float | None, column: dict) -> str:
    """A total written the way the column writes its values (``1w 2d`` for estimates)."""
    if value is None:
        return ""
    renderer = renderer_for(column)
    if renderer.summable:
        return renderer.text(int(value) if value == int(value) else value)
    return formats.number_text(value)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
