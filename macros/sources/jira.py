"""Jira Cloud and Jira Data Center sources.

Both talk to Jira's REST API through one ``requests.Session`` per source whose adapter
retries 429/502/503/504, connection errors and read timeouts (POST included: a search is
an idempotent read), honouring ``Retry-After``. Every search (and every ``fields()`` or
``myself()`` call) gets a retry budget: at most ``max_retries`` retries and at most
``retry_budget_seconds`` of wall-clock time lost to failed attempts and waits. A
``Retry-After`` longer than what is left of the budget ends the search at once instead of
sleeping past it.

Nothing here imports Django: the site's factory (``macros.sources.get_source``) reads the
settings and calls these constructors. A source may be shared by several threads; the
retry budget is kept per thread.

Never put the token or the ``Authorization`` header into a message, a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)

from macros.sources import concurrency
from macros.sources.base import (
    FieldInfo,
    Identity,
    JqlError,
    ResultPage,
    Source,
    SourceError,
)

__all__ = ["JiraCloud", "JiraDataCenter", "detect_deployment"]

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 502, 503, 504)
FIELDS_CACHE_SECONDS = 600
DC_DEEP_PAGING_LIMIT = 10_000
DC_PAGE = 1000  # asked of Data Center; the server answers with its own cap (1000 by default)
SEARCH_PAGE = 100  # Cloud: issues a page once real fields are asked
IDS_PAGE = 5000  # Cloud: issues a page when only ids are asked
BULK_FETCH = 100  # Cloud: ids per POST /issue/bulkfetch
MAX_EMPTY_PAGES = 1000  # Cloud: consecutive empty pages that still carry a new token

REPEATED_TOKEN = (
    "Jira returned the same page token twice; the search was stopped so that no issues are "
    "duplicated or lost."
)
CAPTCHA = (
    "Jira locked this account behind a CAPTCHA after failed logins: sign in to Jira through the "
    "browser once, then try again."
)


# --------------------------------------------------------------------------------------
# Retry budget


class _Budget:
    """What one search may still spend on retries (shared by all of its HTTP calls)."""

    def __init__(self, seconds: float, max_retries: int):
        self.seconds = float(seconds)
        self.max_retries = int(max_retries)
        self.spent = 0.0  # seconds lost to failed attempts and waits
        self.retries = 0  # retries used by the whole search
        self.refused_wait: float | None = None  # a Retry-After we would not honour
        self.begin_call()

    def begin_call(self) -> None:
        now = time.monotonic()
        self.mark = now
        self.call_started = now
        self.call_failures = 0
        self.refused_wait = None

    def charge(self) -> None:
        now = time.monotonic()
        self.spent += max(0.0, now - self.mark)
        self.mark = now

    def remaining(self) -> float:
        return self.seconds - self.spent

    def exhausted(self) -> bool:
        return self.retries > self.max_retries or self.remaining() <= 0

    def call_attempts(self) -> int:
        return max(1, self.call_failures)

    def call_seconds(self) -> float:
        return time.monotonic() - self.call_started


class _BudgetRetry(urllib3.util.Retry):
    """urllib3's Retry, bounded by the calling thread's search budget.

    ``budget_local`` is the source's ``threading.local``; its ``budget`` attribute is the
    running search's ``_Budget`` (or absent outside a search: plain Retry behaviour).
    """

    budget_local: threading.local | None = None

    def new(self, **kw: Any) -> _BudgetRetry:
        retry = super().new(**kw)
        retry.budget_local = self.budget_local
        return retry

    def _budget(self) -> _Budget | None:
        local = self.budget_local
        return getattr(local, "budget", None) if local is not None else None

    def increment(
        self,
        method=None,
        url=None,
        response=None,
        error=None,
        _pool=None,
        _stacktrace=None,
    ):
        budget = self._budget()
        if budget is not None:
            budget.charge()
            budget.call_failures += 1
            budget.retries += 1
        new_retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if budget is not None:
            if budget.exhausted():
                reason = error or ResponseError(
                    f"too many retries (HTTP {getattr(response, 'status', '?')})"
                )
                raise MaxRetryError(_pool, url, reason)
            if response is not None and self.respect_retry_after_header:
                try:  # Jira's own figure, not the one capped to the budget below
                    wait = urllib3.util.Retry.get_retry_after(new_retry, response)
                except (
                    InvalidHeader,
                    ValueError,
                    OverflowError,
                ):  # unreadable: back off
                    wait = None
                if wait is not None and wait > budget.remaining():
                    budget.refused_wait = wait
                    raise MaxRetryError(
                        _pool, url, ResponseError("Retry-After beyond the retry budget")
                    )
        if response is not None and response.status in (429, 503):
            # Only a wait this call will honour is shared: a search that gives up at once
            # (Retry-After past its budget) must not hold every other search back.
            self._tell_limiter(response)
        return new_retry

    def _tell_limiter(self, response) -> None:
        """Slow the whole site down at once, not only this call's retry (see concurrency.py)."""
        slot = getattr(self.budget_local, "slot", None) if self.budget_local is not None else None
        if slot is None:
            return
        try:
            wait = urllib3.util.Retry.parse_retry_after(self, response.headers["Retry-After"])
        except (KeyError, InvalidHeader, ValueError, OverflowError):
            wait = None
        if response.status == 429 or wait is not None:
            slot.rate_limited(wait)

    def get_retry_after(self, response):
        try:
            wait = super().get_retry_after(response)
        except (InvalidHeader, ValueError, OverflowError):
            return None
        budget = self._budget()
        if wait is not None and budget is not None:
            wait = max(0.0, min(wait, budget.remaining()))
        return wait

    def get_backoff_time(self) -> float:
        backoff = super().get_backoff_time()
        budget = self._budget()
        if budget is not None:
            backoff = max(0.0, min(backoff, budget.remaining()))
        return backoff

    def sleep(self, response=None) -> None:
        # The site's limit counts calls on the wire: a call waiting to retry (an outage's
        # backoff, a Retry-After) lets others use its slot meanwhile.
        slot = getattr(self.budget_local, "slot", None) if self.budget_local is not None else None
        if slot is not None:
            slot.step_out()
        try:
            super().sleep(response)
        finally:
            if slot is not None:
                slot.step_in()
        budget = self._budget()
        if budget is not None:
            budget.charge()


