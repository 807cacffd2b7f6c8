"""Restoring: damaged, truncated and newer archives, collisions with live data and a failure
half-way are each refused with a sentence, and leave the site as it was; a space moves into
a live site with its people matched by user name and its keys working."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from automation import backup
from automation.backup import BackupError, restore, write_backup
from automation.models import AutomationEvent, MacroKey
from automation.tests.backup_site import build_site, comparable, macro_of
from automation.tests.conftest import trigger
from macros.models import Macro, MacroSchedule, Page, PageVersion, Snapshot, SnapshotJob, SnapshotRow, Space, Sticker

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def site(people, monkeypatch):
    return build_site(people, monkeypatch)


@pytest.fixture
def team_archive(site, tmp_path):
    """A backup of space "team", and the site with that space deleted (so it could be restored)."""
    path = tmp_path / "team.zip"
    write_backup(path, ["team"])
    Space.objects.filter(key="team").delete()
    return path


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in (Space, Page, PageVersion, Macro, Snapshot, SnapshotRow, Sticker, MacroKey, User, Group)}


def rewrite(source, target, *, manifest=None, member=None, content=None) -> None:
    """Copy an archive, changing the manifest or one member's bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "manifest.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            if item.filename == member:
                data = content(data)
            new.writestr(item.filename, data)


def refused(path, match: str) -> str:
    before = counts()
    with pytest.raises(BackupError, match=match) as error:
        restore(path)
    assert counts() == before, "a refused restore wrote something"
    return str(error.value)


# --- refusals, before anything is written ------------------------------------------------


