"""Jira rich text as readable plain text: Cloud's Atlassian Document Format (ADF) and
Data Center's wiki markup.

Lists keep one item a line, headings and emphasis lose their markup, links keep their
text and mentions their name. References:
https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/ and
https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all
"""

from __future__ import annotations

import re
from typing import Any

# --------------------------------------------------------------------------------------
# ADF

_BLOCKS = {"paragraph", "heading", "blockquote", "codeBlock", "panel", "rule", "mediaSingle", "mediaGroup", "expand", "nestedExpand", "decisionList", "taskList"}


def adf_text(node: Any) -> str:
    """An ADF document (or any node of one) as plain text, one block a line."""
    lines: list[str] = []
    _adf_blocks(node, lines, depth=0)
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()


def _adf_blocks(node: Any, lines: list[str], depth: int) -> None:
    if isinstance(node, list):
        for child in node:
            _adf_blocks(child, lines, depth)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    content = node.get("content") or []
    if kind in ("bulletList", "orderedList"):
        start = (node.get("attrs") or {}).get("order", 1) if kind == "orderedList" else None
        for number, item in enumerate(content, start=start or 1):
            marker = f"{number}." if start is not None else "•"
            item_lines: list[str] = []
            _adf_blocks((item or {}).get("content") or [], item_lines, depth + 1)
            first, *rest = item_lines or [""]
            lines.append(f"{'  ' * depth}{marker} {first.strip()}")
            lines.extend(rest)
        return
    if kind in ("taskList", "decisionList"):
        for item in content:
            done = ((item or {}).get("attrs") or {}).get("state") in ("DONE", "DECIDED")
            lines.append(f"{'  ' * depth}{'☑' if done else '☐'} {_adf_inline((item or {}).get('content') or [])}")
        return
    if kind == "table":
        for row in content:
            cells = [adf_text(cell).replace("\n", " ") for cell in (row or {}).get("content") or []]
            lines.append(" | ".join(cells))
        return
    if kind == "rule":
        return
    if kind in ("doc", "blockquote", "panel", "expand", "nestedExpand", "mediaSingle", "mediaGroup", "layoutSection", "layoutColumn", "bodiedExtension"):
        title = (node.get("attrs") or {}).get("title")
        if title:
            lines.append(str(title))
        _adf_blocks(content, lines, depth)
        return
    if kind == "codeBlock":
        lines.extend(_adf_inline(content).split("\n"))
        return
    if kind in ("paragraph", "heading"):
        lines.extend(_adf_inline(content).split("\n"))
        return
    # An inline node at block level (or an unknown block): read it as a line.
    text = _adf_inline([node])
    if text:
        lines.extend(text.split("\n"))


def _adf_inline(nodes: list) -> str:
    parts: list[str] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text":
            parts.append(str(node.get("text", "")))
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind == "mention":
            parts.append(str(attrs.get("text") or "").lstrip("@") or "someone")
        elif kind == "emoji":
            parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind in ("inlineCard", "blockCard", "embedCard"):
            parts.append(str(attrs.get("url") or ""))
        elif kind == "status":
            parts.append(str(attrs.get("text") or ""))
        elif kind == "date":
            parts.append(_adf_date(attrs.get("timestamp")))
        elif kind == "media":
            parts.append(str(attrs.get("alt") or ""))
        elif node.get("content"):
            lines: list[str] = []
            _adf_blocks(node, lines, depth=0)
            parts.append("\n".join(lines))
    return "".join(parts)


def _adf_date(timestamp: Any) -> str:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc"


# --------------------------------------------------------------------------------------
# Data Center wiki markup

_BLOCK_MACRO = re.compile(r"\{(code|noformat)(?::[^}]*)?\}(.*?)\{\1\}", re.S)
_WRAP_MACRO = re.compile(r"\{(?:quote|panel|color|info|note|tip|warning|expand)(?::[^}]*)?\}")
_HEADING = re.compile(r"^\s*h[1-6]\.\s*")
_QUOTE = re.compile(r"^\s*bq\.\s*")
_LIST = re.compile(r"^\s*([*#-]+)\s+")
_TABLE = re.compile(r"^\s*\|\|?(.*?)\|?\|?\s*$")
_LINK = re.compile(r"\[(?:([^|\]]*)\|)?([^\]]*)\]")
_IMAGE = re.compile(r"!([^!\s|]+)(?:\|[^!]*)?!")
_MONO = re.compile(r"\{\{(.*?)\}\}")
# *bold* _em_ +ins+ -del- ^sup^ ~sub~ ??cite??: the markers hug the words they wrap.
_EMPHASIS = [
    re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"),
    re.compile(r"(?<![\w+])\+(?=\S)(.+?)(?<=\S)\+(?![\w+])"),
    re.compile(r"(?<![\w-])-(?=\S)(.+?)(?<=\S)-(?![\w-])"),
    re.compile(r"(?<![\w^])\^(?=\S)(.+?)(?<=\S)\^(?![\w^])"),
    re.compile(r"(?<![\w?])\?\?(?=\S)(.+?)(?<=\S)\?\?(?![\w?])"),
]


def wiki_text(markup: str) -> str:
    """Jira wiki markup as readable text."""
    if not markup:
        return ""
    code_blocks: list[str] = []

    def keep_code(match: re.Match) -> str:
        code_blocks.append(match.group(2).strip("\n"))
        return f"\x00{len(code_blocks) - 1}\x00"

    text = _BLOCK_MACRO.sub(keep_code, markup.replace("\r\n", "\n"))
    text = _WRAP_MACRO.sub("", text)
    counters: dict[int, int] = {}
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw
        if line.strip() == "----":
            continue
        line = _HEADING.sub("", line)
        line = _QUOTE.sub("", line)
        listed = _LIST.match(line)
        if listed and not line.lstrip().startswith("----"):
            markers = listed.group(1)
            depth = len(markers)
            body = line[listed.end():]
            if markers[-1] == "#":
                counters[depth] = counters.get(depth, 0) + 1
                for deeper in [d for d in counters if d > depth]:
                    del counters[deeper]
                marker = f"{counters[depth]}."
            else:
                marker = "•"
            line = f"{'  ' * (depth - 1)}{marker} {_inline(body)}"
        else:
            counters.clear()
            table = _TABLE.match(line) if line.lstrip().startswith("|") else None
            if table:
                cells = [c.strip() for c in re.split(r"\|\|?", table.group(1))]
                line = " | ".join(_inline(c) for c in cells if c)
            else:
                line = _inline(line)
        lines.append(line.rstrip())
    out = "\n".join(lines)
    out = re.sub(r"\x00(\d+)\x00", lambda m: code_blocks[int(m.group(1))], out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _inline(text: str) -> str:
    text = text.replace("\\\\", "\n")
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _MONO.sub(lambda m: m.group(1), text)
    text = _LINK.sub(_link_text, text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group(1), text)
    return text


def _link_text(match: re.Match) -> str:
    label, target = match.group(1), match.group(2)
    if label:
        return label
    if target.startswith("~"):  # [~username] is a mention
        return target[1:]
    if target.startswith("^"):  # [^attachment.png]
        return target[1:]
    return target
