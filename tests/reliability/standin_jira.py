"""A stand-in Jira on 127.0.0.1 that the real workers talk to, with faults on demand.

It runs in the test process (a ``ThreadingHTTPServer`` in a daemon thread) and serves
Jira Cloud (``/rest/api/3/search/jql``, token paging) or Data Center
(``/rest/api/2/search``, startAt paging) from generated issues. Each JQL query can be
given a ``Behaviour``: a slow page, a page held until the test lets it go (so a worker
can be killed mid-snapshot), or a list of faults for its first requests — HTTP 503, 429
with a Retry-After, malformed JSON, an HTML login page, a JQL error, a dropped
connection.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from macros.tests.jira_fields import FIELD_LIST, only_fields, varied_fields
from macros.tests.jira_stub import make_issue

TOKEN = "standin-token-9f2c-not-a-secret"
USER = "ada@example.com"
PAGE_CAP = 100
HOLD_LIMIT = 120  # a held request lets go by itself after this many seconds


@dataclass
class Behaviour:
    """How the stand-in answers searches for one JQL query.

    ``faults``: answers for the first searches of this query, in order, then healthy
    answers: ``"503"``, ``"429:<seconds>"`` (with Retry-After), ``"badjson"``,
    ``"html"``, ``"jql"`` (400 with Jira's words), ``"drop"`` (close the connection
    without an answer), ``"ok"``. ``always``: one of those for every search.
    ``hold_page``: the page (0-based) whose request waits until ``release()``, at most
    ``holds`` times (None: every time).
    """

    total: int = 30
    page_delay: float = 0.0
    faults: list[str] = field(default_factory=list)
    always: str | None = None
    hold_page: int | None = None
    holds: int | None = 1
    searches: int = 0
    held: int = 0
    served: list[str] = field(default_factory=list)  # what each search got, in order ("ok" or the fault)

    def __post_init__(self):
        self._cond = threading.Condition()
        self._released = 0

    def fault_for(self, index: int) -> str:
        if self.always:
            return self.always
        return self.faults[index] if index < len(self.faults) else "ok"

    def maybe_hold(self, page: int) -> None:
        with self._cond:
            if page != self.hold_page or (self.holds is not None and self.held >= self.holds):
                return
            self.held += 1
            mine = self.held
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._released >= mine, timeout=HOLD_LIMIT)

    def wait_held(self, count: int = 1, timeout: float = 60) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.held >= count, timeout=timeout):
                raise AssertionError(f"no worker reached the held page (held {self.held}, wanted {count})")

    def release(self) -> None:
        with self._cond:
            self._released = self.held
            self._cond.notify_all()


class StandInJira:
    def __init__(self, deployment: str = "cloud"):
        assert deployment in ("cloud", "datacenter")
        self.deployment = deployment
        self.behaviours: dict[str, Behaviour] = {}
        self.requests: list[tuple[float, str, str]] = []  # (time, path, jql)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def behave(self, jql: str, behaviour: Behaviour | None = None, **kw) -> Behaviour:
        behaviour = behaviour or Behaviour(**kw)
        with self._lock:
            self.behaviours[jql] = behaviour
        return behaviour

    def behaviour(self, jql: str) -> Behaviour:
        with self._lock:
            return self.behaviours.setdefault(jql, Behaviour())

    def searches(self, jql: str) -> int:
        with self._lock:
            return sum(1 for _, path, q in self.requests if q == jql and "search" in path and "count" not in path)

    def close(self) -> None:
        for behaviour in list(self.behaviours.values()):
            behaviour.release()
        self.server.shutdown()
        self.server.server_close()


def _handler_for(jira: StandInJira):
    cloud = jira.deployment == "cloud"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle(self):
            try:
                super().handle()
            except (ConnectionResetError, BrokenPipeError, TimeoutError):
                pass  # a worker killed on purpose

        def _send(self, status: int, body, content_type: str = "application/json", headers: dict | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker was killed while we answered

        def do_GET(self):
            if self.path.endswith("/field"):
                self._send(200, FIELD_LIST)  # with schemas, as Jira lists them
            elif self.path.endswith("/serverInfo"):
                self._send(200, {"deploymentType": "Cloud" if cloud else "Server", "version": "9.12.0"})
            elif self.path.endswith("/myself"):
                self._send(200, {"accountId": "abc", "displayName": "Ada"} if cloud else {"name": "ada", "displayName": "Ada"})
            else:
                self._send(404, {"errorMessages": ["Not found."]})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            jql = str(body.get("jql", ""))
            with jira._lock:
                jira.requests.append((time.monotonic(), self.path, jql))
            if self.path.endswith("/search/approximate-count"):
                self._send(200, {"count": jira.behaviour(jql).total})
                return
            if not self.path.endswith("/search/jql" if cloud else "/search"):
                self._send(404, {"errorMessages": ["Not found."]})
                return
            behaviour = jira.behaviour(jql)
            with behaviour._cond:
                index = behaviour.searches
                behaviour.searches += 1
            fault = behaviour.fault_for(index)
            with behaviour._cond:
                behaviour.served.append(fault)
            if fault != "ok" and self._fault(fault):
                return
            if cloud:
                token = body.get("nextPageToken")
                start = int(str(token).removeprefix("offset:")) if token else 0
            else:
                start = int(body.get("startAt", 0))
            size = min(int(body.get("maxResults", 50)), PAGE_CAP)
            page = start // size if size else 0
            behaviour.maybe_hold(page)
            if behaviour.page_delay:
                time.sleep(behaviour.page_delay)
            end = min(start + size, behaviour.total)
            issues = [_issue(n, cloud, body.get("fields")) for n in range(start, end)]
            if cloud:
                answer = {"issues": issues, "isLast": end >= behaviour.total}
                if end < behaviour.total:
                    answer["nextPageToken"] = f"offset:{end}"
            else:
                answer = {"startAt": start, "maxResults": size, "total": behaviour.total, "issues": issues}
            self._send(200, answer)

        def _fault(self, fault: str) -> bool:
            if fault == "503":
                self._send(503, b"<html><body>Service Unavailable</body></html>", "text/html")
            elif fault.startswith("429"):
                wait = fault.partition(":")[2] or "1"
                self._send(429, {"errorMessages": ["Rate limit exceeded."]}, headers={"Retry-After": wait})
            elif fault == "badjson":
                self._send(200, b'{"issues": [{"key": "ABC-1", "fields": {"summ', "application/json")
            elif fault == "html":
                self._send(200, b"<!DOCTYPE html><html><head><title>Log in - Jira</title></head></html>", "text/html")
            elif fault == "jql":
                self._send(400, {"errorMessages": ["Field 'sprint' does not exist or you do not have permission to view it."], "errors": {}})
            elif fault == "drop":
                self.close_connection = True
                try:
                    self.wfile.flush()
                    self.connection.shutdown(2)
                except OSError:
                    pass
            else:
                raise ValueError(f"unknown fault {fault!r}")
            return True

    return Handler


def _issue(n: int, cloud: bool, fields: list[str] | None) -> dict:
    """Issue ``n`` with the fields asked for, every common field type in Jira's shapes."""
    issue = make_issue(n, cloud=cloud)
    issue["fields"] = only_fields({**issue["fields"], **varied_fields(n, cloud=cloud)}, fields)
    return issue