class _BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``; an auth object also keeps ~/.netrc out of the way."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"


class _BasicAuth(requests.auth.HTTPBasicAuth):
    def __repr__(self) -> str:
        return "<BasicAuth ***>"


def _make_session(
    max_retries: int,
    backoff_factor: float,
    backoff_max: float,
    local: threading.local | None,
):
    retry = _BudgetRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        redirect=False,
        allowed_methods=None,  # POST too: searches are idempotent reads
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,  # hand the last 429/5xx back to us to explain
    )
    retry.budget_local = local
    session = requests.Session()
    # Room for every call the site's limiter may let through at once, from any thread.
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=max(10, concurrency.MAXIMUM * 4))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(
        {"Accept": "application/json", "User-Agent": "snapshots-jira/1"}
    )
    return session


# --------------------------------------------------------------------------------------
# Messages


def _clean_url(url: str) -> str:
    """The base URL without credentials, query or fragment, and without a trailing slash."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "(an invalid URL)"
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _secs(value: float) -> str:
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _messages(body: Any) -> list[str]:
    """Jira's own words from an error body, in all the shapes Jira uses."""
    out: list[str] = []
    if isinstance(body, dict):
        for msg in body.get("errorMessages") or []:
            if msg:
                out.append(str(msg))
        errors = body.get("errors")
        if isinstance(errors, dict):
            out.extend(str(v) for v in errors.values() if v)
        elif isinstance(errors, list):
            out.extend(str(v) for v in errors if v)
        for key in ("message", "errorMessage", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                out.append(value)
            elif isinstance(value, dict) and value.get("message"):
                out.append(str(value["message"]))
    elif isinstance(body, list):
        out.extend(str(v) for v in body if isinstance(v, str) and v)
    seen: set[str] = set()
    return [m for m in out if not (m in seen or seen.add(m))]


def _looks_html(resp: requests.Response) -> bool:
    ctype = resp.headers.get("Content-Type", "").lower()
    if "html" in ctype:
        return True
    head = resp.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body"))


def _parse_json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        # orjson reads a page of 1,000 issues several times faster than json; what it
        # refuses (integers past 64 bits, NaN) is left to json to judge.
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(resp.content)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than anything Jira sends
        return _NOT_JSON


_NOT_JSON = object()


# --------------------------------------------------------------------------------------
# HTTP


class _Http:
    """Requests, retries and error messages for one Jira site."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        *,
        kind: str | None,
        timeout: float | tuple[float, float],
        retry_budget_seconds: float,
        max_retries: int,
        local: threading.local,
        limiter: concurrency.Limiter | None = None,
    ):
        self.limiter = limiter
        self.base_url = base_url.strip().rstrip("/")
        self.site = _clean_url(base_url)
        self.session = session
        self.kind = kind  # "cloud", "datacenter" or None (detection)
        self.timeout = tuple(timeout) if isinstance(timeout, list) else timeout
        self.retry_budget_seconds = retry_budget_seconds
        self.max_retries = max_retries
        self.local = local

    @property
    def read_timeout(self) -> float:
        return self.timeout[1] if isinstance(self.timeout, tuple) else self.timeout

    @property
    def connect_timeout(self) -> float:
        return self.timeout[0] if isinstance(self.timeout, tuple) else self.timeout

    def new_budget(self) -> _Budget:
        return _Budget(self.retry_budget_seconds, self.max_retries)

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        budget: _Budget | None = None,
        purpose: str = "search",
    ) -> Any:
        """One API call; the parsed JSON answer, or a SourceError that says what to do."""
        budget = budget or self.new_budget()
        budget.begin_call()
        url = self.base_url + path
        while True:
            self.local.budget = budget
            try:
                resp = self._request(method, url, json_body)
            except requests.exceptions.RequestException as exc:
                if _is_body_failure(exc) and not budget.exhausted():
                    # The answer broke off while being read (urllib3 only retries up to the
                    # headers): try again within the same budget.
                    budget.charge()
                    budget.call_failures += 1
                    budget.retries += 1
                    if not budget.exhausted():
                        log.info(
                            "Jira answer broke off (%s); retrying", type(exc).__name__
                        )
                        continue
                raise self._transport_error(exc, budget) from None
            finally:
                self.local.budget = None
            return self._answer(resp, budget, purpose)

    def _request(self, method: str, url: str, json_body: Any) -> requests.Response:
        if self.limiter is None:
            return self.session.request(method, url, json=json_body, timeout=self.timeout)
        try:
            with self.limiter.slot() as slot:
                self.local.slot = slot
                budget = getattr(self.local, "budget", None)
                if budget is not None:
                    # Waiting for a slot is not a failed attempt: the retry budget is
                    # for Jira's failures (the job's own time limit still counts it).
                    budget.mark = time.monotonic()
                try:
                    return self.session.request(method, url, json=json_body, timeout=self.timeout)
                finally:
                    self.local.slot = None
        except concurrency.NoSlot:
            raise SourceError(
                f"Jira at {self.site} stayed busy: no call could be sent within "
                f"{_secs(concurrency.MAX_QUEUE_WAIT)} seconds because other snapshots were using every "
                "call this site allows at once. Try again later."
            ) from None

    # -- answers ------------------------------------------------------------------------

    def _answer(self, resp: requests.Response, budget: _Budget, purpose: str) -> Any:
        status = resp.status_code
        body = _parse_json(resp)
        if 200 <= status < 300:
            if body is _NOT_JSON:
                if _looks_html(resp):
                    raise SourceError(self._not_jira(status))
                raise SourceError(
                    f"Jira answered with something that is not JSON (HTTP {status}) at {self.site}; "
                    "check JIRA_URL and any proxy between this site and Jira."
                )
            return body
        if (
            body is _NOT_JSON
            and _looks_html(resp)
            and status not in (429, 502, 503, 504)
        ):
            raise SourceError(self._not_jira(status))
        msgs = _messages(body) if body is not _NOT_JSON else []
        said = " ".join(_sentence(m) for m in msgs)
        if status == 400:
            if purpose == "search":
                raise JqlError(msgs)
            raise SourceError(
                f"Jira refused the request (HTTP 400): {said or 'no reason given.'}"
            )
        if status == 401:
            reason = resp.headers.get("X-Seraph-LoginReason")
            head = f"Jira rejected the credentials (HTTP 401{', X-Seraph-LoginReason: ' + reason if reason else ''})."
            raise SourceError(f"{head} {self._credentials_hint()}")
        if status == 403:
            denied = resp.headers.get("X-Authentication-Denied-Reason", "")
            if "captcha" in denied.lower():
                raise SourceError(CAPTCHA)
            denied_note = (
                f" (X-Authentication-Denied-Reason: {denied})" if denied else ""
            )
            raise SourceError(
                f"Jira refused access (HTTP 403{denied_note}){': ' + said if said else '.'} Check that the "
                "Jira account behind JIRA_TOKEN may browse the projects in this query, or ask your Jira "
                "admin for access."
            )
        if status == 404:
            raise SourceError(self._not_jira(status))
        if status == 410:
            if msgs:
                raise SourceError(
                    f"Jira says this API has been removed: {' '.join(msgs)}"
                )
            raise SourceError("Jira says this API has been removed (HTTP 410).")
        if status == 429:
            if budget.refused_wait is not None:
                raise SourceError(
                    f"Jira kept rate-limiting us (HTTP 429) and asked us to wait {_secs(budget.refused_wait)} "
                    f"seconds, longer than the {_secs(max(0.0, budget.remaining()))} seconds left of this "
                    "search's retry budget; try again later or ask your Jira admin about API rate limits."
                )
            raise SourceError(
                f"Jira kept rate-limiting us (HTTP 429) after {_attempts(budget.call_attempts())} over "
                f"{_secs(budget.call_seconds())} seconds; try again later or ask your Jira admin about "
                "API rate limits."
            )
        if status in RETRY_STATUSES:
            if budget.refused_wait is not None:
                when = f"asked us to wait {_secs(budget.refused_wait)} seconds, longer than this search's retry budget"
                raise SourceError(
                    f"Jira was unavailable (HTTP {status}) and {when}; try again later."
                )
            raise SourceError(
                f"Jira was unavailable (HTTP {status}) after {_attempts(budget.call_attempts())} over "
                f"{_secs(budget.call_seconds())} seconds; try again later, or ask your Jira admin "
                "whether the site is healthy."
            )
        if status >= 500:
            raise _ServerError(status, msgs)
        raise SourceError(
            f"Jira answered with an unexpected HTTP {status}{': ' + said if said else '.'}"
        )

    def _not_jira(self, status: int) -> str:
        return f"Nothing that looks like Jira answered at {self.site} (HTTP {status}). Check JIRA_URL."

    def _credentials_hint(self) -> str:
        if self.kind == "cloud":
            return (
                "Check JIRA_USER and JIRA_TOKEN: Jira Cloud needs the account's email address as "
                "JIRA_USER and an API token (not the password) as JIRA_TOKEN."
            )
        if self.kind == "datacenter":
            return (
                "Check JIRA_TOKEN: Jira Data Center needs a personal access token that has not "
                "expired or been revoked (JIRA_USER may stay empty)."
            )
        return "Check JIRA_USER and JIRA_TOKEN."

    def _transport_error(self, exc: Exception, budget: _Budget) -> SourceError:
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        attempts = f"after {_attempts(budget.call_attempts())} over {_secs(budget.call_seconds())} seconds"
        if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
            reason, ReadTimeoutError
        ):
            return SourceError(
                f"Jira did not answer within {_secs(self.read_timeout)} seconds ({attempts}); the site "
                "may be overloaded or the query too heavy: try again later or narrow the query."
            )
        if isinstance(
            exc,
            (
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema,
                requests.exceptions.InvalidURL,
            ),
        ):
            return SourceError(
                f"JIRA_URL ({self.site}) is not a valid http:// or https:// address."
            )
        if isinstance(exc, requests.exceptions.SSLError) or isinstance(
            reason, SSLError
        ):
            why = "the TLS (https) certificate could not be verified"
        elif (
            isinstance(reason, NameResolutionError) or "resolve" in str(reason).lower()
        ):
            why = "the host name could not be resolved"
        elif isinstance(reason, NewConnectionError):
            why = (
                "the connection was refused"
                if "refused" in str(reason).lower()
                else "no connection could be made"
            )
        elif isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
            reason, ConnectTimeoutError
        ):
            why = (
                f"the connection timed out after {_secs(self.connect_timeout)} seconds"
            )
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError) or isinstance(
            reason, ProtocolError
        ):
            why = "the connection broke off in the middle of an answer"
        else:
            why = "the connection failed"
        return SourceError(
            f"Could not reach Jira at {self.site}: {why} ({attempts}). Check JIRA_URL and the network."
        )


class _ServerError(SourceError):
    """A non-retryable 5xx; keeps the status and Jira's words for callers that special-case them."""

    def __init__(self, status: int, messages: list[str]):
        self.status = status
        self.messages = messages
        said = " ".join(_sentence(m) for m in messages)
        super().__init__(
            f"Jira failed with an internal error (HTTP {status}){': ' + said if said else '.'} "
            "Try again later; if it keeps happening, ask your Jira admin to look at Jira's logs."
        )


def _is_body_failure(exc: Exception) -> bool:
    """A failure while reading the body (after urllib3's retries had already let go)."""
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ConnectTimeout
    ):
        reason = exc.args[0] if exc.args else None
        return isinstance(reason, (ReadTimeoutError, ProtocolError))
    return False


