"""One class per kind of Jira value. ``registry.py`` says which field gets which."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC
from html import escape as _html_escape
from typing import Any
from urllib.parse import quote

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from macros.fieldtypes import formats
from macros.fieldtypes.richtext import adf_text, is_adf, wiki_text

EMPTY_KEY: tuple = (1,)  # sorts after every (0, …) key: empty cells go last


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _text_key(text: str) -> tuple:
    return (0, text.casefold()) if text else EMPTY_KEY


def esc(text: str) -> str:
    # The standard library's escape: Django's (lazy-aware) one costs several times more,
    # and a table page calls this for every cell.
    return _html_escape(text, quote=True)


def _lines_html(text: str) -> SafeString:
    return mark_safe(esc(text).replace("\n", "<br>"))


def issue_url(site_url: str, key: str) -> str:
    return f"{site_url.rstrip('/')}/browse/{quote(key, safe='')}"


def key_link(key: str, site_url: str, title: str = "") -> SafeString:
    """An issue key as a link to the issue in Jira (Cloud and Data Center share /browse/KEY)."""
    if not key:
        return mark_safe("")
    title_attr = f' title="{esc(title)}"' if title else ""
    if not site_url:
        return mark_safe(f'<span class="issue-key"{title_attr}>{esc(key)}</span>')
    return mark_safe(f'<a class="issue-key" href="{esc(issue_url(site_url, key))}"{title_attr} rel="noopener">{esc(key)}</a>')


def _natural_key(key: str) -> tuple:
    """``WEB-9`` before ``WEB-10``."""
    project, _, number = key.rpartition("-")
    return (0, project.casefold(), int(number)) if number.isdigit() else (0, key.casefold(), 0)


# --------------------------------------------------------------------------------------
# The base class and the fallback


FLAT_TEXT_LIMIT = 10_000
_DEEP_FALLBACKS: dict = {}  # filled below, once Renderer's own methods exist


def flat_text(value: Any) -> str:
    """The words in a value nested too deeply to render (walked without recursion)."""
    words: list[str] = []
    size = 0
    stack = [value]
    while stack and size < FLAT_TEXT_LIMIT:
        item = stack.pop()
        if isinstance(item, str):
            words.append(item)
            size += len(item) + 1
        elif isinstance(item, dict):
            stack.extend(reversed([v for k, v in item.items() if k in _READABLE_KEYS or k == "content" or isinstance(v, (list, dict))]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return " ".join(" ".join(words).split())[:FLAT_TEXT_LIMIT]


def _deep_safe(method, fallback):
    """A renderer method that reads a value nested past Python's stack as its flat words.

    Jira's JSON is data from outside: an ADF tree or custom field nested a thousand deep
    must not break every view of the snapshot that holds it.
    """

    @functools.wraps(method)
    def guarded(self, value, *args, **kwargs):
        try:
            return method(self, value, *args, **kwargs)
        except RecursionError:
            return fallback(value)

    return guarded


class Renderer:
    """Plain text by default; subclasses override ``text`` and, where it says more, the rest."""

    summable: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, fallback in _DEEP_FALLBACKS.items():
            if name in cls.__dict__:
                setattr(cls, name, _deep_safe(cls.__dict__[name], fallback))

    def text(self, value: Any) -> str:
        return readable_text(value)

    def html(self, value: Any, *, site_url: str = "") -> str:
        return _lines_html(self.text(value))

    def sort_key(self, value: Any) -> tuple:
        return _text_key(self.text(value))

    def number(self, value: Any) -> float | None:
        return None

    def total_text(self, total: float) -> str:
        """A sum of ``number`` values (a totals row, a chart's axis) written the way the cells are."""
        return formats.number_text(total)


_DEEP_FALLBACKS.update(
    text=flat_text,
    html=lambda value: _lines_html(flat_text(value)),
    sort_key=lambda value: _text_key(flat_text(value)),
    number=lambda value: None,
)
for _name, _fallback in _DEEP_FALLBACKS.items():
    setattr(Renderer, _name, _deep_safe(getattr(Renderer, _name), _fallback))


class Readable(Renderer):
    """Anything of an unknown type: the most readable plain text found in it."""


_JAVA_TOSTRING = re.compile(r"^[\w.$]+@[0-9a-f]+\[(.*)\]$", re.S)
_JAVA_MAP = re.compile(r"^\{\w+=.*\}$", re.S)  # java.util.Map's toString: {name=Gold, id=3}
_READABLE_KEYS = ("displayName", "name", "value", "title", "label", "filename", "text", "summary")


def readable_text(value: Any) -> str:
    """The most readable text in any value: a name, a value, a key and summary…, never a repr."""
    if is_empty(value):
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float)):
        return formats.number_text(value)
    if isinstance(value, str):
        return _readable_string(value)
    if isinstance(value, list):
        return ", ".join(filter(None, (readable_text(v) for v in value)))
    if isinstance(value, dict):
        return _readable_dict(value)
    return ""


