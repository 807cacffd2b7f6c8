"""Exporting a snapshot as CSV (the table as shown) and JSON (raw rows and metadata)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from conftest import publish_page_with_macro
from macros import exports
from macros.models import Snapshot
from macros.tests.history_helpers import issue, snapshot_of

FIELDS = ["key", "summary", "status", "assignee"]


@pytest.fixture
def snapshot(space, people, monkeypatch) -> Snapshot:
    _, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    return snapshot_of(
        macro,
        monkeypatch,
        [issue(1, assignee=0), issue(2, status="Done", category="done"), issue(3, summary="Café für Größen, naïve “quotes”")],
        user=people["editor"],
    )


def csv_url(snapshot):
    return reverse("snapshot_export_csv", args=[snapshot.macro.page_id, snapshot.pk])


def json_url(snapshot):
    return reverse("snapshot_export_json", args=[snapshot.macro.page_id, snapshot.pk])


def content(response) -> str:
    assert response.streaming, "exports are streamed"
    return b"".join(response.streaming_content).decode("utf-8")


def parse_csv(response) -> list[list[str]]:
    text = content(response)
    assert text.startswith("\ufeff"), "a byte-order mark so that Excel reads UTF-8"
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_csv_is_the_table_as_shown(client, people, snapshot):
    client.force_login(people["viewer"])
    response = client.get(csv_url(snapshot))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="status-open-issues-')
    assert response["Content-Disposition"].endswith('.csv"')
    assert parse_csv(response) == [
        ["Key", "Summary", "Status", "Assignee"],
        ["WEB-1", "Issue number 1", "To Do", "Ada Lovelace"],
        ["WEB-2", "Issue number 2", "Done", ""],
        ["WEB-3", "Café für Größen, naïve “quotes”", "To Do", ""],
    ]


@pytest.mark.parametrize(
    "summary, written",
    [
        ("=HYPERLINK(\"https://evil.example.com\",\"Click\")", "'=HYPERLINK(\"https://evil.example.com\",\"Click\")"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("A = B", "A = B"),
        ("Plain text", "Plain text"),
    ],
)
def test_cells_a_spreadsheet_would_run_as_a_formula_are_quoted(client, people, space, monkeypatch, summary, written):
    _, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    snapshot = snapshot_of(macro, monkeypatch, [issue(1, summary=summary)])
    client.force_login(people["viewer"])
    rows = parse_csv(client.get(csv_url(snapshot)))
    assert rows[1][1] == written


def test_commas_quotes_and_line_breaks_survive_the_csv(client, people, space, monkeypatch):
    _, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    text = 'Line one, with "quotes"\nline two'
    snapshot = snapshot_of(macro, monkeypatch, [issue(1, summary=text)])
    client.force_login(people["viewer"])
    assert parse_csv(client.get(csv_url(snapshot)))[1][1] == text


def test_the_json_has_the_raw_rows_and_the_metadata(client, people, snapshot):
    client.force_login(people["viewer"])
    response = client.get(json_url(snapshot))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    data = json.loads(content(response))
    meta = data["snapshot"]
    assert meta["id"] == snapshot.pk and meta["issue_count"] == 3 and meta["taken_by"] == "editor"
    assert meta["macro"] == {"id": str(snapshot.macro.public_id), "title": "Open issues"}
    assert meta["page"]["title"] == "Status" and meta["page"]["version"] == snapshot.page_version.number
    assert meta["levels"] == [{"jql": "project = WEB", "fields": FIELDS}]
    assert meta["counts"]["status_categories"] == {"To Do": 2, "Done": 1}
    assert meta["stickers"] == []
    assert [r["key"] for r in data["rows"]] == ["WEB-1", "WEB-2", "WEB-3"]
    assert data["rows"][0] == {
        "position": 1, "level": 1, "parent_position": None, "key": "WEB-1",
        "cells": dict(zip(FIELDS, parse_csv(client.get(csv_url(snapshot)))[1], strict=True)),
        "issue": snapshot.rows.get(position=1).data,
    }
    assert data["rows"][2]["issue"]["fields"]["summary"] == "Café für Größen, naïve “quotes”"


def test_the_json_of_an_empty_snapshot_is_valid(client, people, space, monkeypatch):
    _, macro = publish_page_with_macro(space, people["editor"])
    snapshot = snapshot_of(macro, monkeypatch, [])
    client.force_login(people["viewer"])
    data = json.loads(content(client.get(json_url(snapshot))))
    assert data["rows"] == [] and data["snapshot"]["issue_count"] == 0


def test_the_json_names_the_stickers_of_the_snapshots_version(client, people, snapshot):
    snapshot.page_version.add_sticker("Sprint 12 end", people["editor"])
    client.force_login(people["viewer"])
    assert json.loads(content(client.get(json_url(snapshot))))["snapshot"]["stickers"] == ["Sprint 12 end"]


# --- nested levels ---------------------------------------------------------------------

@pytest.fixture
def nested(space, people, monkeypatch) -> Snapshot:
    _, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary", "status"])
    macro.levels = [
        {"jql": "project = WEB", "fields": ["key", "summary", "status"]},
        {"jql": "parent = $key", "fields": ["key", "summary", "assignee"]},
        {"jql": "parent = $key", "fields": ["key", "summary"]},
    ]
    macro.save()
    by_jql = {
        "project = WEB": [issue(1), issue(2, status="Done", category="done"), issue(3)],
        "parent = WEB-1": [issue(11, project="SUB", assignee=1), issue(12, project="SUB")],
        "parent = WEB-3": [issue(31, project="SUB", summary="=cmd|' /C calc'!A0")],
        "parent = SUB-11": [issue(111, project="TASK")],
    }
    return snapshot_of(macro, monkeypatch, by_jql=by_jql)


NESTED_CSV = [
    ["Level", "Parent", "Key", "Summary", "Status", "Assignee"],
    ["1", "", "WEB-1", "Issue number 1", "To Do", ""],
    ["2", "WEB-1", "SUB-11", "Issue number 11", "", "Grace Hopper"],
    ["3", "SUB-11", "TASK-111", "Issue number 111", "", ""],
    ["2", "WEB-1", "SUB-12", "Issue number 12", "", ""],
    ["1", "", "WEB-2", "Issue number 2", "Done", ""],
    ["1", "", "WEB-3", "Issue number 3", "To Do", ""],
    ["2", "WEB-3", "SUB-31", "'=cmd|' /C calc'!A0", "", ""],
]


def test_nested_levels_are_flattened_under_their_parent_with_a_level_column(client, people, nested):
    client.force_login(people["viewer"])
    assert parse_csv(client.get(csv_url(nested))) == NESTED_CSV


def test_nested_export_reads_in_chunks_and_keeps_the_order(client, people, nested, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 1)
    client.force_login(people["viewer"])
    assert parse_csv(client.get(csv_url(nested))) == NESTED_CSV


def test_the_json_of_a_nested_snapshot_keeps_levels_and_parents(client, people, nested):
    client.force_login(people["viewer"])
    rows = json.loads(content(client.get(json_url(nested))))["rows"]
    by_key = {r["key"]: r for r in rows}
    assert len(rows) == 7
    assert by_key["SUB-11"]["level"] == 2 and by_key["SUB-11"]["parent_position"] == by_key["WEB-1"]["position"]
    assert by_key["TASK-111"]["level"] == 3 and by_key["TASK-111"]["parent_position"] == by_key["SUB-11"]["position"]


# --- big snapshots -------------------------------------------------------------------

def test_a_big_snapshot_streams_every_row(client, people, space, monkeypatch, django_assert_max_num_queries):
    _, macro = publish_page_with_macro(space, people["editor"], fields=FIELDS)
    snapshot = snapshot_of(macro, monkeypatch, [issue(n) for n in range(1, 2_501)])
    client.force_login(people["viewer"])
    with django_assert_max_num_queries(25):  # chunks, not a query per row
        rows = parse_csv(client.get(csv_url(snapshot)))
    assert len(rows) == 2_501 and rows[-1][0] == "WEB-2500"
    assert len(json.loads(content(client.get(json_url(snapshot))))["rows"]) == 2_500


# --- who may export ------------------------------------------------------------------

@pytest.mark.parametrize("who", ["viewer", "snapshotter", "editor", "site_admin"])
@pytest.mark.parametrize("url", [csv_url, json_url])
def test_everyone_who_sees_the_page_may_export(client, people, snapshot, who, url):
    client.force_login(people[who])
    response = client.get(url(snapshot))
    assert response.status_code == 200
    assert "WEB-1" in content(response)


@pytest.mark.parametrize("url", [csv_url, json_url])
def test_outsiders_get_404(client, people, snapshot, url):
    client.force_login(people["outsider"])
    response = client.get(url(snapshot))
    assert response.status_code == 404 and b"WEB-1" not in response.content


@pytest.mark.parametrize("url", [csv_url, json_url])
def test_anonymous_people_are_sent_to_sign_in(client, snapshot, url):
    response = client.get(url(snapshot))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_snapshot_cannot_be_exported_through_another_page(client, people, snapshot, space):
    other, _ = publish_page_with_macro(space, people["editor"], title="Other")
    client.force_login(people["viewer"])
    response = client.get(reverse("snapshot_export_csv", args=[other.pk, snapshot.pk]))
    assert response.status_code == 404


def test_an_unfinished_snapshot_cannot_be_exported(client, people, snapshot):
    Snapshot.objects.filter(pk=snapshot.pk).update(complete=False)
    client.force_login(people["viewer"])
    assert client.get(csv_url(snapshot)).status_code == 404


def test_the_page_and_the_history_link_to_the_exports(client, people, snapshot):
    page = snapshot.macro.page
    client.force_login(people["viewer"])
    for url in (page.get_absolute_url(), reverse("page_history", args=[page.pk])):
        body = client.get(url).content.decode()
        assert f'href="{csv_url(snapshot)}"' in body and f'href="{json_url(snapshot)}"' in body, url
