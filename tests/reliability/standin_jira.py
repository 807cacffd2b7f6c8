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
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from macros.tests.jira_fields import FIELD_LIST, varied_fields
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
    ``holds`` times (None: every time). Faults, delays and holds apply to every call that
    reads the query's issues: searches, and on Cloud the bulk fetches of their ids.
    """

    total: int = 30
    page_delay: float = 0.0
    faults: list[str] = field(default_factory=list)
    always: str | None = None
    hold_page: int | None = None
    holds: int | None = 1
    grow_after: int | None = None  # from this many calls of the query on, it matches more issues:
    grow_by: int = 0  # this many more,
    grow_at: str = "end"  # added after the others ("end") or before them ("front")
    searches: int = 0
    served: list[str] = field(default_factory=list)  # what each search got, in order ("ok" or the fault)
    held: int = 0

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
    """The stand-in. Beyond per-query behaviours it answers, like Jira:

    * ``parent = K`` / ``parent in (K1, …)``, ``key = K`` / ``key in (…)`` and
      ``issue in linkedIssues(K)`` from the children given to ``add_children`` (in id order);
    * Cloud: up to ``IDS_CAP`` issues a page when only ``id`` is asked, and
      ``POST /rest/api/3/issue/bulkfetch``; only the fields asked for;
    * Data Center: pages capped at ``dc_cap``; ``deep_limit`` refuses results past it
      with a 500 "Search limit exceeded"; ``(…) AND id > N ORDER BY id ASC|DESC``.
    * ``latency``: every call answers that many seconds late; ``max_concurrent``: calls
      beyond that many at once answer 429 with ``Retry-After: retry_after``.
    """

    IDS_CAP = 5000

    def __init__(self, deployment: str = "cloud", *, latency: float = 0.0, max_concurrent: int | None = None,
                 retry_after: int = 1, dc_cap: int = PAGE_CAP, deep_limit: int | None = None):
        assert deployment in ("cloud", "datacenter")
        self.deployment = deployment
        self.latency = latency
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after
        self.dc_cap = dc_cap
        self.deep_limit = deep_limit
        self.behaviours: dict[str, Behaviour] = {}
        self.requests: list[tuple[float, str, str]] = []  # (time, path, jql)
        self.children: dict[str, list[dict]] = {}  # parent key -> its children, in id order
        self.by_id: dict[str, dict] = {}
        self.in_flight = self.peak = self.throttled = 0
        self._made: list[dict] = []  # generated issues, made once
        self._owner: dict[str, str] = {}  # issue id -> the query whose ids listed it last
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
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

    def add_children(self, parent_key: str, children: list[dict]) -> None:
        """Make ``children`` (issues with ``fields.parent`` set to the parent) answer for ``parent_key``."""
        with self._lock:
            self.children.setdefault(parent_key, []).extend(children)
            for child in children:
                self.by_id[child["id"]] = child

    def searches(self, jql: str) -> int:
        with self._lock:
            return sum(1 for _, path, q in self.requests if q == jql and "search" in path and "count" not in path)

    def calls(self, jql: str | None = None) -> int:
        """Searches and bulk fetches (of ``jql``'s issues), the way Jira would count them."""
        with self._lock:
            return sum(1 for _, path, q in self.requests if ("search" in path or "bulkfetch" in path)
                       and "count" not in path and (jql is None or q == jql))

    def close(self) -> None:
        for behaviour in list(self.behaviours.values()):
            behaviour.release()
        self.server.shutdown()
        self.server.server_close()

    # -- answering -----------------------------------------------------------------------

    def resolve(self, jql: str) -> tuple[str, list[dict]]:
        """(the behaviour's query, the issues matching ``jql`` in its order)."""
        text = jql.strip()
        order = ""
        match = re.search(r"\s*\bORDER\s+BY\s+(.+)$", text, re.I | re.S)
        if match:
            text, order = text[: match.start()].strip(), match.group(1).strip().lower()
        bound = None
        match = re.fullmatch(r"(?:\((?P<inner>.*)\)\s+AND\s+)?id\s*(?P<op>[<>])\s*(?P<n>\d+)", text, re.S)
        if match:
            text, bound = (match.group("inner") or ""), (match.group("op"), int(match.group("n")))
        elif text.startswith("(") and text.endswith(")"):
            text = text[1:-1]
        issues = self._related(text)
        name = jql
        if issues is None:
            name = next((q for q in (jql, text) if q in self.behaviours), None) or next(
                (q for q in self.behaviours if re.sub(r"\s*\bORDER\s+BY\s+.+$", "", q, flags=re.I | re.S) == text), jql)
            behaviour = self.behaviour(name)
            issues = self._generated(behaviour.total)
            if behaviour.grow_after is not None and behaviour.searches >= behaviour.grow_after:
                if behaviour.grow_at == "front":
                    issues = [make_issue(800_000 + n, cloud=self.deployment == "cloud", project="NEW")
                              for n in range(behaviour.grow_by)] + issues
                else:
                    issues = self._generated(behaviour.total + behaviour.grow_by)
        if bound:
            op, n = bound
            issues = [i for i in issues if (int(i["id"]) > n if op == ">" else int(i["id"]) < n)]
        if order.endswith("desc"):
            issues = issues[::-1]
        return name, issues

    def _related(self, text: str) -> list[dict] | None:
        match = re.fullmatch(r"(parent|key|issue)\s*(?:=\s*(\S+)|in\s*\(([^)]*)\))", text, re.I)
        if match:
            keys = [k.strip().strip('"') for k in (match.group(2) or match.group(3)).split(",")]
            with self._lock:
                if match.group(1).lower() == "parent":
                    found = [c for k in keys for c in self.children.get(k, [])]
                else:
                    wanted = set(keys)
                    found = [i for i in self.by_id.values() if i["key"] in wanted]
            return sorted(found, key=lambda i: int(i["id"]))
        match = re.fullmatch(r"issue\s+in\s+linkedIssues\((\S+)\)", text, re.I)
        if match:
            with self._lock:
                return list(self.children.get(match.group(1), []))
        return None

    def _generated(self, total: int) -> list[dict]:
        with self._lock:
            if len(self._made) < total:
                self._made = [make_issue(n, cloud=self.deployment == "cloud") for n in range(max(total, 1000))]
            return self._made[:total]

    def issue_by_id(self, ident: str) -> dict | None:
        n = int(ident) - 10000 if ident.isdigit() else -1
        with self._lock:
            found = self.by_id.get(ident)
            if found is None and 0 <= n < len(self._made):
                found = self._made[n]  # the issue the searches list, made once (and as a test left it)
        if found is None and n >= 0:
            found = make_issue(n, cloud=self.deployment == "cloud")
        return found


def _only(issue: dict, fields: list[str] | None, cloud: bool = True) -> dict:
    """The issue as Jira sends it when ``fields`` are asked (``None``: all of them).

    Fields beyond the generated issue's few come from ``varied_fields`` (every common field
    type in Jira's shapes), made only when asked: 12,000 issues of ids stay cheap.
    """
    if fields == ["id"]:
        return {"id": issue["id"]}
    plain = issue["fields"]
    if fields is None or any(f not in plain for f in fields):
        n = int(issue["id"]) - 10000 if str(issue.get("id", "")).isdigit() else 0
        plain = {**varied_fields(n, cloud=cloud), **plain}
    if fields is None:
        return {**issue, "fields": plain}
    wanted = set(fields)
    return {**issue, "fields": {k: v for k, v in plain.items() if k in wanted}}


def _handler_for(jira: StandInJira):
    cloud = jira.deployment == "cloud"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        disable_nagle_algorithm = True

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

        def _enter(self) -> bool:
            """Count the call in flight; False (and a 429 sent) when it is one too many."""
            with jira._lock:
                if jira.max_concurrent is not None and jira.in_flight >= jira.max_concurrent:
                    jira.throttled += 1
                    refused = True
                else:
                    jira.in_flight += 1
                    jira.peak = max(jira.peak, jira.in_flight)
                    refused = False
            if refused:
                self._send(429, {"errorMessages": ["Rate limit exceeded."]}, headers={"Retry-After": str(jira.retry_after)})
                return False
            return True

        def _leave(self) -> None:
            with jira._lock:
                jira.in_flight -= 1

        def do_GET(self):
            if self.path == "/_standin/stats":  # for benchmarks in another process; not a Jira call
                searches = jira.calls()
                with jira._lock:
                    stats = {"calls": len(jira.requests), "searches": searches, "peak": jira.peak,
                             "throttled": jira.throttled}
                self._send(200, stats)
                return
            if not self._enter():
                return
            try:
                if jira.latency:
                    time.sleep(jira.latency)
                if self.path.endswith("/field"):
                    self._send(200, FIELD_LIST)  # with schemas, as Jira lists them
                elif self.path.endswith("/serverInfo"):
                    self._send(200, {"deploymentType": "Cloud" if cloud else "Server", "version": "9.12.0"})
                elif self.path.endswith("/myself"):
                    self._send(200, {"accountId": "abc", "displayName": "Ada"} if cloud else {"name": "ada", "displayName": "Ada"})
                else:
                    self._send(404, {"errorMessages": ["Not found."]})
            finally:
                self._leave()

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            if not self._enter():
                return
            try:
                self._post(body)
            finally:
                self._leave()

        def _post(self, body: dict) -> None:
            if self.path.endswith("/issue/bulkfetch") and cloud:
                self._bulkfetch(body)
                return
            jql = str(body.get("jql", ""))
            with jira._lock:
                jira.requests.append((time.monotonic(), self.path, jql))
            if jira.latency:
                time.sleep(jira.latency)
            if self.path.endswith("/search/approximate-count"):
                self._send(200, {"count": len(jira.resolve(jql)[1])})
                return
            if not self.path.endswith("/search/jql" if cloud else "/search"):
                self._send(404, {"errorMessages": ["Not found."]})
                return
            name, found = jira.resolve(jql)
            behaviour = jira.behaviour(name)
            if self._fault_now(behaviour):
                return
            fields = body.get("fields")
            ids_only = cloud and fields == ["id"]
            if cloud:
                token = body.get("nextPageToken")
                start = int(str(token).removeprefix("offset:")) if token else 0
                cap = StandInJira.IDS_CAP if ids_only else PAGE_CAP
            else:
                start = int(body.get("startAt", 0))
                cap = jira.dc_cap
            size = min(int(body.get("maxResults", 50)), cap)
            if not cloud and jira.deep_limit is not None and start + size > jira.deep_limit:
                self._send(500, {"errorMessages": ["Search limit exceeded."], "errors": {}})
                return
            if not ids_only:
                page = start // size if size else 0
                behaviour.maybe_hold(page)
                if behaviour.page_delay:
                    time.sleep(behaviour.page_delay)
            end = min(start + size, len(found))
            issues = [_only(issue, fields, cloud) for issue in found[start:end]]
            if ids_only:
                with jira._lock:
                    for issue in found[start:end]:
                        jira._owner[issue["id"]] = name
            if cloud:
                answer = {"issues": issues, "isLast": end >= len(found)}
                if end < len(found):
                    answer["nextPageToken"] = f"offset:{end}"
            else:
                answer = {"startAt": start, "maxResults": size, "total": len(found), "issues": issues}
            self._send(200, answer)

        def _bulkfetch(self, body: dict) -> None:
            ids = [str(i) for i in body.get("issueIdsOrKeys") or []]
            with jira._lock:
                name = jira._owner.get(ids[0], "") if ids else ""
                jira.requests.append((time.monotonic(), self.path, name))
            if jira.latency:
                time.sleep(jira.latency)
            if len(ids) > 100:
                self._send(400, {"errorMessages": ["At most 100 issues can be fetched at once."], "errors": {}})
                return
            behaviour = jira.behaviour(name)
            if self._fault_now(behaviour):
                return
            if behaviour.hold_page is not None:
                _, found = jira.resolve(name) if name else ("", [])
                position = next((n for n, issue in enumerate(found) if ids and issue["id"] == ids[0]), 0)
                behaviour.maybe_hold(position // PAGE_CAP)
            if behaviour.page_delay:
                time.sleep(behaviour.page_delay)
            issues = [_only(issue, body.get("fields"), cloud) for issue in map(jira.issue_by_id, ids) if issue is not None]
            # Jira does not promise the order of the ids asked: answer the other way round.
            self._send(200, {"issues": issues[::-1], "issueErrors": []})

        def _fault_now(self, behaviour: Behaviour) -> bool:
            with behaviour._cond:
                index = behaviour.searches
                behaviour.searches += 1
            fault = behaviour.fault_for(index)
            with behaviour._cond:
                behaviour.served.append(fault)
            return fault != "ok" and self._fault(fault)

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
