"""Jira values nested absurdly deep (hostile or broken data) read as their words, never a 500."""

from __future__ import annotations

import pytest

from conftest import PASSWORD, StaticSource, make_issue, publish_page_with_macro, use_source
from macros.fieldtypes import renderer_for
from macros.models import SnapshotJob
from macros.snapshots import request_snapshot, take


def _deep_adf(levels: int) -> dict:
    node = {"type": "text", "text": "words at the bottom"}
    for n in range(levels):
        node = {"type": "paragraph" if n % 2 else "blockquote", "content": [node]}
    return {"type": "doc", "version": 1, "content": [node]}


def _deep_list(levels: int) -> list:
    value: list = [{"name": "innermost"}]
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [150, 600, 3000])
def test_a_renderer_reads_a_deeply_nested_value_as_its_words(levels):
    description = renderer_for({"id": "description", "name": "Description", "schema": {"type": "string", "system": "description"}})
    unknown = renderer_for({"id": "customfield_1", "name": "Odd", "schema": {"type": "any", "custom": "com.example:odd"}})

    assert description.text(_deep_adf(levels)) == "words at the bottom"
    assert "words at the bottom" in description.html(_deep_adf(levels))
    assert unknown.text(_deep_list(levels)) == "innermost"
    assert unknown.sort_key(_deep_list(levels)) == (0, "innermost")


def test_a_snapshot_holding_deeply_nested_values_shows_and_exports(client, people, space, monkeypatch):
    issue = make_issue(1, description=_deep_adf(3000), customfield_1=_deep_list(900))
    use_source(monkeypatch, StaticSource([issue, make_issue(2)]))
    page, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary", "description", "customfield_1"])
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    snapshot = take(job.pk)

    assert snapshot is not None and snapshot.issue_count == 2
    client.login(username="viewer", password=PASSWORD)
    response = client.get(page.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "words at the bottom" in html and "innermost" in html
    csv = client.get(f"/pages/{page.pk}/snapshots/{snapshot.pk}/export.csv")
    assert csv.status_code == 200
    assert "words at the bottom" in b"".join(csv.streaming_content).decode() if csv.streaming else csv.content.decode()