def _readable_string(value: str) -> str:
    stripped = value.strip()
    java = _JAVA_TOSTRING.match(stripped)
    if java:
        attributes = java_attributes(java.group(1))
        return attributes.get("name") or attributes.get("value") or attributes.get("key") or ""
    if stripped and stripped[0] in "{[" and stripped[-1] in "}]":
        if "json=" in stripped:  # the Development field's Java map around JSON
            return Development().text(stripped)
        try:
            return readable_text(json.loads(stripped))  # JSON sent as a string
        except ValueError:
            pass
        if _JAVA_MAP.match(stripped):
            attributes = java_attributes(stripped[1:-1].replace(", ", ","))
            return attributes.get("name") or attributes.get("value") or ""
    if formats.parse_datetime(value) is not None and len(value) > 16:
        return formats.datetime_text(value)
    return value


def _readable_dict(value: dict) -> str:
    if is_adf(value):
        return adf_text(value)
    if "child" in value and "value" in value:
        return CascadingSelect().text(value)
    if value.get("key") and isinstance(value.get("fields"), dict):
        return IssueRef().text(value)
    for name in _READABLE_KEYS:
        found = value.get(name)
        if isinstance(found, (str, int, float)) and not isinstance(found, bool) and found != "":
            return readable_text(found)
    if isinstance(value.get("key"), str) and value["key"]:
        return value["key"]
    # A wrapper such as Advanced Roadmaps' parent link {"data": {...}} or a page {"values": [...]}.
    for name in ("data", "values", "items", "issues", "content"):
        if name in value:
            return readable_text(value[name])
    return ""


def java_attributes(body: str) -> dict[str, str]:
    """``id=37,rapidViewId=1,state=ACTIVE,name=Sprint 12,…`` as a dict; commas inside
    a value stay in it (only ``,word=`` starts the next attribute)."""
    attributes: dict[str, str] = {}
    for part in re.split(r",(?=[A-Za-z_]\w*=)", body):
        name, sep, text = part.partition("=")
        if sep:
            attributes[name.strip()] = "" if text == "<null>" else text
    return attributes


# --------------------------------------------------------------------------------------
# Scalars


class Text(Renderer):
    def text(self, value: Any) -> str:
        if isinstance(value, str):
            # Old Data Center plugins put Java objects' toString into string fields.
            return value if not _JAVA_TOSTRING.match(value) else _readable_string(value)
        return readable_text(value)


class RichText(Renderer):
    """Descriptions, environments, multi-line custom fields: ADF (Cloud v3) or wiki markup."""

    def text(self, value: Any) -> str:
        if isinstance(value, str):
            return wiki_text(value)
        if is_adf(value):
            return adf_text(value)
        return readable_text(value)


class Number(Renderer):
    summable = True

    def text(self, value: Any) -> str:
        return formats.number_text(value) if formats.to_number(value) is not None else readable_text(value)

    def number(self, value: Any) -> float | None:
        return formats.to_number(value)

    def sort_key(self, value: Any) -> tuple:
        number = self.number(value)
        return EMPTY_KEY if number is None else (0, number)


class Duration(Number):
    """Seconds (``timeoriginalestimate``, ``timeestimate``, ``timespent``, their Σ forms)."""

    def text(self, value: Any) -> str:
        return formats.duration_text(value)

    def total_text(self, total: float) -> str:
        return formats.duration_text(total)


class Date(Renderer):
    def text(self, value: Any) -> str:
        return formats.date_text(value) or readable_text(value)

    def sort_key(self, value: Any) -> tuple:
        day = formats.parse_date(value)
        return EMPTY_KEY if day is None else (0, day.isoformat())


