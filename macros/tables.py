"""A snapshot as a paged table: level-1 rows per page, deeper levels nested under them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.utils.safestring import mark_safe

from macros.fieldtypes import renderer_for
from macros.fieldtypes.registry import cell_value
from macros.models import Snapshot, SnapshotRow
from macros.rendering import status_category_key


@dataclass
class Cell:
    field: str
    text: str
    html: str = ""  # safe HTML: the cell as the table shows it (macros/fieldtypes)


@dataclass
class TableRow:
    key: str
    level: int
    cells: list[Cell]
    category: str
    children: list[TableRow] = field(default_factory=list)
    heading: bool = False  # a sub-heading naming a deeper level's own columns


@dataclass
class Table:
    snapshot: Snapshot
    columns: list[dict]
    rows: list[TableRow]
    page_number: int
    num_pages: int
    total: int
    columns_by_level: list[list[dict]] = field(default_factory=list)

    @property
    def has_previous(self) -> bool:
        return self.page_number > 1

    @property
    def has_next(self) -> bool:
        return self.page_number < self.num_pages

    def flat_rows(self) -> list[TableRow]:
        out: list[TableRow] = []

        def walk(rows: list[TableRow]) -> None:
            for row in rows:
                out.append(row)
                if row.children:
                    level = row.children[0].level
                    columns = self.columns_by_level[min(level, len(self.columns_by_level)) - 1]
                    out.append(TableRow("", level, [Cell(c["id"], c["name"]) for c in columns], "", heading=True))
                    walk(row.children)

        walk(self.rows)
        return out


def build_table(snapshot: Snapshot, page_number: int = 1, page_size: int = 25) -> Table:
    """One page of the table; a query per level, whatever the snapshot's size."""
    level1 = snapshot.rows.filter(level=1).order_by("position").only("position", "issue_key", "data", "level")
    paginator = Paginator(level1, max(1, page_size), allow_empty_first_page=True)
    paginator.count = snapshot.issue_count  # the snapshot knows its size: skip a COUNT(*)
    page = paginator.get_page(page_number)
    columns_by_level = snapshot.columns or [[{"id": "key", "name": "Key"}]]
    columns = columns_by_level[0]
    site_url = snapshot.source_site or ""
    rows = [_row(r, columns_by_level, site_url) for r in page.object_list]
    parents = {r.position: tr for r, tr in zip(page.object_list, rows, strict=False)}
    depth = 2
    while parents and depth <= len(columns_by_level):
        children = SnapshotRow.objects.filter(
            snapshot=snapshot, level=depth, parent_position__in=list(parents)
        ).order_by("position")
        next_parents = {}
        for child in children:
            table_row = _row(child, columns_by_level, site_url)
            parents[child.parent_position].children.append(table_row)
            next_parents[child.position] = table_row
        parents = next_parents
        depth += 1
    return Table(snapshot, columns, rows, page.number, paginator.num_pages, snapshot.issue_count, columns_by_level)


def _row(row: SnapshotRow, columns_by_level: list[list[dict]], site_url: str = "") -> TableRow:
    columns = columns_by_level[min(row.level, len(columns_by_level)) - 1]
    return TableRow(
        key=row.issue_key,
        level=row.level,
        cells=[_cell(row.data, c, site_url) for c in columns],
        category=status_category_key(row.data),
    )


def _cell(issue: dict, column: dict, site_url: str) -> Cell:
    renderer = renderer_for(column)
    value = cell_value(issue, column["id"])
    return Cell(column["id"], renderer.text(value), mark_safe(renderer.html(value, site_url=site_url)))
