"""Where issues come from: the configured Jira site, or the bundled Sample data."""

from __future__ import annotations

from django.conf import settings

from macros.sources.base import FieldInfo, Identity, JqlError, ResultPage, Source, SourceError

__all__ = ["FieldInfo", "Identity", "JqlError", "ResultPage", "Source", "SourceError", "get_source"]

_cached: dict[tuple, Source] = {}


def get_source() -> Source:
    """The source for this site's settings, built once per process (it keeps its HTTP pool)."""
    config = (settings.JIRA_URL, settings.JIRA_DEPLOYMENT, settings.JIRA_USER, settings.JIRA_TOKEN)
    source = _cached.get(config)
    if source is None:
        source = _cached[config] = _build(*config)
    return source


def _build(url: str, deployment: str, user: str, token: str) -> Source:
    if not url:
        from macros.sources.sample import Sample

        return Sample()
    from macros.sources import jira
    from macros.sources.concurrency import limiter_for

    if deployment == "auto":
        deployment = jira.detect_deployment(url)
    # Retries must end inside the job's own time limit, so that a Jira outage is reported
    # as one ("Jira was unavailable …") rather than as a snapshot that ran out of time.
    budget = max(5, min(120, settings.SNAPSHOT_JOB_TIMEOUT // 2))
    source_class = jira.JiraCloud if deployment == "cloud" else jira.JiraDataCenter
    limiter = limiter_for(
        jira._clean_url(url),
        redis_url=settings.REDIS_URL,
        prefix=settings.Q_CLUSTER_NAME,
        start=settings.JIRA_CONCURRENCY_START,
        maximum=settings.JIRA_CONCURRENCY_MAX,
    )
    return source_class(url, user, token, retry_budget_seconds=budget, limiter=limiter)
