"""A subset of Jira's JQL: parse a query, check it against what a site holds, run it on issues.

Pure Python, no Django: the bundled Sample source and tests use it on issues in the JSON
shape Jira Cloud returns (``{"id", "key", "fields": {...}}``).

    query = parse('project = WEB AND status != Done ORDER BY priority DESC, key')
    index = SearchIndex(issues)
    found = index.search(query, now=datetime.now(UTC))   # raises JqlError like Jira

Behaviour copied from Jira, on purpose:

* Keywords are case-insensitive; values are bare words, "double" or 'single' quoted
  strings, numbers, functions, lists ``(a, b)``, or ``EMPTY``/``NULL``.
* ``NOT`` binds tighter than ``AND``, which binds tighter than ``OR``.
* ``!=``, ``NOT IN``, ``!~`` and the comparisons never match an issue whose field is empty
  (``assignee != alice`` leaves out unassigned issues). ``NOT clause`` is pushed down into
  the operators the way Jira rewrites it, so ``NOT assignee = alice`` behaves the same.
* Multi-valued fields (labels, components, fix versions, sprints) match when any value does;
  ``labels != x`` leaves out issues that have ``x`` (and issues with no labels).
* ``ORDER BY``: empty values sort after every value ascending and first descending.
  Without ``ORDER BY`` results come newest issue first (issue id descending), which is
  what Jira's search returns for an unordered query on a site whose ids grow with time.
* Error messages are Jira's own sentences, including its inconsistent prefixes ("Error in
  the JQL Query:" for most syntax errors, "Error in JQL Query:" when a value is missing).
  Syntax errors stop at the first; validation collects every message, as Jira does.

Time is UTC throughout and weeks start on Sunday (Jira's default ``en_US`` locale).
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from macros.sources.base import JqlError, check_time_budget

# ---------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------

VALID_OPERATORS = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"

# Characters Jira refuses outside quotes. '/', '.', ':' and '-' stay legal so that dates
# (2026/01/31), versions (1.2) and keys (WEB-12) can be written bare, as Jira allows.
RESERVED_CHARACTERS = set("{}*%+^$#@?;[]")

# Words the JQL grammar uses; outside quotes they can never be a field name or value.
GRAMMAR_WORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}

# Jira's list of reserved words (https://support.atlassian.com/jira-software-cloud/docs/
# jql-reserved-words/): a bare one is an error even where it would make sense as a value.
_RESERVED_WORDS_TEXT = """a an abort access add after alias all alter any are as at audit avg be before begin
    between boolean break but byte catch cf char character check checkpoint collate
    collation column commit connect continue count create current date decimal declare
    decrement default defaults define delete delimiter difference distinct divide do double
    drop else encoding end equals escape exclusive exec execute exists explain false fetch
    file field first float for from function go goto grant greater group having identified
    if immediate increment index initial inner inout input insert int integer intersect
    intersection into isempty isnull join last left less like limit lock long max min minus
    mode modify modulo more multiply next noaudit notin nowait number object of on option
    outer output power previous prior privileges public raise raw remainder rename resource
    return returns revoke right row rowid rownum rows select session set share size sqrt
    start strict string subtract sum synonym table then to trans transaction trigger true uid
    union unique update user validate values view when whenever where while with"""
RESERVED_WORDS = frozenset(_RESERVED_WORDS_TEXT.split())

_ESCAPES = {'"': '"', "'": "'", "t": "\t", "n": "\n", "r": "\r", "\\": "\\", " ": " "}


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "op", "(", ")", ",", "and", "or", "not", "eof"
    text: str  # the value (unescaped for strings) or the operator/punctuation
    pos: int  # offset of the token's first character in the query


def _where(jql: str, pos: int) -> str:
    line = jql.count("\n", 0, pos) + 1
    character = pos - (jql.rfind("\n", 0, pos) + 1) + 1
    return f"(line {line}, character {character})"


def _syntax_error(jql: str, message: str, pos: int | None = None, prefix: str = "Error in the JQL Query:") -> JqlError:
    text = f"{prefix} {message}"
    if pos is not None:
        text += f" {_where(jql, pos)}"
    return JqlError([text])


def tokenize(jql: str) -> list[Token]:
    """Split ``jql`` into tokens; raises ``JqlError`` for reserved characters and open quotes."""
    tokens: list[Token] = []
    i, n = 0, len(jql)
    while i < n:
        c = jql[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            tokens.append(Token(c, c, i))
            i += 1
        elif c in "\"'":
            i = _read_string(jql, i, tokens)
        elif jql.startswith(("!=", "!~", "<=", ">="), i):
            tokens.append(Token("op", jql[i : i + 2], i))
            i += 2
        elif c in "=~<>":
            tokens.append(Token("op", c, i))
            i += 1
        elif jql.startswith(("&&", "||"), i):
            tokens.append(Token("and" if c == "&" else "or", jql[i : i + 2], i))
            i += 2
        elif c in "&|":
            tokens.append(Token("and" if c == "&" else "or", c, i))
            i += 1
        elif c == "!":
            tokens.append(Token("not", c, i))
            i += 1
        elif c in RESERVED_CHARACTERS:
            raise _syntax_error(
                jql,
                f"The character '{c}' is a reserved JQL character. "
                f"You must enclose it in a string or use the escape '\\u{ord(c):04x}' instead.",
                i,
            )
        else:
            i = _read_word(jql, i, tokens)
    tokens.append(Token("eof", "", n))
    return tokens


def _read_string(jql: str, start: int, tokens: list[Token]) -> int:
    quote, i, out = jql[start], start + 1, []
    while i < len(jql):
        c = jql[i]
        if c == quote:
            tokens.append(Token("string", "".join(out), start))
            return i + 1
        if c == "\\":
            nxt = jql[i + 1 : i + 2]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", jql[i + 2 : i + 6]):
                out.append(chr(int(jql[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt in _ESCAPES and nxt:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            raise _syntax_error(
                jql,
                f"'\\{nxt}' is an illegal JQL escape sequence. The valid escape sequences are "
                "\\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX.",
                i,
            )
        out.append(c)
        i += 1
    raise _syntax_error(jql, f"The quoted string '{''.join(out)}' has not been completed.", start)


def _read_word(jql: str, start: int, tokens: list[Token]) -> int:
    i = start
    while i < len(jql) and not jql[i].isspace() and jql[i] not in "(),\"'=!~<>&|" and jql[i] not in RESERVED_CHARACTERS:
        i += 1
    word = jql[start:i]
    # cf[10016] is the one place square brackets are legal outside quotes.
    if word.lower() == "cf" and jql[i : i + 1] == "[":
        match = re.compile(r"\[\s*(\d+)\s*\]").match(jql, i)
        if not match:
            raise _syntax_error(jql, "Expecting a custom field id enclosed by '[ ]' after 'cf'. Example: 'cf[10021]'.", i)
        tokens.append(Token("word", f"cf[{match.group(1)}]", start))
        return match.end()
    if word.lower() in ("and", "or", "not"):
        tokens.append(Token(word.lower(), word, start))
    else:
        tokens.append(Token("word", word, start))
    return i


# ---------------------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    text: str
    pos: int
    quoted: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class Empty:
    pos: int


@dataclass(frozen=True)
class ValueList:
    items: tuple[Value | Function | Empty, ...]
    pos: int


Operand = Value | Function | Empty | ValueList


@dataclass(frozen=True)
class Clause:
    field: str  # as written ("Story Points", "cf[10016]", "assignee")
    operator: str  # "=", "!=", "~", "!~", "<", "<=", ">", ">=", "in", "not in", "is", "is not"
    operand: Operand
    pos: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool | None  # None: the field's default direction
    pos: int


@dataclass(frozen=True)
class Query:
    where: Node | None
    order_by: tuple[SortKey, ...]
    jql: str = ""

    def clauses(self) -> list[Clause]:
        found: list[Clause] = []

        def walk(node: Node | None) -> None:
            if isinstance(node, Clause):
                found.append(node)
            elif isinstance(node, And | Or):
                for child in node.children:
                    walk(child)
            elif isinstance(node, Not):
                walk(node.child)

        walk(self.where)
        return found

    def validate(self, catalog: Catalog) -> None:
        """Raise ``JqlError`` with every message Jira would give for this query on ``catalog``."""
        messages: list[str] = []
        for clause in self.clauses():
            messages.extend(_validate_clause(clause, catalog))
        for key in self.order_by:
            spec = catalog.field(key.field)
            if spec is None:
                messages.append(_no_field(key.field))
            elif not spec.sortable:
                messages.append(f"Field '{key.field}' does not support sorting.")
        unique = list(dict.fromkeys(messages))
        if unique:
            raise JqlError(unique)


# ---------------------------------------------------------------------------------------
# Parser (recursive descent: or_expr > and_expr > not_expr > clause)
# ---------------------------------------------------------------------------------------


# Parsing, validating and compiling recurse once per level of parentheses or NOT; Python's
# stack ends near 1,000 frames (~300 levels here). Jira itself accepts deeper queries, but
# nobody writes them by hand.
MAX_NESTING = 100


def parse(jql: str) -> Query:
    """Parse ``jql`` into a ``Query``; raises ``JqlError`` with Jira's message for bad syntax.

    An empty query (or one with only ``ORDER BY``) matches every issue.
    """
    return _Parser(jql).query()


class _Parser:
    def __init__(self, jql: str):
        self.jql = jql
        self.tokens = tokenize(jql)
        self.i = 0
        self.depth = 0

    # -- helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def error(self, message: str, token: Token | None = None, prefix: str = "Error in the JQL Query:") -> JqlError:
        token = token or self.tok
        return _syntax_error(self.jql, message, None if token.kind == "eof" else token.pos, prefix)

    def reserved(self, token: Token) -> JqlError:
        return self.error(
            f"'{token.text}' is a reserved JQL word. You must surround it in quotation marks to use it in a query.",
            token,
        )

    # -- grammar -------------------------------------------------------------------------
    def query(self) -> Query:
        where = None
        if self.tok.kind != "eof" and not self.is_word("order"):
            where = self.or_expr()
        order_by: list[SortKey] = []
        if self.is_word("order"):
            self.advance()
            if not self.is_word("by"):
                if self.tok.kind == "eof":
                    raise self.error("Expecting 'BY' before the end of the query.")
                raise self.error(f"Expecting 'BY' but got '{self.tok.text}'.")
            self.advance()
            order_by.append(self.sort_key())
            while self.tok.kind == ",":
                self.advance()
                order_by.append(self.sort_key())
        if self.tok.kind != "eof":
            if order_by:
                raise self.error(f"Expecting either ',', 'ASC' or 'DESC' but got '{self.tok.text}'.")
            raise self.error(f"Expecting either 'OR' or 'AND' but got '{self.tok.text}'.")
        return Query(where, tuple(order_by), self.jql)

    def sort_key(self) -> SortKey:
        token = self.field_name()
        descending = None
        if self.is_word("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        return SortKey(token.text, descending, token.pos)

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.tok.kind == "or":
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.tok.kind == "and":
            self.advance()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self) -> Node:
        if self.tok.kind in ("not", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"The query nests parentheses and NOT more than {MAX_NESTING} levels deep; simplify it.")
            try:
                return self._nested()
            finally:
                self.depth -= 1
        return self.clause()

    def _nested(self) -> Node:
        if self.advance().kind == "not":
            return Not(self.not_expr())
        inner = self.or_expr()
        if self.tok.kind != ")":
            if self.tok.kind == "eof":
                raise self.error("Expecting ')' before the end of the query.")
            raise self.error(f"Expecting ')' but got '{self.tok.text}'.")
        self.advance()
        return inner

    def field_name(self) -> Token:
        token = self.tok
        if token.kind == "eof":
            raise self.error("Expecting a field name at the end of the query.")
        if token.kind == "string":
            return self.advance()
        if token.kind != "word" or token.text.lower() in GRAMMAR_WORDS:
            raise self.error(
                f"Expecting a field name but got '{token.text}'. "
                f"You must surround '{token.text}' in quotation marks to use it as a field name."
            )
        if token.text.lower() in RESERVED_WORDS:
            raise self.reserved(token)
        return self.advance()

    def clause(self) -> Clause:
        name = self.field_name()
        operator = self.operator()
        operand = self.operand()
        return Clause(name.text, operator, operand, name.pos)

    def operator(self) -> str:
        token = self.tok
        if token.kind == "op":
            self.advance()
            return token.text
        if token.kind == "not" and self.tokens[self.i + 1].kind == "word" and self.tokens[self.i + 1].text.lower() == "in":
            self.i += 2
            return "not in"
        if self.is_word("in"):
            self.advance()
            return "in"
        if self.is_word("is"):
            self.advance()
            if self.tok.kind == "not":
                self.advance()
                return "is not"
            return "is"
        if token.kind == "eof":
            raise self.error(f"Expecting operator before the end of the query. The valid operators are {VALID_OPERATORS}.")
        raise self.error(f"Expecting operator but got '{token.text}'. The valid operators are {VALID_OPERATORS}.")

    def operand(self) -> Operand:
        if self.tok.kind == "(":
            start = self.advance()
            items = [self.single_operand()]
            while self.tok.kind == ",":
                self.advance()
                items.append(self.single_operand())
            if self.tok.kind != ")":
                if self.tok.kind == "eof":
                    raise self.error("Expecting ')' before the end of the query.")
                raise self.error(f"Expecting either ',' or ')' but got '{self.tok.text}'.")
            self.advance()
            return ValueList(tuple(items), start.pos)
        return self.single_operand()

    def single_operand(self) -> Value | Function | Empty:
        token = self.tok
        if token.kind == "string":
            self.advance()
            return Value(token.text, token.pos, quoted=True)
        if token.kind == "eof":
            raise self.error("Expecting either a value, list or function before the end of the query.", prefix="Error in JQL Query:")
        if token.kind != "word" or token.text.lower() in GRAMMAR_WORDS - {"empty", "null"}:
            raise self.error(
                f"Expecting either a value, list or function but got '{token.text}'. "
                f"You must surround '{token.text}' in quotation marks to use it as a value.",
                prefix="Error in JQL Query:",
            )
        self.advance()
        if token.text.lower() in ("empty", "null"):
            return Empty(token.pos)
        if self.tok.kind == "(":
            return self.function(token)
        if token.text.lower() in RESERVED_WORDS:
            raise self.reserved(token)
        return Value(token.text, token.pos)

    def function(self, name: Token) -> Function:
        self.advance()  # "("
        args: list[str] = []
        while self.tok.kind != ")":
            if self.tok.kind not in ("word", "string"):
                if self.tok.kind == "eof":
                    raise self.error("Expecting ')' before the end of the query.")
                raise self.error(
                    f"Expecting a function argument but got '{self.tok.text}'. "
                    f"You must surround '{self.tok.text}' in quotation marks to use it as a value."
                )
            args.append(self.advance().text)
            if self.tok.kind == ",":
                self.advance()
            elif self.tok.kind != ")":
                if self.tok.kind == "eof":
                    raise self.error("Expecting ')' before the end of the query.")
                raise self.error(f"Expecting either ',' or ')' but got '{self.tok.text}'.")
        self.advance()
        return Function(name.text, tuple(args), name.pos)


# ---------------------------------------------------------------------------------------
# Fields and the catalog of what a site holds
# ---------------------------------------------------------------------------------------

EQUALITY = frozenset({"=", "!=", "in", "not in", "is", "is not"})
ORDERED = EQUALITY | {"<", "<=", ">", ">="}
TEXT = frozenset({"~", "!~", "is", "is not"})


@dataclass(frozen=True)
class FieldSpec:
    """How one JQL field reads an issue; ``kind`` picks the matching rules below."""

    id: str  # the issue JSON field id ("status", "customfield_10016"); "key" for the key itself
    kind: str  # project | key | text | alltext | option | category | priority | resolution | user
    #            | labels | named | sprint | datetime | date | number | parent
    operators: frozenset[str]
    sortable: bool = True
    checked: bool = False  # Jira reports values it does not know ("The value 'x' does not exist")
    default_descending: bool = False


def _spec(field_id: str, kind: str, operators: frozenset[str], **kw: Any) -> FieldSpec:
    return FieldSpec(field_id, kind, operators, **kw)


# Clause names (lower case) → spec. Several names for one field, as in Jira.
STANDARD_FIELDS: dict[str, FieldSpec] = {}
for names, spec in [
    (("project",), _spec("project", "project", EQUALITY - {"is", "is not"}, checked=True)),
    (("key", "issuekey", "id"), _spec("key", "key", ORDERED - {"is", "is not"})),
    (("summary",), _spec("summary", "text", TEXT)),
    (("description",), _spec("description", "text", TEXT, sortable=False)),
    (("environment",), _spec("environment", "text", TEXT, sortable=False)),
    (("text",), _spec("text", "alltext", frozenset({"~"}), sortable=False)),
    (("status",), _spec("status", "option", EQUALITY, checked=True)),
    (("statuscategory", "category"), _spec("status", "category", EQUALITY - {"is", "is not"}, checked=True)),
    (("issuetype", "type"), _spec("issuetype", "option", EQUALITY - {"is", "is not"}, checked=True)),
    (("priority",), _spec("priority", "priority", ORDERED, checked=True, default_descending=True)),
    (("resolution",), _spec("resolution", "resolution", EQUALITY, checked=True)),
    (("assignee",), _spec("assignee", "user", EQUALITY, checked=True)),
    (("reporter",), _spec("reporter", "user", EQUALITY, checked=True)),
    (("labels", "label"), _spec("labels", "labels", EQUALITY, sortable=False)),
    (("component", "components"), _spec("components", "named", EQUALITY, checked=True)),
    (("fixversion", "fixversions"), _spec("fixVersions", "named", EQUALITY, checked=True)),
    (("sprint", "cf[10020]", "customfield_10020"), _spec("customfield_10020", "sprint", EQUALITY, checked=True)),
    (("created", "createddate"), _spec("created", "datetime", ORDERED - {"is", "is not"}, default_descending=True)),
    (("updated", "updateddate"), _spec("updated", "datetime", ORDERED - {"is", "is not"}, default_descending=True)),
    (("resolved", "resolutiondate"), _spec("resolutiondate", "datetime", ORDERED, default_descending=True)),
    (("due", "duedate"), _spec("duedate", "date", ORDERED, default_descending=True)),
    (("story points", "cf[10016]", "customfield_10016"), _spec("customfield_10016", "number", ORDERED)),
    (("votes",), _spec("votes", "number", ORDERED - {"is", "is not"}, default_descending=True)),
    (("watchers",), _spec("watches", "number", ORDERED - {"is", "is not"}, default_descending=True)),
    (("parent",), _spec("parent", "parent", EQUALITY, checked=True)),
]:
    for name in names:
        STANDARD_FIELDS[name] = spec

# Which functions each kind of field accepts; anything else is "Unable to find JQL function".
DATE_FUNCTIONS = {
    "now",
    "startofday",
    "endofday",
    "startofweek",
    "endofweek",
    "startofmonth",
    "endofmonth",
    "startofyear",
    "endofyear",
}
FUNCTIONS_BY_KIND = {
    "user": {"currentuser", "membersof"},
    "datetime": DATE_FUNCTIONS,
    "date": DATE_FUNCTIONS,
    "sprint": {"opensprints", "closedsprints", "futuresprints"},
    "named": {"releasedversions", "unreleasedversions"},
    "option": {"standardissuetypes", "subtaskissuetypes"},
}
KNOWN_FUNCTIONS = set().union(*FUNCTIONS_BY_KIND.values())


@dataclass
class Catalog:
    """What a site holds, so that validation can say which values "do not exist".

    ``values`` maps a field id to the lower-cased names, keys and ids it knows.
    """

    values: dict[str, set[str]] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)  # "WEB-12" (upper case) and ids
    groups: dict[str, set[str]] = field(default_factory=dict)  # group name → account ids
    sprints: dict[str, str] = field(default_factory=dict)  # sprint id → state
    versions: dict[str, tuple[str, bool]] = field(default_factory=dict)  # version id → (project key, released)
    priority_ranks: dict[str, int] = field(default_factory=dict)  # name or id → 1 for the most important
    subtask_types: set[str] = field(default_factory=set)  # issue type ids
    standard_types: set[str] = field(default_factory=set)
    fields: dict[str, FieldSpec] = field(default_factory=lambda: dict(STANDARD_FIELDS))

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name.lower())

    @classmethod
    def from_issues(cls, issues: Iterable[dict], groups: dict[str, Iterable[str]] | None = None) -> Catalog:
        catalog = cls(groups={name.lower(): set(members) for name, members in (groups or {}).items()})
        values = catalog.values

        def note(field_id: str, *names: Any) -> None:
            values.setdefault(field_id, set()).update(str(n).lower() for n in names if n not in (None, ""))

        for issue in issues:
            f = issue.get("fields", {})
            catalog.keys.update((issue["key"].upper(), str(issue["id"])))
            if project := f.get("project"):
                note("project", project.get("key"), project.get("name"), project.get("id"))
            if status := f.get("status"):
                note("status", status.get("name"), status.get("id"))
                category = status.get("statusCategory") or {}
                note("category", category.get("name"), category.get("key"), category.get("id"))
            if issuetype := f.get("issuetype"):
                note("issuetype", issuetype.get("name"), issuetype.get("id"))
                (catalog.subtask_types if issuetype.get("subtask") else catalog.standard_types).add(str(issuetype.get("id")))
            if (priority := f.get("priority")) and str(priority.get("id", "")).isdigit():
                # Cloud numbers priorities from the most important (1 = Highest) down.
                for alias in (priority.get("name"), priority.get("id")):
                    catalog.priority_ranks[str(alias).lower()] = int(priority["id"])
            for field_id in ("priority", "resolution"):
                if item := f.get(field_id):
                    note(field_id, item.get("name"), item.get("id"))
            for field_id in ("assignee", "reporter"):
                if person := f.get(field_id):
                    names = (person.get("accountId"), person.get("displayName"), person.get("emailAddress"), person.get("name"))
                    note("assignee", *names)
                    note("reporter", *names)
            for item in f.get("components") or []:
                note("components", item.get("name"), item.get("id"))
            for item in f.get("fixVersions") or []:
                note("fixVersions", item.get("name"), item.get("id"))
                project_key = (f.get("project") or {}).get("key", "")
                catalog.versions[str(item.get("id"))] = (project_key.lower(), bool(item.get("released")))
            for sprint in f.get("customfield_10020") or []:
                note("customfield_10020", sprint.get("name"), sprint.get("id"))
                catalog.sprints[str(sprint.get("id"))] = sprint.get("state", "")
        values.setdefault("resolution", set()).add("unresolved")
        return catalog


def _no_field(name: str) -> str:
    return f"Field '{name}' does not exist or you do not have permission to view it."


DATE_FORMATS_HELP = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)
KEY_PATTERN = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(\d+)$")


def _items(operand: Operand) -> tuple[Value | Function | Empty, ...]:
    return operand.items if isinstance(operand, ValueList) else (operand,)


def _validate_clause(clause: Clause, catalog: Catalog) -> list[str]:
    spec = catalog.field(clause.field)
    name, op = clause.field, clause.operator
    if spec is None:
        return [_no_field(name)]
    if op not in spec.operators:
        return [f"The operator '{op}' is not supported by the '{name}' field."]
    operand = clause.operand
    if op in ("is", "is not"):
        if not isinstance(operand, Empty):
            return [f"The operator '{op}' only supports searching for EMPTY values."]
        return []
    if op in ("in", "not in") and isinstance(operand, Value | Empty):
        return [f"The operator '{op}' does not support the non-list value '{_show(operand)}' for the field '{name}'."]
    if op not in ("in", "not in") and isinstance(operand, ValueList):
        return [f"The operator '{op}' does not support multiple values for the field '{name}'."]
    messages: list[str] = []
    for item in _items(operand):
        if isinstance(item, Function):
            messages.extend(_validate_function(item, spec, name))
        elif isinstance(item, Empty):
            if op not in ("=", "!=", "in", "not in"):
                messages.append(f"The operator '{op}' does not support searching for EMPTY values.")
        else:
            messages.extend(_validate_value(item.text, spec, name, op, catalog))
    return messages


def _show(operand: Value | Empty) -> str:
    return "EMPTY" if isinstance(operand, Empty) else operand.text


def _validate_function(function: Function, spec: FieldSpec, name: str) -> list[str]:
    lower = function.name.lower()
    if lower not in KNOWN_FUNCTIONS:
        return [f"Unable to find JQL function '{function.name}()'."]
    if lower not in FUNCTIONS_BY_KIND.get(spec.kind, set()):
        return [f"A value provided by the function '{function.name}' is invalid for the field '{name}'."]
    if lower in DATE_FUNCTIONS - {"now"}:
        if len(function.args) > 1:
            return [f"Function '{function.name}' expected between '0' and '1' arguments but received '{len(function.args)}'."]
        if function.args and _increment(function.args[0], lower) is None:
            return [
                (
                    f"Duration for function '{function.name}' should have the format (+/-)n(yMwdm), "
                    "e.g -1M for 1 month earlier."
                )
            ]
    if lower == "membersof" and len(function.args) != 1:
        return [f"Function '{function.name}' expected '1' arguments but received '{len(function.args)}'."]
    return []


def _validate_value(text: str, spec: FieldSpec, name: str, op: str, catalog: Catalog) -> list[str]:
    kind = spec.kind
    if kind in ("datetime", "date"):
        if parse_date_value(text) is None:
            return [f"Date value '{text}' for field '{name}' is invalid. {DATE_FORMATS_HELP}"]
        return []
    if kind == "number":
        if _number(text) is None:
            return [f"The value '{text}' for field '{name}' is invalid: it must be a number."]
        return []
    if kind == "key":
        if not (KEY_PATTERN.match(text) or text.isdigit()):
            return [f"The issue key '{text}' for field '{name}' is invalid."]
        # Jira refuses a single missing issue but answers a list with those that exist.
        if op in ("=", "!=") and _canonical_key(text) not in catalog.keys:
            return ["Issue does not exist or you do not have permission to see it."]
        return []
    if kind == "parent":
        if _canonical_key(text) not in catalog.keys:
            return [f"The value '{text}' does not exist for the field '{name}'."]
        return []
    if spec.checked:
        known = catalog.values.get("category" if kind == "category" else spec.id, set())
        if text.lower() not in known:
            return [f"The value '{text}' does not exist for the field '{name}'."]
    if kind == "text" and text.strip().startswith(("*", "?")):
        return [f"The text query '{text}' for field '{name}' is not allowed to start with a wildcard."]
    return []


def _canonical_key(text: str) -> str:
    return text.upper()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------

_ABSOLUTE_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_PERIOD = re.compile(r"^([+-]?)\s*((?:\d+\s*[wdhm]\s*)+)$")
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])")
_PERIOD_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_date_value(text: str) -> datetime | timedelta | None:
    """An absolute date (UTC datetime), a period relative to now (timedelta), or None if invalid."""
    text = text.strip()
    if match := _ABSOLUTE_DATE.match(text):
        year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        except ValueError:
            return None
    if match := _PERIOD.match(text):
        total = sum((int(n) * _PERIOD_UNITS[u] for n, u in _PERIOD_PART.findall(match.group(2))), timedelta())
        return -total if match.group(1) == "-" else total
    return None


def parse_jira_datetime(text: str | None) -> datetime | None:
    """Jira's ``2026-06-09T16:29:31.871+0000`` (or ``…Z``) as an aware datetime."""
    if not text:
        return None
    return datetime.fromisoformat(text)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


