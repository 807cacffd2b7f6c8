"""Display tab, templates, the personal setting, the space switch and formatting defaults."""

import pytest
from django.urls import reverse

from automation import service as automation_service
from automation.models import AutomationEvent
from conftest import StaticSource, make_issue, publish_page_with_macro, use_source
from macros import pages as page_service
from macros.models import MacroTemplate, MacroTemplateUse, SnapshotJob, TableDefaults, UserSettings
from macros.snapshots import request_snapshot, take


@pytest.fixture
def source(monkeypatch):
    issues = [make_issue(n, customfield_10016=n, summary=f"Story {n}") for n in range(1, 31)]
    source = StaticSource(issues)
    use_source(monkeypatch, source)
    return source


def _snapshot(macro):
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)


def test_the_display_tab_saves_sort_group_totals_placeholders_and_columns(client, people, space, source):
    page, macro = publish_page_with_macro(space, people["editor"], fields=["key", "summary", "status", "customfield_10016"])
    client.force_login(people["editor"])
    url = reverse("macro_display", args=[page.pk, macro.public_id])
    shown = client.get(url).content.decode()
    for label in ("Sort by", "Group by", "Empty cell text", "Show totals", "Don't wrap", "Empty level text", "Heading text"):
        assert label in shown
    response = client.post(url, {
        "page_size": 10, "show_count": "on", "group_by": "status", "show_totals": "on",
        "sort-0-field": "customfield_10016", "sort-0-direction": "desc", "sort-1-field": "key", "sort-1-direction": "asc",
        "empty_cell_text": "n/a", "empty_level_text": "No sub-tasks",
        "col-1-heading": "What", "col-1-width": "wide", "col-1-nowrap": "on", "col-0-width": "narrow",
    })
    assert response.status_code == 302
    macro.refresh_from_db()
    display = macro.draft["display"]
    assert display["sort_by"] == [{"field": "customfield_10016", "desc": True}, {"field": "key", "desc": False}]
    assert display["group_by"] == "status" and display["show_totals"] is True
    assert display["empty_cell_text"] == "n/a" and display["empty_level_text"] == "No sub-tasks"
    assert display["columns"] == {"summary": {"heading": "What", "width": "wide", "nowrap": True}, "key": {"heading": "", "width": "narrow", "nowrap": False}}

    page_service.publish(page, people["editor"])
    macro.refresh_from_db()
    _snapshot(macro)
    html = client.get(page.get_absolute_url()).content.decode()
    assert "WEB-30" in html.split("WEB-29")[0], "story points descending: 30 first"
    assert ">What<" in html and 'class="w-wide nowrap"' in html
    assert "(30 issues)" in html and "465" in html  # one group, 1 + … + 30 story points


