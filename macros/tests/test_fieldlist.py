"""The site's copy of Jira's field list: read once, refreshed on a schedule, by the
**Refresh Jira fields** button, and when a macro names a field the copy lacks."""

from __future__ import annotations

import copy

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_q.models import Schedule

from conftest import publish_page_with_macro
from macros import fieldlist
from macros.models import JiraFieldList, SnapshotJob
from macros.snapshots import request_snapshot, take
from macros.sources import get_source
from macros.tests import jira_stub as stub
from macros.tests.jira_fields import FIELD_LIST, rich_issue
from macros.tests.jira_stub import Handler, json_response

NEW_FIELD = {"id": "customfield_10099", "name": "Customer impact", "custom": True,
             "schema": {"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "customId": 10099}}


class FieldList(Handler):
    """``GET /rest/api/3/field``: the current list, which a test can change."""

    def __init__(self):
        super().__init__()
        self.fields = copy.deepcopy(FIELD_LIST)
        self.failing = False

    def answer(self, request, body, index):
        if self.failing:
            # 401 rather than 503: a 503 is retried for the whole retry budget.
            return json_response({"errorMessages": []}, status=401, headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
        return json_response(self.fields)


@pytest.fixture
def jira(settings):
    server = stub.start_server()
    settings.JIRA_URL = stub.base_url(server)
    settings.JIRA_DEPLOYMENT = "cloud"
    settings.JIRA_USER = stub.USER
    settings.JIRA_TOKEN = stub.TOKEN
    listing = FieldList()
    server.expect_request("/rest/api/3/field", method="GET").respond_with_handler(listing)
    issue = rich_issue(1)
    issue["fields"]["customfield_10099"] = {"self": "…", "value": "Several customers", "id": "10400"}
    search = stub.FieldTypesSearch(cloud=True, by_jql={"project = WEB": [issue]})
    server.expect_request(stub.CLOUD_SEARCH, method="POST").respond_with_handler(search)
    server.expect_request(stub.CLOUD_COUNT, method="POST").respond_with_handler(lambda r: json_response({"count": 1}))
    yield listing
    server.clear()
    server.stop()


def test_it_reads_jiras_field_list_once_and_then_serves_the_sites_copy(db, jira):
    source = get_source()
    first = fieldlist.fields_of(source)
    source.forget_fields()  # another process: its memory is empty, the copy is shared
    again = fieldlist.fields_of(source)
    assert [f.id for f in first] == ["key", *(f["id"] for f in FIELD_LIST)] == [f.id for f in again]
    assert len(jira.seen) == 1
    sprint = next(f for f in again if f.id == "customfield_10020")
    assert sprint.name == "Sprint" and sprint.schema["custom"] == "com.pyxis.greenhopper.jira:gh-sprint"
    row = JiraFieldList.objects.get()
    assert row.site == source.site_url and len(row.fields) == len(FIELD_LIST) + 1


def test_a_macro_naming_a_field_the_copy_lacks_reads_the_list_again(db, jira, people, space):
    fieldlist.fields_of(get_source())
    jira.fields.append(NEW_FIELD)
    get_source().forget_fields()
    _, macro = publish_page_with_macro(space, people["editor"], fields=["key", "customfield_10099"])
    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=people["editor"])
    take(job.pk)
    job.refresh_from_db()
    assert job.status == SnapshotJob.Status.SUCCEEDED, job.error
    assert job.snapshot.columns[0][1] == {"id": "customfield_10099", "name": "Customer impact", "schema": NEW_FIELD["schema"]}
    assert len(jira.seen) == 2
    assert any(f["id"] == "customfield_10099" for f in JiraFieldList.objects.get().fields)


def test_the_refresh_button_reads_the_list_now(client, people, jira):
    client.force_login(people["site_admin"])
    page = client.get(reverse("jira_connection")).content.decode()
    assert "Refresh Jira fields" in page and "Customer impact" not in page
    jira.fields.append(NEW_FIELD)
    response = client.post(reverse("jira_refresh_fields"), follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Jira&#x27;s fields refreshed: {len(FIELD_LIST) + 2} fields, {sum(1 for f in FIELD_LIST if f['custom']) + 1} of them custom." in body
    assert "Customer impact" in body and "customfield_10099" in body
    assert len(jira.seen) == 2, "the button asks Jira even though the source remembered the list"


def test_a_failed_refresh_says_why_and_keeps_the_copy(client, people, jira):
    client.force_login(people["site_admin"])
    client.get(reverse("jira_connection"))
    jira.failing = True
    body = client.post(reverse("jira_refresh_fields"), follow=True).content.decode()
    assert "Could not refresh Jira&#x27;s fields:" in body and "401" in body
    assert "Story Points" in body, "the list shown is the copy"
    assert fieldlist.refresh_scheduled().startswith("failed: ")
    assert len(JiraFieldList.objects.get().fields) == len(FIELD_LIST) + 1


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_staff_refresh_and_only_by_post(client, people, jira, who):
    client.force_login(people[who])
    assert client.post(reverse("jira_refresh_fields")).status_code == 302
    assert not jira.seen
    client.force_login(people["site_admin"])
    assert client.get(reverse("jira_refresh_fields")).status_code == 405


def test_migrate_schedules_the_refresh(db, settings):
    settings.JIRA_FIELDS_REFRESH_MINUTES = 15
    call_command("migrate", verbosity=0)
    schedule = Schedule.objects.get(name="Refresh Jira fields")
    assert schedule.func == "macros.tasks.refresh_jira_fields" and schedule.minutes == 15 and schedule.repeats == -1


def test_the_scheduled_task_refreshes_the_copy(db, jira):
    from macros.tasks import refresh_jira_fields

    assert refresh_jira_fields() == f"{len(FIELD_LIST) + 1} fields"
    jira.fields.append(NEW_FIELD)
    assert refresh_jira_fields() == f"{len(FIELD_LIST) + 2} fields"
    assert len(jira.seen) == 2


def test_the_connection_screen_names_each_custom_fields_type(client, people, jira):
    client.force_login(people["site_admin"])
    body = client.get(reverse("jira_connection")).content.decode()
    assert "<td>Sprint</td><td><code>customfield_10020</code></td><td>array of json (gh-sprint)</td>" in body
    assert "<td>Region</td><td><code>customfield_10031</code></td><td>option-with-child (cascadingselect)</td>" in body