_INCREMENT = re.compile(r"^([+-]?)(\d+)([yMwdhm]?)$")
_FUNCTION_UNIT = {"day": "d", "week": "w", "month": "M", "year": "y"}


def _increment(text: str, function: str) -> tuple[int, str] | None:
    match = _INCREMENT.match(text.strip())
    if not match:
        return None
    sign, amount, unit = match.groups()
    unit = unit or _FUNCTION_UNIT[function.removeprefix("startof").removeprefix("endof")]
    return (-int(amount) if sign == "-" else int(amount)), unit


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit == "y":
        return _add_months(moment, 12 * amount)
    if unit == "M":
        return _add_months(moment, amount)
    return moment + amount * {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}[unit]


def _start_of(moment: datetime, period: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":  # Sunday, as in Jira's default en_US locale
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if period == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def date_function(name: str, args: tuple[str, ...], now: datetime) -> datetime:
    """Evaluate ``now()``, ``startOfDay()``, ``endOfWeek("-1")`` … at ``now`` (UTC)."""
    lower = name.lower()
    if lower == "now":
        return now
    edge, period = ("start", lower[7:]) if lower.startswith("startof") else ("end", lower[5:])
    amount, unit = _increment(args[0], lower) if args else (0, _FUNCTION_UNIT[period])
    # An increment in the function's own unit moves the period ("startOfMonth(-1)" is the
    # first of last month); any other unit moves the result ("startOfDay(+9h)" is 9 am).
    same_unit = unit == _FUNCTION_UNIT[period]
    base = _shift(now, amount, unit) if same_unit else now
    start = _start_of(base, period)
    if edge == "start":
        result = start
    else:
        next_start = _shift(start, 1, _FUNCTION_UNIT[period])
        result = next_start - timedelta(milliseconds=1)
    return result if same_unit else _shift(result, amount, unit)


# ---------------------------------------------------------------------------------------
# Reading issues
# ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[0-9A-Za-z\u00c0-\uffff]+(?:['’][A-Za-z]+)?")


def _stem(word: str) -> str:
    """A light English stemmer, enough that ``~ "crash"`` finds "crashes" as Jira's does."""
    word = word.lower().replace("’", "'")
    word = word.removesuffix("'s")
    for suffix, replacement, minimum in (("ies", "y", 5), ("sses", "ss", 5), ("ing", "", 6), ("ed", "", 5)):
        if word.endswith(suffix) and len(word) >= minimum:
            return word[: -len(suffix)] + replacement
    if word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document Format tree (or a v2 string description)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    parts: list[str] = []
    # Depth-first with an explicit stack: an issue's description is anyone's input, and
    # a deeply nested one must not exhaust Python's stack.
    stack: list[Any] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, _EndOfBlock):
            parts.append("\n")
        elif isinstance(n, dict):
            if n.get("type") == "text":
                parts.append(n.get("text", ""))
            if n.get("type") in ("paragraph", "heading", "listItem", "codeBlock"):
                stack.append(_END_OF_BLOCK)
            stack.extend(reversed(n.get("content") or []))
        elif isinstance(n, list):
            stack.extend(reversed(n))
    return " ".join("".join(parts).split())


