"""A generated site for the backup tests: several spaces, multi-level macros, snapshots that
differ, stickers, a schedule, a draft, macro keys and the global key; and the paths a
reader visits on it."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from automation import globalkeys, service
from automation.models import AutomationEvent
from conftest import PASSWORD
from macros import pages as page_service
from macros import schedules
from macros.models import Macro, MacroSchedule, Page, Snapshot, Space, SpacePermission
from macros.tests.history_helpers import issue, snapshot_of

ROOT = Path(__file__).resolve().parent.parent.parent
EPICS = "project = WEB AND issuetype = Epic ORDER BY key ASC"
CHILDREN = "parent = $key ORDER BY key ASC"
FLAT = "project = OPS ORDER BY key ASC"
Via = AutomationEvent.Via


@dataclass
class GeneratedSite:
    spaces: list[Space]
    pages: list[Page]
    macro_keys: dict[str, str] = field(default_factory=dict)  # macro public id -> raw key
    global_key: str = ""

    def reader_paths(self) -> list[str]:
        """Every page, history, version, comparison and export a reader can open."""
        paths = ["/"] + [f"/spaces/{s.key}/" for s in self.spaces]
        for page in Page.objects.filter(pk__in=[p.pk for p in self.pages]).order_by("pk"):
            paths += [f"/pages/{page.pk}/", f"/pages/{page.pk}/history/", f"/pages/{page.pk}/live"]
            paths += [f"/pages/{page.pk}/v/{n}/" for n in page.versions.values_list("number", flat=True)]
            for macro in page.macros.filter(deleted_at__isnull=True):
                finished = list(Snapshot.objects.filter(macro=macro, complete=True).order_by("taken_at"))
                if len(finished) >= 2:
                    paths.append(f"/pages/{page.pk}/macros/{macro.public_id}/compare/")
                    paths.append(f"/pages/{page.pk}/macros/{macro.public_id}/compare/?a={finished[0].pk}&b={finished[-1].pk}")
                for snapshot in finished:
                    paths.append(f"/pages/{page.pk}/snapshots/{snapshot.pk}/export.csv")
                    paths.append(f"/pages/{page.pk}/snapshots/{snapshot.pk}/export.json")
        return paths


def _epics(changed: bool = False) -> dict[str, list[dict]]:
    epics = [issue(n, issuetype={"name": "Epic"}) for n in (1, 2, 3)]
    children = {
        f"parent = WEB-{n} ORDER BY key ASC": [
            issue(10 * n + c, status="Done" if changed and c == 1 else "To Do", category="done" if changed and c == 1 else "new",
                  parent={"key": f"WEB-{n}"}, assignee=c)
            for c in range(1, 4)
        ]
        for n in (1, 2, 3)
    }
    return {EPICS: epics, **children}


def _flat(round_: int) -> list[dict]:
    return [issue(n, project="OPS", summary=f"Ops task {n} (round {round_})" if n % 3 == 0 else None, assignee=n) for n in range(1, 9 + round_)]


def build_site(people: dict, monkeypatch, *, sign_in_elsewhere: bool = False) -> GeneratedSite:
    """Build the site through the services people use (not by writing rows)."""
    editor, viewer = people["editor"], people["viewer"]
    for user in people.values() if sign_in_elsewhere else ():
        # A hash the restored site (production settings) can check: people sign in there.
        user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
        user.save(update_fields=["password"])
    group = Group.objects.get_or_create(name="release-managers")[0]
    spaces = []
    for key, name in (("team", "Team space"), ("ops", "Operations"), ("mob", "Mobile")):
        space = Space.objects.get_or_create(key=key, defaults={"name": name})[0]
        for user, level in ((editor, SpacePermission.Level.EDIT), (viewer, SpacePermission.Level.VIEW)):
            SpacePermission.objects.get_or_create(space=space, user=user, defaults={"level": level})
        SpacePermission.objects.get_or_create(space=space, group=group, defaults={"level": SpacePermission.Level.SNAPSHOT})
        spaces.append(space)
    site = GeneratedSite(spaces=spaces, pages=[])
    for space in spaces:
        # A two-level macro (epics, then each epic's children) and a flat one, on two pages.
        epics_page = _page_with_macros(space, editor, f"{space.name}: epics", [("Epics and their stories", [(EPICS, ["key", "summary", "status"]), (CHILDREN, ["key", "summary", "status", "assignee"])])])
        flat_page = _page_with_macros(space, editor, f"{space.name}: tasks", [("Tasks", [(FLAT, ["key", "summary", "assignee", "priority"])]), ("Same tasks, fewer columns", [(FLAT, ["key", "summary"])])])
        site.pages += [epics_page, flat_page]
        epics_macro = epics_page.macros.get()
        snapshot_of(epics_macro, monkeypatch, by_jql=_epics(), user=editor)
        second = snapshot_of(epics_macro, monkeypatch, by_jql=_epics(changed=True), user=editor)
        second.page_version.add_sticker("Sprint 12 end", editor)
        for macro in flat_page.macros.all():
            for round_ in (1, 2):
                snapshot_of(macro, monkeypatch, _flat(round_), user=editor)
        schedules.save_schedule(MacroSchedule(macro=epics_macro, kind=MacroSchedule.Kind.WEEKLY, time=time(6, 30), weekday=1, updated_by=editor))
        issued = service.enable(epics_macro, editor, via=Via.SCREEN)
        page_service.publish(epics_page, editor)
        site.macro_keys[str(epics_macro.public_id)] = issued.raw
    # A draft nobody published yet, and a sticker someone removed (the page's own audit).
    draft = page_service.get_draft(site.pages[1], editor)
    draft.body = "A change not yet published."
    draft.save()
    sticker, _ = site.pages[0].versions.filter(kind="snapshot").first().add_sticker("Temporary", editor)
    sticker.remove(editor)
    site.global_key = globalkeys.create(people["site_admin"], via=Via.SITE_ADMIN).raw
    return site


def _page_with_macros(space: Space, user, title: str, macros: list[tuple[str, list[tuple[str, list[str]]]]]) -> Page:
    page = page_service.create_page(space, title, f"Body of **{title}**.", user)
    draft = page_service.get_draft(page, user)
    for macro_title, levels in macros:
        macro = page_service.add_macro(draft, macro_title)
        page_service.save_macro_draft(
            macro,
            {"title": macro_title, "levels": [{"jql": jql, "fields": fields} for jql, fields in levels], "display": {"page_size": 25, "show_count": True}},
        )
    page_service.publish(page, user)
    page.refresh_from_db()
    return page


def macro_of(page: Page) -> Macro:
    return page.macros.order_by("position", "pk").first()


_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+|(<meta name="csrf-token" content=")[^"]+')


def comparable(body: bytes, site_url: str = "") -> str:
    """A response body with what differs per request (CSRF tokens) and per host blanked."""
    text = body.decode()
    text = _CSRF.sub(lambda m: (m.group(1) or m.group(2)) + "…", text)
    return text.replace(site_url, "SITE_URL") if site_url else text


def manage(*args: str, database_url: str, check: bool = True, **env) -> subprocess.CompletedProcess:
    """``manage.py`` in its own process, on another database."""
    import os

    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "DJANGO_SETTINGS_MODULE": "snapshots_site.settings", **env}
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
    return result


def target_database(kind: str, tmp_path: Path) -> str:
    """A new, empty database of ``kind`` for a restore; PostgreSQL's is dropped by ``drop_database``."""
    import os

    import pytest

    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    import psycopg

    url = os.environ.get("RESTORE_TEST_DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/snapshots_restore_{os.getpid()}"
    base, name = url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL to restore into ({exc})")
    return url


def drop_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def serve(database_url: str):
    """gunicorn on ``database_url`` at a free port, with SITE_URL set to its own address."""
    import contextlib
    import os
    import signal

    from automation.tests.servers import _wait_until_up, free_port

    @contextlib.contextmanager
    def running():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "snapshots_site.wsgi:application", "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "SITE_URL": url, "DJANGO_SETTINGS_MODULE": "snapshots_site.settings"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _wait_until_up(url, process)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    return running()
