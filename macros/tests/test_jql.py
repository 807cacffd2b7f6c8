"""The JQL subset: parsing, Jira's error sentences, and evaluation on a handful of issues."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from macros import jql
from macros.sources.base import JqlError

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday
ALICE = {"accountId": "acc-alice", "displayName": "Alice Adams", "emailAddress": "alice@example.com", "active": True}
BOB = {"accountId": "acc-bob", "displayName": "Bob Brown", "emailAddress": "bob@example.com", "active": True}
CAROL = {"accountId": "acc-carol", "displayName": "Carol Chen", "emailAddress": "carol@example.com", "active": False}
CATEGORIES = {
    "To Do": {"id": 2, "key": "new", "name": "To Do", "colorName": "blue-gray"},
    "In Progress": {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"},
    "Done": {"id": 3, "key": "done", "name": "Done", "colorName": "green"},
}
STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Done": "10002"}
PRIORITY_IDS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
PROJECTS = {"WEB": {"id": "10000", "key": "WEB", "name": "Web Storefront"}, "OPS": {"id": "10002", "key": "OPS", "name": "Platform Ops"}}
SPRINT_OLD = {"id": 7, "name": "WEB Sprint 7", "state": "closed", "boardId": 1}
SPRINT_NOW = {"id": 8, "name": "WEB Sprint 8", "state": "active", "boardId": 1}


def issue(
    number: int,
    key: str,
    summary: str,
    *,
    status: str = "To Do",
    type_: str = "Story",
    priority: str = "Medium",
    assignee: dict | None = None,
    reporter: dict = ALICE,
    labels: tuple[str, ...] = (),
    components: tuple[str, ...] = (),
    versions: tuple[tuple[str, bool], ...] = (),
    sprints: tuple[dict, ...] = (),
    points: float | None = None,
    created: str = "2026-01-10T10:00:00.000+0000",
    updated: str | None = None,
    resolved: str | None = None,
    due: str | None = None,
    description: str | None = None,
    parent: str | None = None,
) -> dict:
    project = PROJECTS[key.split("-")[0]]
    done = status == "Done"
    return {
        "id": str(number),
        "key": key,
        "self": f"https://sample.atlassian.net/rest/api/3/issue/{number}",
        "fields": {
            "summary": summary,
            "project": project,
            "issuetype": {"id": {"Epic": "1", "Story": "2", "Bug": "3", "Sub-task": "5"}[type_], "name": type_, "subtask": type_ == "Sub-task"},
            "status": {"id": STATUS_IDS[status], "name": status, "statusCategory": CATEGORIES[status]},
            "priority": {"id": PRIORITY_IDS[priority], "name": priority},
            "resolution": {"id": "10000", "name": "Done"} if done else None,
            "resolutiondate": resolved if done else None,
            "created": created,
            "updated": updated or created,
            "duedate": due,
            "assignee": assignee,
            "reporter": reporter,
            "labels": list(labels),
            "components": [{"id": str(100 + len(name)), "name": name} for name in components],
            "fixVersions": [{"id": name, "name": name, "released": released} for name, released in versions],
            "customfield_10020": list(sprints) or None,
            "customfield_10016": points,
            "description": None
            if description is None
            else {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": description}]}]},
            "environment": None,
            **({"parent": {"id": str(PARENT_IDS[parent]), "key": parent}} if parent else {}),
        },
    }


PARENT_IDS = {"WEB-1": 101}
ISSUES = [
    issue(101, "WEB-1", "Guest checkout", type_="Epic", status="In Progress", assignee=ALICE, priority="High",
          created="2025-11-02T09:00:00.000+0000", updated="2026-03-17T09:00:00.000+0000"),
    issue(102, "WEB-2", "Checkout button does nothing on Safari", type_="Bug", status="Done", priority="Highest",
          assignee=BOB, labels=("checkout", "customer-reported"), components=("Checkout",), versions=(("2026.01", True),),
          sprints=(SPRINT_OLD,), points=3, created="2025-12-01T08:00:00.000+0000", updated="2026-01-05T12:00:00.000+0000",
          resolved="2026-01-05T11:00:00.000+0000", due="2026-01-04", description="Crashes when tapping the button.",
          parent="WEB-1"),
    issue(103, "WEB-3", "Let guests save a cart for later", status="In Progress", assignee=ALICE, labels=("checkout",),
          components=("Checkout", "Accounts"), versions=(("2026.03", False),), sprints=(SPRINT_OLD, SPRINT_NOW), points=8,
          created="2026-02-20T10:00:00.000+0000", updated="2026-03-18T10:00:00.000+0000", due="2026-03-20",
          description="Shoppers asked for saved carts in the survey.", parent="WEB-1"),
    issue(104, "WEB-4", "Write unit tests", type_="Sub-task", status="To Do", priority="Low", sprints=(SPRINT_NOW,),
          created="2026-03-16T14:00:00.000+0000", updated="2026-03-16T14:00:00.000+0000", parent="WEB-1"),
    issue(201, "OPS-1", "Rotate TLS certificates", type_="Story", status="Done", priority="High", assignee=CAROL,
          reporter=BOB, labels=("security",), components=("Networking",), points=2,
          created="2025-10-01T08:00:00.000+0000", updated="2025-10-03T08:00:00.000+0000",
          resolved="2025-10-03T07:00:00.000+0000", description="Certificates expire in November."),
    issue(202, "OPS-2", "Alerting is noisy at night", type_="Bug", status="To Do", priority="Lowest", assignee=None,
          reporter=CAROL, labels=("on-call", "security"), created="2026-03-11T22:00:00.000+0000",
          updated="2026-03-12T08:00:00.000+0000", due="2026-03-31", description="Pages fire for crashed pods."),
]
GROUPS = {"web-team": ["acc-alice", "acc-bob"]}


def keys(query: str, *, current_user: str | None = None, now: datetime = NOW) -> list[str]:
    index = jql.SearchIndex(ISSUES, jql.Catalog.from_issues(ISSUES, groups=GROUPS))
    return [found["key"] for found in index.search(query, now=now, current_user=current_user)]


def error(query: str) -> list[str]:
    with pytest.raises(JqlError) as raised:
        keys(query)
    return raised.value.messages


# --- parsing --------------------------------------------------------------------------------------


def test_it_parses_clauses_lists_functions_and_order_by_into_a_tree():
    text = 'project = WEB and (status IN ("To Do", Done) OR NOT assignee = currentUser()) order by created desc, key'
    query = jql.parse(text)
    at = text.index
    assert query.order_by == (jql.SortKey("created", True, at("created")), jql.SortKey("key", None, at("key")))
    top = query.where
    assert isinstance(top, jql.And)
    assert top.children[0] == jql.Clause("project", "=", jql.Value("WEB", at("WEB")), 0)
    either = top.children[1]
    assert isinstance(either, jql.Or)
    assert either.children[0].operand.items == (jql.Value("To Do", at('"To Do"'), quoted=True), jql.Value("Done", at("Done")))
    assert either.children[1] == jql.Not(
        jql.Clause("assignee", "=", jql.Function("currentUser", (), at("currentUser")), at("assignee"))
    )


def test_it_binds_not_tighter_than_and_and_and_tighter_than_or():
    query = jql.parse("alpha = 1 OR beta = 2 AND NOT gamma = 3")
    assert isinstance(query.where, jql.Or)
    assert query.where.children[0].field == "alpha"
    right = query.where.children[1]
    assert isinstance(right, jql.And) and isinstance(right.children[1], jql.Not)


def test_it_reads_quotes_escapes_and_custom_field_names():
    query = jql.parse("""cf[10016] > 3 AND "Story Points" < 13 AND summary ~ 'it\\'s "fine"' AND labels = "a\\u0062c" """)
    fields = [clause.field for clause in query.clauses()]
    assert fields == ["cf[10016]", "Story Points", "summary", "labels"]
    assert query.clauses()[2].operand.text == "it's \"fine\""
    assert query.clauses()[3].operand.text == "abc"


