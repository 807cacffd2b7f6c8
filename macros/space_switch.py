"""Snapshots switched off for one space, by a site administrator.

Off hides the space's tables (a notice says so) and refuses triggers for its macros; every
snapshot stays stored, so switching it back on shows everything as it was.
"""

from __future__ import annotations

from django.db import connection, transaction

from macros.models import Page, Snapshot, Space

SPACE_OFF_SENTENCE = (
    "Snapshots are switched off for this space by a site administrator; its snapshots are kept "
    "and come back when Snapshots is switched on again."
)

_sql: str | None = None


def snapshots_off_message(page_id: int) -> str | None:
    """Why a trigger for a macro on this page is refused, or None when its space is on.

    On the trigger's hot path: one written-out primary-key join, no ORM compilation.
    """
    global _sql
    if _sql is None:
        q = connection.ops.quote_name
        page, space = q(Page._meta.db_table), q(Space._meta.db_table)
        _sql = f"SELECT s.snapshots_enabled FROM {page} p INNER JOIN {space} s ON s.id = p.space_id WHERE p.id = %s"
    with connection.cursor() as cursor:
        cursor.execute(_sql, [page_id])
        row = cursor.fetchone()
    if row is None or row[0]:
        return None
    return SPACE_OFF_SENTENCE


def set_snapshots_enabled(space: Space, enabled: bool) -> bool:
    """Switch Snapshots on or off for a space; True when that changed anything."""
    with transaction.atomic():
        changed = Space.objects.filter(pk=space.pk).exclude(snapshots_enabled=enabled).update(snapshots_enabled=enabled)
    space.snapshots_enabled = enabled
    return bool(changed)


def stored_counts() -> dict[int, int]:
    """Finished snapshots kept per space (the admin screen says the data is still there)."""
    from django.db.models import Count

    rows = Snapshot.objects.finished().values("macro__page__space").annotate(n=Count("pk"))
    return {r["macro__page__space"]: r["n"] for r in rows}
