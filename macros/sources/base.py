"""The interface every source of issues implements.

A source answers a JQL search page by page so that a snapshot of 50,000 issues never
has to sit in memory at once: the snapshot service stores each page as it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


class SourceError(Exception):
    """A search could not be completed; ``str(error)`` is a sentence a person can act on."""


class JqlError(SourceError):
    """The query itself is wrong (Jira answers 400): the messages are Jira's own words."""

    def __init__(self, messages: list[str]):
        self.messages = [m for m in messages if m] or ["The JQL query is not valid."]
        super().__init__(" ".join(self.messages))


class SearchTooSlow(SourceError):
    """A search ran past the time its caller allowed it (``time_budget``)."""


@dataclass
class _Budget:
    seconds: float
    message: str
    deadline: float | None = None  # set by the first check: loading the data is not the query's cost


_budget: ContextVar[_Budget | None] = ContextVar("search_time_budget", default=None)


@contextmanager
def time_budget(seconds: float, message: str) -> Iterator[None]:
    """Searches made inside must end within ``seconds`` of their first step, or raise
    ``SearchTooSlow(message)``.

    A source that computes results itself (the Sample) checks it as it works, so that one
    costly query cannot hold a web request or a worker for long.
    """
    token = _budget.set(_Budget(seconds, message))
    try:
        yield
    finally:
        _budget.reset(token)


# How long the Sample may compute one Preview, and all the searches of one snapshot (a
# level 2 runs once per issue of level 1): a query that costs more is refused with a
# sentence rather than holding a web request or a worker (issue 13).
PREVIEW_SECONDS = 1
SNAPSHOT_SEARCH_SECONDS = 30


def preview_budget():
    return time_budget(
        PREVIEW_SECONDS,
        f"The preview took longer than {PREVIEW_SECONDS:g} seconds and was stopped; simplify the query "
        "(fewer wildcards, fewer OR terms).",
    )


def snapshot_budget(job_limit: float):
    seconds = min(SNAPSHOT_SEARCH_SECONDS, job_limit // 2)
    return time_budget(
        seconds,
        f"The searches of this snapshot took longer than {seconds} seconds and were stopped; simplify the "
        "query (fewer wildcards, fewer OR terms, fewer issues in level 1).",
    )


def check_time_budget() -> None:
    """Raise ``SearchTooSlow`` when the current ``time_budget`` is spent."""
    budget = _budget.get()
    if budget is None:
        return
    now = time.monotonic()
    if budget.deadline is None:
        budget.deadline = now + budget.seconds
    elif now > budget.deadline:
        raise SearchTooSlow(budget.message)


@dataclass
class ResultPage:
    """One page of a search: issues in Jira's JSON shape, plus what we know of the total."""

    issues: list[dict]
    expected: int | None = None  # how many issues the whole search should return, if known


@dataclass
class FieldInfo:
    id: str  # "summary", "status", "customfield_10016"
    name: str  # "Summary", "Status", "Story Points"
    custom: bool = False
    schema_type: str | None = None  # Jira's schema.type: "string", "user", "array", …
    # Jira's whole schema ({"type", "items", "custom", "system", "customId"}): it says how
    # a value reads (macros/fieldtypes) and is stored with each snapshot's columns.
    schema: dict = field(default_factory=dict)

    @property
    def type_label(self) -> str:
        """``array of option (multiselect)``: the type as an administrator recognises it."""
        kind = self.schema.get("type") or self.schema_type or ""
        if self.schema.get("items"):
            kind = f"{kind} of {self.schema['items']}"
        custom = str(self.schema.get("custom") or "")
        return f"{kind} ({custom.rpartition(':')[2]})" if custom else kind

    def column(self) -> dict:
        """The snapshot column for this field: ``{"id", "name", "schema"?}``."""
        from macros.fieldtypes import column_for

        return column_for(self.id, self.name, self.schema or ({"type": self.schema_type} if self.schema_type else None))


@dataclass
class Identity:
    """Who we are in the source (the answer of /myself)."""

    display_name: str
    account: str  # accountId on Cloud, user name on Data Center, "sample" for the sample
    extra: dict = field(default_factory=dict)


class Source:
    """Base class: ``search_pages`` is the one method a snapshot needs."""

    name: str = "source"  # "sample", "jira-cloud", "jira-datacenter"
    site_url: str = ""  # the Jira base URL the issues come from ("" for the sample)

    def search_pages(self, jql: str, fields: list[str], *, page_size: int = 100) -> Iterator[ResultPage]:
        """Yield every page of issues matching ``jql``, each issue carrying ``fields``.

        Raises ``JqlError`` for a bad query and ``SourceError`` for anything else that
        stops the search; a caller must then treat everything already yielded as void.
        """
        raise NotImplementedError

    def preview(self, jql: str, fields: list[str], limit: int = 10) -> ResultPage:
        """The first ``limit`` issues, for the configuration screen."""
        for page in self.search_pages(jql, fields, page_size=limit):
            return ResultPage(page.issues[:limit], page.expected)
        return ResultPage([], 0)

    def warm(self) -> None:
        """Load ahead what the first search would otherwise load (called when a worker starts)."""

    def fields(self) -> list[FieldInfo]:
        """Every field an editor can choose as a column."""
        raise NotImplementedError

    def forget_fields(self) -> None:
        """Drop any field list held in memory, so the next ``fields()`` asks the source."""

    def myself(self) -> Identity:
        """Who the configured credentials are; raises ``SourceError`` with the precise failure."""
        raise NotImplementedError