def test_it_accepts_an_empty_query_and_order_by_alone():
    assert jql.parse("").where is None
    assert jql.parse("  ORDER BY updated").order_by == (jql.SortKey("updated", None, 11),)
    assert jql.parse("order by key").where is None


def test_it_reads_keywords_in_any_case_and_symbolic_and_or():
    assert keys("PROJECT = ops and STATUS in (done) ORDER by KEY asc") == ["OPS-1"]
    assert keys("project = OPS && labels = security || key = WEB-4 ORDER BY key") == ["OPS-1", "OPS-2", "WEB-4"]


# --- syntax errors, in Jira's words ---------------------------------------------------------------

OPERATORS = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("project foo", f"Error in the JQL Query: Expecting operator but got 'foo'. The valid operators are {OPERATORS}. (line 1, character 9)"),
        ("project", f"Error in the JQL Query: Expecting operator before the end of the query. The valid operators are {OPERATORS}."),
        ("summary % 3", "Error in the JQL Query: The character '%' is a reserved JQL character. You must enclose it in a string or use the escape '\\u0025' instead. (line 1, character 9)"),
        ("(project = WEB", "Error in the JQL Query: Expecting ')' before the end of the query."),
        ("(project = WEB status", "Error in the JQL Query: Expecting ')' but got 'status'. (line 1, character 16)"),
        ('summary ~ "unclosed', "Error in the JQL Query: The quoted string 'unclosed' has not been completed. (line 1, character 11)"),
        ("project = WEB AND", "Error in the JQL Query: Expecting a field name at the end of the query."),
        ("project =", "Error in JQL Query: Expecting either a value, list or function before the end of the query."),
        ("project = WEB AND status = = Done", "Error in JQL Query: Expecting either a value, list or function but got '='. You must surround '=' in quotation marks to use it as a value. (line 1, character 28)"),
        ("project = WEB status = Done", "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)"),
        ("project = WEB ORDER created", "Error in the JQL Query: Expecting 'BY' but got 'created'. (line 1, character 21)"),
        ("project = WEB ORDER BY created sideways", "Error in the JQL Query: Expecting either ',', 'ASC' or 'DESC' but got 'sideways'. (line 1, character 32)"),
        ("status = To Do", "Error in the JQL Query: 'To' is a reserved JQL word. You must surround it in quotation marks to use it in a query. (line 1, character 10)"),
        ("AND = 1", "Error in the JQL Query: Expecting a field name but got 'AND'. You must surround 'AND' in quotation marks to use it as a field name. (line 1, character 1)"),
        ("status in (Done,", "Error in JQL Query: Expecting either a value, list or function before the end of the query."),
        ("project = WEB\nAND status ! Done", f"Error in the JQL Query: Expecting operator but got '!'. The valid operators are {OPERATORS}. (line 2, character 12)"),
        ("assignee = bob@example.com", "Error in the JQL Query: The character '@' is a reserved JQL character. You must enclose it in a string or use the escape '\\u0040' instead. (line 1, character 15)"),
    ],
)  # fmt: skip
def test_it_refuses_bad_syntax_with_jiras_sentence(query, message):
    assert error(query) == [message]


