"""Building snapshots for the history, compare, sticker and export tests."""

from __future__ import annotations

from conftest import StaticSource, make_issue, use_source
from macros.models import Snapshot, SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources import FieldInfo

PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra"]


def person(n: int) -> dict:
    name = PEOPLE[n % len(PEOPLE)]
    return {"accountId": f"5b10ac8d82e05b22cc7d{n % len(PEOPLE):04d}", "displayName": name, "active": True}


def issue(n: int, *, project: str = "WEB", status: str = "To Do", category: str = "new", summary: str | None = None,
          assignee: int | None = None, priority: str = "Medium", **fields) -> dict:
    """An issue shaped like Jira Cloud's, with a few more fields than ``make_issue``."""
    data = make_issue(n, project=project, status=status, category=category, **fields)
    data["fields"].update(
        {
            "summary": summary or f"Issue number {n}",
            "assignee": person(assignee) if assignee is not None else None,
            "priority": {"name": priority, "id": "3", "iconUrl": "https://example.atlassian.net/images/icons/priorities/medium.svg"},
            "labels": fields.get("labels", ["backend"] if n % 2 else []),
            "updated": fields.get("updated", "2026-01-12T09:30:00.000+0000"),
        }
    )
    return data


class NamedFieldsSource(StaticSource):
    """StaticSource that also names the priority field, as Jira's field list does."""

    def fields(self) -> list[FieldInfo]:
        return [*super().fields(), FieldInfo("priority", "Priority"), FieldInfo("customfield_10016", "Story Points", True, "number")]


def snapshot_of(macro, monkeypatch, issues: list[dict] | None = None, *, by_jql: dict | None = None, user=None) -> Snapshot:
    """Take a real snapshot of ``macro`` through the snapshot service, over these issues."""
    use_source(monkeypatch, NamedFieldsSource(issues or [], by_jql=by_jql))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=user)
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    return job.snapshot
