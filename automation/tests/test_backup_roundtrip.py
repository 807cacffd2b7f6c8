"""A whole site moves: backup → restore into an empty database (SQLite, PostgreSQL) → every
page, history, comparison and export reads the same on the new host, the same people sign
in with the same passwords, and every key works on the new site's URL."""

from __future__ import annotations

import json
import zipfile

import pytest
import requests

from automation.backup import write_backup
from automation.tests.backup_site import build_site, comparable, drop_database, manage, serve, target_database
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _manifest(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def _rows(path, table: str) -> list:
    """The table's rows with JSON fields read as documents (PostgreSQL's jsonb prints its own way)."""
    from django.apps import apps
    from django.db.models import JSONField

    fields = _manifest(path)["tables"]
    names = next(t["fields"] for t in fields if t["table"] == table)
    model = apps.get_model(table)
    documents = [i for i, name in enumerate(names) if isinstance(next(f for f in model._meta.concrete_fields if f.attname == name), JSONField)]
    with zipfile.ZipFile(path) as archive:
        rows = [json.loads(line) for line in archive.read(f"data/{table}.jsonl").splitlines()]
    for row in rows:
        for i in documents:
            row[i] = json.loads(row[i]) if row[i] is not None else None
    return rows


def _sign_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=30)
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, f"{username} could not sign in on the restored site"
    return session


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_a_whole_site_restored_into_an_empty_database_reads_the_same_and_its_keys_work(target, people, monkeypatch, client, tmp_path, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    site = build_site(people, monkeypatch, sign_in_elsewhere=True)
    client.force_login(people["viewer"])
    paths = site.reader_paths()
    before = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        before[path] = comparable(b"".join(response.streaming_content) if response.streaming else response.content, settings.SITE_URL)
    archive = tmp_path / "site.zip"
    made = write_backup(archive)

    url = target_database(target, tmp_path)
    try:
        manage("migrate", "--noinput", database_url=url)
        manage("createcachetable", database_url=url)
        restored = manage("restore", str(archive), database_url=url)
        assert f"Restored the whole site: {made.rows} rows." in restored.stdout

        # The new site's own backup holds the same rows, byte for byte, but for what a
        # restore makes again (django-q2 schedule ids) and its own audit row.
        again = tmp_path / "again.zip"
        manage("backup", "--output", str(again), database_url=url)
        old = {t["table"]: t for t in made.manifest["tables"]}
        new = {t["table"]: t for t in _manifest(again)["tables"]}
        assert old.keys() == new.keys()
        for table in old:
            if table in ("macros.macroschedule", "automation.automationevent"):
                assert new[table]["rows"] == old[table]["rows"] + (table == "automation.automationevent"), table
            elif new[table]["sha256"] != old[table]["sha256"]:
                # PostgreSQL's jsonb keeps an object's keys in its own order: same rows, other bytes.
                assert _rows(again, table) == _rows(archive, table), table

        with serve(url) as base:
            viewer = _sign_in(base, "viewer")
            for path in paths:
                response = viewer.get(base + path, timeout=30)
                assert response.status_code == 200, path
                if path.endswith((".json", "/live")):
                    # Same document; PostgreSQL's jsonb may hand an issue's keys back in another order.
                    assert json.loads(comparable(response.content, base)) == json.loads(before[path]), path
                else:
                    assert comparable(response.content, base) == before[path], f"{path} reads differently after the move"
            admin = _sign_in(base, "site_admin")
            assert "Backup and restore" in admin.get(f"{base}/site-admin/", timeout=30).text

            for macro_id, key in site.macro_keys.items():
                answer = requests.post(f"{base}/api/automation/v1/macros/{macro_id}/snapshots", headers={"jira-snapshots-api-key": key}, timeout=30)
                assert answer.status_code == 202, answer.text
                assert answer.json()["status_url"].startswith(f"{base}/api/automation/v1/jobs/")
            one, other = list(site.macro_keys)[:2]
            refused = requests.post(f"{base}/api/automation/v1/macros/{other}/snapshots", headers={"jira-snapshots-api-key": site.macro_keys[one]}, timeout=30)
            assert refused.status_code == 401 and refused.json()["code"] == "invalid_api_key"
            page = site.pages[1]
            answer = requests.post(f"{base}/take-snapshot/{page.pk}", headers={"jira-snapshots-api-key": site.global_key}, timeout=30)
            assert answer.status_code == 202, answer.text
            assert len(answer.json()["jobs"]) == 2
    finally:
        drop_database(url)
