"""The bundled Sample source: generated Jira Cloud issues searched with a real JQL subset.

The data (``sample_data/issues.json.gz``, made by ``sample_data/generate.py``) is laid out
over the year before a fixed anchor date. On first use in a process every date is shifted
so that the newest update is a few hours old: ``updated >= -7d`` finds issues whatever
day the demo runs. Loading and shifting happen once per process (~100 ms) and are cached.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from macros.jql import Catalog, SearchIndex, parse_jira_datetime
from macros.sources.base import FieldInfo, Identity, ResultPage, Source

DATA_FILE = Path(__file__).parent / "sample_data" / "issues.json.gz"
NEWEST_UPDATE_AGE = timedelta(hours=3)

# Field id → (Jira's display name, custom, schema as GET /rest/api/3/field gives it), in
# the order Jira lists them.
_SPRINT = "com.pyxis.greenhopper.jira:gh-sprint"
FIELDS: dict[str, tuple[str, bool, dict]] = {
    "key": ("Key", False, {}),
    "summary": ("Summary", False, {"type": "string", "system": "summary"}),
    "issuetype": ("Issue Type", False, {"type": "issuetype", "system": "issuetype"}),
    "project": ("Project", False, {"type": "project", "system": "project"}),
    "status": ("Status", False, {"type": "status", "system": "status"}),
    "priority": ("Priority", False, {"type": "priority", "system": "priority"}),
    "resolution": ("Resolution", False, {"type": "resolution", "system": "resolution"}),
    "resolutiondate": ("Resolved", False, {"type": "datetime", "system": "resolutiondate"}),
    "created": ("Created", False, {"type": "datetime", "system": "created"}),
    "updated": ("Updated", False, {"type": "datetime", "system": "updated"}),
    "duedate": ("Due date", False, {"type": "date", "system": "duedate"}),
    "assignee": ("Assignee", False, {"type": "user", "system": "assignee"}),
    "reporter": ("Reporter", False, {"type": "user", "system": "reporter"}),
    "labels": ("Labels", False, {"type": "array", "items": "string", "system": "labels"}),
    "components": ("Components", False, {"type": "array", "items": "component", "system": "components"}),
    "fixVersions": ("Fix versions", False, {"type": "array", "items": "version", "system": "fixVersions"}),
    "parent": ("Parent", False, {"type": "issuelink", "system": "parent"}),
    "description": ("Description", False, {"type": "string", "system": "description"}),
    "environment": ("Environment", False, {"type": "string", "system": "environment"}),
    "timeoriginalestimate": ("Original estimate", False, {"type": "number", "system": "timeoriginalestimate"}),
    "timeestimate": ("Remaining Estimate", False, {"type": "number", "system": "timeestimate"}),
    "timespent": ("Time Spent", False, {"type": "number", "system": "timespent"}),
    "timetracking": ("Time tracking", False, {"type": "timetracking", "system": "timetracking"}),
    "progress": ("Progress", False, {"type": "progress", "system": "progress"}),
    "aggregateprogress": ("Σ Progress", False, {"type": "progress", "system": "aggregateprogress"}),
    "subtasks": ("Sub-tasks", False, {"type": "array", "items": "issuelinks", "system": "subtasks"}),
    "issuelinks": ("Linked Issues", False, {"type": "array", "items": "issuelinks", "system": "issuelinks"}),
    "comment": ("Comment", False, {"type": "comments-page", "system": "comment"}),
    "attachment": ("Attachment", False, {"type": "array", "items": "attachment", "system": "attachment"}),
    "votes": ("Votes", False, {"type": "votes", "system": "votes"}),
    "watches": ("Watchers", False, {"type": "watches", "system": "watches"}),
    "customfield_10016": (
        "Story Points", True,
        {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float", "customId": 10016},
    ),
    "customfield_10020": ("Sprint", True, {"type": "array", "items": "json", "custom": _SPRINT, "customId": 10020}),
}
ISSUE_FIELD_IDS = [field_id for field_id in FIELDS if field_id != "key"]  # "key" sits beside "fields"

_ISSUE_DATES = ("created", "updated", "resolutiondate")


@dataclass(frozen=True)
class SampleDataset:
    issues: list[dict]
    index: SearchIndex
    shift: timedelta  # how far the stored dates were moved forward


_dataset: SampleDataset | None = None
_lock = threading.Lock()


def dataset() -> SampleDataset:
    """The shifted dataset, loaded on first use and kept for the life of the process."""
    global _dataset
    if _dataset is None:
        with _lock:  # two threads of one worker must not both pay for the load
            if _dataset is None:
                _dataset = load(DATA_FILE, now=datetime.now(UTC))
    return _dataset


def load(path: Path, *, now: datetime) -> SampleDataset:
    """Read the generated file and move every date so the newest update is ``now - 3h``."""
    data = json.loads(gzip.decompress(path.read_bytes()))
    issues: list[dict] = data["issues"]
    newest = max(parse_jira_datetime(issue["fields"]["updated"]) for issue in issues)
    shift = (now - NEWEST_UPDATE_AGE) - newest
    # Whole minutes keep "created = '2026-01-31 14:00'" style searches meaningful.
    shift = timedelta(minutes=int(shift.total_seconds() // 60))
    for issue in issues:
        _shift_issue(issue, shift)
    catalog = Catalog.from_issues(issues, groups=data.get("groups", {}))
    return SampleDataset(issues, SearchIndex(issues, catalog), shift)


def _shift_moment(text: str | None, shift: timedelta, sprint_style: bool = False) -> str | None:
    if not text:
        return text
    moment = parse_jira_datetime(text) + shift
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return stamp + ("Z" if sprint_style else "+0000")


def _shift_date(text: str | None, shift: timedelta) -> str | None:
    if not text:
        return text
    return (date.fromisoformat(text) + timedelta(days=round(shift / timedelta(days=1)))).isoformat()


def _shift_issue(issue: dict, shift: timedelta) -> None:
    fields = issue["fields"]
    for name in _ISSUE_DATES:
        fields[name] = _shift_moment(fields.get(name), shift)
    fields["duedate"] = _shift_date(fields.get("duedate"), shift)
    # json.loads gives every issue its own copy of each version and sprint, so shifting
    # them in place moves each date exactly once.
    for version in fields.get("fixVersions") or []:
        version["releaseDate"] = _shift_date(version.get("releaseDate"), shift)
    for comment in (fields.get("comment") or {}).get("comments") or []:
        comment["created"] = _shift_moment(comment.get("created"), shift)
        comment["updated"] = _shift_moment(comment.get("updated"), shift)
    for attachment in fields.get("attachment") or []:
        attachment["created"] = _shift_moment(attachment.get("created"), shift)
    for sprint in fields.get("customfield_10020") or []:
        for name in ("startDate", "endDate", "completeDate"):
            if name in sprint:
                sprint[name] = _shift_moment(sprint[name], shift, sprint_style=True)


def project(issue: dict, fields: list[str]) -> dict:
    """The issue with only the requested ``fields``, as Jira answers ``fields=[...]``.

    ``*all`` and ``*navigable`` give every field; ``-name`` removes one; unknown ids are
    silently left out. The returned field values are shared with the cache: read only.
    """
    wanted: list[str] = []
    for name in fields:
        if name in ("*all", "*navigable"):
            wanted.extend(ISSUE_FIELD_IDS)
        elif name in FIELDS and name != "key":
            wanted.append(name)
    removed = {name[1:] for name in fields if name.startswith("-")}
    source = issue["fields"]
    chosen = {name: source.get(name) for name in dict.fromkeys(wanted) if name not in removed}
    return {"id": issue["id"], "key": issue["key"], "self": issue["self"], "fields": chosen}


class Sample(Source):
    """Generated issues of three projects (WEB, MOB, OPS) over the last year."""

    name = "sample"
    site_url = ""

    def __init__(self, *, now: Callable[[], datetime] | None = None, current_user: str | None = None):
        # ``now`` is injectable for tests; currentUser() matches nobody unless told an account id.
        self.now = now or (lambda: datetime.now(UTC))
        self.current_user = current_user

    def search(self, jql_text: str) -> list[dict]:
        """Every issue matching ``jql_text``, full and in order; raises ``JqlError``."""
        return dataset().index.search(jql_text, now=self.now(), current_user=self.current_user)

    def search_pages(self, jql: str, fields: list[str], *, page_size: int = 100) -> Iterator[ResultPage]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        found = self.search(jql)
        total = len(found)
        if not found:
            yield ResultPage([], expected=0)
            return
        for start in range(0, total, page_size):
            yield ResultPage([project(issue, fields) for issue in found[start : start + page_size]], expected=total)

    def warm(self) -> None:
        # The first search warms the index as it reads fields; the worker does it on start.
        self.search("ORDER BY key")

    def fields(self) -> list[FieldInfo]:
        return [
            FieldInfo(field_id, name, custom, schema.get("type"), dict(schema))
            for field_id, (name, custom, schema) in FIELDS.items()
        ]

    def myself(self) -> Identity:
        return Identity("Sample data", "sample")
