"""A pytest plugin for CI: a step that ran fewer tests than it should fails.

A reliability step in which every test was skipped (a missing environment variable, a
service not found) used to pass. Loaded with ``-p tests.ci_counts``:

    --min-passed N    fail the run when fewer than N tests passed
    --max-skipped N   fail the run when more than N tests were skipped (0: none may be)
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci counts")
    group.addoption("--min-passed", type=int, default=None, help="fail when fewer tests passed")
    group.addoption("--max-skipped", type=int, default=None, help="fail when more tests were skipped")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    passed = len(reporter.stats.get("passed", []))
    skipped = len(reporter.stats.get("skipped", []))
    minimum, maximum = config.getoption("min_passed"), config.getoption("max_skipped")
    problems = []
    if minimum is not None and passed < minimum:
        problems.append(f"only {passed} tests passed, fewer than the {minimum} this step must run")
    if maximum is not None and skipped > maximum:
        reasons = sorted({str(r.longrepr[-1]) if isinstance(r.longrepr, tuple) else str(r.longrepr) for r in reporter.stats["skipped"]})
        problems.append(f"{skipped} tests were skipped, more than the {maximum} allowed: {'; '.join(reasons)[:500]}")
    if problems:
        reporter.write_line("CI counts: " + "; ".join(problems), red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
