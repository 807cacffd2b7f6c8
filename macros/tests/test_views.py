import pytest
from django.urls import reverse

from conftest import PASSWORD, make_issue, use_source
from macros.models import Macro, PageVersion, SiteSettings, SnapshotJob
from macros.snapshots import request_snapshot, take


def client_for(client, user):
    client.force_login(user)
    return client


def _snapshot(macro):
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    take(job.pk)
    return job


# --- who sees what -------------------------------------------------------------------

@pytest.mark.parametrize(
    "who, status",
    [("site_admin", 200), ("space_admin", 200), ("editor", 200), ("snapshotter", 200), ("viewer", 200), ("outsider", 404)],
)
def test_page_view_permissions(client, people, page_and_macro, who, status):
    page, _ = page_and_macro
    response = client_for(client, people[who]).get(page.get_absolute_url())
    assert response.status_code == status
    if status == 200:
        assert "Status" in response.content.decode()


def test_anonymous_people_are_sent_to_sign_in(client, page_and_macro):
    page, _ = page_and_macro
    response = client.get(page.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "who, status",
    [("site_admin", 200), ("space_admin", 200), ("editor", 200), ("snapshotter", 403), ("viewer", 403), ("outsider", 404)],
)
def test_editor_permissions(client, people, page_and_macro, static_source, who, status):
    page, macro = page_and_macro
    c = client_for(client, people[who])
    for url in (
        reverse("page_edit", args=[page.pk]),
        reverse("macro_configure", args=[page.pk, macro.public_id]),
        reverse("macro_display", args=[page.pk, macro.public_id]),
    ):
        response = c.get(url)
        assert response.status_code == status, url
        if status == 403:
            assert b"permission" in response.content


@pytest.mark.parametrize(
    "who, status",
    [("site_admin", 302), ("space_admin", 302), ("editor", 302), ("snapshotter", 302), ("viewer", 403), ("outsider", 404)],
)
def test_take_snapshot_permissions(client, people, page_and_macro, who, status):
    page, macro = page_and_macro
    response = client_for(client, people[who]).post(reverse("take_snapshot", args=[page.pk, macro.public_id]))
    assert response.status_code == status
    assert SnapshotJob.objects.filter(macro=macro).exists() == (status == 302)


def test_the_snapshot_group_override_can_be_switched_off_site_wide(client, people, page_and_macro):
    page, macro = page_and_macro
    SiteSettings.objects.update_or_create(pk=1, defaults={"snapshot_group_override": False})
    response = client_for(client, people["snapshotter"]).post(reverse("take_snapshot", args=[page.pk, macro.public_id]))
    assert response.status_code == 403
    assert not SnapshotJob.objects.exists()


def test_spaces_list_only_shows_visible_spaces(client, people, page_and_macro):
    from macros.models import Space

    Space.objects.create(key="secret", name="Secret space")
    body = client_for(client, people["viewer"]).get("/").content.decode()
    assert "Team space" in body and "Secret space" not in body
    assert client_for(client, people["outsider"]).get("/spaces/team/").status_code == 404


# --- the page ------------------------------------------------------------------------