class _EndOfBlock:
    pass


_END_OF_BLOCK = _EndOfBlock()


def _aliases(item: dict | None, *keys: str) -> frozenset[str]:
    if not item:
        return frozenset()
    return frozenset(str(item[k]).lower() for k in keys if item.get(k) not in (None, ""))


def _key_parts(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return project.upper(), int(number) if number.isdigit() else 0


class IssueRow:
    """One issue plus what each field reads as, computed once and kept for later searches."""

    __slots__ = ("cache", "issue")

    def __init__(self, issue: dict):
        self.issue = issue
        self.cache: dict[tuple[str, str], Any] = {}

    def read(self, spec: FieldSpec, what: str = "values") -> Any:
        slot = (spec.kind + ":" + spec.id, what)
        try:
            return self.cache[slot]
        except KeyError:
            value = self.cache[slot] = _READERS[what](self.issue, spec)
            return value


def _values(issue: dict, spec: FieldSpec) -> list[Any]:
    """A field as a list of comparable items; an empty list is Jira's EMPTY."""
    f = issue.get("fields", {})
    kind, raw = spec.kind, f.get(spec.id)
    if kind == "project":
        return [_aliases(raw, "key", "name", "id")] if raw else []
    if kind == "key":
        return [(*_key_parts(issue["key"]), int(issue["id"]))]
    if kind in ("text", "alltext"):
        text = _full_text(issue) if kind == "alltext" else (adf_text(raw) if spec.id != "summary" else raw or "")
        return [text] if text else []
    if kind == "option":
        return [_aliases(raw, "name", "id")] if raw else []
    if kind == "category":
        category = (raw or {}).get("statusCategory")
        return [_aliases(category, "name", "key", "id")] if category else []
    if kind in ("priority", "resolution"):
        return [_aliases(raw, "name", "id")] if raw else []
    if kind == "user":
        return [_aliases(raw, "accountId", "displayName", "emailAddress", "name", "key")] if raw else []
    if kind == "labels":
        return [frozenset({str(label).lower()}) for label in raw or []]
    if kind in ("named", "sprint"):
        return [_aliases(item, "name", "id") for item in raw or []]
    if kind == "datetime":
        moment = parse_jira_datetime(raw)
        return [moment] if moment else []
    if kind == "date":
        return [date.fromisoformat(raw[:10])] if raw else []
    if kind == "number":
        if isinstance(raw, dict):  # votes and watches are objects holding a count
            raw = raw.get("votes", raw.get("watchCount"))
        return [float(raw)] if isinstance(raw, int | float) else []
    if kind == "parent":
        return [_aliases(raw, "key", "id")] if raw else []
    raise ValueError(f"unknown field kind {kind!r}")


def _full_text(issue: dict) -> str:
    f = issue.get("fields", {})
    return " ".join(filter(None, (f.get("summary") or "", adf_text(f.get("description")), adf_text(f.get("environment")))))


Words = tuple[list[str], set[str], set[str], list[str]]


def _words(issue: dict, spec: FieldSpec) -> Words:
    """The words of a text field: in order (for phrases), as a set, stemmed, and sorted
    (a wildcard term looks up the words that start with its fixed prefix)."""
    texts = _values(issue, spec)
    words = [w.lower() for w in _WORD.findall(texts[0])] if texts else []
    unique = set(words)
    return words, unique, {_stem(w) for w in words}, sorted(unique)


def _sort_value(issue: dict, spec: FieldSpec) -> Any:
    """What ORDER BY compares; None sorts as EMPTY."""
    f = issue.get("fields", {})
    raw, kind = f.get(spec.id), spec.kind
    if kind == "project":
        return (raw or {}).get("name", "").lower() or None
    if kind == "key":
        return _key_parts(issue["key"])
    if kind == "text":
        return (raw or "").lower() or None
    if kind in ("option", "category"):
        if not raw:
            return None
        category = raw.get("statusCategory") if spec.id == "status" else None
        rank = {"new": 0, "indeterminate": 1, "done": 2}.get((category or {}).get("key", ""), 0)
        return (rank, "") if kind == "category" else (rank, raw.get("name", "").lower())
    if kind == "priority":
        # Jira lists priorities most important first; ids 1..5 follow that order on Cloud.
        return None if not raw else (-int(raw["id"]) if str(raw.get("id", "")).isdigit() else raw.get("name", ""))
    if kind == "resolution":
        return (raw or {}).get("name", "").lower() or None
    if kind == "user":
        return (raw or {}).get("displayName", "").lower() or None
    if kind == "sprint":  # the latest sprint an issue was in
        return max((int(item["id"]) for item in raw or []), default=None)
    if kind == "named":
        return tuple(sorted(str(item.get("name", "")).lower() for item in raw or [])) or None
    if kind == "parent":
        return _key_parts(raw["key"]) if raw else None
    values = _values(issue, spec)
    return values[0] if values else None


_READERS: dict[str, Callable[[dict, FieldSpec], Any]] = {"values": _values, "words": _words, "sort": _sort_value}


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------

Predicate = Callable[[IssueRow], bool]
_NEGATED = {
    "=": "!=",
    "!=": "=",
    "in": "not in",
    "not in": "in",
    "~": "!~",
    "!~": "~",
    "is": "is not",
    "is not": "is",
    "<": ">=",
    ">=": "<",
    ">": "<=",
    "<=": ">",
}


@dataclass
class Context:
    now: datetime
    catalog: Catalog
    current_user: str | None = None  # the account id currentUser() stands for; None matches nobody


def _push_not(node: Node, negate: bool = False) -> Node:
    """Rewrite NOT the way Jira does (De Morgan, then flip the operator).

    Jira never evaluates NOT as "everything except": ``NOT assignee = alice`` becomes
    ``assignee != alice``, which leaves out unassigned issues just like ``!=`` does.
    """
    if isinstance(node, Not):
        return _push_not(node.child, not negate)
    if isinstance(node, And | Or):
        children = tuple(_push_not(child, negate) for child in node.children)
        if not negate:
            return type(node)(children)
        return Or(children) if isinstance(node, And) else And(children)
    if negate:
        return Clause(node.field, _NEGATED[node.operator], node.operand, node.pos)
    return node


def compile_query(query: Query, context: Context) -> Predicate:
    """Turn a validated query into one predicate over ``IssueRow``s."""
    if query.where is None:
        return lambda row: True
    return _compile(_push_not(query.where), context)


def _compile(node: Node, context: Context) -> Predicate:
    if isinstance(node, And):
        parts = [_compile(child, context) for child in node.children]
        return lambda row: all(p(row) for p in parts)
    if isinstance(node, Or):
        parts = [_compile(child, context) for child in node.children]
        return lambda row: any(p(row) for p in parts)
    assert isinstance(node, Clause)  # _push_not removed every Not
    return _compile_clause(node, context)


def _compile_clause(clause: Clause, context: Context) -> Predicate:
    spec = context.catalog.field(clause.field)
    assert spec is not None, "validate() before compiling"
    op = clause.operator
    if op == "is":
        return lambda row: not row.read(spec)
    if op == "is not":
        return lambda row: bool(row.read(spec))
    if spec.kind in ("text", "alltext"):
        return _text_predicate(spec, clause, op == "!~")

    items = _items(clause.operand)
    if spec.kind == "resolution":  # "resolution = Unresolved" is "resolution is EMPTY"
        items = tuple(Empty(i.pos) if isinstance(i, Value) and i.text.lower() == "unresolved" else i for i in items)
    wants_empty = any(isinstance(item, Empty) for item in items)
    targets = [t for item in items if not isinstance(item, Empty) for t in _resolve(item, spec, context)]

    if op in ("<", "<=", ">", ">="):
        compare = _COMPARE[op]
        if spec.kind == "priority":  # "priority >= High" is High and anything more important
            ranks = [-context.catalog.priority_ranks[t] for t in targets if t in context.catalog.priority_ranks]
            return lambda row: row.read(spec, "sort") is not None and any(compare(row.read(spec, "sort"), r) for r in ranks)
        if spec.kind == "key":  # keys compare by number within their project, as in Jira
            return lambda row: any(
                (t[0] == v[0] and compare(v[1], t[1])) if t[0] else compare(v[2], t[1]) for v in row.read(spec) for t in targets
            )
        return lambda row: any(compare(v, t) for v in row.read(spec) for t in targets)

    match = _matcher(spec)
    if op in ("=", "in"):
        return lambda row: (wants_empty and not row.read(spec)) or any(match(v, t) for v in row.read(spec) for t in targets)
    # "!=" and "not in": the field must have a value, and none of its values may match.
    return lambda row: bool(row.read(spec)) and not any(match(v, t) for v in row.read(spec) for t in targets)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _matcher(spec: FieldSpec) -> Callable[[Any, Any], bool]:
    if spec.kind == "key":
        return lambda v, t: (v[0], v[1]) == (t[0], t[1]) if t[0] else v[2] == t[1]
    if spec.kind == "datetime":
        # "created = '2026-01-31 14:00'" means that minute: Jira keeps no seconds in JQL dates.
        return lambda v, t: v.replace(second=0, microsecond=0) == t
    if spec.kind in ("date", "number"):
        return lambda v, t: v == t
    return lambda v, t: t in v


def _resolve(item: Value | Function, spec: FieldSpec, context: Context) -> list[Any]:
    """The values an operand stands for, in the form ``_values`` gives for this field."""
    kind = spec.kind
    if isinstance(item, Function):
        return _resolve_function(item, spec, context)
    text = item.text
    if kind in ("datetime", "date"):
        parsed = parse_date_value(text)
        moment = context.now + parsed if isinstance(parsed, timedelta) else parsed
        assert moment is not None
        return [moment.date() if kind == "date" else moment]
    if kind == "number":
        return [float(text)]
    if kind == "key":
        if text.isdigit():
            return [("", int(text))]
        return [_key_parts(text)]
    return [text.lower()]


def _resolve_function(function: Function, spec: FieldSpec, context: Context) -> list[Any]:
    name, catalog = function.name.lower(), context.catalog
    if name in DATE_FUNCTIONS:
        moment = date_function(name, function.args, context.now)
        return [moment.date() if spec.kind == "date" else moment]
    if name == "currentuser":
        return [context.current_user.lower()] if context.current_user else []
    if name == "membersof":
        return sorted(catalog.groups.get(function.args[0].lower(), set()))
    if name in ("opensprints", "closedsprints", "futuresprints"):
        state = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}[name]
        return sorted(sprint for sprint, s in catalog.sprints.items() if s == state)
    if name in ("releasedversions", "unreleasedversions"):
        released = name == "releasedversions"
        project = function.args[0].lower() if function.args else None
        return sorted(
            version for version, (key, is_released) in catalog.versions.items() if is_released == released and (project is None or key == project)
        )
    if name in ("standardissuetypes", "subtaskissuetypes"):
        return sorted(catalog.standard_types if name == "standardissuetypes" else catalog.subtask_types)
    raise AssertionError(f"unvalidated function {function.name}")


