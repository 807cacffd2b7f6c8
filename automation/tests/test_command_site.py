"""python manage.py automation site --enable|--disable and global-key create|revoke (DESIGN §6)."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from automation.models import AutomationEvent, GlobalKey
from automation.tests.conftest import trigger
from macros.models import SiteSettings

pytestmark = pytest.mark.django_db
Kind = AutomationEvent.Kind


def run(*args) -> str:
    out = StringIO()
    call_command("automation", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_site_disable_refuses_calls_and_enable_brings_them_back(client, automated):
    assert run("site", "--disable").strip() == (
        "Automation is off for this site: every call is refused (403 site_automation_disabled); macro settings are kept."
    )
    assert SiteSettings.load().automation_enabled is False
    assert trigger(client, automated, automated.key).json()["code"] == "site_automation_disabled"

    assert "Automation is on for this site" in run("site", "--enable")
    assert trigger(client, automated, automated.key).status_code == 202
    assert [(e.kind, e.via, e.actor) for e in AutomationEvent.objects.filter(kind__startswith="site_").order_by("pk")] == [
        (Kind.SITE_DISABLED, "command", None),
        (Kind.SITE_ENABLED, "command", None),
    ]


def test_site_says_when_nothing_changed(db):
    assert run("site", "--enable").strip() == "Automation was already on for this site."


def test_site_needs_exactly_one_of_enable_and_disable(db):
    with pytest.raises(CommandError):
        run("site")
    with pytest.raises(CommandError):
        run("site", "--enable", "--disable")


def test_global_key_create_json_prints_the_key_and_its_expiry_once(client, automated):
    body = json.loads(run("global-key", "create", "--json"))

    assert set(body) == {"api_key", "expires_at"}
    key = GlobalKey.objects.get()
    assert body["api_key"].startswith(f"snapglobal_{key.lookup_id}_")
    assert datetime.fromisoformat(body["expires_at"]) == key.expires_at
    assert timedelta(days=89) < key.expires_at - timezone.now() <= timedelta(days=90)
    assert trigger(client, automated, body["api_key"]).status_code == 202
    assert AutomationEvent.objects.get(kind=Kind.GLOBAL_KEY_CREATED).via == "command"


def test_global_key_create_with_days_and_as_text(db):
    out = run("global-key", "create", "--days", "7")

    key = GlobalKey.objects.get()
    assert timedelta(days=6) < key.expires_at - timezone.now() <= timedelta(days=7)
    assert f"Global API key: snapglobal_{key.lookup_id}_" in out
    assert "This is the only time the key is shown" in out


def test_global_key_create_again_replaces_the_key(client, automated):
    first = json.loads(run("global-key", "create", "--json"))["api_key"]
    second = json.loads(run("global-key", "create", "--json"))["api_key"]

    assert trigger(client, automated, first).json()["code"] == "invalid_api_key"
    assert trigger(client, automated, second).status_code == 202
    assert GlobalKey.objects.active().count() == 1
    assert AutomationEvent.objects.filter(kind=Kind.GLOBAL_KEY_REGENERATED).count() == 1


def test_global_key_revoke(client, automated):
    raw = json.loads(run("global-key", "create", "--json"))["api_key"]

    assert run("global-key", "revoke").strip() == "The global API key is revoked; it no longer works."
    assert trigger(client, automated, raw).json()["code"] == "invalid_api_key"
    assert run("global-key", "revoke").strip() == "There is no global API key to revoke."
    assert AutomationEvent.objects.filter(kind=Kind.GLOBAL_KEY_REVOKED).count() == 1


def test_global_key_refuses_a_bad_number_of_days(db):
    with pytest.raises(CommandError, match="1 to 3650 days"):
        run("global-key", "create", "--days", "0")
    assert not GlobalKey.objects.exists()


def test_the_real_command_line_prints_json_and_exits_0(transactional_db, tmp_path):
    from tests.conftest import ROOT, database_url_for_subprocess

    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "DJANGO_SETTINGS_MODULE": "snapshots_site.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "automation", "global-key", "create", "--days", "30", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"api_key", "expires_at"}
    assert GlobalKey.objects.count() == 1
