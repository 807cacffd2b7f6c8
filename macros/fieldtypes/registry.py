"""Which renderer reads which Jira field: by schema custom type, system field, then type."""

from __future__ import annotations

from typing import Any

from macros.fieldtypes import renderers as r

# Custom field types (``schema.custom``), Atlassian's own and Jira Software's.
_CF = "com.atlassian.jira.plugin.system.customfieldtypes:"
BY_CUSTOM: dict[str, r.Renderer] = {
    "com.pyxis.greenhopper.jira:gh-sprint": r.Sprint(),
    "com.pyxis.greenhopper.jira:gh-epic-link": r.IssueKey(),
    "com.pyxis.greenhopper.jira:gh-epic-label": r.Text(),
    "com.pyxis.greenhopper.jira:jsw-story-points": r.Number(),
    "com.atlassian.jpo:jpo-custom-field-parent": r.Readable(),
    "com.atlassian.servicedesk:sd-sla-field": r.ServiceLevel(),
    "com.atlassian.jira.plugins.jira-development-integration-plugin:devsummarycf": r.Development(),
    "com.atlassian.jira.plugins.jira-development-integration-plugin:devsummary": r.Development(),
    "com.atlassian.servicedesk:vp-origin": r.RequestType(),
    f"{_CF}cascadingselect": r.CascadingSelect(),
    f"{_CF}select": r.Option(),
    f"{_CF}radiobuttons": r.Option(),
    f"{_CF}multiselect": r.ListOf(r.Option()),
    f"{_CF}multicheckboxes": r.ListOf(r.Option()),
    f"{_CF}textarea": r.RichText(),
    f"{_CF}textfield": r.Text(),
    f"{_CF}url": r.Url(),
    f"{_CF}float": r.Number(),
    f"{_CF}datepicker": r.Date(),
    f"{_CF}datetime": r.DateTime(),
    f"{_CF}userpicker": r.User(),
    f"{_CF}multiuserpicker": r.ListOf(r.User()),
    f"{_CF}people": r.ListOf(r.User()),
    f"{_CF}grouppicker": r.Named(),
    f"{_CF}multigrouppicker": r.ListOf(r.Named()),
    f"{_CF}labels": r.ListOf(r.Text()),
    f"{_CF}version": r.Named(),
    f"{_CF}multiversion": r.ListOf(r.Named()),
    f"{_CF}project": r.Named(),
}

_DURATION = r.Duration()
_DATETIME = r.DateTime()
_USER = r.User()
_NAMED = r.Named()
_NAMES = r.ListOf(r.Named())

# System fields (``schema.system``, or the field id when a column has no schema).
BY_SYSTEM: dict[str, r.Renderer] = {
    "key": r.IssueKey(),
    "summary": r.Text(),
    "description": r.RichText(),
    "environment": r.RichText(),
    "status": r.Status(),
    "priority": r.Priority(),
    "issuetype": _NAMED,
    "resolution": r.Resolution(),
    "project": _NAMED,
    "security": _NAMED,
    "statusCategory": _NAMED,
    "assignee": _USER,
    "reporter": _USER,
    "creator": _USER,
    "created": _DATETIME,
    "updated": _DATETIME,
    "resolutiondate": _DATETIME,
    "lastViewed": _DATETIME,
    "statuscategorychangedate": _DATETIME,
    "duedate": r.Date(),
    "timeoriginalestimate": _DURATION,
    "timeestimate": _DURATION,
    "timespent": _DURATION,
    "aggregatetimeoriginalestimate": _DURATION,
    "aggregatetimeestimate": _DURATION,
    "aggregatetimespent": _DURATION,
    "timetracking": r.TimeTracking(),
    "progress": r.Progress(),
    "aggregateprogress": r.Progress(),
    "votes": r.Count("votes"),
    "watches": r.Count("watchCount"),
    "comment": r.Comments(),
    "attachment": r.Attachments(),
    "worklog": r.Worklog(),
    "issuelinks": r.IssueLinks(),
    "subtasks": r.Subtasks(),
    "parent": r.IssueRef(),
    "labels": r.ListOf(r.Text()),
    "components": _NAMES,
    "fixVersions": _NAMES,
    "versions": _NAMES,
    "workratio": r.Number(),
}