class DateTime(Renderer):
    def text(self, value: Any) -> str:
        return formats.datetime_text(value) or formats.date_text(value) or readable_text(value)

    def sort_key(self, value: Any) -> tuple:
        moment = formats.parse_datetime(value)
        if moment is None:
            return Date().sort_key(value)  # a bare date sorts as its midnight
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return (0, moment.strftime("%Y-%m-%dT%H:%M:%S.%f"))


class IssueKey(Renderer):
    """The ``key`` column and fields holding a bare key (Epic Link on Data Center)."""

    def text(self, value: Any) -> str:
        return value if isinstance(value, str) else readable_text(value)

    def html(self, value: Any, *, site_url: str = "") -> str:
        return key_link(self.text(value), site_url)

    def sort_key(self, value: Any) -> tuple:
        text = self.text(value)
        return _natural_key(text) if text else EMPTY_KEY


class Url(Renderer):
    def text(self, value: Any) -> str:
        return value if isinstance(value, str) else readable_text(value)

    def html(self, value: Any, *, site_url: str = "") -> str:
        text = self.text(value)
        if text.startswith(("http://", "https://")):
            return mark_safe(f'<a href="{esc(text)}" rel="noopener nofollow">{esc(text)}</a>')
        return _lines_html(text)


# --------------------------------------------------------------------------------------
# Objects with a name


class User(Renderer):
    """Cloud ``{accountId, displayName, active}``; Data Center ``{name, key, displayName}``."""

    def text(self, value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("displayName") or value.get("name") or value.get("key") or value.get("emailAddress") or "")
        return readable_text(value)


class Named(Renderer):
    """Issue type, resolution, project, security level, a version or component: the name."""

    def text(self, value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("name") or value.get("value") or value.get("key") or "")
        return readable_text(value)


class Resolution(Named):
    def text(self, value: Any) -> str:
        # Jira's lists read an empty resolution as "Unresolved".
        return super().text(value) if not is_empty(value) else "Unresolved"

    def sort_key(self, value: Any) -> tuple:
        return EMPTY_KEY if is_empty(value) else _text_key(self.text(value))


# Jira's default priorities, highest first, for sites whose priority ids are not the defaults.
_PRIORITY_NAMES = {"blocker": 0, "highest": 1, "critical": 1, "high": 2, "major": 2, "medium": 3, "low": 4, "minor": 4, "lowest": 5, "trivial": 5}


class Priority(Named):
    def sort_key(self, value: Any) -> tuple:
        if is_empty(value):
            return EMPTY_KEY
        if not isinstance(value, dict):
            return (0, 99, self.text(value).casefold())
        rank = _PRIORITY_NAMES.get(str(value.get("name", "")).casefold())
        if rank is None:
            # Jira numbers its default priorities 1 (Highest) … 5 (Lowest).
            priority_id = str(value.get("id", ""))
            rank = int(priority_id) if priority_id.isdigit() else 99
        return (0, rank, self.text(value).casefold())


_CATEGORY_ORDER = {"new": 0, "indeterminate": 1, "done": 2}


class Status(Named):
    """A lozenge coloured by the status category: grey to do, blue in progress, green done."""

    def html(self, value: Any, *, site_url: str = "") -> str:
        text = self.text(value)
        if not text:
            return ""
        category = self.category(value)
        return mark_safe(f'<span class="lozenge cat-{category or "none"}">{esc(text)}</span>')

    @staticmethod
    def category(value: Any) -> str:
        if not isinstance(value, dict):
            return ""
        key = str((value.get("statusCategory") or {}).get("key") or "")
        return key if key in _CATEGORY_ORDER else ""

    def sort_key(self, value: Any) -> tuple:
        text = self.text(value)
        if not text:
            return EMPTY_KEY
        return (0, _CATEGORY_ORDER.get(self.category(value), 3), text.casefold())


class Option(Renderer):
    """Select lists and radio buttons ``{value, id}``."""

    def text(self, value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("value") or value.get("name") or "")
        return readable_text(value)


class CascadingSelect(Renderer):
    """``{value: "EMEA", child: {value: "Germany"}}`` reads ``EMEA › Germany``."""

    def text(self, value: Any) -> str:
        if not isinstance(value, dict):
            return readable_text(value)
        parts = [str(value.get("value") or "")]
        child = value.get("child")
        if isinstance(child, dict) and child.get("value"):
            parts.append(str(child["value"]))
        return " › ".join(p for p in parts if p)


