"""The site administration screens: who may see them, what each action does, its audit row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation import globalkeys, site
from automation.models import AutomationEvent, GlobalKey, MacroAutomation, MacroKey
from automation.tests.conftest import trigger
from macros.models import SiteSettings

pytestmark = pytest.mark.django_db
Kind = AutomationEvent.Kind
Via = AutomationEvent.Via
SCREENS = ["/site-admin/", "/site-admin/automation/", "/site-admin/global-key/", "/site-admin/automated-macros/", "/site-admin/audit/"]


def events(kind: str) -> list[AutomationEvent]:
    return list(AutomationEvent.objects.filter(kind=kind))


@pytest.fixture
def admin_client(client, people):
    client.force_login(people["site_admin"])
    return client


# --- who may see site administration --------------------------------------------------------


@pytest.mark.parametrize("path", SCREENS)
def test_staff_see_every_site_administration_screen_with_its_navigation(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 200
    for label in ("Automation switch and permissions", "Global API key", "Macros with automation", "Audit log", "Jira connection"):
        assert label in response.content.decode()


@pytest.mark.parametrize("path", SCREENS)
def test_people_who_are_not_staff_get_403(client, people, path):
    for name in ("space_admin", "editor", "viewer"):
        client.force_login(people[name])

        response = client.get(path)

        assert response.status_code == 403
        assert "Enable automation for this site" not in response.content.decode()


@pytest.mark.parametrize("path", SCREENS)
def test_anonymous_people_are_sent_to_sign_in(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_non_staff_cannot_post_to_any_action(client, people, automated):
    client.force_login(people["space_admin"])
    posts = [
        ("/site-admin/automation/", {"setting": "automation"}),
        ("/site-admin/global-key/", {"action": "create", "days": 90}),
        (f"/site-admin/automated-macros/{automated.macro.public_id}/revoke", {}),
    ]

    assert [client.post(path, data).status_code for path, data in posts] == [403, 403, 403]
    assert SiteSettings.load().automation_enabled is True
    assert not GlobalKey.objects.exists()
    assert MacroAutomation.objects.get().enabled is True


def test_the_site_administration_link_shows_only_for_staff(client, people):
    client.force_login(people["editor"])
    assert "Site administration" not in client.get("/").content.decode()
    client.force_login(people["site_admin"])
    assert 'href="/site-admin/">Site administration' in client.get("/").content.decode()


# --- the switch -----------------------------------------------------------------------------


def test_switching_automation_off_refuses_calls_keeps_settings_and_writes_an_audit_row(admin_client, client, automated, people):
    response = admin_client.post("/site-admin/automation/", {"setting": "automation"})

    assert response.status_code == 302
    assert SiteSettings.load().automation_enabled is False
    assert [(e.actor, e.via) for e in events(Kind.SITE_DISABLED)] == [(people["site_admin"], Via.SITE_ADMIN)]
    page = admin_client.get("/site-admin/automation/").content.decode()
    assert "Automation is off for this site" in page
    assert 'id="id_site_automation" >' in page or 'id="id_site_automation">' in page
    refused = trigger(client, automated, automated.key)
    assert (refused.status_code, refused.json()["code"]) == (403, "site_automation_disabled")
    assert MacroAutomation.objects.get().is_live and MacroKey.objects.filter(revoked_at__isnull=True).count() == 1

    admin_client.post("/site-admin/automation/", {"setting": "automation", "enabled": "on"})

    assert SiteSettings.load().automation_enabled is True
    assert len(events(Kind.SITE_ENABLED)) == 1
    assert trigger(client, automated, automated.key).status_code == 202


def test_the_automation_tab_still_shows_with_a_notice_while_the_site_is_off(client, automated, people):
    site.set_automation_enabled(False, people["site_admin"], via=Via.SITE_ADMIN)
    client.force_login(people["editor"])

    response = client.get(f"/pages/{automated.page.pk}/macros/{automated.macro.public_id}/configure/automation/")

    assert response.status_code == 200
    assert "An administrator has switched automation off for this site" in response.content.decode()
    assert "Enable automation for this macro" in response.content.decode()


def test_saving_the_switch_unchanged_writes_no_audit_row(admin_client, db):
    admin_client.post("/site-admin/automation/", {"setting": "automation", "enabled": "on"})

    assert not events(Kind.SITE_ENABLED) and not events(Kind.SITE_DISABLED)


def test_the_snapshot_override_toggle_is_audited(admin_client, people):
    admin_client.post("/site-admin/automation/", {"setting": "override"})

    assert SiteSettings.load().snapshot_group_override is False
    assert [e.actor for e in events(Kind.OVERRIDE_DISABLED)] == [people["site_admin"]]
    admin_client.post("/site-admin/automation/", {"setting": "override", "enabled": "on"})
    assert SiteSettings.load().snapshot_group_override is True
    assert len(events(Kind.OVERRIDE_ENABLED)) == 1


# --- the global key -------------------------------------------------------------------------


def test_creating_the_global_key_shows_it_once_and_never_again(admin_client, people):
    response = admin_client.post("/site-admin/global-key/", {"action": "create", "days": 90})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = GlobalKey.objects.get()
    page = response.content.decode()
    raw = page.split('id="global-key" type="text" readonly value="')[1].split('"')[0]
    assert raw.startswith(f"snapglobal_{key.lookup_id}_")
    assert "This is the only time the global API key is shown" in page
    assert raw not in admin_client.get("/site-admin/global-key/").content.decode()
    assert raw not in admin_client.get("/site-admin/").content.decode()
    assert [(e.actor, e.key_lookup, e.via) for e in events(Kind.GLOBAL_KEY_CREATED)] == [(people["site_admin"], key.lookup_id, Via.SITE_ADMIN)]
    assert timedelta(days=89) < key.expires_at - timezone.now() <= timedelta(days=90)


def test_prolonging_moves_the_expiry_and_is_audited(admin_client, people):
    globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN, days=3)

    response = admin_client.post("/site-admin/global-key/", {"action": "prolong", "days": 30})

    assert response.status_code == 302
    key = GlobalKey.objects.get()
    assert timedelta(days=29) < key.expires_at - timezone.now() <= timedelta(days=30)
    assert len(events(Kind.GLOBAL_KEY_PROLONGED)) == 1


def test_regenerating_from_the_screen_shows_a_new_key_and_kills_the_old(admin_client, client, automated, people):
    old = globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN).raw

    response = admin_client.post("/site-admin/global-key/", {"action": "regenerate", "days": 90})

    new = response.content.decode().split('id="global-key" type="text" readonly value="')[1].split('"')[0]
    assert new != old
    assert trigger(client, automated, old).json()["code"] == "invalid_api_key"
    assert trigger(client, automated, new).status_code == 202
    assert [e.reason for e in events(Kind.GLOBAL_KEY_REGENERATED)] == [f"replaces {old[11:23]}"]


def test_revoking_from_the_screen_stops_the_key_and_is_audited(admin_client, client, automated, people):
    raw = globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN).raw

    admin_client.post("/site-admin/global-key/", {"action": "revoke"})

    assert GlobalKey.objects.active().count() == 0
    assert trigger(client, automated, raw).json()["code"] == "invalid_api_key"
    assert [e.actor for e in events(Kind.GLOBAL_KEY_REVOKED)] == [people["site_admin"]]
    assert "There is no global API key" in admin_client.get("/site-admin/global-key/").content.decode()


def test_the_screen_warns_two_weeks_before_expiry_and_says_when_it_expired(admin_client, people):
    globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN, days=20)
    assert "expires in" not in admin_client.get("/site-admin/global-key/").content.decode()

    GlobalKey.objects.update(expires_at=timezone.now() + timedelta(days=13))
    warned = admin_client.get("/site-admin/global-key/").content.decode()
    assert "The global API key expires in 1" in warned
    assert "Expires soon" in admin_client.get("/site-admin/").content.decode()

    GlobalKey.objects.update(expires_at=timezone.now() - timedelta(days=1))
    assert "The global API key expired on" in admin_client.get("/site-admin/global-key/").content.decode()


def test_a_bad_number_of_days_is_refused_on_the_form(admin_client, db):
    response = admin_client.post("/site-admin/global-key/", {"action": "create", "days": 0})

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1" in response.content.decode()
    assert not GlobalKey.objects.exists()


# --- macros with automation on --------------------------------------------------------------


def test_the_list_shows_each_macro_with_automation_and_revoke_stops_it(admin_client, client, automated, people):
    trigger(client, automated, automated.key)
    page = admin_client.get("/site-admin/automated-macros/").content.decode()
    lookup = MacroKey.objects.get().lookup_id
    for text in ("Team space", automated.page.title, "Open issues", "Live", "editor", lookup):
        assert text in page

    response = admin_client.post(f"/site-admin/automated-macros/{automated.macro.public_id}/revoke")

    assert response.status_code == 302
    refused = trigger(client, automated, automated.key)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    assert MacroAutomation.objects.get().enabled is False
    assert [(e.actor, e.macro, e.key_lookup, e.via) for e in events(Kind.REVOKED)] == [(people["site_admin"], automated.macro, lookup, Via.SITE_ADMIN)]
    assert "No macro has automation on" in admin_client.get("/site-admin/automated-macros/").content.decode()


def test_the_list_filters_live_and_pending(admin_client, automated, space, people):
    from automation import service
    from conftest import publish_page_with_macro

    _, pending_macro = publish_page_with_macro(space, people["editor"], title="Pending page")
    service.enable(pending_macro, people["editor"], via=Via.SCREEN)

    live = admin_client.get("/site-admin/automated-macros/?state=live").content.decode()
    pending = admin_client.get("/site-admin/automated-macros/?state=pending").content.decode()

    assert automated.page.title in live and "Pending page" not in live
    assert "Pending page" in pending and automated.page.title not in pending


# --- the audit log --------------------------------------------------------------------------


def test_the_audit_log_filters_by_event_macro_page_and_date(admin_client, client, automated, space, people):
    from conftest import publish_page_with_macro

    other_page, other_macro = publish_page_with_macro(space, people["editor"], title="Other page")
    site.set_automation_enabled(False, people["site_admin"], via=Via.SITE_ADMIN)
    site.set_automation_enabled(True, people["site_admin"], via=Via.SITE_ADMIN)
    trigger(client, automated, automated.key)
    old = AutomationEvent.objects.create(kind=Kind.ENABLED, via=Via.SCREEN, macro=other_macro, page=other_page, created_at=timezone.now() - timedelta(days=40), last_seen_at=timezone.now() - timedelta(days=40))

    def rows(query: str) -> str:
        response = admin_client.get(f"/site-admin/audit/?{query}")
        assert response.status_code == 200
        return response.content.decode().split("<tbody>")[1]

    assert "Automation switched off for the site" in rows("event=site_disabled")
    assert "Snapshot triggered" not in rows("event=site_disabled")
    by_macro = rows(f"macro={automated.macro.public_id}")
    assert "Snapshot triggered" in by_macro and "Other page" not in by_macro
    assert "Other page" in rows(f"page={other_page.pk}") and "Snapshot triggered" not in rows(f"page={other_page.pk}")
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert "Other page" not in rows(f"since={since}")
    until = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert "Other page" in rows(f"until={until}") and "Snapshot triggered" not in rows(f"until={until}")
    assert old.pk


def test_a_bad_filter_shows_its_error_and_no_rows(admin_client, automated):
    response = admin_client.get("/site-admin/audit/?macro=not-a-uuid")

    assert response.status_code == 200
    assert "Enter a valid UUID" in response.content.decode()
    assert "No events match these filters" in response.content.decode()
