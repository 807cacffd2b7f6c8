"""CSV export: no cell, in any column, reaches a spreadsheet as a formula."""

from __future__ import annotations

import pytest

from conftest import publish_page_with_macro
from macros.tests.history_helpers import issue, snapshot_of
from macros.tests.test_exports import FIELDS, csv_url, parse_csv


@pytest.mark.parametrize(
    "summary, written",
    [
        (" =1+1", "' =1+1"),
        ("   @SUM(A1:A9)", "'   @SUM(A1:A9)"),
        ("\n-2+3", "'\n-2+3"),
        ("\u00a0+cmd", "'\u00a0+cmd"),
        ("＝HYPERLINK(1)", "'＝HYPERLINK(1)"),
        ("\r=1", "'\r=1"),
        ("x =1", "x =1"),
    ],
)
def test_a_formula_behind_leading_spaces_is_quoted(client, people, space, monkeypatch, summary, written):
    _, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    snapshot = snapshot_of(macro, monkeypatch, [issue(1, summary=summary)])
    client.force_login(people["viewer"])
    assert parse_csv(client.get(csv_url(snapshot)))[1][1] == written


def test_the_parent_column_is_guarded_too(client, people, space, monkeypatch):
    _, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary"])
    macro.levels = [{"jql": "project = X", "fields": ["key", "summary"]}, {"jql": "parent = $key", "fields": ["key", "summary"]}]
    macro.save()
    parent = issue(1, project=" =HYPERLINK(0)")
    snapshot = snapshot_of(macro, monkeypatch, by_jql={"project = X": [parent], f"parent = {parent['key']}": [issue(2, project="SUB")]})
    client.force_login(people["viewer"])
    rows = parse_csv(client.get(csv_url(snapshot)))
    assert rows[1][:3] == ["1", "", "' =HYPERLINK(0)-1"]
    assert rows[2][:3] == ["2", "' =HYPERLINK(0)-1", "SUB-2"]
