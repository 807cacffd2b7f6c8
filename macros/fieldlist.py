"""The site's copy of Jira's field list: names and schemas, read from Jira now and then.

Jira's ``GET /field`` answer changes only when an administrator adds or renames a field,
so the configuration screen and the snapshots read the copy stored here. It is
refreshed on a django-q2 schedule (``JIRA_FIELDS_REFRESH_MINUTES``), by **Refresh Jira
fields** on the Jira connection screen, and by itself when a macro names a field the
copy does not know yet (a custom field created a moment ago).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from macros.models import JiraFieldList
from macros.sources import FieldInfo, Source, SourceError, get_source

log = logging.getLogger(__name__)


def site_of(source: Source) -> str:
    return source.site_url or source.name


def stored(source: Source) -> JiraFieldList | None:
    return JiraFieldList.objects.filter(site=site_of(source)).first()


def fields_of(source: Source, *, wanted: Iterable[str] = ()) -> list[FieldInfo]:
    """The field list, from the site's copy; read from Jira when there is none yet or it
    lacks one of ``wanted``. Raises ``SourceError`` only when there is no copy at all."""
    row = stored(source)
    if row is not None:
        known = {f["id"] for f in row.fields}
        if all(f in known for f in wanted if f != "key"):
            return _infos(row.fields)
    try:
        # Not fresh: the source's own short memory spares Jira a call per preview when
        # a macro names a field that does not exist at all.
        return refresh(source, fresh=False)
    except SourceError:
        if row is None:
            raise
        log.warning("could not refresh Jira's field list; using the copy of %s", row.refreshed_at)
        return _infos(row.fields)


def refresh(source: Source | None = None, *, fresh: bool = True) -> list[FieldInfo]:
    """Read the field list from Jira and store it; raises ``SourceError``."""
    source = source or get_source()
    if fresh:
        source.forget_fields()
    infos = source.fields()
    data = [{"id": f.id, "name": f.name, "custom": f.custom, "schema": f.schema} for f in infos]
    for _ in range(2):
        try:
            with transaction.atomic():
                JiraFieldList.objects.update_or_create(
                    site=site_of(source), defaults={"fields": data, "refreshed_at": timezone.now()}
                )
            break
        except IntegrityError:
            continue  # another process stored it between our read and our insert: update theirs
    return infos


def refresh_scheduled() -> str:
    """The schedule's task: a failure is logged and left for the next run."""
    try:
        count = len(refresh())
    except SourceError as exc:
        log.warning("scheduled refresh of Jira's field list failed: %s", exc)
        return f"failed: {exc}"
    return f"{count} fields"


def _infos(fields: list[dict]) -> list[FieldInfo]:
    return [
        FieldInfo(f["id"], f["name"], bool(f.get("custom")), (f.get("schema") or {}).get("type"), dict(f.get("schema") or {}))
        for f in fields
    ]