# --------------------------------------------------------------------------------------
# Sources


class _JiraSource(Source):
    kind = ""
    api = ""  # "/rest/api/3" or "/rest/api/2"
    batches_children = True

    def __init__(
        self,
        base_url: str,
        user: str,
        token: str,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        retry_budget_seconds: float = 120,
        max_retries: int = 10,
        backoff_factor: float = 0.5,
        backoff_max: float = 30,
        limiter: concurrency.Limiter | None = None,
    ):
        cleaned = _clean_url(base_url or "")
        if (
            urlsplit(cleaned).scheme not in ("http", "https")
            or not urlsplit(cleaned).hostname
        ):
            raise SourceError(
                f"JIRA_URL ({cleaned or 'empty'}) is not a valid http:// or https:// address."
            )
        self.site_url = cleaned
        self.user = user or ""
        self._local = threading.local()
        session = _make_session(max_retries, backoff_factor, backoff_max, self._local)
        session.auth = self._auth(self.user, token or "")
        self.session = session
        self._http = _Http(
            cleaned,
            session,
            kind=self.kind,
            timeout=timeout,
            retry_budget_seconds=retry_budget_seconds,
            max_retries=max_retries,
            local=self._local,
            limiter=limiter or concurrency.limiter_for(cleaned),
        )
        self._fields_cache: tuple[float, list[FieldInfo]] | None = None

    def _auth(self, user: str, token: str):
        raise NotImplementedError

    @property
    def limiter(self) -> concurrency.Limiter:
        return self._http.limiter

    def search_each(self, jqls: list[str], fields: list[str]) -> Iterator[list[ResultPage]]:
        return concurrency.in_order(
            lambda jql: list(self.read_pages(jql, fields)), jqls, workers=self.limiter.maximum
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.site_url} user={self.user!r}>"

    # -- fields and identity ------------------------------------------------------------

    def fields(self) -> list[FieldInfo]:
        cached = self._fields_cache
        if cached and time.monotonic() - cached[0] < FIELDS_CACHE_SECONDS:
            return list(cached[1])
        body = self._http.call("GET", f"{self.api}/field", purpose="fields")
        if not isinstance(body, list):
            raise SourceError(
                "Jira answered the field list with JSON this site does not understand."
            )
        out = [FieldInfo("key", "Key", False, "string")]
        for item in body:
            if (
                not isinstance(item, dict)
                or not item.get("id")
                or item.get("id") == "key"
            ):
                continue
            schema = item.get("schema") if isinstance(item.get("schema"), dict) else {}
            out.append(
                FieldInfo(
                    id=str(item["id"]),
                    name=str(item.get("name") or item["id"]),
                    custom=bool(
                        item.get("custom", str(item["id"]).startswith("customfield_"))
                    ),
                    schema_type=schema.get("type"),
                    schema=schema,
                )
            )
        self._fields_cache = (time.monotonic(), out)
        return list(out)

    def forget_fields(self) -> None:
        self._fields_cache = None

    def myself(self) -> Identity:
        body = self._http.call("GET", f"{self.api}/myself", purpose="myself")
        if not isinstance(body, dict):
            raise SourceError(
                "Jira answered /myself with JSON this site does not understand."
            )
        return self._identity(body)

    def _identity(self, body: dict) -> Identity:
        raise NotImplementedError

    @staticmethod
    def _issues(body: Any) -> list[dict]:
        if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
            raise SourceError(
                "Jira answered the search with JSON this site does not understand (no list of issues)."
            )
        return body["issues"]


