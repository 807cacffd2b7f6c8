"""The JQL subset against an independent evaluation of the same queries.

Queries are generated (seeded, so a failure repeats) from a grammar whose meaning is plain:
clauses on project, status, issue type, priority, assignee and labels, joined with
AND/OR/NOT and parentheses. Each one is also turned into a plain Python predicate over the
Sample data's issues, written here without any of ``macros.jql``; the Sample source's
answer must be exactly the issues the predicate keeps. Most generated queries are valid and
match some but not all issues, so the comparison exercises the evaluator rather than the
error path (the fuzz tests in test_jql_fuzz.py look after broken input).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from macros.sources.sample import Sample

SAMPLE = Sample(now=lambda: datetime(2026, 6, 1, 12, tzinfo=UTC), current_user="5b10ac8d82e05b22cc7d4e01")
FIELDS = ["project", "status", "issuetype", "priority", "assignee", "labels"]
EXAMPLES = 400

Issue = dict
Predicate = Callable[[Issue], bool]


def _all_issues() -> list[Issue]:
    pages = SAMPLE.search_pages("", FIELDS, page_size=500)
    return [issue for page in pages for issue in page.issues]


ISSUES = _all_issues()

# Every issue has a project, a status, a type and a priority (so `!=` and NOT are plain
# complements on them); assignee and labels may be empty.
TOTAL = {
    "project": ("project", "key", ["WEB", "MOB", "OPS"]),
    "status": ("status", "name", ["Done", "To Do", "In Progress", "In Review"]),
    "issuetype": ("issuetype", "name", ["Bug", "Story", "Task", "Sub-task", "Epic"]),
    "priority": ("priority", "name", ["Highest", "High", "Medium", "Low", "Lowest"]),
}
LABELS = ["tech-debt", "offline", "security", "ios", "checkout", "performance", "ux", "no-such-label"]


def _attr(issue: Issue, field: str, attr: str) -> str:
    return (issue["fields"].get(field) or {}).get(attr, "")


def _quote(value: str, rng: random.Random) -> str:
    if " " in value or "-" in value or rng.random() < 0.3:
        return f'"{value}"'
    return value


def _cased(word: str, rng: random.Random) -> str:
    return rng.choice([word, word.lower(), word.upper()])


def _total_clause(rng: random.Random) -> tuple[str, Predicate]:
    name = rng.choice(sorted(TOTAL))
    field, attr, values = TOTAL[name]
    op = rng.choice(["=", "!=", "in", "not in"])
    if op in ("=", "!="):
        value = rng.choice(values)
        text = f"{_cased(name, rng)} {op} {_quote(_cased(value, rng) if name != 'project' else value, rng)}"
        wanted = {value.casefold()}
    else:
        chosen = rng.sample(values, rng.randint(1, 3))
        text = f"{_cased(name, rng)} {_cased(op, rng)} (" + ", ".join(_quote(v, rng) for v in chosen) + ")"
        wanted = {v.casefold() for v in chosen}
    negate = op in ("!=", "not in")
    return text, lambda issue: (_attr(issue, field, attr).casefold() in wanted) != negate


def _partial_clause(rng: random.Random) -> tuple[str, Predicate]:
    """Clauses on fields that may be empty: only forms whose meaning on an empty field is plain."""
    kind = rng.choice(["assignee empty", "assignee set", "label", "labels in"])
    if kind == "assignee empty":
        return f"assignee {_cased('is', rng)} {rng.choice(['EMPTY', 'empty', 'null'])}", lambda i: not i["fields"].get("assignee")
    if kind == "assignee set":
        return f"assignee is not {rng.choice(['EMPTY', 'NULL'])}", lambda i: bool(i["fields"].get("assignee"))
    if kind == "label":
        label = rng.choice(LABELS)
        return f"labels = {_quote(label, rng)}", lambda i: label in (i["fields"].get("labels") or [])
    chosen = rng.sample(LABELS, rng.randint(1, 3))
    return (
        "labels in (" + ", ".join(_quote(v, rng) for v in chosen) + ")",
        lambda i: bool(set(chosen) & set(i["fields"].get("labels") or [])),
    )


def _condition(rng: random.Random, depth: int, negatable: bool) -> tuple[str, Predicate]:
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        if negatable or rng.random() < 0.6:
            return _total_clause(rng)
        return _partial_clause(rng)
    if roll < 0.5 and negatable:
        text, predicate = _condition(rng, depth - 1, negatable=True)
        word = rng.choice(["NOT", "not", "!"])
        return f"{word} ({text})", lambda i: not predicate(i)
    left_text, left = _condition(rng, depth - 1, negatable)
    right_text, right = _condition(rng, depth - 1, negatable)
    if rng.random() < 0.5:
        word = rng.choice(["AND", "and", "&&"])
        return f"({left_text}) {word} ({right_text})", lambda i: left(i) and right(i)
    word = rng.choice(["OR", "or", "||"])
    return f"({left_text}) {word} ({right_text})", lambda i: left(i) or right(i)


def random_query(rng: random.Random) -> tuple[str, Predicate]:
    return _condition(rng, depth=rng.randint(0, 3), negatable=rng.random() < 0.5)


def _search(jql: str) -> list[str]:
    pages = list(SAMPLE.search_pages(jql + " ORDER BY key ASC", FIELDS, page_size=500))
    keys = [issue["key"] for page in pages for issue in page.issues]
    assert len(keys) == pages[0].expected, jql
    return keys


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.partition("-")
    return project, int(number)


def test_the_oracle_sees_the_whole_sample():
    assert len(ISSUES) > 500
    assert {_attr(i, "project", "key") for i in ISSUES} == {"WEB", "MOB", "OPS"}


def test_generated_queries_find_exactly_the_issues_a_plain_filter_keeps():
    rng = random.Random(20260601)
    some_but_not_all = nothing = everything = 0
    for n in range(EXAMPLES):
        jql, predicate = random_query(rng)
        expected = sorted((i["key"] for i in ISSUES if predicate(i)), key=_key_order)
        got = _search(jql)
        assert got == expected, f"example {n}: {jql!r}: {len(got)} issues, a plain filter keeps {len(expected)}"
        if not expected:
            nothing += 1
        elif len(expected) == len(ISSUES):
            everything += 1
        else:
            some_but_not_all += 1
    # The comparison means something only if most queries select a real subset.
    assert some_but_not_all >= EXAMPLES * 0.6, (some_but_not_all, nothing, everything)
    assert nothing <= EXAMPLES * 0.25 and everything <= EXAMPLES * 0.15, (some_but_not_all, nothing, everything)
