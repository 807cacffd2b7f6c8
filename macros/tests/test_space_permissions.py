"""Snapshot permissions: page-edit, or a space admin's snapshot grant while the site allows it."""

import pytest
from django.contrib.auth.models import Group

from automation import site
from automation.models import AutomationEvent
from macros.models import SiteSettings, SnapshotJob, SpacePermission

pytestmark = pytest.mark.django_db
Level = SpacePermission.Level


def take(client, page, macro):
    return client.post(f"/pages/{page.pk}/macros/{macro.public_id}/snapshot", HTTP_ACCEPT="application/json")


# --- taking a snapshot -----------------------------------------------------------------------


def test_editors_and_the_snapshot_group_may_take_snapshots_viewers_may_not(client, people, page_and_macro):
    page, macro = page_and_macro
    answers = {}
    for name in ("editor", "snapshotter", "viewer"):
        client.force_login(people[name])
        response = take(client, page, macro)
        answers[name] = response.status_code
    assert answers == {"editor": 202, "snapshotter": 202, "viewer": 403}
    assert SnapshotJob.objects.count() == 1  # the second call joined the first job


def test_with_the_override_off_only_editors_may_take_snapshots(client, people, page_and_macro):
    page, macro = page_and_macro
    site.set_snapshot_override(False, people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN)

    client.force_login(people["snapshotter"])
    refused = take(client, page, macro)
    assert refused.status_code == 403
    assert "Take snapshot" not in client.get(page.get_absolute_url()).content.decode()
    client.force_login(people["editor"])
    assert take(client, page, macro).status_code == 202

    site.set_snapshot_override(True, people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN)
    client.force_login(people["snapshotter"])
    assert take(client, page, macro).status_code == 202
    assert "Take snapshot" in client.get(page.get_absolute_url()).content.decode()


def test_enabling_automation_needs_edit_even_with_the_snapshot_grant(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["snapshotter"])

    response = client.post(f"/pages/{page.pk}/macros/{macro.public_id}/configure/automation/", {"enabled": "on"})

    assert response.status_code == 403
    assert not hasattr(macro, "automation") or not macro.automation.enabled


# --- the space permissions screen ------------------------------------------------------------


def test_a_space_admin_lets_a_group_take_snapshots_without_edit(client, people, space, page_and_macro):
    page, macro = page_and_macro
    group = Group.objects.create(name="qa")
    people["viewer"].groups.add(group)
    client.force_login(people["space_admin"])
    assert "Permissions" in client.get(space.get_absolute_url()).content.decode()

    response = client.post(f"/spaces/{space.key}/permissions/", {"group": group.pk, "level": Level.SNAPSHOT})

    assert response.status_code == 302
    assert SpacePermission.objects.get(space=space, group=group).level == Level.SNAPSHOT
    screen = client.get(f"/spaces/{space.key}/permissions/").content.decode()
    assert "qa" in screen and "View and take snapshots" in screen
    client.force_login(people["viewer"])
    assert take(client, page, macro).status_code == 202


def test_a_space_admin_grants_a_person_and_removes_a_grant(client, people, space):
    client.force_login(people["space_admin"])

    client.post(f"/spaces/{space.key}/permissions/", {"username": "outsider", "level": Level.VIEW})
    grant = SpacePermission.objects.get(space=space, user=people["outsider"])
    client.post(f"/spaces/{space.key}/permissions/", {"action": "remove", "grant": grant.pk})

    assert not SpacePermission.objects.filter(space=space, user=people["outsider"]).exists()


def test_the_screen_refuses_bad_input_and_changes_to_ones_own_grant(client, people, space):
    client.force_login(people["space_admin"])
    own = SpacePermission.objects.get(space=space, user=people["space_admin"])

    both = client.post(f"/spaces/{space.key}/permissions/", {"username": "", "level": Level.VIEW})
    unknown = client.post(f"/spaces/{space.key}/permissions/", {"username": "nobody", "level": Level.VIEW})
    client.post(f"/spaces/{space.key}/permissions/", {"username": "space_admin", "level": Level.VIEW})
    client.post(f"/spaces/{space.key}/permissions/", {"action": "remove", "grant": own.pk})

    assert "Choose a group or type a user name" in both.content.decode()
    assert "There is no user named “nobody”" in unknown.content.decode()
    own.refresh_from_db()
    assert own.level == Level.ADMIN


def test_the_screen_says_when_the_site_turned_snapshot_grants_off(client, people, space):
    SiteSettings.objects.update_or_create(pk=1, defaults={"snapshot_group_override": False})
    client.force_login(people["space_admin"])

    screen = client.get(f"/spaces/{space.key}/permissions/").content.decode()

    assert "turned snapshot grants off for the whole site" in screen
    assert "(counts as View: turned off site-wide)" in screen


def test_only_space_admins_see_the_permissions_screen(client, people, space):
    path = f"/spaces/{space.key}/permissions/"
    codes = {}
    for name in ("site_admin", "space_admin", "editor", "snapshotter", "viewer", "outsider"):
        client.force_login(people[name])
        codes[name] = client.get(path).status_code
    client.logout()

    assert codes == {"site_admin": 200, "space_admin": 200, "editor": 403, "snapshotter": 403, "viewer": 403, "outsider": 404}
    assert client.get(path).status_code == 302
    client.force_login(people["editor"])
    client.post(path, {"username": "outsider", "level": Level.ADMIN})
    assert not SpacePermission.objects.filter(user=people["outsider"]).exists()
    assert "Permissions</a>" not in client.get(space.get_absolute_url()).content.decode()
