"""Stickers: labels editors put on snapshot versions, filtered on and audited in the history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import publish_page_with_macro
from macros.models import PageEvent, Sticker
from macros.tests.history_helpers import issue, snapshot_of


@pytest.fixture
def page_with_snapshots(space, people, monkeypatch):
    page, macro = publish_page_with_macro(space, people["editor"])
    snapshot_of(macro, monkeypatch, [issue(1)])  # v2
    snapshot_of(macro, monkeypatch, [issue(1), issue(2)])  # v3
    return page


def add(client, page, number, label, **extra):
    return client.post(reverse("sticker_add", args=[page.pk, number]), {"label": label, **extra})


def test_an_editor_labels_a_snapshot_version(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    response = add(client, page, 2, "  Sprint 12   end ")
    assert response.status_code == 302 and response["Location"] == reverse("page_history", args=[page.pk])
    sticker = Sticker.objects.get()
    assert (sticker.label, sticker.version.number, sticker.created_by) == ("Sprint 12 end", 2, people["editor"])
    body = client.get(response["Location"]).content.decode()
    assert "Added the sticker “Sprint 12 end” to version 2." in body
    assert body.count(">Sprint 12 end</a>") == 1


def test_adding_a_sticker_is_in_the_pages_audit(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 3, "Release 2.4 sign-off")
    event = PageEvent.objects.get()
    assert (event.page, event.action, event.version_number, event.detail, event.actor) == (
        page, PageEvent.Action.STICKER_ADDED, 3, "Release 2.4 sign-off", "editor",
    )
    body = client.get(reverse("page_history", args=[page.pk])).content.decode()
    activity = body.split('id="activity-title"')[1]
    assert "editor" in activity and "added the sticker" in activity and "Release 2.4 sign-off" in activity and ">v3</a>" in activity


def test_the_same_label_twice_on_one_version_is_kept_once(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 2, "Sprint 12 end")
    response = add(client, page, 2, "Sprint 12 end", next=reverse("page_history", args=[page.pk]))
    assert response.status_code == 302
    assert Sticker.objects.count() == 1 and PageEvent.objects.count() == 1
    assert "already has the sticker" in client.get(response["Location"]).content.decode()


def test_one_label_can_mark_several_versions(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 2, "Reviewed")
    add(client, page, 3, "Reviewed")
    assert sorted(Sticker.objects.values_list("version__number", flat=True)) == [2, 3]


@pytest.mark.parametrize(
    "label, message",
    [("   ", "A sticker needs a label."), ("x" * 61, "A sticker label has at most 60 characters.")],
)
def test_a_bad_label_is_refused_with_a_reason(client, people, page_with_snapshots, label, message):
    page = page_with_snapshots
    client.force_login(people["editor"])
    response = add(client, page, 2, label)
    assert response.status_code == 302
    assert message in client.get(response["Location"]).content.decode()
    assert not Sticker.objects.exists()


def test_stickers_go_on_snapshot_versions_only(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    response = add(client, page, 1, "Launch")
    assert "Stickers go on snapshot versions." in client.get(response["Location"]).content.decode()
    assert not Sticker.objects.exists()


@pytest.mark.parametrize("who, status", [("viewer", 403), ("snapshotter", 403), ("outsider", 404)])
def test_only_editors_add_stickers(client, people, page_with_snapshots, who, status):
    page = page_with_snapshots
    client.force_login(people[who])
    response = add(client, page, 2, "Sprint 12 end")
    assert response.status_code == status
    assert not Sticker.objects.exists() and not PageEvent.objects.exists()


def test_anonymous_people_are_sent_to_sign_in_and_add_nothing(client, page_with_snapshots):
    response = add(client, page_with_snapshots, 2, "Sprint 12 end")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Sticker.objects.exists()


def test_a_sticker_is_added_with_a_post_only(client, people, page_with_snapshots):
    client.force_login(people["editor"])
    response = client.get(reverse("sticker_add", args=[page_with_snapshots.pk, 2]), {"label": "x"})
    assert response.status_code == 405 and not Sticker.objects.exists()


def test_an_editor_removes_a_sticker_and_the_audit_says_so(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 2, "Sprint 12 end")
    sticker = Sticker.objects.get()
    client.force_login(people["space_admin"])
    response = client.post(reverse("sticker_remove", args=[page.pk, sticker.pk]))
    assert response.status_code == 302
    assert not Sticker.objects.exists()
    assert list(PageEvent.objects.order_by("created_at", "pk").values_list("action", "actor", "detail", "version_number")) == [
        ("sticker_added", "editor", "Sprint 12 end", 2),
        ("sticker_removed", "space_admin", "Sprint 12 end", 2),
    ]
    body = client.get(response["Location"]).content.decode()
    assert "Removed the sticker “Sprint 12 end” from version 2." in body
    assert "removed the sticker" in body.split('id="activity-title"')[1]


@pytest.mark.parametrize("who, status", [("viewer", 403), ("outsider", 404)])
def test_only_editors_remove_stickers(client, people, page_with_snapshots, who, status):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 2, "Sprint 12 end")
    sticker = Sticker.objects.get()
    client.force_login(people[who])
    assert client.post(reverse("sticker_remove", args=[page.pk, sticker.pk])).status_code == status
    assert Sticker.objects.filter(pk=sticker.pk).exists()


def test_a_sticker_cannot_be_removed_through_another_page(client, people, page_with_snapshots, space):
    page = page_with_snapshots
    other, _ = publish_page_with_macro(space, people["editor"], title="Other")
    client.force_login(people["editor"])
    add(client, page, 2, "Sprint 12 end")
    sticker = Sticker.objects.get()
    assert client.post(reverse("sticker_remove", args=[other.pk, sticker.pk])).status_code == 404
    assert Sticker.objects.exists()


def test_the_history_filters_by_sticker(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 2, "Sprint 12 end")
    add(client, page, 3, "Release 2.4 sign-off")
    client.force_login(people["viewer"])
    url = reverse("page_history", args=[page.pk])
    everything = client.get(url).content.decode()
    assert 'id="v3"' in everything and 'id="v2"' in everything and 'id="v1"' in everything
    assert "?sticker=Sprint%2012%20end" in everything, "the filter offers each label"
    response = client.get(url, {"sticker": "Sprint 12 end"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="v2"' in body and 'id="v3"' not in body and 'id="v1"' not in body
    assert "Versions with the sticker <strong>Sprint 12 end</strong>" in body
    assert "No version has this sticker." in client.get(url, {"sticker": "Nope"}).content.decode()


def test_a_sticker_added_from_a_version_returns_there_but_never_off_site(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    here = reverse("page_version", args=[page.pk, 2])
    assert add(client, page, 2, "A", next=here)["Location"] == here
    assert add(client, page, 2, "B", next="https://evil.example.com/")["Location"] == reverse("page_history", args=[page.pk])


def test_the_version_screen_shows_its_stickers(client, people, page_with_snapshots):
    page = page_with_snapshots
    client.force_login(people["editor"])
    add(client, page, 3, "Sprint 12 end")
    client.force_login(people["viewer"])
    body = client.get(reverse("page_version", args=[page.pk, 3])).content.decode()
    assert ">Sprint 12 end</a>" in body and "Remove sticker" not in body
