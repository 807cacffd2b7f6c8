"""What a snapshot stores is byte for byte what it stored before the write path was made faster.

One two-level snapshot of a mixed set of real-shaped issues (every common field type, Cloud
and Data Center forms, varied values, plain issues, empty and odd values) is taken through
``take()``; its stored rows, index rows (as the database holds them, unparsed) and chart
counts are compared with digests recorded from the write path before issue 12's speed-up
(``macros/tests/data/write_path_golden.json``), with its two caches of rendered values
switched off: they took two values with one ``self``/``id`` (a cascading select's parent
option with another child; a priority or a vote count whose ``self`` is "…") for one, so
the reference is each value rendered afresh. Regenerate only on purpose::

    WRITE_PATH_GOLDEN=record .venv/bin/python -m pytest -q macros/tests/test_write_path_golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from django.db import connection

from conftest import StaticSource, make_issue, publish_page_with_macro, use_source
from macros.models import SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources.base import FieldInfo
from macros.tests.jira_fields import FIELD_LIST, rich_fields, varied_fields

GOLDEN = Path(__file__).parent / "data" / "write_path_golden.json"
LEVEL_ONE = ["key"] + [f["id"] for f in FIELD_LIST if f["id"] not in ("key",)]
LEVEL_TWO = ["key", "summary", "status", "assignee", "customfield_10016", "timespent", "labels", "created"]


class FieldListSource(StaticSource):
    """The static source answering Jira's field list, schemas and all."""

    def fields(self) -> list[FieldInfo]:
        return [FieldInfo(f["id"], f["name"], f.get("custom", False), (f.get("schema") or {}).get("type"),
                          f.get("schema") or {}) for f in FIELD_LIST]


def _odd(n: int) -> dict:
    """Values the renderers meet less often: empties, wrong types, unicode, huge numbers."""
    odd = [
        {"customfield_10016": "", "labels": [], "assignee": None, "summary": "ÄÖÜ straße İstanbul ß"},
        {"customfield_10016": 2**70, "timespent": 0, "labels": ["ÉCOLE", "a10", "a9"]},
        {"customfield_10016": True, "priority": {"name": "Weird"}, "duedate": "not a date"},
        {"customfield_10016": 3.25, "created": "2024-02-29T23:59:59.999+1400", "labels": ["x"] * 25},
        {"customfield_10016": "12", "components": [{"name": "Z"}, {"name": "a"}, {"id": "7"}], "status": None},
        {"summary": "", "resolution": {"name": ""}, "fixVersions": [{"name": "v1.10"}, {"name": "v1.9"}]},
    ]
    return odd[n % len(odd)]