class ListOf(Renderer):
    """A list of values each read by ``item``: labels, versions, components, multi-selects…"""

    separator = ", "

    def __init__(self, item: Renderer):
        self.item = item

    def _items(self, value: Any) -> list:
        if isinstance(value, list):
            return [v for v in value if not is_empty(v)]
        return [] if is_empty(value) else [value]

    def text(self, value: Any) -> str:
        return self.separator.join(filter(None, (self.item.text(v) for v in self._items(value))))

    def html(self, value: Any, *, site_url: str = "") -> str:
        parts = [self.item.html(v, site_url=site_url) for v in self._items(value)]
        return mark_safe(esc(self.separator).join(p for p in parts if p))

    def number(self, value: Any) -> float | None:
        return None


# --------------------------------------------------------------------------------------
# Issues


class IssueRef(Renderer):
    """``parent`` and one sub-task: ``WEB-12 Fix the login``, the key linked to Jira."""

    def text(self, value: Any) -> str:
        if not isinstance(value, dict):
            return readable_text(value)
        summary = (value.get("fields") or {}).get("summary") or ""
        return f"{value.get('key', '')} {summary}".strip()

    def html(self, value: Any, *, site_url: str = "") -> str:
        if not isinstance(value, dict) or not value.get("key"):
            return _lines_html(self.text(value))
        summary = (value.get("fields") or {}).get("summary") or ""
        link = key_link(str(value["key"]), site_url)
        return mark_safe(f"{link} {esc(str(summary))}") if summary else link

    def sort_key(self, value: Any) -> tuple:
        if isinstance(value, dict) and value.get("key"):
            return _natural_key(str(value["key"]))
        return _text_key(self.text(value))


class Subtasks(ListOf):
    separator = " · "

    def __init__(self):
        super().__init__(IssueRef())

    def number(self, value: Any) -> float | None:
        return float(len(self._items(value)))


class IssueLinks(Renderer):
    """``blocks WEB-12 · relates to WEB-9``: each link's direction phrase and the other issue."""

    separator = " · "

    def _links(self, value: Any) -> list[tuple[str, dict]]:
        out = []
        for link in value if isinstance(value, list) else []:
            if not isinstance(link, dict):
                continue
            kind = link.get("type") or {}
            if isinstance(link.get("outwardIssue"), dict):
                out.append((str(kind.get("outward") or kind.get("name") or "links to"), link["outwardIssue"]))
            elif isinstance(link.get("inwardIssue"), dict):
                out.append((str(kind.get("inward") or kind.get("name") or "linked from"), link["inwardIssue"]))
        return out

    def text(self, value: Any) -> str:
        if not isinstance(value, list):
            return readable_text(value)
        return self.separator.join(f"{phrase} {issue.get('key', '')}".strip() for phrase, issue in self._links(value))

    def html(self, value: Any, *, site_url: str = "") -> str:
        if not isinstance(value, list):
            return _lines_html(self.text(value))
        return mark_safe(
            esc(self.separator).join(
                f"{esc(phrase)} {key_link(str(issue.get('key', '')), site_url, str((issue.get('fields') or {}).get('summary') or ''))}"
                for phrase, issue in self._links(value)
            )
        )

    def number(self, value: Any) -> float | None:
        return float(len(self._links(value)))

    def sort_key(self, value: Any) -> tuple:
        count = len(self._links(value))
        return (0, count, self.text(value).casefold()) if count else EMPTY_KEY


# --------------------------------------------------------------------------------------
# Time tracking and counts


