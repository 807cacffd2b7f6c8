"""Lower levels of a macro: the children of every issue of the level above.

A level's JQL names its parent as ``$key``. The meaning is fixed by the sequential run
(``sequential_rows``): one search per parent with ``$key`` replaced, parents in order, each
parent's children in the query's order. ``Children`` gives the same answer with fewer and
concurrent calls:

* When ``$key`` is the whole value of a clause that takes a list — ``parent = $key``,
  ``"Epic Link" = $key``, ``key = $key``, ``issue in ($key)`` … — joined to the rest of the
  query by AND only, the level is asked for many parents at once (``parent in (K1, …,
  Kn)``, split so each query stays short) and each child goes back to its parent through
  the field the clause tests, which is fetched for that even when it is not shown.
  A child matching two parents (``key = $key`` with a key twice above) goes under each.
  Ordering is preserved because a subset of a totally ordered result keeps its order.
* Anything else (``issue in linkedIssues($key)``, ``$key`` under OR or NOT, twice …) runs
  one search per parent, several at once (``Source.search_each``).

If a batched answer holds a child that cannot be given back (its field names no parent of
the batch), the batch is asked again one parent at a time: an exact answer beats a fast one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from macros.sources.base import JqlError, Source

PLACEHOLDER = "snapshotsparentkeyplaceholder"  # stands for $key while the query is tokenized
MAX_BATCH_KEYS = 100  # parents per batched search: a few searches that can run at once
MAX_BATCH_JQL = 4000  # characters per batched query, well inside what Jira accepts
_BARE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+")
_OWN_KEY_FIELDS = {"key", "issuekey", "issue", "id"}


@dataclass(frozen=True)
class BatchPlan:
    """How to ask one level for many parents: ``head + "K1, K2" + tail``."""

    head: str
    tail: str
    fetch: str | None  # the field to fetch so each child names its parent (None: its own key)
    value_of: Callable[[dict], str | None]

    def jql(self, keys: list[str]) -> str:
        return f"{self.head}{', '.join(keys)}{self.tail}"


def _parent_key(issue: dict) -> str | None:
    parent = (issue.get("fields") or {}).get("parent")
    return parent.get("key") if isinstance(parent, dict) else None


def _own_key(issue: dict) -> str | None:
    return issue.get("key")


def _custom_value(field_id: str) -> Callable[[dict], str | None]:
    def value_of(issue: dict) -> str | None:
        value = (issue.get("fields") or {}).get(field_id)
        return value if isinstance(value, str) else None

    return value_of


def _reader_for(field: str, names: dict[str, str]) -> tuple[str | None, Callable[[dict], str | None]] | None:
    """(field to fetch, how to read a child's value) for a clause on ``field``; None if unknown."""
    name = field.strip().lower()
    if name == "parent":
        return "parent", _parent_key
    if name in _OWN_KEY_FIELDS:
        return None, _own_key
    match = re.fullmatch(r"(?:cf\[(\d+)\]|customfield_(\d+))", name)
    if match:
        field_id = f"customfield_{match.group(1) or match.group(2)}"
    else:
        field_id = next((fid for fid, fname in names.items() if fname.lower() == name), "")
    if field_id.startswith("customfield_") and names.get(field_id, "").lower() == "epic link":
        return field_id, _custom_value(field_id)
    return None


def plan_batches(template: str, names: dict[str, str]) -> BatchPlan | None:
    """A plan to ask ``template`` for many parents at once, or None when that is not provably the same."""
    from macros.jql import order_by_at, tokenize

    if template.count("$key") != 1:
        return None
    text = template.replace("$key", PLACEHOLDER)
    try:
        tokens = tokenize(text)
    except JqlError:
        return None
    order_at = order_by_at(tokens)
    where_end = len(tokens) - 1 if order_at is None else order_at
    at = next((i for i, t in enumerate(tokens) if t.kind in ("word", "string") and t.text == PLACEHOLDER), None)
    if at is None or at >= where_end:
        return None
    key_start = tokens[at].pos
    key_end = text.index(PLACEHOLDER, key_start) + len(PLACEHOLDER) + (1 if tokens[at].kind == "string" else 0)
    if at >= 2 and tokens[at - 1].kind == "op" and tokens[at - 1].text == "=":
        first = at - 2
        head, tail = text[: tokens[at - 1].pos] + "in (", ")" + text[key_end:]
    elif (at >= 3 and tokens[at - 1].kind == "(" and tokens[at - 2].kind == "word"
          and tokens[at - 2].text.lower() == "in" and tokens[at + 1].kind == ")"):
        first = at - 3
        head, tail = text[:key_start], text[key_end:]
    else:
        return None
    field = tokens[first]
    if field.kind not in ("word", "string"):
        return None
    # The clause must be a top-level conjunct: no OR anywhere outside parentheses, not
    # negated, not inside parentheses.
    depth = 0
    for i, token in enumerate(tokens[:where_end]):
        if token.kind == "(":
            depth += 1
        elif token.kind == ")":
            depth -= 1
        elif token.kind == "or" and depth == 0:
            return None
        if i == first and depth != 0:
            return None
    if first > 0 and tokens[first - 1].kind == "not":
        return None
    reader = _reader_for(field.text, names)
    if reader is None:
        return None
    fetch, value_of = reader
    return BatchPlan(head.replace(PLACEHOLDER, ""), tail.replace(PLACEHOLDER, ""), fetch, value_of)


class Children:
    """The children of ``parents`` (``(position, key)`` pairs) for one level, parent by parent.

    Iterating yields ``(parent position, children)`` in the parents' order; ``calls`` counts
    the requests made so far and ``searches`` how many searches the level will run.
    """

    def __init__(self, source: Source, template: str, fields: list[str], parents: list[tuple[int, str]],
                 names: dict[str, str]):
        self.source = source
        self.template = template
        self.fields = fields
        self.parents = parents
        self.calls = 0
        plan = plan_batches(template, names) if source.batches_children else None
        if plan is not None and not all(_BARE_KEY.fullmatch(key or "") for _, key in parents):
            plan = None
        self.plan = plan
        self.batches = _chunks(list(dict.fromkeys(key.upper() for _, key in parents)), plan) if plan else []
        self.searches = len(self.batches) if plan else len(parents)

    def __iter__(self) -> Iterator[tuple[int, list[dict]]]:
        if self.plan is None:
            yield from self._one_search_each(self.parents)
        else:
            yield from self._batched(self.plan)

    def _one_search_each(self, parents: list[tuple[int, str]]) -> Iterator[tuple[int, list[dict]]]:
        jqls = [self.template.replace("$key", key) for _, key in parents]
        for (position, _), pages in zip(parents, self.source.search_each(jqls, self.fields), strict=True):
            self.calls += sum(page.calls for page in pages)
            yield position, [issue for page in pages for issue in page.issues]

    def _batched(self, plan: BatchPlan) -> Iterator[tuple[int, list[dict]]]:
        fields = self.fields
        hidden = plan.fetch if plan.fetch and plan.fetch not in fields else None
        if hidden:
            fields = [*fields, hidden]
        answers = self.source.search_each([plan.jql(batch) for batch in self.batches], fields)
        uses = Counter(key.upper() for _, key in self.parents)
        children: dict[str, list[dict]] = {}
        batch_of = {key: n for n, batch in enumerate(self.batches) for key in batch}
        loaded = 0
        for index, (position, key) in enumerate(self.parents):
            key = key.upper()
            try:
                while loaded <= batch_of[key]:
                    batch = self.batches[loaded]
                    children.update(self._give_back(plan, batch, next(answers), hidden))
                    loaded += 1
            except JqlError:
                # Jira's words must be those the one-parent query gets (they quote the
                # query); asking one parent at a time from here on raises exactly those.
                answers.close()
                yield from self._one_search_each(self.parents[index:])
                return
            yield position, children[key]
            uses[key] -= 1
            if not uses[key]:
                del children[key]  # no later parent has this key: let the memory go

    def _give_back(self, plan: BatchPlan, batch: list[str], pages, hidden: str | None) -> dict[str, list[dict]]:
        self.calls += sum(page.calls for page in pages)
        by_key: dict[str, list[dict]] = {key: [] for key in batch}
        for page in pages:
            for issue in page.issues:
                value = plan.value_of(issue)
                if not value or value.upper() not in by_key:
                    return self._one_at_a_time(batch)
                if hidden:
                    issue = {**issue, "fields": {k: v for k, v in issue["fields"].items() if k != hidden}}
                by_key[value.upper()].append(issue)
        return by_key

    def _one_at_a_time(self, batch: list[str]) -> dict[str, list[dict]]:
        return dict(self._one_search_each([(key, key) for key in batch]))


def _chunks(keys: list[str], plan: BatchPlan) -> list[list[str]]:
    batches: list[list[str]] = []
    current: list[str] = []
    length = len(plan.head) + len(plan.tail)
    for key in keys:
        if current and (len(current) >= MAX_BATCH_KEYS or length + len(key) + 2 > MAX_BATCH_JQL):
            batches.append(current)
            current, length = [], len(plan.head) + len(plan.tail)
        current.append(key)
        length += len(key) + 2
    if current:
        batches.append(current)
    return batches


def sequential_rows(source: Source, levels: list[dict], fields_of: Callable[[list[str]], list[str]]) -> list[tuple]:
    """The reference answer: ``(position, level, parent position, key, issue)`` for every row,
    one search per parent, one page after another (how snapshots were taken before batching)."""
    rows: list[tuple] = []
    parents: list[tuple[int, str]] = []
    for depth, level in enumerate(levels, start=1):
        fields = fields_of(level.get("fields", []))
        searches = [(level["jql"], None)] if depth == 1 else [
            (level["jql"].replace("$key", key), position) for position, key in parents
        ]
        found: list[tuple[int, str]] = []
        for jql, parent in searches:
            for page in source.search_pages(jql, fields, page_size=100):
                for issue in page.issues:
                    rows.append((len(rows) + 1, depth, parent, issue.get("key", ""), issue))
                    found.append((len(rows), issue.get("key", "")))
        parents = found
    return rows