# --- validation against the catalog ---------------------------------------------------------------

DATE_HELP = "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ('status = "Shipped"', "The value 'Shipped' does not exist for the field 'status'."),
        ("assignee = nobody", "The value 'nobody' does not exist for the field 'assignee'."),
        ("status ~ Done", "The operator '~' is not supported by the 'status' field."),
        ('text = "x"', "The operator '=' is not supported by the 'text' field."),
        ('summary = "x"', "The operator '=' is not supported by the 'summary' field."),
        ('created > "2026-13-45"', f"Date value '2026-13-45' for field 'created' is invalid. {DATE_HELP}"),
        ("due = yesterday", f"Date value 'yesterday' for field 'due' is invalid. {DATE_HELP}"),
        ("assignee = noSuchFunction()", "Unable to find JQL function 'noSuchFunction()'."),
        ("status = currentUser()", "A value provided by the function 'currentUser' is invalid for the field 'status'."),
        ("key = WEB-999", "Issue does not exist or you do not have permission to see it."),
        ("key = banana", "The issue key 'banana' for field 'key' is invalid."),
        ("project = WEB ORDER BY zzfield", "Field 'zzfield' does not exist or you do not have permission to view it."),
        ("project = WEB ORDER BY labels", "Field 'labels' does not support sorting."),
        ("created >= startOfDay(-1x)", "Duration for function 'startOfDay' should have the format (+/-)n(yMwdm), e.g -1M for 1 month earlier."),
        ("cf[10016] = lots", "The value 'lots' for field 'cf[10016]' is invalid: it must be a number."),
        ("status in Done", "The operator 'in' does not support the non-list value 'Done' for the field 'status'."),
        ("status is Done", "The operator 'is' only supports searching for EMPTY values."),
    ],
)  # fmt: skip
def test_it_refuses_what_the_site_has_not_got_with_jiras_sentence(query, message):
    assert error(query) == [message]


def test_it_reports_every_unknown_field_and_value_at_once_like_jira():
    assert error("colour = red AND project = NOPE OR shoe = 3 ORDER BY nothing") == [
        "Field 'colour' does not exist or you do not have permission to view it.",
        "The value 'NOPE' does not exist for the field 'project'.",
        "Field 'shoe' does not exist or you do not have permission to view it.",
        "Field 'nothing' does not exist or you do not have permission to view it.",
    ]


