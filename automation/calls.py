"""What one API call needs to know, read in one query.

The trigger is the hot path (DESIGN §8: ≥ 50% of a bare DRF view's throughput). The ORM
spent ~1 ms per call compiling the key lookup with its select_related columns, more than
the rest of the call, so this one statement is written out: the key by its unique lookup
id, its macro, the macro's automation, the site switch, and the macro's queued job if
any (served by the partial unique index ``one_queued_job_per_macro``). A caller that
finds a queued job has its answer (coalesced) without another query; otherwise
``request_snapshot`` queues or joins one, race-free.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from django.db import connection

from automation import keys
from automation.models import GlobalKey, MacroAutomation, MacroKey
from macros.models import Macro, Page, SiteSettings, SnapshotJob, Space


@dataclass(frozen=True)
class CallTarget:
    """A macro as an automation call sees it."""

    macro_pk: int
    public_id: uuid.UUID
    page_id: int
    published: bool
    deleted: bool
    automation_enabled: bool = False
    live_since: datetime | None = None
    automation_pk: int | None = None
    last_called_at: datetime | None = None
    queued_job_id: uuid.UUID | None = None
    space_enabled: bool = True  # Snapshots switched off for the macro's space refuses triggers

    @property
    def automation_live(self) -> bool:
        return self.automation_enabled and self.live_since is not None and self.published and not self.deleted

    def macro(self) -> Macro:
        """A reference for foreign keys and ``request_snapshot`` (not a full instance)."""
        return Macro(pk=self.macro_pk, public_id=self.public_id, page_id=self.page_id)


@dataclass(frozen=True)
class KeyGrant:
    """An active macro key with its macro, and the site switch, as one row returned them."""

    kind: ClassVar[str] = keys.KeyKind.MACRO
    pk: int
    lookup_id: str
    hash: str
    target: CallTarget
    site_automation_enabled: bool

    def __repr__(self) -> str:
        return f"KeyGrant(lookup_id={self.lookup_id!r}, macro={self.target.public_id})"


_sql: str | None = None


def _lookup_sql() -> str:
    global _sql
    if _sql is None:
        q = connection.ops.quote_name
        key, macro, automation = (q(m._meta.db_table) for m in (MacroKey, Macro, MacroAutomation))
        site, job = q(SiteSettings._meta.db_table), q(SnapshotJob._meta.db_table)
        _sql = (
            "SELECT k.id, k.hash, m.id, m.public_id, m.page_id, m.published_at, m.deleted_at,"
            " a.id, a.enabled, a.live_since, a.last_called_at,"
            f" (SELECT s.automation_enabled FROM {site} s WHERE s.id = 1), j.id, {_space_enabled_sql('m')}"
            f" FROM {key} k"
            f" INNER JOIN {macro} m ON m.id = k.macro_id"
            f" LEFT OUTER JOIN {automation} a ON a.macro_id = m.id"
            f" LEFT OUTER JOIN {job} j ON j.macro_id = m.id AND j.status = %s"
            " WHERE k.lookup_id = %s AND k.revoked_at IS NULL"
        )
    return _sql


def find_key(presented: keys.PresentedKey | None) -> KeyGrant | None:
    """The active macro key a request presented (by lookup id; the secret is not checked here)."""
    if presented is None or presented.kind != keys.KeyKind.MACRO:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [SnapshotJob.Status.QUEUED.value, presented.lookup_id])
        row = cursor.fetchone()
    if row is None:
        return None
    (key_pk, key_hash, macro_pk, public_id, page_id, published_at, deleted_at,
     automation_pk, enabled, live_since, last_called_at, site_on, job_id, space_on) = row
    target = CallTarget(
        macro_pk=macro_pk,
        public_id=_uuid(public_id),
        page_id=page_id,
        published=published_at is not None,
        deleted=deleted_at is not None,
        automation_enabled=bool(enabled),
        live_since=_aware(live_since),
        automation_pk=automation_pk,
        last_called_at=_aware(last_called_at),
        queued_job_id=_uuid(job_id) if job_id is not None else None,
        space_enabled=space_on is None or bool(space_on),
    )
    return KeyGrant(
        pk=key_pk,
        lookup_id=presented.lookup_id,
        hash=key_hash,
        target=target,
        site_automation_enabled=True if site_on is None else bool(site_on),
    )


@dataclass(frozen=True)
class GlobalGrant:
    """The active global key a request named (not yet checked), and the site switch."""

    kind: ClassVar[str] = keys.KeyKind.GLOBAL
    pk: int
    lookup_id: str
    hash: str
    expires_at: datetime
    site_automation_enabled: bool

    def __repr__(self) -> str:
        return f"GlobalGrant(lookup_id={self.lookup_id!r})"


_global_sql: str | None = None


def find_global_key(presented: keys.PresentedKey | None) -> GlobalGrant | None:
    """The active global key a request presented, by its unique lookup id, with the site switch.

    Macro keys and global keys differ by prefix, so a macro key never costs this query.
    """
    global _global_sql
    if presented is None or presented.kind != keys.KeyKind.GLOBAL:
        return None
    if _global_sql is None:
        q = connection.ops.quote_name
        table, site = q(GlobalKey._meta.db_table), q(SiteSettings._meta.db_table)
        _global_sql = (
            "SELECT g.id, g.hash, g.expires_at,"
            f" (SELECT s.automation_enabled FROM {site} s WHERE s.id = 1)"
            f" FROM {table} g WHERE g.lookup_id = %s AND g.revoked_at IS NULL"
        )
    with connection.cursor() as cursor:
        cursor.execute(_global_sql, [presented.lookup_id])
        row = cursor.fetchone()
    if row is None:
        return None
    key_pk, key_hash, expires_at, site_on = row
    return GlobalGrant(
        pk=key_pk,
        lookup_id=presented.lookup_id,
        hash=key_hash,
        expires_at=_aware(expires_at),
        site_automation_enabled=True if site_on is None else bool(site_on),
    )


_macro_sql: str | None = None


def find_macro_with_queued_job(public_id: uuid.UUID | None) -> CallTarget | None:
    """A macro by its public id with its queued job if any, in one written-out query.

    The global key's path to a macro: its key lookup cannot join the macro (the key
    names none), so this is its second and last query when the call coalesces.
    """
    global _macro_sql
    if public_id is None:
        return None
    if _macro_sql is None:
        q = connection.ops.quote_name
        macro, job = q(Macro._meta.db_table), q(SnapshotJob._meta.db_table)
        _macro_sql = (
            f"SELECT m.id, m.page_id, m.published_at, j.id, {_space_enabled_sql('m')}"
            f" FROM {macro} m LEFT OUTER JOIN {job} j ON j.macro_id = m.id AND j.status = %s"
            " WHERE m.public_id = %s AND m.deleted_at IS NULL"
        )
    prepared = Macro._meta.get_field("public_id").get_db_prep_value(public_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_macro_sql, [SnapshotJob.Status.QUEUED.value, prepared])
        row = cursor.fetchone()
    if row is None:
        return None
    macro_pk, page_id, published_at, job_id, space_on = row
    return CallTarget(
        macro_pk=macro_pk,
        public_id=public_id,
        page_id=page_id,
        published=published_at is not None,
        deleted=False,
        queued_job_id=_uuid(job_id) if job_id is not None else None,
        space_enabled=space_on is None or bool(space_on),
    )


def live_targets(macros) -> list[CallTarget]:
    """Call targets for live macros (a page's, or a bulk call's), with their queued jobs in one query."""
    macros = list(macros)
    queued = dict(
        SnapshotJob.objects.filter(macro__in=[m.pk for m in macros], status=SnapshotJob.Status.QUEUED).values_list("macro_id", "pk")
    )
    switched_off = set(  # pages in a space with Snapshots switched off (site administration)
        Page.objects.filter(pk__in={m.page_id for m in macros}, space__snapshots_enabled=False).values_list("pk", flat=True)
    ) if macros else set()
    return [
        CallTarget(
            macro_pk=m.pk, public_id=m.public_id, page_id=m.page_id, published=True, deleted=False,
            queued_job_id=queued.get(m.pk), space_enabled=m.page_id not in switched_off,
        )
        for m in macros
    ]


def find_macro(public_id: uuid.UUID | None) -> CallTarget | None:
    """A macro by its public id, when no key led to it (refusals: not the hot path)."""
    if public_id is None:
        return None
    macro = Macro.objects.select_related("automation").filter(public_id=public_id, deleted_at__isnull=True).first()
    if macro is None:
        return None
    return target_of(macro)


def target_of(macro: Macro) -> CallTarget:
    try:
        automation = macro.automation
    except MacroAutomation.DoesNotExist:
        automation = None
    return CallTarget(
        macro_pk=macro.pk,
        public_id=macro.public_id,
        page_id=macro.page_id,
        published=macro.published_at is not None,
        deleted=macro.deleted_at is not None,
        automation_enabled=automation is not None and automation.enabled,
        live_since=automation.live_since if automation else None,
        automation_pk=automation.pk if automation else None,
        last_called_at=automation.last_called_at if automation else None,
        space_enabled=Space.objects.filter(pages__pk=macro.page_id, snapshots_enabled=False).first() is None,
    )


def _space_enabled_sql(macro_alias: str) -> str:
    """The macro's space switch as one more column of a lookup (no extra query)."""
    q = connection.ops.quote_name
    page, space = q(Page._meta.db_table), q(Space._meta.db_table)
    return (
        f"(SELECT sp.snapshots_enabled FROM {page} pg INNER JOIN {space} sp ON sp.id = pg.space_id"
        f" WHERE pg.id = {macro_alias}.page_id)"
    )


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC datetimes from a raw cursor; PostgreSQL aware ones.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
