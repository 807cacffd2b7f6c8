"""Fuzzing the JQL subset: whatever a person types, the answer is results or Jira's words.

Hypothesis feeds ``macros.jql.parse`` and the Sample source's search three kinds of input:
arbitrary text, queries built from JQL's own pieces (fields, operators, values,
functions, lists, AND/OR/NOT, parentheses, ORDER BY), and those queries with pieces cut
out or thrown in. Anything but a result or a ``JqlError`` is a bug; so is a ``JqlError``
without a message.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from macros.jql import STANDARD_FIELDS, parse
from macros.sources.base import JqlError
from macros.sources.sample import Sample

COUNTS: Counter[str] = Counter()
MIN_RESULTS_SHARE = 0.5
FUZZ = settings(max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLE = Sample(now=lambda: datetime(2026, 6, 1, 12, tzinfo=UTC), current_user="5b10ac8d82e05b22cc7d4e01")

# --- the pieces of JQL ------------------------------------------------------------------

field_names = st.one_of(
    st.sampled_from(sorted(STANDARD_FIELDS)).map(lambda name: f'"{name}"' if " " in name else name),
    st.sampled_from(["cf[10016]", "customfield_10020", "Story Points", "nosuchfield", "cf[abc]", "\"\"", "text"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,12}", fullmatch=True),
)
operators = st.sampled_from(["=", "!=", "~", "!~", ">", ">=", "<", "<=", "in", "not in", "IN", "NOT IN", "is", "is not", "IS NOT", "was", "==", "=~", "<>"])
bare_values = st.one_of(
    st.sampled_from(["WEB", "MOB", "OPS", "WEB-12", "Done", "\"In Progress\"", "High", "EMPTY", "null", "-7d", "+1w", "-2w 3d",
                     "2026/01/31", "\"2026-01-31 14:00\"", "1.2", "3", "-1", "0x10", "backend", "currentUser()",
                     "unassigned", "'single quoted'", "\"escaped \\\" quote\"", "\"tab\\there\""]),
    st.integers(-10_000, 10_000).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: repr(float(f))),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.from_regex(r"[A-Za-z0-9_\-./:]{1,12}", fullmatch=True),
)
functions = st.builds(
    lambda name, args: f"{name}({', '.join(args)})",
    st.sampled_from(["now", "startOfDay", "endOfWeek", "startOfMonth", "endOfYear", "currentUser", "membersOf", "openSprints",
                     "closedSprints", "releasedVersions", "unreleasedVersions", "standardIssueTypes", "noSuchFunction"]),
    st.lists(st.sampled_from(['"-1"', '"+9h"', "-1", '"jira-users"', '"1w"', '"x"', "", '"-1M"', '"+2y"']), max_size=2),
)
single_values = st.one_of(bare_values, functions)
value_lists = st.lists(single_values, min_size=0, max_size=4).map(lambda items: "(" + ", ".join(items) + ")")
any_clauses = st.builds(lambda f, op, v: f"{f} {op} {v}", field_names, operators, st.one_of(single_values, value_lists))
# Clauses Jira (and the Sample data) accept, so the evaluator and the sorting run too.
_VALUES = {
    "project": ["WEB", "MOB", "OPS", '"Web Storefront"', "10001"],
    "status": ['"To Do"', "Done", '"In Progress"', '"In Review"'],
    "statusCategory": ["Done", '"To Do"', "indeterminate"],
    "issuetype": ["Bug", "Story", "Epic", "Task", "Sub-task", "standardIssueTypes()", "subTaskIssueTypes()"],
    "priority": ["High", "Highest", "Low", "Medium", "Lowest"],
    "resolution": ["Done", "Unresolved", "Duplicate", '"Won\'t Do"', "EMPTY"],
    "assignee": ["currentUser()", "EMPTY", 'membersOf("web-team")', "712020:01b4d6a292283035b16d73f10c9007cc"],
    "created": ["-7d", '"-2w"', "startOfMonth()", 'endOfWeek("-1")', '"2026/01/31"', "now()", '"2026-01-31 14:00"'],
    "updated": ["-1d", "-52w", "startOfYear()", "startOfDay(\"+9h\")"],
    "duedate": ["now()", "EMPTY", "2026-07-01", "endOfMonth()"],
    "labels": ["backend", "frontend", "EMPTY", "urgent"],
    "sprint": ["openSprints()", "closedSprints()", "1", "28"],
    "fixVersion": ["releasedVersions()", "unreleasedVersions()", "10001", "EMPTY"],
    '"story points"': ["3", "5.5", "0", "EMPTY"],
    "summary": ['"login"', '"crash"', '"checkout page"', '"a"'],
    "text": ['"payment"', '"error"'],
    "key": ["WEB-12", "MOB-226", "OPS-1"],
    "parent": ["WEB-1", "MOB-3", "EMPTY"],
}
_OPS = {
    "summary": ["~", "!~"], "text": ["~"],
    "created": [">", ">=", "<", "<=", "="], "updated": [">", ">=", "<", "<="], "duedate": [">=", "<=", "is", "is not", "="],
    "priority": ["=", "!=", ">", ">=", "<", "<=", "in", "not in"], '"story points"': [">", ">=", "<", "<=", "=", "!=", "is", "is not"],
    "key": ["=", "!=", ">", "<", "in", "not in"],
}


@st.composite
def valid_clauses(draw) -> str:
    name = draw(st.sampled_from(sorted(_VALUES)))
    op = draw(st.sampled_from(_OPS.get(name, ["=", "!=", "in", "not in", "is", "is not"])))
    values = _VALUES[name]
    if op in ("is", "is not"):
        return f"{name} {op} {draw(st.sampled_from(['EMPTY', 'NULL']))}"
    if op in ("in", "not in"):
        return f"{name} {op} (" + ", ".join(draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))) + ")"
    return f"{name} {op} {draw(st.sampled_from(values))}"


def _joined(inner):
    return st.one_of(
        st.builds(lambda a, b, word: f"{a} {word} {b}", inner, inner, st.sampled_from(["AND", "OR", "and", "or", "&&", "||"])),
        st.builds(lambda a, word: f"{word} {a}", inner, st.sampled_from(["NOT", "not", "!"])),
        inner.map(lambda a: f"({a})"),
    )


# Mostly queries Jira accepts, so that most reach the evaluator and the sorting (the share
# with results is checked at the end of the module); the rest mix in arbitrary clauses and
# sort keys, which keep the error path honest.
valid_conditions = st.recursive(valid_clauses(), _joined, max_leaves=6)
any_conditions = st.recursive(st.one_of(valid_clauses(), valid_clauses(), any_clauses), _joined, max_leaves=6)
conditions = st.one_of(valid_conditions, valid_conditions, valid_conditions, any_conditions)
sortable = st.sampled_from(["key", "priority", "created", "updated", "duedate", "status", "assignee", "summary", "project", '"story points"', "votes", "resolved"])


def _order_by(names, directions):
    return st.lists(st.builds(lambda f, d: f"{f}{d}", names, st.sampled_from(directions)), min_size=1, max_size=3).map(
        lambda keys: " ORDER BY " + ", ".join(keys)
    )


order_by = st.one_of(
    _order_by(sortable, ["", " ASC", " DESC", " asc", " desc"]),
    _order_by(sortable, ["", " ASC", " DESC", " asc", " desc"]),
    _order_by(st.one_of(sortable, field_names), ["", " ASC", " DESC", " sideways"]),
)
queries = st.builds(lambda c, o: c + o, st.one_of(conditions, st.just("")), st.one_of(st.just(""), order_by))

JUNK = ["(", ")", ",", '"', "'", "\\", "AND", "OR", "NOT", "ORDER BY", "=", "in", "EMPTY", "*", "%", "{", "}", "[", "]", "~", "\x00", "\n", "ß", "😀"]


@st.composite
def mangled_queries(draw) -> str:
    """A generated query with pieces cut out or thrown in: broken the way hands break them."""
    text = draw(queries)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()) and text:
            end = min(len(text), position + draw(st.integers(1, 6)))
            text = text[:position] + text[end:]
        else:
            text = text[:position] + draw(st.sampled_from(JUNK)) + text[position:]
    return text


# --- the property -----------------------------------------------------------------------


def _search_or_jira_error(jql: str, kind: str) -> None:
    COUNTS[kind] += 1
    try:
        parse(jql)
        pages = list(SAMPLE.search_pages(jql, ["summary", "status", "assignee"], page_size=500))
    except JqlError as error:
        assert error.messages and all(isinstance(m, str) and m.strip() for m in error.messages), error.messages
        COUNTS[f"{kind}: JqlError"] += 1
        return
    assert pages and all(isinstance(page.issues, list) for page in pages)
    assert sum(len(page.issues) for page in pages) == pages[0].expected
    COUNTS[f"{kind}: results"] += 1


@FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text_gives_results_or_a_jql_error(jql):
    _search_or_jira_error(jql, "arbitrary text")


@settings(FUZZ, max_examples=1500)
@given(queries)
def test_generated_queries_give_results_or_a_jql_error(jql):
    _search_or_jira_error(jql, "generated queries")


@settings(FUZZ, max_examples=1000)
@given(mangled_queries())
def test_mangled_queries_give_results_or_a_jql_error(jql):
    _search_or_jira_error(jql, "mangled queries")


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    yield
    kinds = ("arbitrary text", "generated queries", "mangled queries")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\nJQL fuzz: " + "; ".join(
            f"{kind}: {COUNTS[kind]} examples ({COUNTS[kind + ': results']} with results, {COUNTS[kind + ': JqlError']} JqlError)"
            for kind in kinds
        ))
    # Generated queries are mostly valid: if most end in a JqlError, the fuzz is testing the
    # error path only (as it once did: 1,116 errors in 1,500), and this says so.
    generated = COUNTS["generated queries"]
    if generated >= 1000:
        share = COUNTS["generated queries: results"] / generated
        assert share >= MIN_RESULTS_SHARE, f"only {share:.0%} of the generated queries gave results"
