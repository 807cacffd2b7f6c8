"""A snapshot as CSV (the table as shown) or JSON (the raw rows and their metadata).

Both are generators for ``StreamingHttpResponse``: a 50,000-issue snapshot is read from
the database in chunks and written out as it is read, never held whole in memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils.text import slugify

from macros.fieldtypes import cell_text
from macros.models import Snapshot, SnapshotRow

CHUNK = 500  # level-1 rows per read; also the size of each "children of" IN list

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection,
# https://owasp.org/www-community/attacks/CSV_Injection); a leading quote keeps it text.
# Spreadsheets skip leading spaces before deciding (" =1+1" runs too), and some read the
# full-width forms of these signs as the signs themselves.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) or text.lstrip().startswith(_FORMULA_STARTS) else text


def filename(snapshot: Snapshot, extension: str) -> str:
    macro = snapshot.macro
    parts = [macro.page.title, macro.title or "snapshot", snapshot.taken_at.strftime("%Y-%m-%d-%H%M") if snapshot.taken_at else ""]
    stem = "-".join(filter(None, (slugify(p) for p in parts)))
    return f"{stem or 'snapshot'}.{extension}"


# --------------------------------------------------------------------------------------
# CSV


def csv_header(snapshot: Snapshot) -> tuple[list[str], list[str]]:
    """``(names, field ids)`` of the CSV columns: every level's columns, each once, in order."""
    levels = _columns_by_level(snapshot)
    ids: list[str] = []
    names: list[str] = []
    for columns in levels:
        for column in columns:
            if column["id"] not in ids:
                ids.append(column["id"])
                names.append(column["name"])
    if len(levels) > 1:
        return ["Level", "Parent", *names], ids
    return names, ids


def csv_rows(snapshot: Snapshot) -> Iterator[list[str]]:
    """The header, then one list of cell texts per issue, nested rows under their parent."""
    names, ids = csv_header(snapshot)
    levels = _columns_by_level(snapshot)
    multi = len(levels) > 1
    yield [safe_cell(n) for n in names]
    shown = [{c["id"]: c for c in columns} for columns in levels]
    for level, parent_key, _key, data in iter_nested(snapshot):
        mine = shown[min(level, len(shown)) - 1]
        cells = [safe_cell(cell_text(data, mine[f])) if f in mine else "" for f in ids]
        # Every column is guarded: the parent's key comes from Jira like any cell.
        yield [str(level), safe_cell(parent_key or ""), *cells] if multi else cells


class _Line:
    """A file-like object whose write() hands back the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def csv_stream(snapshot: Snapshot) -> Iterator[str]:
    writer = csv.writer(_Line())
    # A byte-order mark: without it Excel reads UTF-8 CSV as the local code page.
    yield "\ufeff"
    for row in csv_rows(snapshot):
        yield writer.writerow(row)


def iter_nested(snapshot: Snapshot) -> Iterator[tuple[int, str, str, dict]]:
    """``(level, parent key, key, data)`` depth-first, each level-1 issue followed by its tree.

    Level-1 rows are read by position in chunks (keyset, never OFFSET); each chunk's
    descendants come from the (snapshot, parent_position) index, one query per level.
    """
    rows = SnapshotRow.objects.filter(snapshot=snapshot)
    depth = max(len(snapshot.levels), 1)
    last = 0
    while True:
        chunk = list(
            rows.filter(level=1, position__gt=last)
            .order_by("position")
            .values_list("position", "issue_key", "data")[:CHUNK]
        )
        if not chunk:
            return
        last = chunk[-1][0]
        children: dict[int, list[tuple[int, str, dict]]] = {}
        parents = [position for position, _, _ in chunk]
        for _ in range(depth - 1):
            found = []
            for ids in _batches(parents, CHUNK):
                for position, parent, key, data in (
                    rows.filter(parent_position__in=ids)
                    .order_by("position")
                    .values_list("position", "parent_position", "issue_key", "data")
                ):
                    children.setdefault(parent, []).append((position, key, data))
                    found.append(position)
            if not found:
                break
            parents = found
        for position, key, data in chunk:
            yield 1, "", key, data
            yield from _descendants(children, position, key, 2)


def _descendants(children, position: int, key: str, level: int) -> Iterator[tuple[int, str, str, dict]]:
    for child_position, child_key, data in children.get(position, ()):
        yield level, key, child_key, data
        yield from _descendants(children, child_position, child_key, level + 1)


def _batches(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns_by_level(snapshot: Snapshot) -> list[list[dict]]:
    return [columns for columns in snapshot.columns if columns] or [[{"id": "key", "name": "Key"}]]


# --------------------------------------------------------------------------------------
# JSON


def metadata(snapshot: Snapshot) -> dict:
    macro = snapshot.macro
    page = macro.page
    version = getattr(snapshot, "page_version", None)
    return {
        "id": snapshot.pk,
        "page": {"id": page.pk, "title": page.title, "version": version.number if version else None},
        "macro": {"id": str(macro.public_id), "title": macro.title},
        "taken_at": snapshot.taken_at.isoformat() if snapshot.taken_at else None,
        "taken_by": snapshot.actor,
        "source": snapshot.source,
        "source_site": snapshot.source_site,
        "issue_count": snapshot.issue_count,
        "counts": snapshot.counts,
        "levels": snapshot.levels,
        "columns": snapshot.columns,
        "stickers": [s.label for s in version.stickers.all()] if version else [],
    }


def json_stream(snapshot: Snapshot) -> Iterator[str]:
    """``{"snapshot": {…metadata…}, "rows": [{"position", "level", "parent_position", "key",
    "cells", "issue"}…]}``.

    ``cells`` is the row as the table reads it (field id → text, macros/fieldtypes), for
    tools that want what people saw; ``issue`` is Jira's JSON, copied as the text the
    database holds (never re-encoded, so nothing in it changes).
    """
    levels = _columns_by_level(snapshot)
    head = json.dumps({"snapshot": metadata(snapshot)}, ensure_ascii=False)
    yield head[:-1] + ', "rows": ['
    rows = (
        SnapshotRow.objects.filter(snapshot=snapshot)
        .order_by("position")
        .annotate(raw=Cast("data", TextField()))
        .values_list("position", "level", "parent_position", "issue_key", "raw")
        .iterator(chunk_size=2000)
    )
    separator = "\n"
    for position, level, parent, key, raw in rows:
        issue = json.loads(raw)
        cells = {c["id"]: cell_text(issue, c) for c in levels[min(level, len(levels)) - 1]}
        yield (
            f'{separator}{{"position": {position}, "level": {level}, '
            f'"parent_position": {json.dumps(parent)}, "key": {json.dumps(key, ensure_ascii=False)}, '
            f'"cells": {json.dumps(cells, ensure_ascii=False)}, "issue": {raw}}}'
        )
        separator = ",\n"
    yield "\n]}\n"