def _unseen(issues: list, seen: set[str]) -> list:
    """The issues not returned before (by id, else key), remembering them in ``seen``.

    Data Center's offsets shift when issues change while a search is read: an issue can
    come twice, and must be stored once.
    """
    fresh = []
    for issue in issues:
        ident = str(issue.get("id") or issue.get("key") or "") if isinstance(issue, dict) else ""
        if ident and ident in seen:
            continue
        if ident:
            seen.add(ident)
        fresh.append(issue)
    return fresh


def _field_list(fields: list[str]) -> list[str]:
    names = list(dict.fromkeys(f for f in fields if f))
    return names or ["summary"]


class JiraCloud(_JiraSource):
    """Jira Cloud: ``POST /rest/api/3/search/jql`` with token paging; Basic auth email + API token."""

    name = "jira-cloud"
    kind = "cloud"
    api = "/rest/api/3"

    def _auth(self, user: str, token: str):
        return _BasicAuth(user, token)

    def _identity(self, body: dict) -> Identity:
        extra = {
            k: body[k]
            for k in ("emailAddress", "timeZone", "locale", "active")
            if k in body
        }
        return Identity(
            display_name=str(body.get("displayName") or body.get("accountId") or ""),
            account=str(body.get("accountId") or ""),
            extra=extra,
        )

    def approximate_count(self, jql: str) -> int | None:
        """Jira's approximate count for ``jql``, or None when Jira cannot tell.

        One attempt, no retries: the count is a nicety, and the search that follows has
        its own retry budget and reports any real problem precisely.
        """
        budget = _Budget(self._http.retry_budget_seconds, 0)
        try:
            body = self._http.call(
                "POST",
                f"{self.api}/search/approximate-count",
                json_body={"jql": jql},
                budget=budget,
                purpose="count",
            )
        except SourceError as exc:
            log.info("approximate-count unavailable: %s", exc)
            return None
        count = body.get("count") if isinstance(body, dict) else None
        return (
            count
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0
            else None
        )

    def search_pages(
        self, jql: str, fields: list[str], *, page_size: int = 100
    ) -> Iterator[ResultPage]:
        expected = self.approximate_count(jql)
        budget = self._http.new_budget()
        names = _field_list(fields)
        token: str | None = None
        seen_tokens: set[str] = set()
        first = True
        empty_run = 0
        while True:
            body: dict[str, Any] = {
                "jql": jql,
                "fields": names,
                "maxResults": max(1, int(page_size)),
            }
            if token:
                body["nextPageToken"] = token
            answer = self._http.call(
                "POST", f"{self.api}/search/jql", json_body=body, budget=budget
            )
            issues = self._issues(answer)
            if issues or first:
                yield ResultPage(issues, expected)
            first = False
            empty_run = 0 if issues else empty_run + 1
            token = answer.get("nextPageToken")
            if answer.get("isLast") is True or not token:
                return
            token = str(token)
            if token in seen_tokens:
                raise SourceError(REPEATED_TOKEN)
            seen_tokens.add(token)
            if empty_run >= MAX_EMPTY_PAGES:
                raise SourceError(
                    f"Jira sent {MAX_EMPTY_PAGES} empty pages in a row without ending the search; it was "
                    "stopped. Try again later or narrow the query."
                )


    def read_pages(self, jql: str, fields: list[str]) -> Iterator[ResultPage]:
        """One page with the fields; past it, every id (5,000 a call), then the fields 100 ids a
        call, several calls at once, in the query's order.

        Most searches of a multi-level macro fit one page: they cost one call, as before.
        """
        names = _field_list(fields)
        budget = self._http.new_budget()
        answer = self._http.call(
            "POST", f"{self.api}/search/jql",
            json_body={"jql": jql, "fields": names, "maxResults": SEARCH_PAGE}, budget=budget,
        )
        issues = self._issues(answer)
        if answer.get("isLast") is True or not answer.get("nextPageToken"):
            yield ResultPage(issues, len(issues))
            return
        yield ResultPage(issues, None)
        have = {str(issue.get("id")) for issue in issues if isinstance(issue, dict)}
        ids, id_calls = self._all_ids(jql, budget)
        rest = [ident for ident in dict.fromkeys(ids) if ident not in have]
        expected = len(issues) + len(rest)
        chunks = [rest[i : i + BULK_FETCH] for i in range(0, len(rest), BULK_FETCH)]
        if not chunks:
            yield ResultPage([], expected, calls=id_calls)
            return
        fetched = concurrency.in_order(
            lambda chunk: self._bulk_fetch(chunk, names), chunks, workers=self.limiter.maximum
        )
        for n, found in enumerate(fetched):
            yield ResultPage(found, expected, calls=1 + (id_calls if n == 0 else 0))

    def _all_ids(self, jql: str, budget: _Budget) -> tuple[list[str], int]:
        """Every id the query matches, in its order (Jira sends up to 5,000 a page when only ids are asked)."""
        ids: list[str] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        calls = empty_run = 0
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": ["id"], "maxResults": IDS_PAGE}
            if token:
                body["nextPageToken"] = token
            answer = self._http.call("POST", f"{self.api}/search/jql", json_body=body, budget=budget)
            calls += 1
            found = self._issues(answer)
            ids.extend(str(i["id"]) for i in found if isinstance(i, dict) and i.get("id"))
            empty_run = 0 if found else empty_run + 1
            token = answer.get("nextPageToken")
            if answer.get("isLast") is True or not token:
                return ids, calls
            token = str(token)
            if token in seen_tokens:
                raise SourceError(REPEATED_TOKEN)
            seen_tokens.add(token)
            if empty_run >= MAX_EMPTY_PAGES:
                raise SourceError(
                    f"Jira sent {MAX_EMPTY_PAGES} empty pages in a row without ending the search; it was "
                    "stopped. Try again later or narrow the query."
                )

    def _bulk_fetch(self, ids: list[str], names: list[str]) -> list[dict]:
        answer = self._http.call(
            "POST", f"{self.api}/issue/bulkfetch",
            json_body={"issueIdsOrKeys": ids, "fields": names, "fieldsByKeys": False},
            purpose="bulkfetch",
        )
        found = {str(issue.get("id")): issue for issue in self._issues(answer) if isinstance(issue, dict)}
        # An issue deleted (or hidden from us) since its id was listed is in issueErrors:
        # it is gone, as it would be from a search run now.
        return [found[ident] for ident in ids if ident in found]