class TimeTracking(Renderer):
    """``Original 1d 2h · Remaining 4h · Spent 6h``."""

    _PARTS = (("Original", "originalEstimate"), ("Remaining", "remainingEstimate"), ("Spent", "timeSpent"))

    def _seconds(self, value: dict, name: str) -> int | None:
        seconds = value.get(f"{name}Seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            return int(seconds)
        text = value.get(name)
        return formats.duration_seconds(text) if isinstance(text, str) else None

    def text(self, value: Any) -> str:
        if not isinstance(value, dict):
            return readable_text(value)
        parts = []
        for label, name in self._PARTS:
            seconds = self._seconds(value, name)
            if seconds is not None:
                parts.append(f"{label} {formats.duration_text(seconds)}")
        return " · ".join(parts)

    def sort_key(self, value: Any) -> tuple:
        if not isinstance(value, dict):
            return EMPTY_KEY
        seconds = [self._seconds(value, name) for _, name in self._PARTS]
        if all(s is None for s in seconds):
            return EMPTY_KEY
        return (0, *(s if s is not None else -1 for s in seconds))


class Progress(Renderer):
    """``{progress, total, percent}`` in seconds: the share of the work logged, with a bar."""

    def percent(self, value: Any) -> float | None:
        if not isinstance(value, dict):
            return None
        percent = value.get("percent")
        if isinstance(percent, (int, float)) and not isinstance(percent, bool):
            return float(percent)
        done, total = formats.to_number(value.get("progress")), formats.to_number(value.get("total"))
        if done is None or not total:
            return None
        return 100.0 * done / total

    def text(self, value: Any) -> str:
        percent = self.percent(value)
        return "" if percent is None else f"{percent:.0f}%"

    def html(self, value: Any, *, site_url: str = "") -> str:
        percent = self.percent(value)
        if percent is None:
            return ""
        shown = max(0.0, min(percent, 100.0))
        return format_html(
            '<span class="progress-cell"><progress max="100" value="{}" aria-hidden="true"></progress> {}</span>',
            f"{shown:.0f}",
            self.text(value),
        )

    def number(self, value: Any) -> float | None:
        return self.percent(value)

    def sort_key(self, value: Any) -> tuple:
        percent = self.percent(value)
        return EMPTY_KEY if percent is None else (0, percent)


class Count(Renderer):
    """A count inside an object: votes ``{votes}``, watchers ``{watchCount}``."""

    summable = True

    def __init__(self, *names: str):
        self.names = names

    def number(self, value: Any) -> float | None:
        if isinstance(value, dict):
            for name in self.names:
                found = formats.to_number(value.get(name))
                if found is not None:
                    return found
            return None
        return formats.to_number(value)

    def text(self, value: Any) -> str:
        number = self.number(value)
        return "" if number is None else formats.number_text(number)

    def sort_key(self, value: Any) -> tuple:
        number = self.number(value)
        return EMPTY_KEY if number is None else (0, number)


class Comments(Renderer):
    """``{comments: [...], total}``: how many, and the latest one's author and text."""

    summable = True
    LATEST_CHARS = 200

    def _comments(self, value: Any) -> list[dict]:
        comments = value.get("comments") if isinstance(value, dict) else value
        return [c for c in comments or [] if isinstance(c, dict)] if isinstance(comments, list) else []

    def number(self, value: Any) -> float | None:
        if isinstance(value, dict) and isinstance(value.get("total"), int):
            return float(value["total"])
        if isinstance(value, (dict, list)):
            return float(len(self._comments(value)))
        return None

    def text(self, value: Any) -> str:
        count = self.number(value)
        if not count:
            return ""
        label = f"{count:.0f} comment{'' if count == 1 else 's'}"
        comments = self._comments(value)
        if not comments:
            return label
        latest = comments[-1]
        body = " ".join(RichText().text(latest.get("body")).split())
        if len(body) > self.LATEST_CHARS:
            body = body[: self.LATEST_CHARS - 1].rstrip() + "…"
        author = User().text(latest.get("author") or latest.get("updateAuthor"))
        latest_text = f"{author}: {body}" if author else body
        return f"{label} · {latest_text}" if latest_text else label

    def sort_key(self, value: Any) -> tuple:
        count = self.number(value)
        return (0, count) if count else EMPTY_KEY


class Attachments(Renderer):
    """The file names, in the order Jira lists them."""

    summable = True

    def _files(self, value: Any) -> list[dict]:
        return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []

    def text(self, value: Any) -> str:
        if not isinstance(value, list):
            return readable_text(value)
        return ", ".join(str(a.get("filename") or "") for a in self._files(value) if a.get("filename"))

    def number(self, value: Any) -> float | None:
        return float(len(self._files(value))) if isinstance(value, list) else None


class Worklog(Renderer):
    """``{worklogs: [...], total}``: the number of entries and the time they log."""

    summable = True

    def number(self, value: Any) -> float | None:
        if isinstance(value, dict):
            return float(value.get("total") or len(value.get("worklogs") or []))
        return None

    def text(self, value: Any) -> str:
        if not isinstance(value, dict):
            return readable_text(value)
        logs = [w for w in value.get("worklogs") or [] if isinstance(w, dict)]
        count = self.number(value) or 0
        if not count:
            return ""
        spent = sum(int(w.get("timeSpentSeconds") or 0) for w in logs)
        label = f"{count:.0f} work log{'' if count == 1 else 's'}"
        return f"{label}, {formats.duration_text(spent)}" if spent else label


class Sprint(Renderer):
    """Cloud's ``{id, name, state, …}`` objects and Data Center's ``Sprint@1f39706[…,name=…,…]`` strings."""

    def _sprints(self, value: Any) -> list[dict]:
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, dict):
                out.append(item)
            elif isinstance(item, str):
                java = _JAVA_TOSTRING.match(item.strip())
                out.append(java_attributes(java.group(1)) if java else {"name": item})
        return [s for s in out if s.get("name")]

    def text(self, value: Any) -> str:
        return ", ".join(str(s["name"]) for s in self._sprints(value))

    def sort_key(self, value: Any) -> tuple:
        sprints = self._sprints(value)
        if not sprints:
            return EMPTY_KEY
        latest = sprints[-1]
        sprint_id = str(latest.get("id", ""))
        return (0, int(sprint_id) if sprint_id.isdigit() else 0, self.text(value).casefold())


