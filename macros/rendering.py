"""Page bodies into safe HTML (table cells: ``macros.fieldtypes``)."""

from __future__ import annotations

import re

import cmarkgfm.cmark as cmark
import nh3
from django.utils.html import linebreaks


def status_category_key(issue: dict) -> str:
    status = (issue.get("fields") or {}).get("status") or {}
    return (status.get("statusCategory") or {}).get("key", "")


_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
}

# A page body is Markdown any editor writes and every viewer's request would pay for, so
# its cost must be bounded by its length. cmark (CommonMark's reference parser, here
# GitHub's fork with tables) is linear on the inputs that made python-markdown quadratic
# (8,000 `[` took 8 s); what is left is bounded by the three limits below (bench/body_render.py).
MAX_BODY_CHARS = 20_000
# The HTML sanitiser's tree builder walks the open-element stack for each tag: quadratic
# in the nesting depth (8,000 nested quotes take 0.6 s to clean), so depth is bounded.
MAX_BODY_DEPTH = 64
# A table row is padded to the header's width: 500 columns over 1,000 one-word lines
# is 5 MB of HTML from 4 KB of text.
MAX_TABLE_CELLS = 5_000

_CMARK_OPTIONS = cmark.Options.CMARK_OPT_UNSAFE  # raw HTML goes on to nh3, as before
_CMARK_EXTENSIONS = ["table", "autolink", "strikethrough", "tagfilter"]
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>")
_VOID_TAGS = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"})
_TABLE_DELIMITER_ROW = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")


def body_problem(text: str) -> str | None:
    """Why a body may not be saved (a sentence for the editor), or None when it may."""
    if len(text) > MAX_BODY_CHARS:
        return f"The page body is too long: {len(text):,} characters; the most is {MAX_BODY_CHARS:,}."
    if _table_cells(text) > MAX_TABLE_CELLS:
        return f"The page body's tables are too large: at most {MAX_TABLE_CELLS:,} cells in all."
    if _depth(_markdown_html(text)) > MAX_BODY_DEPTH:
        return f"The page body nests lists, quotes or HTML too deeply: at most {MAX_BODY_DEPTH} levels."
    return None


def render_body(text: str) -> str:
    """Markdown to HTML, then sanitised: page bodies are written by any editor.

    A body over the limits (saved before they existed, or through the admin) is shown as
    its plain text rather than costing every viewer a slow render.
    """
    text = text or ""
    if len(text) > MAX_BODY_CHARS or _table_cells(text) > MAX_TABLE_CELLS:
        return _plain(text)
    html = _markdown_html(text)
    if _depth(html) > MAX_BODY_DEPTH:
        return _plain(text)
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}}, url_schemes={"http", "https", "mailto"})


def _markdown_html(text: str) -> str:
    return cmark.markdown_to_html_with_extensions(text, options=_CMARK_OPTIONS, extensions=_CMARK_EXTENSIONS)


def _plain(text: str) -> str:
    return linebreaks(text[:MAX_BODY_CHARS], autoescape=True)


def _depth(html: str) -> int:
    """The deepest element nesting in ``html``, counted the way a tree builder would keep it.

    A closing tag closes up to its opening tag when one is open and is ignored otherwise,
    so stray closing tags cannot hide depth; the count stops once it passes the limit.
    """
    stack: list[str] = []
    deepest = 0
    for match in _TAG.finditer(html):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
        elif name not in _VOID_TAGS and not self_closing:
            stack.append(name)
            deepest = max(deepest, len(stack))
            if deepest > MAX_BODY_DEPTH:
                break
    return deepest


def _table_cells(text: str) -> int:
    """An upper bound on the cells GitHub's table extension would make of ``text``.

    A table is its delimiter row's width times the lines that follow it up to a blank one.
    """
    lines = text.splitlines()
    cells = 0
    for i, line in enumerate(lines):
        if "-" not in line or not _TABLE_DELIMITER_ROW.match(line):
            continue
        columns = max(1, line.strip().strip("|").count("|") + 1)
        rows = 1
        while i + rows < len(lines) and lines[i + rows].strip():
            rows += 1
        cells += columns * rows
        if cells > MAX_TABLE_CELLS:
            break
    return cells