def test_it_joins_the_messages_into_the_error_text():
    with pytest.raises(JqlError, match=r"^Field 'a1' does not .* Field 'b1' does not"):
        keys("a1 = 1 and b1 = 2")


# --- operators -------------------------------------------------------------------------------------


def test_it_matches_equals_on_project_key_name_and_id():
    assert keys("project = WEB") == ["WEB-4", "WEB-3", "WEB-2", "WEB-1"]
    assert keys('project = "platform ops"') == ["OPS-2", "OPS-1"]
    assert keys("project = 10002") == ["OPS-2", "OPS-1"]


def test_not_equals_leaves_out_issues_whose_field_is_empty():
    assert keys('assignee != "Alice Adams"') == ["OPS-1", "WEB-2"]
    assert keys("assignee != acc-alice OR assignee is EMPTY") == ["OPS-2", "OPS-1", "WEB-4", "WEB-2"]


def test_in_and_not_in_take_lists_with_empty():
    assert keys("status in (Done, 'In Progress')") == ["OPS-1", "WEB-3", "WEB-2", "WEB-1"]
    assert keys("status not in (Done, 'In Progress')") == ["OPS-2", "WEB-4"]
    assert keys("assignee in (EMPTY, 'bob@example.com')") == ["OPS-2", "WEB-4", "WEB-2"]
    assert keys("assignee not in (EMPTY, acc-bob)") == ["OPS-1", "WEB-3", "WEB-1"]


def test_it_matches_users_by_display_name_account_id_or_email():
    assert keys('assignee = "alice adams"') == keys("assignee = acc-alice") == keys("assignee = 'alice@example.com'") == ["WEB-3", "WEB-1"]
    assert keys("reporter = acc-bob") == ["OPS-1"]


def test_is_empty_and_is_not_empty():
    assert keys("assignee IS EMPTY") == ["OPS-2", "WEB-4"]
    assert keys("assignee is null") == ["OPS-2", "WEB-4"]
    assert keys("labels is not EMPTY") == ["OPS-2", "OPS-1", "WEB-3", "WEB-2"]
    assert keys("duedate = EMPTY AND project = OPS") == ["OPS-1"]


def test_contains_matches_words_with_stems_wildcards_and_phrases():
    assert keys('summary ~ "checkout"') == ["WEB-2", "WEB-1"]
    assert keys('summary ~ "checkouts"') == ["WEB-2", "WEB-1"], "stemmed, as in Jira"
    assert keys('summary ~ "check"') == [], "a word, not a substring"
    assert keys('summary ~ "check*"') == ["WEB-2", "WEB-1"]
    assert keys('summary ~ "button safari"') == ["WEB-2"], "every word, in any order"
    assert keys('summary ~ "\\"safari button\\""') == [], "a quoted phrase keeps its order"
    assert keys('summary ~ "\\"button does\\""') == ["WEB-2"]


def test_text_searches_summary_and_description_and_does_not_contain_skips_empty():
    assert keys('text ~ "crashes"') == ["WEB-2"]
    assert keys('text ~ "crashed"') == ["OPS-2"], "'crashed pods' in the description"
    assert keys('description ~ "survey"') == ["WEB-3"]
    assert keys('description !~ "survey"') == ["OPS-2", "OPS-1", "WEB-2"]


def test_comparisons_on_numbers_priorities_and_keys():
    assert keys('"Story Points" > 2') == ["WEB-3", "WEB-2"]
    assert keys("cf[10016] <= 3") == ["OPS-1", "WEB-2"]
    assert keys("customfield_10016 >= 8") == ["WEB-3"]
    assert keys("priority >= High") == ["OPS-1", "WEB-2", "WEB-1"], "High and above"
    assert keys("priority < Medium") == ["OPS-2", "WEB-4"]
    assert keys("key > WEB-2") == ["WEB-4", "WEB-3"], "by number within the project"
    assert keys("key <= WEB-2 AND key >= WEB-1") == ["WEB-2", "WEB-1"]
    assert keys("id = 201") == ["OPS-1"]
    assert keys("issuekey in (WEB-3, OPS-2, OPS-99)") == ["OPS-2", "WEB-3"], "a list answers those that exist"


