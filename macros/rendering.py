"""Turning Jira's issue JSON into table cells and page bodies into safe HTML."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import markdown
import nh3

_PEOPLE_KEYS = ("displayName", "name", "emailAddress", "accountId")


def cell_text(issue: dict, field_id: str) -> str:
    """The text a Jira table shows for one field of one issue."""
    if field_id == "key":
        return issue.get("key", "")
    value = (issue.get("fields") or {}).get(field_id)
    return value_text(value)


def value_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return _date_text(value) or value
    if isinstance(value, list):
        return ", ".join(filter(None, (value_text(v) for v in value)))
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return _adf_text(value).strip()
        if "key" in value and "fields" in value:  # a linked issue, e.g. parent
            return f"{value['key']} {value['fields'].get('summary', '')}".strip()
        for key in _PEOPLE_KEYS:
            if value.get(key) and ("accountId" in value or "emailAddress" in value or "active" in value):
                return str(value[key])
        for key in ("name", "value", "displayName", "key"):
            if value.get(key) is not None:
                return str(value[key])
    return str(value)


def _date_text(value: str) -> str | None:
    """Jira's timestamps (``2022-06-09T16:29:31.871-0700``) shown the way Jira lists them."""
    if len(value) < 19 or value[4] != "-" or value[10] != "T":
        return None
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%d %H:%M")


def _adf_text(node: dict) -> str:
    if node.get("type") == "text":
        return node.get("text", "")
    parts = [_adf_text(child) for child in node.get("content", []) if isinstance(child, dict)]
    separator = "\n" if node.get("type") in {"doc", "bulletList", "orderedList"} else ""
    return separator.join(parts)


def status_category_key(issue: dict) -> str:
    status = (issue.get("fields") or {}).get("status") or {}
    return (status.get("statusCategory") or {}).get("key", "")


_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
}


def render_body(text: str) -> str:
    """Markdown to HTML, then sanitised: page bodies are written by any editor."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}}, url_schemes={"http", "https", "mailto"})