def _text_terms(text: str) -> list[Callable[[Words], bool]]:
    """Jira's text search: every word must occur (stemmed), ``*``/``?`` are wildcards and a
    quoted phrase must occur in order."""
    terms: list[Callable[[Words], bool]] = []
    for phrase, word in re.findall(r'"([^"]*)"|(\S+)', text):
        if phrase:
            wanted = [w.lower() for w in _WORD.findall(phrase)]
            if wanted:
                terms.append(lambda w, wanted=wanted: _has_phrase(w[0], wanted))
        elif "*" in word or "?" in word:
            glob = _Wildcard(word.lower())
            terms.append(lambda w, glob=glob: glob.matches_any(w[3]))
        else:
            for piece in _WORD.findall(word):
                stem = _stem(piece)
                terms.append(lambda w, stem=stem: stem in w[2])
    return terms


class _Wildcard:
    """A ``~`` term with ``*`` (any run of word characters) and ``?`` (one), matched in
    linear time: a regular expression of ``\\w*`` runs backtracks exponentially on a term
    like ``c****************qqq``.

    Between stars the pieces have fixed lengths, so placing each at its leftmost possible
    position is never worse than any later one; each piece is found with a star-free
    pattern.
    """

    def __init__(self, term: str):
        term = re.sub(r"\*+", "*", term)  # a run of stars matches what one star does
        # The characters before the first wildcard: only words starting with them can match.
        self.prefix = term[: min((term.find(c) for c in "*?" if c in term), default=len(term))]
        pieces = term.split("*")
        self.anchored = len(pieces) == 1
        self.pieces = [re.compile("".join(r"\w" if c == "?" else re.escape(c) for c in piece)) for piece in pieces]
        self.last_length = len(pieces[-1])

    def matches_any(self, sorted_words: list[str]) -> bool:
        i = bisect.bisect_left(sorted_words, self.prefix)
        while i < len(sorted_words) and sorted_words[i].startswith(self.prefix):
            if self.matches(sorted_words[i]):
                return True
            i += 1
        return False

    def matches(self, token: str) -> bool:
        first, *middle = self.pieces
        if self.anchored:
            return first.fullmatch(token) is not None
        last = middle.pop()
        found = first.match(token)
        if found is None:
            return False
        position = found.end()
        for piece in middle:
            found = piece.search(token, position)
            if found is None or found.start() > self._run_end(token, position):
                return False
            position = found.end()
        tail = len(token) - self.last_length
        return position <= tail <= self._run_end(token, position) and last.fullmatch(token, tail) is not None

    @staticmethod
    def _run_end(token: str, position: int) -> int:
        """Where the run of word characters a ``*`` at ``position`` may cover ends."""
        other = _NOT_WORD.search(token, position)
        return len(token) if other is None else other.start()


