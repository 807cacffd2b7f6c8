"""A stand-in Jira on 127.0.0.1 for the source tests (no pytest fixtures, no database).

It serves the shapes documented in /work/shared/JIRA.md through a real HTTP server
(pytest-httpserver, threaded so that a deliberately slow answer does not block the retry)
and records every request it received, so tests can assert on what went over the wire.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "s3cr3t-T0KEN-do-not-leak-9f2c"
USER = "ada@example.com"
CLOUD_SEARCH = "/rest/api/3/search/jql"
CLOUD_COUNT = "/rest/api/3/search/approximate-count"
DC_SEARCH = "/rest/api/2/search"


def start_server() -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    return server


def base_url(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/")


def closed_port() -> int:
    """A local port nothing listens on (for "connection refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def basic_header(user: str = USER, token: str = TOKEN) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def secrets(user: str = USER, token: str = TOKEN) -> list[str]:
    """Strings that must never show up in a message, a repr or a traceback."""
    return [token, basic_header(user, token).split()[1], f"Bearer {token}"]


# --------------------------------------------------------------------------------------
# Issues in Jira's JSON shape


def make_issue(n: int, *, cloud: bool = True, project: str = "ABC") -> dict:
    person = (
        {
            "accountId": f"5b10ac8d82e05b22cc7d{n % 7:04d}",
            "displayName": f"Person {n % 7}",
            "active": True,
        }
        if cloud
        else {
            "name": f"person{n % 7}",
            "key": f"JIRAUSER{n % 7}",
            "displayName": f"Person {n % 7}",
        }
    )
    done = n % 3 == 0
    return {
        "id": str(10000 + n),
        "key": f"{project}-{n + 1}",
        "self": f"https://jira.example.com/rest/api/2/issue/{10000 + n}",
        "fields": {
            "summary": f"Issue number {n}",
            "status": {
                "name": "Done" if done else "In Progress",
                "id": "10001" if done else "3",
                "statusCategory": {
                    "key": "done" if done else "indeterminate",
                    "name": "Done" if done else "In Progress",
                    "colorName": "green" if done else "yellow",
                },
            },
            "assignee": person if n % 5 else None,
            "priority": {"name": "Medium", "id": "3"},
            "issuetype": {"name": "Story", "id": "10001", "subtask": False},
            "resolution": {"name": "Done"} if done else None,
            "labels": ["backend"] if n % 2 else [],
            "updated": "2022-06-09T16:29:31.871-0700",
        },
    }


# --------------------------------------------------------------------------------------
# Recording handlers


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


def json_response(
    body: Any, status: int = 200, headers: dict | None = None
) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        headers=headers or {},
        content_type="application/json",
    )


@dataclass
class Handler:
    """Base: records every request; subclasses answer them."""

    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = request.get_data(as_text=True)
        with self._lock:
            self.seen.append(
                Seen(
                    request.method,
                    request.path,
                    dict(request.headers),
                    body,
                    time.monotonic(),
                )
            )
            index = len(self.seen) - 1
        return self.answer(request, body, index)

    def answer(self, request: Request, body: Any, index: int) -> Response:
        raise NotImplementedError

    @property
    def bodies(self) -> list[Any]:
        return [s.body for s in self.seen]


Answer = Response | Callable[[Request, Any], Response]


@dataclass
class Sequence(Handler):
    """Answers the n-th request with ``answers[n]`` (the last one repeats).

    An item may be a Response, a callable ``(request, body) -> Response``, or
    ``("sleep", seconds, answer)`` to stall before answering.
    """

    answers: list = field(default_factory=list)

    def answer(self, request, body, index):
        item = self.answers[min(index, len(self.answers) - 1)]
        if isinstance(item, tuple) and item[0] == "sleep":
            time.sleep(item[1])
            item = item[2]
        if callable(item) and not isinstance(item, Response):
            return item(request, body)
        # A werkzeug Response can be served more than once when it was built from a string.
        return item


@dataclass
class CloudSearch(Handler):
    """``POST /rest/api/3/search/jql`` over ``total`` generated issues, token paging.

    ``page_sizes``: sizes of the successive pages (overrides maxResults; 0 = an empty page
    mid-stream). ``last``: "absent" (no token key on the last page) or "empty" (``""``).
    ``is_last``: whether the last page says ``isLast: true``. ``repeat_token_at``: from
    that page on, the same token is sent again.
    """

    total: int = 0
    cap: int = 100
    page_sizes: list[int] | None = None
    last: str = "absent"
    is_last: bool = True
    repeat_token_at: int | None = None

    def answer(self, request, body, index):
        token = body.get("nextPageToken")
        offset = int(token.split("-")[1]) if token else 0
        page_no = int(token.split("-")[2]) if token else 0
        size = min(int(body.get("maxResults", 50)), self.cap)
        if self.page_sizes is not None:
            size = self.page_sizes[page_no] if page_no < len(self.page_sizes) else size
        end = min(offset + size, self.total)
        issues = [make_issue(n) for n in range(offset, end)]
        answer: dict[str, Any] = {"issues": issues}
        if end < self.total:
            answer["nextPageToken"] = f"tok-{end}-{page_no + 1}"
            if self.repeat_token_at is not None and page_no >= self.repeat_token_at:
                answer["nextPageToken"] = (
                    f"tok-{offset}-{page_no}" if token else "tok-0-0"
                )
            answer["isLast"] = False
        else:
            if self.last == "empty":
                answer["nextPageToken"] = ""
            if self.is_last:
                answer["isLast"] = True
        return json_response(answer)