# ``schema.type`` alone, and ``(type, items)`` for arrays.
BY_TYPE: dict[str | tuple[str, str], r.Renderer] = {
    "string": r.Text(),
    "number": r.Number(),
    "date": r.Date(),
    "datetime": _DATETIME,
    "user": _USER,
    "group": _NAMED,
    "option": r.Option(),
    "option-with-child": r.CascadingSelect(),
    "status": r.Status(),
    "priority": r.Priority(),
    "resolution": r.Resolution(),
    "issuetype": _NAMED,
    "project": _NAMED,
    "securitylevel": _NAMED,
    "version": _NAMED,
    "component": _NAMED,
    "timetracking": r.TimeTracking(),
    "progress": r.Progress(),
    "votes": r.Count("votes"),
    "watches": r.Count("watchCount"),
    "comments-page": r.Comments(),
    "issuelinks": r.IssueLinks(),
    "issuelink": r.IssueRef(),
    "statusCategory": _NAMED,
    "sd-servicelevelagreement": r.ServiceLevel(),
    "sd-customerrequesttype": r.RequestType(),
    ("array", "string"): r.ListOf(r.Text()),
    ("array", "option"): r.ListOf(r.Option()),
    ("array", "user"): r.ListOf(r.User()),
    ("array", "group"): r.ListOf(r.Named()),
    ("array", "version"): _NAMES,
    ("array", "component"): _NAMES,
    ("array", "issuelinks"): r.IssueLinks(),
    ("array", "attachment"): r.Attachments(),
    ("array", "issuetype"): _NAMES,
    ("array", "worklog"): r.Worklog(),
}

FALLBACK = r.Readable()


def renderer_for(column: dict) -> r.Renderer:
    """The renderer of a snapshot column ``{"id", "name", "schema"?}``."""
    schema = column.get("schema") or {}
    field_id = column.get("id") or ""
    if field_id == "key":  # not a Jira field: the key every issue carries
        return BY_SYSTEM["key"]
    found = BY_CUSTOM.get(schema.get("custom") or "") or BY_SYSTEM.get(schema.get("system") or "")
    # A system field is known by its id even where the schema is missing or thin.
    found = found or (BY_SYSTEM.get(field_id) if not field_id.startswith("customfield_") else None)
    if found is None and schema.get("type"):
        kind = schema["type"]
        found = BY_TYPE.get((kind, schema.get("items") or "")) or (BY_TYPE.get(kind) if kind != "array" else None)
    return found or FALLBACK


def cell_value(issue: dict, field_id: str) -> Any:
    """The raw value of one field of one issue (``key`` is the issue's key)."""
    if field_id == "key":
        return issue.get("key", "")
    return (issue.get("fields") or {}).get(field_id)


def _column(column: dict | str) -> dict:
    return {"id": column} if isinstance(column, str) else column


def cell_text(issue: dict, column: dict | str) -> str:
    column = _column(column)
    return renderer_for(column).text(cell_value(issue, column["id"]))


def cell_html(issue: dict, column: dict | str, site_url: str = "") -> str:
    column = _column(column)
    return str(renderer_for(column).html(cell_value(issue, column["id"]), site_url=site_url))


def column_for(field_id: str, name: str, schema: dict | None = None) -> dict:
    """A snapshot column as stored: the id, Jira's name, and the schema when Jira gave one."""
    column = {"id": field_id, "name": name}
    if schema:
        column["schema"] = {k: v for k, v in schema.items() if k in ("type", "items", "custom", "system", "customId") and v is not None}
    return column