class ServiceLevel(Renderer):
    """Jira Service Management SLA: the time left in the running cycle (``-1h`` once breached),
    or whether the last finished cycle met its goal."""

    def _cycle(self, value: Any) -> tuple[dict, bool] | None:
        if not isinstance(value, dict):
            return None
        if isinstance(value.get("ongoingCycle"), dict):
            return value["ongoingCycle"], True
        done = [c for c in value.get("completedCycles") or [] if isinstance(c, dict)]
        return (done[-1], False) if done else None

    def text(self, value: Any) -> str:
        found = self._cycle(value)
        if found is None:
            return "" if isinstance(value, dict) or is_empty(value) else readable_text(value)
        cycle, running = found
        if not running:
            return "Breached" if cycle.get("breached") else "Met"
        left = str((cycle.get("remainingTime") or {}).get("friendly") or "")
        notes = [note for note, flag in (("breached", cycle.get("breached")), ("paused", cycle.get("paused"))) if flag]
        return f"{left} ({', '.join(notes)})" if notes and left else left or ", ".join(notes).capitalize()

    def number(self, value: Any) -> float | None:
        found = self._cycle(value)
        if found is None or not found[1]:
            return None
        millis = formats.to_number((found[0].get("remainingTime") or {}).get("millis"))
        return None if millis is None else millis / 1000

    def sort_key(self, value: Any) -> tuple:
        seconds = self.number(value)
        if seconds is not None:
            return (0, 0, seconds, "")
        text = self.text(value)
        return (0, 1, 0.0, text.casefold()) if text else EMPTY_KEY


class RequestType(Renderer):
    """Jira Service Management's customer request type: its name."""

    def text(self, value: Any) -> str:
        if isinstance(value, dict) and isinstance(value.get("requestType"), dict):
            return str(value["requestType"].get("name") or "")
        return readable_text(value)


class Development(Renderer):
    """The Development field (commits, branches, pull requests from linked repositories).

    Jira sends it as a Java map's toString wrapping JSON, ``{pullrequest={…}, json={"cachedValue":
    {"summary": {"pullrequest": {"overall": {"count": 1, "state": "MERGED"}}, …}}}}``; it
    reads ``1 pull request (merged), 3 commits, 1 branch``.
    """

    _KINDS = (("pullrequest", "pull request"), ("repository", "commit"), ("branch", "branch"), ("build", "build"), ("review", "review"))

    def _summary(self, value: Any) -> dict:
        if isinstance(value, dict):
            data = value
        elif isinstance(value, str) and "json=" in value:
            text = value[value.index("json=") + 5 :].rstrip()
            text = text[:-1] if text.endswith("}}") else text  # the map's closing brace
            try:
                data = json.loads(text)
            except ValueError:
                return {}
        else:
            return {}
        summary = (data.get("cachedValue") or data).get("summary") if isinstance(data, dict) else None
        return summary if isinstance(summary, dict) else {}

    def text(self, value: Any) -> str:
        summary = self._summary(value)
        parts = []
        for name, label in self._KINDS:
            overall = (summary.get(name) or {}).get("overall") or {}
            count = overall.get("count")
            if isinstance(count, int) and count > 0:
                part = f"{count} {label}{'' if count == 1 else 's'}"
                state = overall.get("state")
                if name == "pullrequest" and isinstance(state, str) and state:
                    part += f" ({state.lower()})"
                parts.append(part)
        return ", ".join(parts)