def test_a_group_by_field_not_in_the_columns_is_refused_by_the_form(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    response = client.post(reverse("macro_display", args=[page.pk, macro.public_id]), {"page_size": 25, "group_by": "nonsense"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_a_template_saved_on_one_page_adds_a_macro_to_another(client, people, space, source):
    page, macro = publish_page_with_macro(space, people["editor"], jql="project = WEB AND status = Done", fields=["key", "summary"])
    automation_service.enable(macro, people["editor"], via=AutomationEvent.Via.SCREEN, live_at_once=True)
    client.force_login(people["editor"])
    response = client.post(reverse("template_save", args=[page.pk, macro.public_id]), {"name": "Done work", "description": "For sign-offs"})
    assert response.status_code == 302
    template = MacroTemplate.objects.get(name="Done work")
    assert template.owner == people["editor"] and "automation" not in template.config
    assert template.config["levels"][0]["jql"] == "project = WEB AND status = Done"

    other, _ = publish_page_with_macro(space, people["editor"], title="Release notes")
    chooser = client.get(reverse("template_chooser", args=[other.pk]), {"tab": "mine", "q": "done"}).content.decode()
    assert "Done work" in chooser and "Recent" in chooser and "All templates" in chooser
    assert "Done work" not in client.get(reverse("template_chooser", args=[other.pk]), {"tab": "mine", "q": "zzz"}).content.decode()
    added = client.post(reverse("template_chooser", args=[other.pk]), {"template": template.pk})
    assert added.status_code == 302
    new = other.macros.order_by("-pk").first()
    assert new.draft["levels"][0]["jql"] == "project = WEB AND status = Done"
    assert MacroTemplateUse.objects.filter(user=people["editor"], template=template).exists()
    assert "Done work" in client.get(reverse("template_chooser", args=[other.pk]), {"tab": "recent"}).content.decode()
    assert not hasattr(new, "automation") or not new.automation.enabled


def test_only_site_admins_make_site_templates_and_everyone_sees_them(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    assert "Site template" not in client.get(reverse("template_save", args=[page.pk, macro.public_id])).content.decode()
    client.post(reverse("template_save", args=[page.pk, macro.public_id]), {"name": "Mine", "site_template": "on"})
    assert MacroTemplate.objects.get(name="Mine").owner == people["editor"]
    client.force_login(people["site_admin"])
    client.post(reverse("template_save", args=[page.pk, macro.public_id]), {"name": "For all", "site_template": "on"})
    assert MacroTemplate.objects.get(name="For all").owner is None
    client.force_login(people["space_admin"])
    listing = client.get(reverse("template_chooser", args=[page.pk]), {"tab": "all"}).content.decode()
    assert "<strong>For all</strong>" in listing and "<strong>Mine</strong>" not in listing
    assert client.post(reverse("template_delete", args=[MacroTemplate.objects.get(name="For all").pk])).status_code == 403
    client.force_login(people["site_admin"])
    listing = client.get(reverse("template_chooser", args=[page.pk]), {"tab": "all"}).content.decode()
    assert 'aria-label="Delete For all"' in listing
    site_template = MacroTemplate.objects.get(name="For all")
    assert client.post(reverse("template_delete", args=[site_template.pk]), {"next": "/"}).status_code == 302
    assert not MacroTemplate.objects.filter(pk=site_template.pk).exists()


@pytest.mark.parametrize("choice, queued, offered", [("ask", False, True), ("yes", True, False), ("no", False, False)])
def test_saving_a_changed_query_follows_the_personal_setting(client, people, page_and_macro, source, choice, queued, offered):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    settings_page = client.get("/accounts/settings/").content.decode()
    assert "Take a snapshot when I save a macro&#x27;s configuration" in settings_page and "Ask every time" in settings_page
    assert client.post("/accounts/settings/", {"snapshot_on_save": choice}).status_code == 302
    assert UserSettings.of(people["editor"]).snapshot_on_save == choice
    response = client.post(reverse("macro_configure", args=[page.pk, macro.public_id]), {
        "title": "Open issues", "level-0-jql": "project = WEB AND status = Done", "level-0-fields": "key, summary", "action": "save",
    })
    assert response.status_code == 302
    job = SnapshotJob.objects.filter(macro=macro).first()
    assert (job is not None) == queued
    if queued:
        assert job.levels == [{"jql": "project = WEB AND status = Done", "fields": ["key", "summary"]}]
    editor = client.get(reverse("page_edit", args=[page.pk])).content.decode()
    assert ("Take a snapshot now" in editor) == offered
    if offered:
        assert client.post(reverse("snapshot_saved_query", args=[page.pk, macro.public_id])).status_code == 302
        job = SnapshotJob.objects.get(macro=macro)
        take(job.pk)
        assert job.snapshot_id if hasattr(job, "snapshot_id") else True
        assert macro.latest_snapshot().jql == "project = WEB AND status = Done"
        assert "Take a snapshot now" not in client.get(reverse("page_edit", args=[page.pk])).content.decode(), "offered once"


def test_a_space_switched_off_hides_its_tables_refuses_triggers_and_keeps_the_data(client, people, page_and_macro, source):
    page, macro = page_and_macro
    _snapshot(macro)
    issued = automation_service.enable(macro, people["editor"], via=AutomationEvent.Via.SCREEN, live_at_once=True)
    client.force_login(people["site_admin"])
    screen = client.get(reverse("site_spaces")).content.decode()
    assert "Team space" in screen and "1 snapshot stored" in screen and "Nothing is deleted" in screen
    client.post(reverse("site_spaces"), {"space": page.space.pk, "enabled": "off"})
    assert "Team space" in client.get(reverse("site_spaces")).content.decode()

    client.force_login(people["viewer"])
    html = client.get(page.get_absolute_url()).content.decode()
    assert "Snapshots are switched off for this space" in html and "still stored" in html and "WEB-1<" not in html
    api = client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", headers={"jira-snapshots-api-key": issued.raw})
    assert api.status_code == 403
    assert api.json()["code"] == "macro_automation_disabled" and "switched off for this space" in api.json()["detail"]
    version = page.versions.order_by("-number").first()
    old = client.get(reverse("page_version", args=[page.pk, version.number])).content.decode()
    assert "Snapshots are switched off for this space" in old and "WEB-1<" not in old
    client.force_login(people["editor"])
    assert client.post(reverse("take_snapshot", args=[page.pk, macro.public_id])).status_code == 403

    client.force_login(people["site_admin"])
    client.post(reverse("site_spaces"), {"space": page.space.pk, "enabled": "on"})
    client.force_login(people["viewer"])
    assert "WEB-1<" in client.get(page.get_absolute_url()).content.decode()
    api = client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", headers={"jira-snapshots-api-key": issued.raw})
    assert api.status_code == 202


def test_site_admins_set_formatting_defaults_new_macros_start_from(client, people, page_and_macro):
    page, _ = page_and_macro
    client.force_login(people["editor"])
    assert client.get(reverse("site_table_defaults")).status_code == 403
    client.force_login(people["site_admin"])
    response = client.post(reverse("site_table_defaults"), {"date_format": "%d %b %Y", "page_size": 50, "empty_cell_text": "(none)"})
    assert response.status_code == 302
    defaults = TableDefaults.load()
    assert (defaults.date_format, defaults.page_size, defaults.empty_cell_text) == ("%d %b %Y", 50, "(none)")
    macro = page_service.add_macro(page_service.get_draft(page, people["site_admin"]))
    assert macro.draft["display"]["page_size"] == 50 and macro.draft["display"]["empty_cell_text"] == "(none)"


def test_the_global_key_is_refused_for_a_space_switched_off_per_macro_page_and_bulk(client, people, page_and_macro):
    import json

    from automation import globalkeys
    from macros import space_switch

    page, macro = page_and_macro
    key = globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SITE_ADMIN).raw
    space_switch.set_snapshots_enabled(page.space, False)
    headers = {"jira-snapshots-api-key": key}
    one = client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", headers=headers)
    assert one.status_code == 403 and one.json()["code"] == "macro_automation_disabled"
    whole = client.post(f"/api/automation/v1/pages/{page.pk}/snapshots", headers=headers)
    assert whole.status_code == 403 and "switched off for this space" in whole.json()["detail"]
    bulk = client.post("/api/automation/v1/snapshots", json.dumps({"macros": [str(macro.public_id)]}), content_type="application/json", headers=headers)
    assert bulk.status_code == 202
    assert bulk.json()["results"][0]["error"]["code"] == "macro_automation_disabled"
    assert not SnapshotJob.objects.exists()
    space_switch.set_snapshots_enabled(page.space, True)
    assert client.post(f"/api/automation/v1/macros/{macro.public_id}/snapshots", headers=headers).status_code == 202
