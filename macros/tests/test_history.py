"""The page history and old versions of a page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import StaticSource, publish_page_with_macro, use_source
from macros.models import PageVersion, SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.tests.history_helpers import issue, snapshot_of


@pytest.fixture
def history(space, people, monkeypatch):
    """A page published once, then snapshotted by a person and by automation."""
    page, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary", "status"])
    by_person = snapshot_of(macro, monkeypatch, [issue(1), issue(2), issue(3, summary="Gone by the next snapshot")], user=people["editor"])
    use_source(monkeypatch, StaticSource([issue(1), issue(2, status="Done", category="done")]))
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.AUTOMATION)
    take(job.pk)
    job.refresh_from_db()
    return page, macro, by_person, job.snapshot


def test_every_snapshot_makes_a_page_version(history):
    page, _, by_person, by_automation = history
    versions = list(page.versions.order_by("number").values_list("number", "kind", "actor", "snapshot_id"))
    assert versions == [
        (1, PageVersion.Kind.PUBLISH, "editor", None),
        (2, PageVersion.Kind.SNAPSHOT, "editor", by_person.pk),
        (3, PageVersion.Kind.SNAPSHOT, "automation", by_automation.pk),
    ]


def test_the_history_lists_versions_with_who_what_and_how_many_issues(client, people, history):
    page, *_ = history
    client.force_login(people["viewer"])
    response = client.get(reverse("page_history", args=[page.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    rows = body.split('<tr class="version ')[1:]
    assert len(rows) == 3
    newest, middle, oldest = rows
    assert 'id="v3"' in newest and "Snapshot" in newest and '<span class="badge auto">automation</span>' in newest
    assert "Open issues" in newest and '<td class="num">2' in newest and "current" in newest
    assert 'id="v2"' in middle and "editor" in middle and '<td class="num">3' in middle
    assert 'id="v1"' in oldest and "Published" in oldest
    assert "export.csv" in newest and "export.json" in newest and "Compare" in newest
    assert "Add sticker" not in body, "viewers may not add stickers"


def test_the_page_has_a_history_link(client, people, history):
    page, *_ = history
    client.force_login(people["viewer"])
    body = client.get(page.get_absolute_url()).content.decode()
    assert f'href="{reverse("page_history", args=[page.pk])}"' in body


def test_an_old_version_shows_the_snapshot_as_it_was(client, people, history):
    page, *_ = history
    client.force_login(people["viewer"])
    response = client.get(reverse("page_version", args=[page.pk, 2]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "an old version of this page" in body
    assert "Gone by the next snapshot" in body, "v2 still shows the issue the latest snapshot dropped"
    assert "by <span class=\"actor\">editor</span> · 3 issues" in body
    assert f'href="{reverse("page_version", args=[page.pk, 1])}"' in body and f'href="{reverse("page_version", args=[page.pk, 3])}"' in body


def test_the_latest_version_says_it_is_current(client, people, history):
    page, *_ = history
    client.force_login(people["viewer"])
    body = client.get(reverse("page_version", args=[page.pk, 3])).content.decode()
    assert "This is the <strong>current version</strong>" in body
    assert "Gone by the next snapshot" not in body and "Done" in body


def test_a_version_before_any_snapshot_says_there_was_none(client, people, history):
    page, *_ = history
    client.force_login(people["viewer"])
    body = client.get(reverse("page_version", args=[page.pk, 1])).content.decode()
    assert "No snapshot at this version." in body


def test_an_old_versions_table_is_paged(client, people, space, monkeypatch):
    page, macro = publish_page_with_macro(space, people["editor"])
    snapshot = snapshot_of(macro, monkeypatch, [issue(n) for n in range(1, 61)])
    snapshot_of(macro, monkeypatch, [issue(1)])
    client.force_login(people["viewer"])
    url = reverse("page_version", args=[page.pk, 2])
    body = client.get(url, {f"p{macro.pk}": 3}).content.decode()
    assert snapshot.page_version.number == 2
    assert "Page 3 of 3" in body and "WEB-51<" in body and "WEB-50<" not in body


def test_the_history_is_paged(client, people, space, monkeypatch):
    page, macro = publish_page_with_macro(space, people["editor"])
    for _ in range(55):
        snapshot_of(macro, monkeypatch, [issue(1)])
    client.force_login(people["viewer"])
    url = reverse("page_history", args=[page.pk])
    first = client.get(url).content.decode()
    assert "Page 1 of 2" in first and 'id="v56"' in first and 'id="v6"' not in first
    second = client.get(url, {"p": 2}).content.decode()
    assert 'id="v6"' in second and 'id="v1"' in second and 'id="v7"' not in second


@pytest.mark.parametrize("name", ["page_history", "page_version"])
def test_outsiders_get_404_and_anonymous_people_sign_in(client, people, history, name):
    page, *_ = history
    url = reverse(name, args=[page.pk] if name == "page_history" else [page.pk, 2])
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    client.force_login(people["outsider"])
    response = client.get(url)
    assert response.status_code == 404 and b"Gone by the next snapshot" not in response.content


def test_an_unknown_version_is_404(client, people, history):
    page, *_ = history
    client.force_login(people["viewer"])
    assert client.get(reverse("page_version", args=[page.pk, 99])).status_code == 404


def test_the_history_costs_the_same_queries_however_many_versions_and_stickers(client, people, space, monkeypatch, django_assert_max_num_queries):
    page, macro = publish_page_with_macro(space, people["editor"])
    for n in range(30):
        snapshot = snapshot_of(macro, monkeypatch, [issue(1)])
        snapshot.page_version.add_sticker(f"Label {n % 4}", people["editor"])
    client.force_login(people["viewer"])
    with django_assert_max_num_queries(15):
        response = client.get(reverse("page_history", args=[page.pk]))
    assert response.status_code == 200 and response.content.decode().count('<span class="sticker"') == 30