def _level_one() -> list[dict]:
    issues = []
    for n in range(240):
        kind = n % 4
        if kind == 0:
            fields = varied_fields(n, cloud=True)
        elif kind == 1:
            fields = varied_fields(n, cloud=False)
        elif kind == 2:
            fields = rich_fields(1 + n % 7, cloud=n % 8 == 2)
        else:
            issue = make_issue(n, status=["To Do", "Done"][n % 2], category=["new", "done"][n % 2])
            fields = {**issue["fields"], **(_odd(n // 4) if n % 8 == 3 else {})}
        issues.append({"id": str(10000 + n), "key": f"WEB-{n}", "self": f"https://example.atlassian.net/rest/api/3/issue/{10000 + n}",
                       "fields": fields})
    return issues


def _children(parent: int) -> list[dict]:
    kids = []
    for j in range(parent % 4 + 1):
        n = 5000 + parent * 10 + j
        fields = varied_fields(n, cloud=j % 2 == 0)
        kids.append({"id": str(10000 + n), "key": f"SUB-{n}", "fields": {**fields, "parent": {"key": f"WEB-{parent}"}}})
    return kids


def _stored(snapshot_id: int) -> dict:
    """The snapshot's rows, index rows and counts as the database holds them (text, unparsed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT position, level, parent_position, issue_key, data FROM macros_snapshotrow "
                       "WHERE snapshot_id = %s ORDER BY position", [snapshot_id])
        rows = cursor.fetchall()
        cursor.execute("SELECT position, level, parent_position, root_position, search_text, sort_keys, numbers "
                       "FROM macros_snapshotrowindex WHERE snapshot_id = %s ORDER BY position", [snapshot_id])
        index = cursor.fetchall()
        cursor.execute("SELECT counts, group_counts, issue_count, columns FROM macros_snapshot WHERE id = %s", [snapshot_id])
        counts, groups, issue_count, columns = cursor.fetchone()
    digest = lambda row: hashlib.sha256(json.dumps([_canonical(v) for v in row], ensure_ascii=False).encode()).hexdigest()[:20]  # noqa: E731
    return {
        "rows": [digest(r) for r in rows],
        "index": [digest(r) for r in index],
        "counts": _parsed(counts),
        "group_counts": _parsed(groups),
        "issue_count": issue_count,
        "columns": digest([columns]),
        # SQLite keeps the JSON as written: the order of the groups shows there, jsonb keeps none.
        **({"counts_as_stored": digest([json.dumps([counts, groups])])} if connection.vendor == "sqlite" else {}),
    }


def _parsed(value):
    # SQLite hands JSON columns back as their text, PostgreSQL (jsonb) as parsed values.
    return json.loads(value) if isinstance(value, str) else value


def _canonical(value):
    """A column's value with JSON in one spelling: jsonb keeps no key order, SQLite's text does."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def test_the_stored_snapshot_is_what_it_was_before_the_speed_up(monkeypatch, space, people):
    level_one = _level_one()
    # One search per parent (not batched), answered per parent: a third of them have children.
    by_jql = {"project = WEB": level_one, **{f"issue in linkedIssues(WEB-{p})": _children(p) if p % 3 == 0 else []
                                             for p in range(240)}}
    use_source(monkeypatch, FieldListSource(level_one, by_jql=by_jql))
    _, macro = publish_page_with_macro(space, people["editor"], fields=LEVEL_ONE)
    macro.levels = [{"jql": "project = WEB", "fields": LEVEL_ONE}, {"jql": "issue in linkedIssues($key)", "fields": LEVEL_TWO}]
    macro.save()
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    stored = _stored(job.snapshot.pk)
    assert len(stored["index"]) == len(stored["rows"]) > 240

    if os.environ.get("WRITE_PATH_GOLDEN") == "record":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(stored, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    differing = [p for p, (a, b) in enumerate(zip(stored["index"], golden["index"], strict=False), start=1) if a != b]
    assert not differing, f"index rows differ at positions {differing[:10]}"
    assert stored["rows"] == golden["rows"]
    assert stored["counts"] == golden["counts"]
    assert stored["group_counts"] == golden["group_counts"]
    if "counts_as_stored" not in stored:
        golden.pop("counts_as_stored")
    assert stored == golden


def test_values_that_read_differently_never_share_a_cache_entry():
    from macros.fieldtypes.memo import remembered, value_key

    alike = [1, 1.0, True, "1", None, float("nan"), [1], [True], {"a": None}, {"a": float("nan")}, {"a": float("inf")},
             {"value": "EMEA", "id": "1", "child": {"value": "Germany"}},
             {"value": "EMEA", "id": "1", "child": {"value": "France"}}]
    keys = [value_key(v) for v in alike]
    assert None not in keys and len(set(keys)) == len(alike)
    assert value_key(float("nan")) is not None and value_key({"n": 2**70}) is None  # orjson cannot write it
    memo: dict = {}
    assert [remembered(memo, v, repr) for v in alike] == [repr(v) for v in alike]
    assert remembered(memo, {"value": "EMEA", "id": "1", "child": {"value": "France"}}, str.upper) == repr(alike[-1])