def test_status_category_by_name_or_key_and_resolution_unresolved():
    assert keys("statusCategory = done") == ["OPS-1", "WEB-2"]
    assert keys('statusCategory != "Done"') == ["OPS-2", "WEB-4", "WEB-3", "WEB-1"]
    assert keys("statusCategory = indeterminate") == ["WEB-3", "WEB-1"]
    assert keys("resolution = Unresolved") == ["OPS-2", "WEB-4", "WEB-3", "WEB-1"]
    assert keys("resolution != Unresolved") == ["OPS-1", "WEB-2"]
    assert keys("resolution = Done AND type = Bug") == ["WEB-2"]


def test_multi_valued_fields_match_any_value_and_not_equals_excludes_holders():
    assert keys("labels = checkout") == ["WEB-3", "WEB-2"]
    assert keys("labels = security AND labels = on-call") == ["OPS-2"]
    assert keys("labels != checkout") == ["OPS-2", "OPS-1"], "no labels: left out, as in Jira"
    assert keys("component = Accounts") == ["WEB-3"]
    assert keys("component not in (Checkout)") == ["OPS-1"]
    assert keys('fixVersion = "2026.01"') == ["WEB-2"]
    assert keys('sprint = "WEB Sprint 7"') == ["WEB-3", "WEB-2"]
    assert keys("sprint = 8") == ["WEB-4", "WEB-3"]
    assert keys("sprint is EMPTY") == ["OPS-2", "OPS-1", "WEB-1"]


def test_parent_and_issue_type_functions():
    assert keys("parent = WEB-1") == ["WEB-4", "WEB-3", "WEB-2"]
    assert keys("parent = 101 AND type = Bug") == ["WEB-2"]
    assert keys("issuetype in subTaskIssueTypes()") == ["WEB-4"]
    assert keys("issuetype in standardIssueTypes() AND project = WEB") == ["WEB-3", "WEB-2", "WEB-1"]


def test_not_is_pushed_into_the_operator_like_jira():
    assert keys("NOT assignee = acc-alice") == keys("assignee != acc-alice") == ["OPS-1", "WEB-2"]
    assert keys("NOT (project = WEB AND status = Done)") == ["OPS-2", "OPS-1", "WEB-4", "WEB-3", "WEB-1"]
    assert keys("NOT NOT project = OPS") == ["OPS-2", "OPS-1"]


def test_precedence_and_parentheses():
    assert keys("project = OPS OR labels = checkout AND status = Done") == ["OPS-2", "OPS-1", "WEB-2"]
    assert keys("(project = OPS OR labels = checkout) AND status = Done") == ["OPS-1", "WEB-2"]
    assert keys("project = WEB AND NOT status = Done OR priority = Lowest") == ["OPS-2", "WEB-4", "WEB-3", "WEB-1"]


# --- functions and dates ---------------------------------------------------------------------------


def test_current_user_matches_nobody_unless_configured():
    assert keys("assignee = currentUser()") == []
    assert keys("assignee = currentUser()", current_user="acc-bob") == ["WEB-2"]
    assert keys("assignee != currentUser()", current_user="acc-bob") == ["OPS-1", "WEB-3", "WEB-1"]


def test_members_of_uses_the_catalogs_groups():
    assert keys('assignee in membersOf("web-team")') == ["WEB-3", "WEB-2", "WEB-1"]
    assert keys('reporter in membersOf("nobody-group")') == []


def test_sprint_and_version_functions():
    assert keys("sprint in openSprints()") == ["WEB-4", "WEB-3"]
    assert keys("sprint in closedSprints()") == ["WEB-3", "WEB-2"]
    assert keys("fixVersion in unreleasedVersions()") == ["WEB-3"]
    assert keys("fixVersion in releasedVersions(WEB)") == ["WEB-2"]


def test_relative_dates_count_back_from_the_injected_now():
    assert keys("updated >= -7d") == ["OPS-2", "WEB-4", "WEB-3", "WEB-1"]
    assert keys("updated >= -2d") == ["WEB-3", "WEB-1"], "WEB-4 was updated 49.5 hours ago"
    assert keys("created >= -1w") == ["OPS-2", "WEB-4"]
    assert keys('created >= "-1w 2d"') == ["OPS-2", "WEB-4"]
    assert keys("created >= -50h") == ["WEB-4"]
    assert keys("updated > -331m") == ["WEB-3"], "updated five and a half hours ago"
    assert keys("updated > -330m") == []
    assert keys("updated >= -330m") == ["WEB-3"]
    assert keys("due <= 2w AND due >= 0d") == ["OPS-2", "WEB-3"]


