"""What the abuse suite throws at the site, and how it finds every URL and form to throw it at."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

# Values a form field or query parameter should turn into a sentence, never a 500 or a
# second of work: NUL (PostgreSQL refuses it in text), numbers past every integer type,
# NaN and infinities, deep nesting for the parsers (JQL, Markdown, JSON), huge strings,
# odd Unicode (direction overrides, combining marks, astral planes, BOM), redirect bait.
HOSTILE = [
    "",
    "a\x00b",
    "-1",
    "99999999999999999999999",
    "1e999",
    "NaN",
    "[" * 8000,
    "(" * 800 + "x",
    "NOT " * 1200 + "x",
    "x" * 100_000,
    "\u202e\u0301\u200b" * 300,
    "💥" * 2000,
    "https://evil.example/x",
    "<script>alert(1)</script>",
    "0 0 31 2 *",
    'summary ~ "c' + "*" * 30 + 'qqq"',
    "> " * 3000 + "x",
]
# The few that find the most, for the sweeps that multiply (every field of every form).
SHARP = ["\x00", "99999999999999999999999", "1e999", "x" * 100_000, "(" * 800 + "x"]
# For query strings: short enough to pass the 4,094-byte request line, so they reach views.
SHARP_GET = ["\x00", "99999999999999999999999", "1e999", "(" * 800 + "x"]
GET_VALUES = [*SHARP_GET, "", "-1", "💥" * 200, "//evil.example/", "[" * 1000, "x" * 5000]
# Query strings a client library would refuse to build: bytes that are not UTF-8.
RAW_QUERIES = ["p=%FF%FE", "p=%ED%A0%80", "sticker=%00", "a=%C0%AF&b=%00&p=%E2%80%AE", "p[]=1&p[]=2"]

# No request may cost more than a second of the web process's CPU. CPU time, because the
# test client runs the request in this thread and the machine running the tests may be
# shared (wall-clock time then measures the neighbours); wall-clock time still catches
# waits (locks, sleeps) past a generous bound.
SLOW = 1.0
WALL = 5.0


@dataclass
class Result:
    method: str
    url: str
    what: str
    status: int
    seconds: float


@dataclass
class Findings:
    results: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)

    def bad(self) -> list[str]:
        return [
            f"{r.status} in {r.seconds:.2f} s (CPU): {r.method} {r.url[:120]} ({r.what[:80]!r})"
            for r in self.results
            if r.status >= 500 or r.seconds > SLOW
        ]


def send(client, findings: Findings, method: str, url: str, what: str, **kwargs):
    """One request, inside a transaction rolled back afterwards: the world stays as it was
    for the next one (no removed grant or revoked key hides a later finding)."""
    response, seconds, wall = _timed(client, method, url, **kwargs)
    if (seconds > SLOW or wall > WALL) and response.status_code < 500:
        # The test machine is shared: a slow answer counts only if it is slow twice.
        response, again, wall_again = _timed(client, method, url, **kwargs)
        seconds, wall = min(seconds, again), min(wall, wall_again)
    findings.add(Result(method.upper(), url, what, response.status_code, seconds if wall <= WALL else wall))
    if "html" in response.get("Content-Type", "") and "Content-Security-Policy" not in response:
        findings.add(Result(method.upper(), url, what + " (no Content-Security-Policy)", 599, seconds))
    return response


def _timed(client, method: str, url: str, **kwargs):
    started, wall = time.thread_time(), time.perf_counter()
    with transaction.atomic():
        response = getattr(client, method)(url, **kwargs)
        transaction.set_rollback(True)
    return response, time.thread_time() - started, time.perf_counter() - wall


# --- the URLs ------------------------------------------------------------------------


@dataclass
class Route:
    route: str  # "pages/<int:page_id>/v/<int:number>/"
    name: str | None
    params: dict[str, str]  # name -> converter ("int", "str", "uuid", "slug", "path")

    def fill(self, values: dict[str, str]) -> str:
        path = self.route
        for name, converter in self.params.items():
            path = path.replace(f"<{converter}:{name}>", str(values.get(name, _DEFAULTS[converter])))
            path = path.replace(f"<{name}>", str(values.get(name, _DEFAULTS["str"])))
        return "/" + path


_DEFAULTS = {"int": "1", "str": "x", "uuid": str(uuid.UUID(int=1)), "slug": "x", "path": "x"}


def routes(prefix_filter=lambda route: True) -> list[Route]:
    """Every ``path()`` the site answers (regular-expression catch-alls are reached through
    the hostile path values), the admin's too."""
    found: list[Route] = []

    def walk(patterns, prefix: str, converters: dict[str, str]) -> None:
        for entry in patterns:
            pattern = entry.pattern
            route = getattr(pattern, "_route", None)
            if route is None:  # a regular expression: the catch-alls
                continue
            names = {name: type(conv).__name__.removesuffix("Converter").lower() for name, conv in pattern.converters.items()}
            names = {n: {"integer": "int", "string": "str"}.get(c, c) for n, c in names.items()}
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route, {**converters, **names})
            elif isinstance(entry, URLPattern):
                full = prefix + route
                if prefix_filter(full):
                    found.append(Route(full, entry.name, {**converters, **names}))

    walk(get_resolver().url_patterns, "", {})
    return found


# --- the forms on a page -------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> candidate values (first is the default)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def data(self, **override) -> dict[str, str]:
        data = {name: values[0] if values else "" for name, values in self.fields.items()}
        data.update(override)
        return data


class FormParser(HTMLParser):
    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            action = a.get("action") or self.base
            self._form = Form(urlsplit(action).path or self.base, (a.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        form, name = self._form, a.get("name")
        if form is None or not name:
            return
        kind = (a.get("type") or "text").lower()
        if tag == "button" or kind == "submit":
            form.buttons.append((name, a.get("value", "")))
        elif tag == "input":
            if kind in ("checkbox", "radio"):
                form.fields.setdefault(name, []).append(a.get("value", "on"))
            else:
                form.fields.setdefault(name, []).insert(0, a.get("value", ""))
        elif tag == "select":
            self._select = name
            form.fields.setdefault(name, [])
        elif tag == "option" and self._select:
            form.fields[self._select].append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = name
            form.fields.setdefault(name, [""])

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] = [data]

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_and_query_names(html: str, path: str) -> tuple[list[Form], set[str]]:
    parser = FormParser(path)
    parser.feed(html)
    names = {name for link in parser.links if urlsplit(link).path in ("", path) for name, _ in parse_qsl(urlsplit(link).query)}
    for form in parser.forms:
        if form.method == "get":
            names.update(form.fields)
    return parser.forms, names
