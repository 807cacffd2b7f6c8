"""Site administration → Backup and restore in a real browser, with a real worker: back up a
space, follow the run until it succeeds, download the archive, upload it to restore."""

import pytest
from playwright.sync_api import expect

from automation.backup import Archive
from conftest import PASSWORD, publish_page_with_macro
from macros.models import Page, Space
from tests.conftest import SCREENSHOT_DIR, sign_in, start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_backs_up_a_space_downloads_it_and_restores_it(live_server, page_in_browser, space, people, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    page, _ = publish_page_with_macro(space, people["editor"], title="Release readiness")
    Space.objects.create(key="ops", name="Operations")
    worker = start_worker({"SNAPSHOTS_BACKUP_DIR": str(settings.BACKUP_DIR)})
    tab = page_in_browser
    try:
        sign_in(tab, live_server, "site_admin", PASSWORD)
        tab.goto(f"{live_server.url}/site-admin/")
        tab.get_by_role("link", name="Backup and restore").click()
        expect(tab.get_by_role("heading", name="Backup and restore", exact=True)).to_be_visible()

        tab.get_by_label("Chosen spaces").check()
        tab.get_by_label("Team space (team)").check()
        tab.get_by_role("button", name="Start backup").click()
        expect(tab.get_by_role("heading", name="Backup of space team")).to_be_visible()
        expect(tab.locator("#run-status")).to_have_text("Succeeded", timeout=60000)  # the page refreshes itself
        tab.screenshot(path=str(SCREENSHOT_DIR / "site-admin-backup.png"), full_page=True)
        with tab.expect_download() as download:
            tab.get_by_role("link", name="Download the archive").click()
        saved = tmp_path / "team.zip"
        download.value.save_as(saved)
        archive = Archive(saved)
        assert archive.manifest["spaces"] == ["team"] and archive.entries["macros.page"]["rows"] == 1
        archive.close()

        Space.objects.filter(key="team").delete()
        tab.goto(f"{live_server.url}/site-admin/backups/")
        expect(tab.get_by_role("cell", name="team", exact=True)).to_be_visible()
        tab.get_by_label("Backup archive (.zip)").set_input_files(str(saved))
        tab.get_by_role("button", name="Upload and restore").click()
        expect(tab.locator("#run-status")).to_have_text("Succeeded", timeout=60000)
        expect(tab.get_by_text("Restored space team")).to_be_visible()
        tab.goto(f"{live_server.url}/site-admin/backups/")
        tab.screenshot(path=str(SCREENSHOT_DIR / "site-admin-backups.png"), full_page=True)
    finally:
        stop_worker(worker)
    assert Page.objects.get(pk=page.pk).title == "Release readiness"
    tab.goto(f"{live_server.url}/pages/{page.pk}/")
    expect(tab.get_by_role("heading", name="Release readiness")).to_be_visible()
