"""The backups endpoint (DESIGN §5): POST with the global key → 202 with the run; its status
carries download_url once it succeeded; the download needs the global key (401 without)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from automation import backup_runs, globalkeys, site
from automation.backup import Archive
from automation.models import AutomationEvent, BackupRun
from conftest import publish_page_with_macro
from macros.models import Space

Via = AutomationEvent.Via
URL = "/api/automation/v1/backups"


@pytest.fixture
def global_key(people) -> str:
    return globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN).raw


@pytest.fixture
def two_spaces(space, people):
    publish_page_with_macro(space, people["editor"])
    other = Space.objects.create(key="ops", name="Operations")
    publish_page_with_macro(other, people["site_admin"], title="Ops")
    return space, other


def post(client, key=None, body=None):
    headers = {} if key is None else {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return client.post(URL, data=data, content_type="application/json", **headers)


def get(client, path, key=None):
    headers = {} if key is None else {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
    return client.get(path, **headers)


@pytest.mark.django_db
def test_it_queues_a_whole_site_backup_and_answers_202_with_the_run(client, global_key, two_spaces, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, global_key)

    assert response.status_code == 202
    body = response.json()
    run = BackupRun.objects.get()
    assert body == {
        "job": str(run.pk),
        "kind": "backup",
        "status": "queued",
        "spaces": None,
        "created_at": body["created_at"],
        "finished_at": None,
        "progress": None,
        "error": None,
        "size": None,
        "status_url": f"http://127.0.0.1:8000/api/automation/v1/backups/{run.pk}",
        "download_url": None,
    }
    assert response["Location"] == body["status_url"]
    assert run.via == Via.API and run.key_lookup == globalkeys.current().lookup_id
    assert len(callbacks) == 1  # the worker gets the task once the run is committed


@pytest.mark.django_db
def test_its_status_carries_download_url_and_the_download_is_the_archive(client, global_key, two_spaces):
    run_id = post(client, global_key, {"spaces": ["ops"]}).json()["job"]
    backup_runs.run(run_id)  # what the worker does with the queued task

    status = get(client, f"{URL}/{run_id}", global_key)

    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "succeeded" and body["spaces"] == ["ops"]
    assert body["download_url"] == f"http://127.0.0.1:8000/api/automation/v1/backups/{run_id}/download"
    download = get(client, body["download_url"].removeprefix("http://127.0.0.1:8000"), global_key)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    assert len(data) == body["size"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["scope"] == "spaces" and manifest["spaces"] == ["ops"]
    assert next(t for t in manifest["tables"] if t["table"] == "macros.page")["rows"] == 1
    kinds = list(AutomationEvent.objects.filter(kind__startswith="backup").values_list("kind", "via", "reason"))
    assert sorted(kinds) == [("backup_downloaded", "api", "spaces: ops"), ("backup_made", "api", "spaces: ops")]


@pytest.mark.django_db
def test_the_download_needs_the_global_key(client, global_key, two_spaces, people):
    run_id = post(client, global_key).json()["job"]
    backup_runs.run(run_id)
    path = f"{URL}/{run_id}/download"

    missing = get(client, path)
    wrong = get(client, path, "snapglobal_aaaaaaaaaaaa_" + "x" * 43)
    client.force_login(people["site_admin"])  # a session is not a key
    session = get(client, path)

    assert (missing.status_code, missing.json()["code"]) == (401, "missing_api_key")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")
    assert (session.status_code, session.json()["code"]) == (401, "missing_api_key")


@pytest.mark.django_db
def test_a_macro_key_cannot_start_or_read_a_backup(client, automated, global_key):
    assert post(client, automated.key).json()["code"] == "invalid_api_key"
    run_id = post(client, global_key).json()["job"]
    assert get(client, f"{URL}/{run_id}", automated.key).json()["code"] == "invalid_api_key"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (b"{not json", "invalid_json", "The body is not valid JSON"),
        ({"spaces": "team"}, "invalid_body", '"spaces" is a list of space keys'),
        ({"spaces": []}, "invalid_body", "leave it out to back up the whole site"),
        ({"spaces": ["team", "nope"]}, "unknown_space", "There is no space with the key nope on this site."),
    ],
)
def test_a_bad_body_is_refused_with_a_sentence_and_queues_nothing(client, global_key, space, body, code, detail):
    response = post(client, global_key, body)

    assert response.status_code == 400
    assert response.json()["code"] == code and detail in response.json()["detail"]
    assert not BackupRun.objects.exists()


@pytest.mark.django_db
def test_unknown_runs_and_unfinished_downloads_answer_404(client, global_key, space):
    assert get(client, f"{URL}/not-a-uuid", global_key).status_code == 404
    assert get(client, f"{URL}/00000000-0000-0000-0000-000000000000", global_key).json()["code"] == "not_found"
    run_id = post(client, global_key).json()["job"]
    unfinished = get(client, f"{URL}/{run_id}/download", global_key)
    assert unfinished.status_code == 404 and "not finished yet" in unfinished.json()["detail"]


@pytest.mark.django_db
def test_a_chunked_body_names_the_spaces_and_a_large_one_is_refused(client, global_key, two_spaces):
    from io import BytesIO

    body = json.dumps({"spaces": ["ops"]}).encode()
    chunked = client.generic("POST", URL, b"", HTTP_TRANSFER_ENCODING="chunked", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key, **{"wsgi.input": BytesIO(body)})
    large = client.post(URL, data=b"x" * (1024 * 1024 + 1), content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=global_key)

    assert chunked.status_code == 202 and chunked.json()["spaces"] == ["ops"]
    assert (large.status_code, large.json()["code"]) == (413, "payload_too_large")


@pytest.mark.django_db
def test_the_site_switch_and_methods_apply(client, global_key, people):
    assert client.get(URL, HTTP_JIRA_SNAPSHOTS_API_KEY=global_key).status_code == 405
    site.set_automation_enabled(False, people["site_admin"], via=Via.SITE_ADMIN)
    response = post(client, global_key)
    assert (response.status_code, response.json()["code"]) == (403, "site_automation_disabled")


@pytest.mark.django_db
def test_old_backups_are_pruned_to_the_setting(client, global_key, space, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_KEEP = 2
    runs = []
    for _ in range(3):
        run_id = post(client, global_key).json()["job"]
        backup_runs.run(run_id)
        runs.append(BackupRun.objects.get(pk=run_id))

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(BackupRun.objects.get(pk=r.pk).file_name for r in runs[1:])
    oldest = BackupRun.objects.get(pk=runs[0].pk)
    assert oldest.file_name == "" and "pruned" in oldest.summary
    assert get(client, f"{URL}/{oldest.pk}", global_key).json()["download_url"] is None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_makes_the_backup_the_endpoint_queued(client, people, space, tmp_path, settings):
    from tests.conftest import start_worker, stop_worker, wait_for

    settings.BACKUP_DIR = tmp_path
    key = globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN).raw
    publish_page_with_macro(space, people["editor"])
    worker = start_worker({"SNAPSHOTS_BACKUP_DIR": str(tmp_path)})
    try:
        run_id = post(client, key).json()["job"]
        body = wait_for(lambda: (b := get(client, f"{URL}/{run_id}", key).json())["status"] in ("succeeded", "failed") and b, timeout=90, interval=0.3)
    finally:
        stop_worker(worker)

    assert body["status"] == "succeeded", body["error"]
    download = get(client, body["download_url"].removeprefix(settings.SITE_URL), key)
    saved = tmp_path / "downloaded.zip"
    saved.write_bytes(b"".join(download.streaming_content))
    archive = Archive(saved)
    assert archive.manifest["scope"] == "site"
    assert archive.entries["macros.page"]["rows"] == 1
    assert archive.verify(archive.entries["macros.snapshotrow"]) == archive.entries["macros.snapshotrow"]["rows"]