@dataclass
class DcSearch(Handler):
    """``POST /rest/api/2/search`` over generated issues, startAt paging.

    ``totals``: the total reported on page n (the last repeats), so it can grow or shrink
    between pages. ``cap``: the server's page-size cap. ``shift_after``: after that many
    requests, one issue is inserted at the front (so the next page repeats one issue).
    ``limit``: startAt at or past which the server answers 500 "Search limit exceeded".
    """

    totals: list[int] = field(default_factory=lambda: [0])
    cap: int = 1000
    shift_after: int | None = None
    limit: int | None = None
    empty_from: int | None = None  # answer empty pages from this startAt on

    def answer(self, request, body, index):
        start = int(body.get("startAt", 0))
        asked = int(body.get("maxResults", 50))
        total = self.totals[min(index, len(self.totals) - 1)]
        if self.limit is not None and start >= self.limit:
            return json_response(
                {"errorMessages": ["Search limit exceeded."], "errors": {}}, status=500
            )
        size = min(asked, self.cap)
        shift = 1 if self.shift_after is not None and index >= self.shift_after else 0
        lo, hi = start - shift, min(start + size, total) - shift
        if self.empty_from is not None and start >= self.empty_from:
            lo = hi = 0
        issues = [make_issue(n, cloud=False) for n in range(max(lo, 0), max(hi, 0))]
        return json_response(
            {"startAt": start, "maxResults": size, "total": total, "issues": issues}
        )


class BrokenBodyServer:
    """A raw socket server: the first answer breaks off mid-body, later ones are whole.

    (werkzeug cannot send a short body on purpose; a real proxy sometimes does.)
    """

    def __init__(self, body: dict):
        self.data = json.dumps(body).encode()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.requests = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while b"\r\n\r\n" not in buf:
                    buf += conn.recv(65536)
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = int(
                    next(
                        (
                            line.split(b":")[1]
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        b"0",
                    )
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests += 1
                header = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(self.data)}\r\nConnection: close\r\n\r\n"
                ).encode()
                payload = (
                    self.data[: len(self.data) // 2]
                    if self.requests == 1
                    else self.data
                )
                conn.sendall(header + payload)

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------------------
# Every common field type (macros/tests/jira_fields.py): /field with schemas, and searches
# answered per JQL with real-shaped issues, as Cloud or Data Center sends them.


@dataclass
class FieldTypesSearch(Handler):
    """``by_jql``: the issues each query finds (unknown queries find none)."""

    cloud: bool = True
    by_jql: dict[str, list[dict]] = field(default_factory=dict)

    def answer(self, request, body, index):
        from macros.tests.jira_fields import only_fields

        issues = [
            {**issue, "fields": only_fields(issue["fields"], body.get("fields"))}
            for issue in self._found(body.get("jql") or "")
        ]
        if self.cloud:
            return json_response({"issues": issues, "isLast": True})
        return json_response({"startAt": 0, "maxResults": 50, "total": len(issues), "issues": issues})


    def _found(self, jql: str) -> list[dict]:
        """The issues of ``jql``; ``parent in (K1, K2)`` is what ``parent = K1`` and ``parent = K2`` find.

        That is how the Jira sources ask a lower level for many parents at once; each child
        names the parent it was found under, as Jira's ``parent`` field would.
        """
        batched = re.fullmatch(r"parent in \(([^)]*)\)", jql.strip())
        if batched is None:
            return self.by_jql.get(jql, [])
        found = []
        for key in (k.strip().strip('"') for k in batched.group(1).split(",")):
            for issue in self.by_jql.get(f"parent = {key}", []):
                found.append({**issue, "fields": {**issue["fields"], "parent": {"id": "1", "key": key, "fields": {}}}})
        return found


def serve_field_types(server: HTTPServer, *, cloud: bool, by_jql: dict[str, list[dict]]) -> FieldTypesSearch:
    from macros.tests.jira_fields import FIELD_LIST

    search = FieldTypesSearch(cloud=cloud, by_jql=by_jql)
    api = "/rest/api/3" if cloud else "/rest/api/2"
    server.expect_request(CLOUD_SEARCH if cloud else DC_SEARCH, method="POST").respond_with_handler(search)
    if cloud:
        server.expect_request(CLOUD_COUNT, method="POST").respond_with_handler(
            lambda r: json_response({"count": sum(len(v) for v in by_jql.values())})
        )
    server.expect_request(f"{api}/field", method="GET").respond_with_json(FIELD_LIST)
    return search