def test_a_truncated_archive_is_refused(team_archive, tmp_path):
    cut = tmp_path / "cut.zip"
    data = team_archive.read_bytes()
    cut.write_bytes(data[: len(data) // 2])

    message = refused(cut, "not a complete Snapshots backup")

    assert "truncated" in message
    restore(team_archive)  # the whole archive restores: the refusal was about the cut
    assert Space.objects.filter(key="team").exists()


def test_an_archive_with_a_changed_row_is_refused_by_its_checksum(team_archive, tmp_path):
    changed = tmp_path / "changed.zip"
    rewrite(team_archive, changed, member="data/macros.snapshotrow.jsonl", content=lambda data: data.replace(b"Issue number 1", b"Issue number 9", 1))

    refused(changed, r"damaged: data/macros.snapshotrow.jsonl does not match its checksum")


def test_an_archive_with_flipped_bytes_is_refused(team_archive, tmp_path):
    data = bytearray(team_archive.read_bytes())
    with zipfile.ZipFile(team_archive) as archive:
        rows = archive.getinfo("data/macros.snapshotrow.jsonl")
    middle = rows.header_offset + 30 + len(rows.filename) + rows.compress_size // 2
    data[middle] ^= 0xFF
    data[middle + 1] ^= 0xFF
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(data))

    refused(flipped, "The archive is damaged: data/macros.snapshotrow.jsonl")


def test_an_archive_from_a_newer_format_version_is_refused(team_archive, tmp_path):
    newer = tmp_path / "newer.zip"
    rewrite(team_archive, newer, manifest=lambda m: {**m, "format_version": backup.FORMAT_VERSION + 1})

    message = refused(newer, "format version 2")

    assert "Upgrade Snapshots on this site" in message


def test_an_archive_from_a_newer_database_schema_is_refused(team_archive, tmp_path):
    newer = tmp_path / "newer.zip"
    rewrite(team_archive, newer, manifest=lambda m: {**m, "migrations": {**m["migrations"], "macros": [*m["migrations"]["macros"], "0999_future"]}})

    refused(newer, r"newer version of Snapshots \(its database has migration macros.0999_future")


def test_a_manifest_with_a_damaged_table_entry_is_refused(team_archive, tmp_path):
    damaged = tmp_path / "damaged.zip"
    rewrite(team_archive, damaged, manifest=lambda m: {**m, "tables": [{k: v for k, v in t.items() if k != "sha256"} for t in m["tables"]]})

    refused(damaged, "manifest of damaged.zip is damaged: a table's entry lacks")


def test_a_file_that_is_not_a_backup_is_refused(tmp_path, site):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")

    refused(other, "is not a Snapshots backup: it has no manifest.json")


def test_a_space_whose_key_exists_here_is_refused(site, tmp_path):
    path = tmp_path / "team.zip"
    write_backup(path, ["team"])

    refused(path, "already has the space key team")


def test_a_space_whose_page_ids_exist_here_is_refused(site, tmp_path):
    path = tmp_path / "team.zip"
    write_backup(path, ["team"])
    Space.objects.filter(key="team").update(key="renamed")

    message = refused(path, "already has the page ids")

    assert str(site.pages[0].pk) in message


def test_a_space_whose_macro_ids_exist_here_is_refused(site, tmp_path):
    path = tmp_path / "team.zip"
    write_backup(path, ["team"])
    moved = macro_of(site.pages[0])
    Macro.objects.filter(pk=moved.pk).update(page=site.pages[2])  # the macro now lives in space ops
    Space.objects.filter(key="team").delete()

    refused(path, f"already has the macro id {moved.public_id}")


def test_a_whole_site_is_not_restored_over_a_site_with_data(site, tmp_path):
    path = tmp_path / "site.zip"
    write_backup(path)

    message = refused(path, "a whole site is restored into an empty one")

    assert "users" in message and "spaces" in message


def test_a_failure_half_way_leaves_the_site_as_it_was(team_archive, monkeypatch):
    real_insert = backup._insert

    def insert(table, columns, batch):
        if table.label == "macros.snapshotrow":
            real_insert(table, columns, batch)
            raise backup.DatabaseError("disk full")
        real_insert(table, columns, batch)

    monkeypatch.setattr(backup, "_insert", insert)

    message = refused(team_archive, "The database refused the archive's rows; nothing was restored. \\(disk full\\)")

    assert "team" not in message


# --- dry run and space restores ---------------------------------------------------------


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(team_archive, people):
    User.objects.filter(username="viewer").delete()
    before = counts()

    report = restore(team_archive, dry_run=True)

    assert counts() == before
    lines = "\n".join(report.lines())
    assert lines.startswith("Would restore space team:")
    assert "macros.snapshotrow: " in lines
    assert "People matched to this site's users by user name: editor" in lines
    assert "created as inactive users without a password (an administrator activates them and sets a password): viewer" in lines
    assert "Nothing was written (--dry-run)." in lines


def test_a_space_moves_into_a_live_site_reading_the_same_with_its_keys(site, people, client, tmp_path):
    team_pages = [p for p in site.pages if p.space.key == "team"]
    client.force_login(people["viewer"])
    paths = [path for path in site.reader_paths() if any(path.startswith(f"/pages/{p.pk}/") for p in team_pages)]
    # Row ids, and the macro's row id in its table's parameter names (q12=, p12=…): a space
    # moved into a live site keeps its page and macro public ids, not its row ids.
    ids = re.compile(
        r"/snapshots/\d+/|value=\"\d+\"|(?:[?&]|&amp;)[ab]=\d+|snapshot=\"?\d+|\"snapshot\": \d+"
        r"|prefix=\"\d+\"|(?:filter|title)-\d+|(?:[?&\"]|&amp;)[qpsxo]\d+[=\"]"
    )

    def read(path):
        response = client.get(path)
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return ids.sub("#", comparable(body))

    readable = [p for p in paths if "/snapshots/" not in p and "?a=" not in p and not p.endswith("/live")]
    before = {path: read(path) for path in readable}
    path = tmp_path / "team.zip"
    write_backup(path, ["team"])
    Space.objects.filter(key="team").delete()
    Group.objects.filter(name="release-managers").delete()
    User.objects.filter(username="viewer").delete()

    report = restore(path)

    assert report.people_mapped == ["editor"] and report.people_created == ["viewer"] and report.groups_created == ["release-managers"]
    viewer = User.objects.get(username="viewer")
    assert not viewer.is_active and not viewer.has_usable_password()
    viewer.is_active = True
    viewer.save()
    client.force_login(viewer)
    for path in readable:
        assert read(path) == before[path], path
    assert Page.objects.filter(pk__in=[p.pk for p in team_pages]).count() == 2  # page ids kept
    macro_id, key = next((m, k) for m, k in site.macro_keys.items() if Macro.objects.get(public_id=m).page.space.key == "team")
    answer = trigger(client, f"/api/automation/v1/macros/{macro_id}/snapshots", key)
    assert answer.status_code == 202, answer.content
    schedule = MacroSchedule.objects.get(macro__public_id=macro_id)
    from django_q.models import Schedule

    assert Schedule.objects.get(pk=schedule.q_schedule_id).cron == "30 6 * * 1"


def test_a_job_unfinished_at_backup_time_is_settled_on_restore(team_archive, site):
    with zipfile.ZipFile(team_archive) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    fields = next(t for t in manifest["tables"] if t["table"] == "macros.snapshotjob")["fields"]
    status = fields.index("status")

    def requeue(data: bytes) -> bytes:
        rows = [json.loads(line) for line in data.splitlines()]
        rows[-1][status] = "running"
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)

    def fix(m):
        # The changed member's checksum, as a backup made while the job ran would carry.
        import hashlib

        buffer = io.BytesIO()
        with zipfile.ZipFile(team_archive) as archive:
            buffer.write(requeue(archive.read("data/macros.snapshotjob.jsonl")))
        entry = next(t for t in m["tables"] if t["table"] == "macros.snapshotjob")
        entry["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        return m

    changed = team_archive.with_name("running.zip")
    rewrite(team_archive, changed, manifest=fix, member="data/macros.snapshotjob.jsonl", content=requeue)

    restore(changed)

    settled = SnapshotJob.objects.filter(macro__page__space__key="team", status="failed")
    assert [job.error for job in settled] == ["The site was restored from a backup before this snapshot was finished; take it again."]
    assert not SnapshotJob.objects.filter(status__in=["queued", "running"]).exists()


def test_every_table_of_the_apps_is_carried_or_skipped_for_a_reason():
    from django.apps import apps

    carried = {t.label for t in backup.tables()}
    for label in backup.APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            name = model._meta.label_lower
            assert name in carried or name in backup.SKIPPED, name
    assert {"macros.snapshotrow", "macros.sticker", "automation.macrokey", "automation.globalkey", "auth.user"} <= carried


def test_the_audit_log_records_a_command_backup_and_restore(team_archive, tmp_path):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("restore", str(team_archive), stdout=out)
    call_command("backup", "--output", str(tmp_path / "again.zip"), "--space", "team", stdout=out)

    assert "Restored space team:" in out.getvalue() and "Backed up space team to" in out.getvalue()
    kinds = list(AutomationEvent.objects.filter(via="command", kind__startswith="backup").order_by("pk").values_list("kind", "reason"))
    assert kinds == [("backup_restored", "spaces: team"), ("backup_made", "spaces: team")]
