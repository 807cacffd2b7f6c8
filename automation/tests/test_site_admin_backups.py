"""Site administration → Backup and restore: staff only; back up the site, chosen spaces or a
CSV of space keys (queued for the worker), follow progress, download, upload to restore."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from automation import backup_runs
from automation.backup import write_backup
from automation.models import AutomationEvent, BackupRun
from conftest import publish_page_with_macro
from macros.models import Page, Space

pytestmark = pytest.mark.django_db
URL = "/site-admin/backups/"


@pytest.fixture(autouse=True)
def _backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


@pytest.fixture
def admin_client(client, people):
    client.force_login(people["site_admin"])
    return client


@pytest.fixture
def spaces(space, people):
    publish_page_with_macro(space, people["editor"])
    ops = Space.objects.create(key="ops", name="Operations")
    publish_page_with_macro(ops, people["site_admin"], title="Ops status")
    Space.objects.create(key="mob", name="Mobile")
    return space, ops


def test_only_staff_see_backup_and_restore(client, people):
    client.force_login(people["space_admin"])
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"action": "backup", "scope": "site"}).status_code == 403
    assert not BackupRun.objects.exists()


def test_the_screen_offers_backup_restore_and_the_recent_runs(admin_client, spaces):
    response = admin_client.get(URL)

    text = response.content.decode()
    assert response.status_code == 200
    for label in ("Backup and restore", "The whole site", "Chosen spaces", "Spaces listed in a CSV file", "Team space (team)", "Backup archive (.zip)", "No backups yet."):
        assert label in text


def test_a_whole_site_backup_is_queued_then_followed_and_downloaded(admin_client, spaces, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client.post(URL, {"action": "backup", "scope": "site"})

    run = BackupRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/site-admin/backups/{run.pk}/"
    assert len(queued) == 1  # nothing is written in the request: the worker does it
    assert run.status == "queued" and not list((backup_runs.backup_dir()).iterdir())
    waiting = admin_client.get(response["Location"]).content.decode()
    assert "Status: <strong id=\"run-status\">Queued</strong>" in waiting and 'http-equiv="refresh"' in waiting

    backup_runs.run(str(run.pk))

    page = admin_client.get(response["Location"]).content.decode()
    assert "Succeeded" in page and "Download the archive" in page and 'http-equiv="refresh"' not in page
    download = admin_client.get(f"/site-admin/backups/{run.pk}/download")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content)[:2] == b"PK"
    listing = admin_client.get(URL).content.decode()
    assert "whole site" in listing and "Download" in listing
    made = AutomationEvent.objects.get(kind="backup_made")
    assert (made.via, made.actor, made.reason) == ("site_admin", people["site_admin"], "whole site")


def test_chosen_spaces_are_backed_up(admin_client, spaces):
    admin_client.post(URL, {"action": "backup", "scope": "spaces", "spaces": ["ops", "mob"]})

    run = BackupRun.objects.get()
    assert run.spaces == ["mob", "ops"]


def test_a_csv_of_space_keys_is_backed_up(admin_client, spaces):
    csv = SimpleUploadedFile("spaces.csv", b"Space key,Note\nteam,first\n\nops,second\n", content_type="text/csv")

    admin_client.post(URL, {"action": "backup", "scope": "csv", "csv_file": csv})

    assert BackupRun.objects.get().spaces == ["ops", "team"]


def test_a_csv_naming_an_unknown_space_is_refused_with_its_key(admin_client, spaces):
    csv = SimpleUploadedFile("spaces.csv", b"team\nnope\n", content_type="text/csv")

    response = admin_client.post(URL, {"action": "backup", "scope": "csv", "csv_file": csv}, follow=True)

    assert "There is no space with the key nope on this site." in response.content.decode()
    assert not BackupRun.objects.exists()


def test_no_space_ticked_is_refused(admin_client, spaces):
    response = admin_client.post(URL, {"action": "backup", "scope": "spaces"})

    assert "Tick at least one space" in response.content.decode()
    assert not BackupRun.objects.exists()


def test_an_uploaded_space_archive_is_checked_then_restored_on_the_worker(admin_client, spaces, tmp_path):
    archive = tmp_path / "ops.zip"
    write_backup(archive, ["ops"])
    Space.objects.filter(key="ops").delete()

    upload = SimpleUploadedFile("ops.zip", archive.read_bytes(), content_type="application/zip")
    response = admin_client.post(URL, {"action": "restore", "archive": upload, "dry_run": "on"})
    check = BackupRun.objects.get()
    backup_runs.run(str(check.pk))
    report = admin_client.get(response["Location"]).content.decode()
    assert "Would restore space ops" in report and "Nothing was written" in report
    assert not Space.objects.filter(key="ops").exists()

    upload = SimpleUploadedFile("ops.zip", archive.read_bytes(), content_type="application/zip")
    response = admin_client.post(URL, {"action": "restore", "archive": upload})
    run = BackupRun.objects.exclude(pk=check.pk).get()
    backup_runs.run(str(run.pk))

    assert "Restored space ops" in admin_client.get(response["Location"]).content.decode()
    assert Page.objects.filter(space__key="ops", title="Ops status").exists()
    assert AutomationEvent.objects.filter(kind="backup_restored", via="site_admin", reason="spaces: ops").exists()
    assert not list(backup_runs.backup_dir().glob("upload-*"))  # uploads are not kept once restored


def test_a_damaged_upload_fails_with_its_reason(admin_client, spaces):
    upload = SimpleUploadedFile("bad.zip", b"PK\x03\x04 not really", content_type="application/zip")
    response = admin_client.post(URL, {"action": "restore", "archive": upload})
    backup_runs.run(str(BackupRun.objects.get().pk))

    page = admin_client.get(response["Location"]).content.decode()
    assert "Failed" in page and "is not a complete Snapshots backup" in page
    assert AutomationEvent.objects.filter(kind="backup_failed").exists()