def test_absolute_dates_in_every_format():
    assert keys("created < 2025-11-02") == ["OPS-1"]
    assert keys("created < 2025/11/03") == ["OPS-1", "WEB-1"]
    assert keys('created >= "2025-11-02 09:00" AND created <= "2025/12/01 08:00"') == ["WEB-2", "WEB-1"]
    assert keys("created = '2025-11-02 09:00'") == ["WEB-1"]
    assert keys("resolved >= 2026-01-01") == ["WEB-2"]
    assert keys("resolutiondate is EMPTY AND project = OPS") == ["OPS-2"]
    assert keys("duedate = 2026-03-20") == ["WEB-3"]


def test_date_functions_follow_jira():
    assert keys("created >= startOfDay()") == []
    assert keys("created >= startOfDay(-2)") == ["WEB-4"]
    assert keys("updated >= startOfWeek()") == ["WEB-4", "WEB-3", "WEB-1"], "weeks start on Sunday the 15th"
    assert keys("created >= startOfMonth()") == ["OPS-2", "WEB-4"]
    assert keys("created >= startOfMonth(-1) AND created < startOfMonth()") == ["WEB-3"]
    assert keys("due < now() AND statusCategory != Done") == []
    assert keys("due <= endOfDay(2d) AND statusCategory != Done") == ["WEB-3"]
    assert keys("created >= startOfYear()") == ["OPS-2", "WEB-4", "WEB-3"]


def test_date_function_values():
    assert jql.date_function("startOfDay", (), NOW) == datetime(2026, 3, 18, tzinfo=UTC)
    assert jql.date_function("endOfDay", (), NOW) == datetime(2026, 3, 18, 23, 59, 59, 999000, tzinfo=UTC)
    assert jql.date_function("startOfWeek", (), NOW) == datetime(2026, 3, 15, tzinfo=UTC)
    assert jql.date_function("endOfMonth", ("-1",), NOW) == datetime(2026, 2, 28, 23, 59, 59, 999000, tzinfo=UTC)
    assert jql.date_function("startOfDay", ("+9h",), NOW) == datetime(2026, 3, 18, 9, tzinfo=UTC)
    assert jql.date_function("startOfYear", ("1",), NOW) == datetime(2027, 1, 1, tzinfo=UTC)


# --- ordering -------------------------------------------------------------------------------------


def test_without_order_by_the_newest_issue_comes_first():
    assert keys("") == ["OPS-2", "OPS-1", "WEB-4", "WEB-3", "WEB-2", "WEB-1"]


def test_it_orders_by_created_ascending_and_descending():
    assert keys("ORDER BY created ASC") == ["OPS-1", "WEB-1", "WEB-2", "WEB-3", "OPS-2", "WEB-4"]
    assert keys("ORDER BY created DESC") == ["WEB-4", "OPS-2", "WEB-3", "WEB-2", "WEB-1", "OPS-1"]


def test_it_orders_by_several_fields_each_with_its_direction():
    assert keys("ORDER BY project ASC, priority DESC") == ["OPS-1", "OPS-2", "WEB-2", "WEB-1", "WEB-3", "WEB-4"]
    assert keys("ORDER BY status ASC, key DESC") == ["WEB-4", "OPS-2", "WEB-3", "WEB-1", "WEB-2", "OPS-1"]


def test_empty_values_sort_last_ascending_and_first_descending():
    assert keys("ORDER BY duedate ASC") == ["WEB-2", "WEB-3", "OPS-2", "OPS-1", "WEB-4", "WEB-1"]
    assert keys("ORDER BY duedate DESC") == ["OPS-1", "WEB-4", "WEB-1", "OPS-2", "WEB-3", "WEB-2"]


def test_it_orders_by_assignee_name_and_story_points():
    assert keys('ORDER BY assignee, "Story Points" DESC') == ["WEB-1", "WEB-3", "WEB-2", "OPS-1", "OPS-2", "WEB-4"]


def test_filter_and_sort_is_a_one_off_search():
    found = jql.filter_and_sort(ISSUES, "project = OPS ORDER BY key", now=NOW)
    assert [i["key"] for i in found] == ["OPS-1", "OPS-2"]


def test_adf_text_flattens_a_document():
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}]},
                                      {"type": "bulletList", "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]}]}]}  # fmt: skip
    assert jql.adf_text(doc) == "Hello world one"
    assert jql.adf_text("plain v2 text") == "plain v2 text"
    assert jql.adf_text(None) == ""
