"""Page bodies into safe HTML (table cells: ``macros.fieldtypes``)."""

from __future__ import annotations

import markdown
import nh3


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
