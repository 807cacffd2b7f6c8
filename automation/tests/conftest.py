"""Fixtures for the automation tests: a macro with live automation and its one-time key."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from django.core.cache import cache

from automation import calls, service
from automation.models import AutomationEvent
from automation.throttles import key_calls
from macros import pages as page_service
from macros.models import Macro, Page

Via = AutomationEvent.Via


@pytest.fixture(autouse=True)
def _fresh_throttles(request, settings):
    # Throttle history lives in the cache table, which database flushes leave alone, and
    # in this process's leases of the per-key limit.
    key_calls.reset()
    # Tests read the audit right after a call; batching has tests of its own.
    settings.AUTOMATION_COUNT_FLUSH_SECONDS = 0
    names = set(request.fixturenames)
    if request.node.get_closest_marker("django_db") is None:
        if names & {"transactional_db", "live_server"}:
            request.getfixturevalue("transactional_db")
        elif "db" in names:
            request.getfixturevalue("db")
        else:
            yield
            return
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_lookup_sql(monkeypatch):
    # calls.py builds its lookups' SQL once per process; mutmut forks each mutant's run from a
    # process that already built them, so each test builds them anew to test the building.
    for name in ("_sql", "_global_sql", "_macro_sql"):
        monkeypatch.setattr(calls, name, None)


@pytest.fixture
def fresh_minute():
    """Start well inside a minute: the per-key limit counts per clock minute, so a test of
    "n calls, then a refusal" that straddled a minute's end got a fresh allowance midway."""
    into = time.time() % 60
    if into > 50:
        time.sleep(60.05 - into)


@dataclass
class Automated:
    page: Page
    macro: Macro
    key: str
    url: str

    @property
    def path(self) -> str:
        return f"/api/automation/v1/macros/{self.macro.public_id}/snapshots"


def enable_and_publish(page: Page, macro: Macro, user) -> Automated:
    issued = service.enable(macro, user, via=Via.SCREEN)
    page_service.publish(page, user)
    macro.refresh_from_db()
    return Automated(page, macro, issued.raw, issued.url)


@pytest.fixture
def automated(page_and_macro, people) -> Automated:
    page, macro = page_and_macro
    return enable_and_publish(page, macro, people["editor"])


def trigger(client, automated_or_path, key: str | None = None, **extra):
    path = automated_or_path if isinstance(automated_or_path, str) else automated_or_path.path
    headers = {} if key is None else {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
    return client.post(path, **headers, **extra)