class JiraDataCenter(_JiraSource):
    """Jira Data Center / Server: ``POST /rest/api/2/search`` with startAt paging; Bearer PAT."""

    name = "jira-datacenter"
    kind = "datacenter"
    api = "/rest/api/2"

    def _auth(self, user: str, token: str):
        return _BearerAuth(token)

    def _identity(self, body: dict) -> Identity:
        extra = {
            k: body[k]
            for k in ("key", "emailAddress", "timeZone", "locale", "active")
            if k in body
        }
        account = str(body.get("name") or body.get("key") or "")
        return Identity(
            display_name=str(body.get("displayName") or account),
            account=account,
            extra=extra,
        )

    def search_pages(
        self, jql: str, fields: list[str], *, page_size: int = 100
    ) -> Iterator[ResultPage]:
        budget = self._http.new_budget()
        names = _field_list(fields)
        start_at = 0
        max_results = max(1, int(page_size))
        total: int | None = None
        seen_ids: set[str] = set()
        first = True
        while True:
            body = {
                "jql": jql,
                "startAt": start_at,
                "maxResults": max_results,
                "fields": names,
            }
            try:
                answer = self._http.call(
                    "POST", f"{self.api}/search", json_body=body, budget=budget
                )
            except _ServerError as exc:
                if (
                    any("search limit" in m.lower() for m in exc.messages)
                    or start_at >= DC_DEEP_PAGING_LIMIT
                ):
                    raise SourceError(self._too_deep(total, start_at)) from None
                raise
            issues = self._issues(answer)
            answer_total = answer.get("total")
            if isinstance(answer_total, int) and not isinstance(answer_total, bool):
                total = answer_total
            answer_max = answer.get("maxResults")
            if (
                isinstance(answer_max, int)
                and not isinstance(answer_max, bool)
                and answer_max > 0
            ):
                max_results = answer_max  # servers cap the page size (1000 by default)
            fresh = _unseen(issues, seen_ids)
            if fresh or first:
                yield ResultPage(fresh, total)
            first = False
            if not issues:
                if total is not None and total > start_at:
                    if start_at >= DC_DEEP_PAGING_LIMIT:
                        raise SourceError(self._too_deep(total, start_at))
                    raise SourceError(
                        f"Jira stopped returning issues at result {start_at} although it reports {total} "
                        "matches; the search was stopped so that no issues are silently left out. Try again; "
                        "if it keeps happening, narrow the query."
                    )
                return
            start_at += len(issues)
            if total is not None and start_at >= total:
                return

    def read_pages(self, jql: str, fields: list[str]) -> Iterator[ResultPage]:
        """The largest pages the server gives, read several at once once the total is known.

        The answer is the sequential one's: pages are asked ahead at the offsets the
        sequential reading would reach, and a page is used only when the reading arrives
        at its offset (a short page or a changed total re-plans the pages ahead). Past
        10,000 results on a site that refuses deep paging, the search is split in blocks
        of ids (``_read_in_id_blocks``).
        """
        names = _field_list(fields)
        first = self._page(jql, names, 0, DC_PAGE, None)
        total = _int(first.get("total")) if isinstance(first, dict) else None
        if total is not None and total > DC_DEEP_PAGING_LIMIT and self._refuses_deep_paging(jql, names):
            yield from self._read_in_id_blocks(jql, names, total)
            return
        yield from self._read_from(jql, names, first, set())

    def _page(self, jql: str, names: list[str], start_at: int, size: int, budget: _Budget | None) -> dict:
        body = {"jql": jql, "startAt": start_at, "maxResults": size, "fields": names}
        try:
            answer = self._http.call("POST", f"{self.api}/search", json_body=body, budget=budget)
        except _ServerError as exc:
            if any("search limit" in m.lower() for m in exc.messages) or start_at >= DC_DEEP_PAGING_LIMIT:
                raise SourceError(self._too_deep(None, start_at)) from None
            raise
        self._issues(answer)
        return answer

    def _read_from(self, jql: str, names: list[str], answer: dict, seen: set[str], *,
                   stop_at: int | None = None) -> Iterator[ResultPage]:
        start_at = 0
        size = _int(answer.get("maxResults")) or DC_PAGE
        total: int | None = None
        workers = self.limiter.maximum
        ahead: dict[int, Future] = {}
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jira-dc")
        first = True
        try:
            while True:
                issues = self._issues(answer)
                total = _int(answer.get("total"), total)
                size = _int(answer.get("maxResults")) or size  # servers cap the page size
                fresh = _unseen(issues, seen)
                if fresh or first:
                    yield ResultPage(fresh, total)
                first = False
                if not issues:
                    if total is not None and total > start_at and (stop_at is None or start_at < stop_at):
                        if start_at >= DC_DEEP_PAGING_LIMIT:
                            raise SourceError(self._too_deep(total, start_at))
                        raise SourceError(
                            f"Jira stopped returning issues at result {start_at} although it reports {total} "
                            "matches; the search was stopped so that no issues are silently left out. Try again; "
                            "if it keeps happening, narrow the query."
                        )
                    return
                start_at += len(issues)
                end = total if stop_at is None or total is None else min(total, stop_at)
                if end is not None and start_at >= end:
                    return
                # Ask ahead for the pages the reading will reach if nothing changes.
                for offset in list(ahead):
                    if offset < start_at or (offset - start_at) % size:
                        ahead.pop(offset).cancel()
                offsets = [start_at] if end is None else range(start_at, min(end, start_at + 2 * workers * size), size)
                for offset in offsets:
                    if offset not in ahead:
                        ask = size if stop_at is None else min(size, stop_at - offset)
                        ahead[offset] = executor.submit(self._page, jql, names, offset, ask, None)
                answer = ahead.pop(start_at).result()
        finally:
            for future in ahead.values():
                future.cancel()
            # Not waiting: a job stopped at its time limit (django-q2 raises in this thread)
            # must not sit out the calls still in flight; their answers are simply dropped.
            executor.shutdown(wait=False, cancel_futures=True)

    def _refuses_deep_paging(self, jql: str, names: list[str]) -> bool:
        """Whether this site refuses results past 10,000 (OpenSearch-backed sites do)."""
        try:
            answer = self._http.call(
                "POST", f"{self.api}/search",
                json_body={"jql": jql, "startAt": DC_DEEP_PAGING_LIMIT, "maxResults": 1, "fields": ["id"]},
            )
        except _ServerError:
            return True
        return not self._issues(answer)

    def _read_in_id_blocks(self, jql: str, names: list[str], total: int) -> Iterator[ResultPage]:
        """Blocks of at most 10,000 issues in id order: ``… AND id > <last id of the block before>``.

        Only a query in key or id order (or in no stated order) can be split so: issue ids
        grow with keys as Jira numbers new issues, so the rows keep the query's order.
        """
        where, direction = _id_ordered(jql)
        if direction is None:
            raise SourceError(self._too_deep(total, DC_DEEP_PAGING_LIMIT) + (
                " Or sort it by key (ORDER BY key) so that it can be read in blocks."
            ))
        compare = "<" if direction == "DESC" else ">"
        seen: set[str] = set()
        last: int | None = None
        done = 0
        while True:
            clauses = [f"({where})"] if where else []
            if last is not None:
                clauses.append(f"id {compare} {last}")
            query = f"{' AND '.join(clauses)} ORDER BY id {direction}".strip()
            first = self._page(query, names, 0, DC_PAGE, None)
            block_total = _int(first.get("total"))
            block_last = None
            for page in self._read_from(query, names, first, seen, stop_at=DC_DEEP_PAGING_LIMIT):
                if page.issues:
                    block_last = page.issues[-1].get("id")
                yield ResultPage(page.issues, done + (block_total or 0), calls=page.calls)
            if block_total is None or block_total <= DC_DEEP_PAGING_LIMIT or block_last is None:
                return
            done += DC_DEEP_PAGING_LIMIT
            last = int(block_last)

    @staticmethod
    def _too_deep(total: int | None, start_at: int) -> str:
        matches = f"{total:,} issues" if total else "more than 10,000 issues"
        return (
            f"This query matches {matches}; Jira Data Center cannot page past 10,000 results on this "
            f'site (it stopped at result {start_at:,} with "Search limit exceeded"). Narrow the query, '
            "for example by project or by date, so that it matches at most 10,000 issues."
        )