_NOT_WORD = re.compile(r"\W")


def _has_phrase(words: list[str], wanted: list[str]) -> bool:
    size = len(wanted)
    return any(words[i : i + size] == wanted for i in range(len(words) - size + 1))


def _text_predicate(spec: FieldSpec, clause: Clause, negate: bool) -> Predicate:
    assert isinstance(clause.operand, Value), "validate() refuses anything else for text"
    terms = _text_terms(clause.operand.text)

    def matches(row: IssueRow) -> bool:
        words = row.read(spec, "words")
        return bool(terms) and all(term(words) for term in terms)

    if negate:
        return lambda row: bool(row.read(spec)) and not matches(row)
    return matches


# ---------------------------------------------------------------------------------------
# Sorting and the public entry points
# ---------------------------------------------------------------------------------------


def sort_rows(rows: list[IssueRow], order_by: tuple[SortKey, ...], catalog: Catalog) -> list[IssueRow]:
    """Order rows like Jira: newest issue first, then each ORDER BY key (last key first, as
    Python's sort is stable). EMPTY sorts after every value ascending, first descending."""
    ordered = sorted(rows, key=lambda row: int(row.issue["id"]), reverse=True)
    for key in reversed(order_by):
        spec = catalog.field(key.field)
        assert spec is not None
        descending = spec.default_descending if key.descending is None else key.descending

        def sort_key(row: IssueRow, spec: FieldSpec = spec) -> tuple[bool, Any]:
            value = row.read(spec, "sort")
            return (value is None, value if value is not None else 0)

        # sort(reverse=True) is stable too: ties keep the order of the keys after this one.
        ordered.sort(key=sort_key, reverse=descending)
    return ordered


class SearchIndex:
    """Issues prepared for repeated searches: rows cache what each field reads as."""

    def __init__(self, issues: list[dict], catalog: Catalog | None = None):
        self.issues = issues
        self.rows = [IssueRow(issue) for issue in issues]
        self.catalog = catalog or Catalog.from_issues(issues)

    def search(self, query: str | Query, *, now: datetime, current_user: str | None = None) -> list[dict]:
        """The issues matching ``query`` in its order; raises ``JqlError`` like Jira."""
        if isinstance(query, str):
            query = parse(query)
        query.validate(self.catalog)
        predicate = compile_query(query, Context(now=now, catalog=self.catalog, current_user=current_user))
        found = []
        for number, row in enumerate(self.rows):
            if number % 64 == 0:
                check_time_budget()
            if predicate(row):
                found.append(row)
        return [row.issue for row in sort_rows(found, query.order_by, self.catalog)]


def filter_and_sort(
    issues: list[dict],
    query: str | Query,
    *,
    now: datetime,
    catalog: Catalog | None = None,
    current_user: str | None = None,
) -> list[dict]:
    """One-off search over ``issues`` (build a ``SearchIndex`` to search the same issues often)."""
    return SearchIndex(issues, catalog).search(query, now=now, current_user=current_user)