def test_the_page_shows_the_latest_snapshot_and_who_took_it(client, people, page_and_macro, static_source):
    page, macro = page_and_macro
    _snapshot(macro)
    response = client_for(client, people["viewer"]).get(page.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "WEB-1" in body and "Issue number 7" in body
    assert 'class="actor">command line<' in body
    assert "Take snapshot" not in body, "viewers may not take snapshots"
    assert "<strong>text</strong>" in body, "the body is rendered Markdown"


def test_the_table_is_paged(client, people, page_and_macro, monkeypatch):
    from conftest import StaticSource

    page, macro = page_and_macro
    source = StaticSource([make_issue(n) for n in range(1, 61)])
    use_source(monkeypatch, source)
    _snapshot(macro)
    c = client_for(client, people["viewer"])
    first = c.get(page.get_absolute_url()).content.decode()
    assert "WEB-25<" in first and "WEB-26<" not in first and "Page 1 of 3" in first
    third = c.get(reverse("macro_block", args=[page.pk, macro.public_id]) + "?p=3").content.decode()
    assert "WEB-51<" in third and "WEB-60<" in third and "WEB-50<" not in third


def test_page_bodies_are_sanitised(client, people, space):
    from conftest import publish_page_with_macro
    from macros import pages as page_service

    page, _ = publish_page_with_macro(space, people["editor"])
    draft = page_service.get_draft(page)
    draft.body = "Hello <script>alert(1)</script> [x](javascript:alert(2))"
    draft.save()
    page_service.publish(page, people["editor"])
    body = client_for(client, people["viewer"]).get(page.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in body and "javascript:alert" not in body
    assert "Hello" in body


def test_the_live_state_reports_jobs_and_snapshots(client, people, page_and_macro, static_source):
    page, macro = page_and_macro
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
    c = client_for(client, people["viewer"])
    state = c.get(reverse("page_live", args=[page.pk])).json()
    assert state["macros"][str(macro.public_id)] == {
        "snapshot": None,
        "job": {"id": str(job.pk), "status": "queued", "fetched": 0, "expected": None, "error": None},
    }
    take(job.pk)
    state = c.get(reverse("page_live", args=[page.pk])).json()
    assert state["macros"][str(macro.public_id)]["snapshot"] == macro.latest_snapshot().pk
    assert state["macros"][str(macro.public_id)]["job"]["status"] == "succeeded"
    block = c.get(reverse("macro_block", args=[page.pk, macro.public_id])).content.decode()
    assert "WEB-3" in block


def test_a_failed_job_is_explained_above_the_previous_snapshot(client, people, page_and_macro, monkeypatch, static_source):
    from conftest import StaticSource

    page, macro = page_and_macro
    _snapshot(macro)
    use_source(monkeypatch, StaticSource(fail_after=0))
    _snapshot(macro)
    body = client_for(client, people["viewer"]).get(page.get_absolute_url()).content.decode()
    assert "The last snapshot failed" in body and "Jira was unavailable (HTTP 503)." in body
    assert "The table below is the previous snapshot." in body and "WEB-7" in body


def test_take_snapshot_answers_json_for_scripts(client, people, page_and_macro):
    page, macro = page_and_macro
    c = client_for(client, people["editor"])
    url = reverse("take_snapshot", args=[page.pk, macro.public_id])
    first = c.post(url, HTTP_ACCEPT="application/json")
    second = c.post(url, HTTP_ACCEPT="application/json")
    assert first.status_code == 202 and first.json()["coalesced"] is False
    assert second.json() == {"job": first.json()["job"], "status": "queued", "coalesced": True}


# --- editing -------------------------------------------------------------------------

def test_an_editor_adds_configures_and_publishes_a_macro(client, people, space, static_source):
    c = client_for(client, people["editor"])
    response = c.post(reverse("page_new", args=[space.key]), {"title": "Sprint board", "body": "Hi"})
    assert response.status_code == 302
    page = space.pages.get(title="Sprint board")
    response = c.post(reverse("page_edit", args=[page.pk]), {"title": "Sprint board", "body": "Hi", "action": "add_macro"})
    macro = Macro.objects.get(page=page)
    assert response["Location"] == reverse("macro_configure", args=[page.pk, macro.public_id])
    configure = reverse("macro_configure", args=[page.pk, macro.public_id])
    preview = c.post(configure, {"title": "Bugs", "level-0-jql": "project = WEB", "level-0-fields": "key, summary", "action": "preview"})
    assert preview.status_code == 200 and "Issue number 1" in preview.content.decode()
    saved = c.post(configure, {"title": "Bugs", "level-0-jql": "project = WEB", "level-0-fields": "key, summary, assignee", "action": "save"})
    assert saved.status_code == 302
    macro.refresh_from_db()
    assert macro.draft["levels"] == [{"jql": "project = WEB", "fields": ["key", "summary", "assignee"]}]
    assert not macro.is_live
    c.post(reverse("page_edit", args=[page.pk]), {"title": "Sprint board", "body": "Hi", "action": "publish"})
    macro.refresh_from_db()
    assert macro.is_live and macro.title == "Bugs" and macro.draft is None
    assert page.versions.get().kind == PageVersion.Kind.PUBLISH


def test_bad_jql_is_shown_in_the_configuration_and_not_saved(client, people, page_and_macro, static_source):
    page, macro = page_and_macro
    response = client_for(client, people["editor"]).post(
        reverse("macro_configure", args=[page.pk, macro.public_id]),
        {"title": "X", "level-0-jql": "project BAD", "level-0-fields": "key", "action": "save"},
    )
    assert response.status_code == 200
    assert "Expecting operator but got &#x27;BAD&#x27;." in response.content.decode()
    macro.refresh_from_db()
    assert macro.draft is None


def test_saved_but_unpublished_changes_do_not_change_the_page(client, people, page_and_macro, static_source):
    page, _macro = page_and_macro
    c = client_for(client, people["editor"])
    c.post(reverse("page_edit", args=[page.pk]), {"title": "Renamed", "body": "New body", "action": "save"})
    page.refresh_from_db()
    assert page.title == "Status"
    body = c.get(page.get_absolute_url()).content.decode()
    assert "unpublished changes in the draft" in body
    c.post(reverse("page_edit", args=[page.pk]), {"title": "Renamed", "body": "New body", "action": "publish"})
    page.refresh_from_db()
    assert page.title == "Renamed" and page.versions.count() == 2


def test_removing_and_reordering_macros_waits_for_publish(client, people, page_and_macro):
    from macros import pages as page_service

    page, first = page_and_macro
    draft = page_service.get_draft(page)
    second = page_service.add_macro(draft, "Second")
    page_service.publish(page, people["editor"])
    c = client_for(client, people["editor"])
    edit = reverse("page_edit", args=[page.pk])
    c.post(edit, {"title": "Status", "body": "", "action": f"up:{second.public_id}"})
    c.post(edit, {"title": "Status", "body": "", "action": f"remove:{first.public_id}"})
    assert [m.title for m in page.live_macros()] == ["Open issues", "Second"]
    c.post(edit, {"title": "Status", "body": "", "action": "publish"})
    assert [m.title for m in page.live_macros()] == ["Second"]
    first.refresh_from_db()
    assert first.deleted_at is not None, "a removed macro keeps its snapshots for the history"


def test_history_lists_versions_and_an_old_version_renders(client, people, page_and_macro, static_source):
    page, macro = page_and_macro
    _snapshot(macro)
    c = client_for(client, people["viewer"])
    history = c.get(reverse("page_history", args=[page.pk])).content.decode()
    assert "v1" in history and "v2" in history and "Snapshot" in history
    old = c.get(reverse("page_version", args=[page.pk, 2]))
    assert old.status_code == 200 and "WEB-5" in old.content.decode()
    assert c.get(reverse("page_version", args=[page.pk, 99])).status_code == 404


def test_sign_in_page(client, people):
    response = client.post("/accounts/login/", {"username": "viewer", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