def _int(value: Any, default: int | None = None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _id_ordered(jql: str) -> tuple[str, str | None]:
    """``(the query without its ORDER BY, "ASC"/"DESC")`` when it is in key or id order (or none)."""
    from macros.jql import order_by_at, tokenize

    try:
        tokens = tokenize(jql)
    except SourceError:
        return jql, None
    i = order_by_at(tokens)
    if i is None:
        return jql.strip(), "ASC"
    rest = [t.text.lower() for t in tokens[i + 2 : -1]]
    where = jql[: tokens[i].pos].strip()
    if rest[:1] and rest[0] in ("key", "issuekey", "id") and rest[1:] in ([], ["asc"], ["desc"]):
        return where, "DESC" if rest[1:] == ["desc"] else "ASC"
    return where, None


# --------------------------------------------------------------------------------------
# Detection


def detect_deployment(
    url: str,
    session: requests.Session | None = None,
    *,
    timeout: float | tuple[float, float] = (5, 30),
    retry_budget_seconds: float = 60,
    max_retries: int = 5,
) -> str:
    """``"cloud"`` or ``"datacenter"`` for the Jira at ``url``.

    Hosts under ``.atlassian.net`` (or the older ``.jira.com``) are Cloud; anything else is
    asked ``GET /rest/api/2/serverInfo`` (anonymous access is enough) for ``deploymentType``.
    """
    cleaned = _clean_url(url or "")
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(
            f"JIRA_URL ({cleaned or 'empty'}) is not a valid http:// or https:// address."
        )
    host = parts.hostname.lower()
    if host.endswith((".atlassian.net", ".jira.com")):
        return "cloud"
    local = threading.local()
    own = session is None
    if own:
        session = _make_session(max_retries, 0.5, 30, local)
    http = _Http(
        cleaned,
        session,
        kind=None,
        timeout=timeout,
        retry_budget_seconds=retry_budget_seconds,
        max_retries=max_retries,
        local=local,
    )
    try:
        info = http.call("GET", "/rest/api/2/serverInfo", purpose="serverInfo")
    finally:
        if own:
            session.close()
    kind = str(info.get("deploymentType") or "") if isinstance(info, dict) else ""
    if kind.lower() == "cloud":
        return "cloud"
    if kind.lower() in ("server", "datacenter", "data center") or (
        isinstance(info, dict) and info.get("version")
    ):
        return "datacenter"
    raise SourceError(
        f"Nothing that looks like Jira answered at {cleaned} (no deploymentType in /rest/api/2/serverInfo). "
        "Check JIRA_URL, or set JIRA_DEPLOYMENT to cloud or datacenter."
    )
