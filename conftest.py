"""Shared fixtures: the five people every permission test needs, a space, a published page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from macros import pages as page_service
from macros.models import Macro, Page, Space, SpacePermission
from macros.sources.base import FieldInfo, Identity, JqlError, ResultPage, Source, SourceError

PASSWORD = "correct horse battery"

# settings.py names the SQLite test database after the process that read the settings.
_TEST_DB_PID = re.compile(r"(?<=^test-)\d+(?=\.sqlite3)")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """One SQLite test database per process that runs a test session, not per settings read.

    settings.py fixes the file name (``var/test-<pid>.sqlite3``) when the settings are
    read. mutmut reads them once (its first pytest session, or its fork server's
    collection), then forks a child per mutant, and each child runs a pytest session of
    its own: with two children at once both would create, use and delete the same file
    and fail each other's tests, which counts mutants as killed that are not. Here a
    session in a process other than the one that read the settings renames the file
    after its own pid; a plain ``pytest`` run (same pid) is unchanged. This runs after
    pytest-django's xdist/tox suffixes, which come after the ``.sqlite3``.
    """
    from django.conf import settings

    for db in settings.DATABASES.values():
        name = (db.get("TEST") or {}).get("NAME")
        if db["ENGINE"] == "django.db.backends.sqlite3" and name:
            path = Path(name)
            db["TEST"]["NAME"] = str(path.with_name(_TEST_DB_PID.sub(str(os.getpid()), path.name, count=1)))


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Argon2 is what production uses; tests create many users and don't measure it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Coalesced automation calls are counted in batches that a timer thread writes on its
    # own connection, which a test's open transaction would hold up: here each call is
    # written at once (automation/tests/test_audit.py tests the batches).
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 0


def make_issue(n: int, project: str = "WEB", status: str = "To Do", category: str = "new", **fields) -> dict:
    return {
        "id": str(10000 + n),
        "key": f"{project}-{n}",
        "self": f"https://example.atlassian.net/rest/api/3/issue/{10000 + n}",
        "fields": {
            "summary": f"Issue number {n}",
            "status": {"name": status, "statusCategory": {"key": category, "name": {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[category]}},
            "assignee": None,
            **fields,
        },
    }


class StaticSource(Source):
    """A real Source over a fixed list of issues, for service tests that are not about a source.

    ``fail_after`` pages raises ``failure``; ``by_jql`` answers per query (multi-level).
    """

    name = "static"

    def __init__(self, issues: list[dict] | None = None, *, by_jql: dict[str, list[dict]] | None = None,
                 fail_after: int | None = None, failure: Exception | None = None, page_size: int | None = None):
        self.issues = issues or []
        self.by_jql = by_jql or {}
        self.fail_after = fail_after
        self.failure = failure or SourceError("Jira was unavailable (HTTP 503).")
        self.page_size = page_size
        self.calls: list[str] = []

    def search_pages(self, jql: str, fields: list[str], *, page_size: int = 100) -> Iterator[ResultPage]:
        self.calls.append(jql)
        if "BAD" in jql:
            raise JqlError(["Error in the JQL Query: Expecting operator but got 'BAD'."])
        issues = self.by_jql.get(jql, self.issues)
        size = self.page_size or page_size
        for page_number, start in enumerate(range(0, max(len(issues), 1), size)):
            if self.fail_after is not None and page_number >= self.fail_after:
                raise self.failure
            yield ResultPage(issues[start : start + size], len(issues))

    def fields(self) -> list[FieldInfo]:
        return [FieldInfo("summary", "Summary"), FieldInfo("status", "Status"), FieldInfo("assignee", "Assignee")]

    def myself(self) -> Identity:
        return Identity("Static", "static")


@pytest.fixture
def static_source(monkeypatch) -> StaticSource:
    source = StaticSource([make_issue(n) for n in range(1, 8)])
    use_source(monkeypatch, source)
    return source


def use_source(monkeypatch, source: Source) -> None:
    """Make ``macros.sources.get_source()`` answer ``source`` for this test."""
    monkeypatch.setattr("macros.sources._cached", {})
    monkeypatch.setattr("macros.sources._build", lambda *config: source)


@pytest.fixture
def people(db) -> dict:
    User = get_user_model()
    people = {}
    for name in ("site_admin", "space_admin", "editor", "snapshotter", "viewer", "outsider"):
        people[name] = User.objects.create_user(name, f"{name}@example.com", PASSWORD)
    people["site_admin"].is_staff = people["site_admin"].is_superuser = True
    people["site_admin"].save()
    return people


@pytest.fixture
def space(people) -> Space:
    space = Space.objects.create(key="team", name="Team space")
    group = Group.objects.create(name="release-managers")
    people["snapshotter"].groups.add(group)
    SpacePermission.objects.create(space=space, user=people["space_admin"], level=SpacePermission.Level.ADMIN)
    SpacePermission.objects.create(space=space, user=people["editor"], level=SpacePermission.Level.EDIT)
    SpacePermission.objects.create(space=space, group=group, level=SpacePermission.Level.SNAPSHOT)
    SpacePermission.objects.create(space=space, user=people["viewer"], level=SpacePermission.Level.VIEW)
    return space


def redis_or_skip(url: str):
    """A client of the Redis at ``url`` (tests that need a real one), or the test skipped
    when none answers there."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url}")
    return client


def delete_redis_keys(client, prefix: str) -> None:
    """What a test wrote under its own key prefix."""
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def publish_page_with_macro(space: Space, user, *, jql: str = "project = WEB", fields=None, title="Status") -> tuple[Page, Macro]:
    page = page_service.create_page(space, title, "Some **text**.", user)
    draft = page_service.get_draft(page, user)
    macro = page_service.add_macro(draft, "Open issues")
    page_service.save_macro_draft(
        macro, {"title": "Open issues", "levels": [{"jql": jql, "fields": fields or ["key", "summary", "status"]}], "display": {"page_size": 25, "show_count": True}}
    )
    page_service.publish(page, user)
    page.refresh_from_db()
    macro.refresh_from_db()
    return page, macro


@pytest.fixture
def page_and_macro(space, people) -> tuple[Page, Macro]:
    return publish_page_with_macro(space, people["editor"])
