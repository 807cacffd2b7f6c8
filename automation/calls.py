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

import atexit
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connection, connections, transaction
from django.utils import timezone

from automation import audit, keys
from automation.models import GlobalKey, MacroAutomation, MacroKey
from macros.models import Macro, Page, SiteSettings, SnapshotJob, Space

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallTarget:
    """A macro as an automation call sees it."""

    macro_pk: int
    public_id: uuid.UUID
    page_id: int
    published: bool
    deleted: bool
    automation_enabled: bool = False
    live: bool = False  # its automation went live (the page was published after it was switched on)
    automation_pk: int | None = None
    last_called: float | None = None  # "last called", in POSIX seconds
    queued_job_id: uuid.UUID | None = None
    space_enabled: bool = True  # Snapshots switched off for the macro's space refuses triggers

    def macro(self) -> Macro:
        """A reference for foreign keys and ``request_snapshot`` (not a full instance)."""
        return Macro(pk=self.macro_pk, public_id=self.public_id, page_id=self.page_id)


@dataclass(frozen=True)
class KeyGrant:
    """An active macro key of the target macro, as the lookup found it (not yet checked)."""

    kind: ClassVar[str] = keys.KeyKind.MACRO
    pk: int
    lookup_id: str
    hash: str
    target: CallTarget

    def __repr__(self) -> str:
        return f"KeyGrant(lookup_id={self.lookup_id!r}, macro={self.target.public_id})"


@dataclass(frozen=True)
class MacroCall:
    """What one query knows about a call to a macro's endpoint with a macro key."""

    site_automation_enabled: bool
    target: CallTarget | None
    grant: KeyGrant | None


_sql: str | None = None


def _lookup_sql() -> str:
    global _sql
    if _sql is None:
        q = connection.ops.quote_name
        key, macro, automation = (q(m._meta.db_table) for m in (MacroKey, Macro, MacroAutomation))
        site, job = q(SiteSettings._meta.db_table), q(SnapshotJob._meta.db_table)
        # Anchored on a one-row derived table, so every call gets exactly one row: an
        # unknown macro, an unknown or another macro's key and a valid one cost the same
        # query (the refusals' timing tells nothing), and the site switch comes along.
        # The queued job is a scalar subquery with the status written out: SQLite then
        # reads the small partial index one_queued_job_per_macro (a join, or a bound
        # status, took it through the larger index at 4× the cost of the whole query).
        # Only "last called" is needed as a time, and as seconds: turning three timestamps
        # into aware datetimes cost more than the rest of the row.
        queued = SnapshotJob.Status.QUEUED.value
        _sql = (
            f"SELECT (SELECT s.automation_enabled FROM {site} s WHERE s.id = 1),"
            " m.id, m.page_id, m.published_at IS NOT NULL, a.id, a.enabled, a.live_since IS NOT NULL,"
            f" {_posix_seconds('a.last_called_at')}, k.id, k.hash,"
            f" (SELECT j.id FROM {job} j WHERE j.macro_id = m.id AND j.status = '{queued}'), {_space_enabled_sql('m')}"
            " FROM (SELECT 1 AS one) anchor"
            f" LEFT OUTER JOIN {macro} m ON m.public_id = %s AND m.deleted_at IS NULL"
            f" LEFT OUTER JOIN {automation} a ON a.macro_id = m.id"
            f" LEFT OUTER JOIN {key} k ON k.macro_id = m.id AND k.lookup_id = %s AND k.revoked_at IS NULL"
        )
    return _sql


def find_macro_call(public_id: uuid.UUID | None, presented: keys.PresentedKey | None) -> MacroCall:
    """The site switch, the macro named by the URL, and the presented key if it is that macro's.

    One query whatever the answer. The secret is not checked here.
    """
    lookup = presented.lookup_id if presented is not None and presented.kind == keys.KeyKind.MACRO else None
    if public_id is not None and not connection.features.has_native_uuid_field:
        macro_id = public_id.hex  # how UUIDField stores it without a native type
    else:
        macro_id = public_id
    row = _fetch_one(_lookup_sql(), [macro_id, lookup])
    (site_on, macro_pk, page_id, published, automation_pk, enabled, live, last_called,
     key_pk, key_hash, job_id, space_on) = row
    site_on = True if site_on is None else bool(site_on)
    if macro_pk is None:
        return MacroCall(site_on, None, None)
    target = CallTarget(
        macro_pk=macro_pk,
        public_id=public_id,
        page_id=page_id,
        published=bool(published),
        deleted=False,
        automation_enabled=bool(enabled),
        live=bool(live),
        automation_pk=automation_pk,
        last_called=last_called,
        queued_job_id=_uuid(job_id) if job_id is not None else None,
        space_enabled=space_on is None or bool(space_on),
    )
    grant = KeyGrant(pk=key_pk, lookup_id=lookup, hash=key_hash, target=target) if key_pk is not None else None
    return MacroCall(site_on, target, grant)


def _fetch_one(sql: str, params: list) -> tuple | None:
    """One row, on a kept connection that is not health-checked first (that check is a round trip).

    A connection the server dropped (a restart, a failover) fails here instead: it is
    closed and the query runs once more on a new one. Still failing, the error goes up
    and the site answers 503.
    """
    # This thread's connection, looked up once: each attribute read through Django's
    # ``connection`` proxy looks it up anew (six of them cost a trigger ~40 µs).
    db = connections[DEFAULT_DB_ALIAS]
    for attempt in (1, 2):
        try:
            if db.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS:
                return _fetch_one_prepared(db, sql, params)
            with db.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        except (OperationalError, InterfaceError):
            if attempt == 2 or db.in_atomic_block:
                raise
            db.close()
    return None  # not reached


_EXPLICIT_ONLY = 2**31 - 1  # psycopg prepares a statement after this many runs, or when asked to


def _fetch_one_prepared(db, sql: str, params: list) -> tuple | None:
    """PostgreSQL: as a prepared statement, planned once per connection.

    Django binds parameters on the client, so PostgreSQL plans every statement anew, and
    planning this lookup costs the server about ten times what running it does (0.3 ms
    against 0.02 ms, EXPLAIN ANALYZE). A server-side cursor with ``prepare=True`` plans
    it once per connection. Django opens its connections with psycopg's
    ``prepare_threshold`` at None, which turns every preparation off, ``prepare=True``
    included; a threshold no query reaches turns explicit preparation back on and leaves
    Django's own queries unprepared, as Django wants them (they are client-side bound and
    never prepared anyway). The cursor is kept with its connection (made anew with it).
    """
    import psycopg  # only with PostgreSQL

    raw = db.connection
    if raw is None:
        db.ensure_connection()
        raw = db.connection
    cursor = db.__dict__.get("_automation_cursor")
    if cursor is None or cursor.connection is not raw:
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _EXPLICIT_ONLY
        cursor = db._automation_cursor = psycopg.Cursor(raw)
    started = time.monotonic()
    with db.wrap_database_errors:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if db.queries_logged:  # seen by DEBUG's query log and assertNumQueries, like any query
        db.queries_log.append({"sql": f"{sql} -- prepared, {params!r}", "time": f"{time.monotonic() - started:.3f}"})
    return row


def find_key(presented: keys.PresentedKey | None) -> KeyGrant | None:
    """The active macro key a request presented, with its macro (status reads; not the hot path)."""
    if presented is None or presented.kind != keys.KeyKind.MACRO:
        return None
    key = MacroKey.objects.select_related("macro__automation").filter(
        lookup_id=presented.lookup_id, revoked_at__isnull=True, macro__deleted_at__isnull=True
    ).first()
    if key is None:
        return None
    return KeyGrant(pk=key.pk, lookup_id=key.lookup_id, hash=key.hash, target=target_of(key.macro))


@dataclass(frozen=True)
class GlobalGrant:
    """The active global key a request named (not yet checked)."""

    kind: ClassVar[str] = keys.KeyKind.GLOBAL
    pk: int
    lookup_id: str
    hash: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"GlobalGrant(lookup_id={self.lookup_id!r})"


_global_sql: str | None = None


def find_global_key(presented: keys.PresentedKey | None) -> tuple[bool, GlobalGrant | None]:
    """The site switch, and the active global key a request presented (by its unique lookup id).

    One query whatever was presented (no key, a macro key, an unknown or a real lookup
    id), anchored like ``find_macro_call``'s, so refusals cost alike.
    """
    global _global_sql
    lookup = presented.lookup_id if presented is not None and presented.kind == keys.KeyKind.GLOBAL else None
    if _global_sql is None:
        q = connection.ops.quote_name
        table, site = q(GlobalKey._meta.db_table), q(SiteSettings._meta.db_table)
        _global_sql = (
            f"SELECT (SELECT s.automation_enabled FROM {site} s WHERE s.id = 1), g.id, g.hash, g.expires_at"
            f" FROM (SELECT 1 AS one) anchor LEFT OUTER JOIN {table} g ON g.lookup_id = %s AND g.revoked_at IS NULL"
        )
    site_on, key_pk, key_hash, expires_at = _fetch_one(_global_sql, [lookup])
    site_on = True if site_on is None else bool(site_on)
    if key_pk is None:
        return site_on, None
    return site_on, GlobalGrant(pk=key_pk, lookup_id=lookup, hash=key_hash, expires_at=_aware(expires_at))


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
        live=automation is not None and automation.live_since is not None,
        automation_pk=automation.pk if automation else None,
        last_called=automation.last_called_at.timestamp() if automation and automation.last_called_at else None,
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


def _posix_seconds(column: str) -> str:
    """A timestamp column as POSIX seconds (a float), in the lookup itself."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    return f"(julianday({column}) - 2440587.5) * 86400.0"  # SQLite keeps UTC text


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC datetimes from a raw cursor; PostgreSQL aware ones.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class CallCounts:
    """Accepted calls that joined a queued job, and "last called" times, written in batches.

    A coalesced call costs no write of its own: its count waits here, in this process,
    and is written with the others when the batch is ``AUTOMATION_COUNT_FLUSH_SECONDS``
    old (a timer thread, or the next call, whichever comes first), when it holds
    ``FLUSH_AT`` calls, and when the process exits (gunicorn's recycling, SIGTERM, a
    worker timeout's SIGABRT all run exit handlers). Only a SIGKILL of a web worker can
    lose counts, at most one batch's. 0 seconds writes every call at once.
    A call that queues a new job is written at once: it writes the job anyway.
    """

    FLUSH_AT = 500

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # One writer at a time: the exit handler waits for a timer's batch in progress
        # (a daemon thread dies with the interpreter, its batch with it).
        self._writing = threading.Lock()
        self._calls: dict[tuple, int] = {}
        self._last_called: dict[int, datetime] = {}
        self._pending = 0
        self._since = 0.0
        self._timer: threading.Timer | None = None
        atexit.register(self.flush)

    def add(self, target: CallTarget, *, key_kind: str, key_lookup: str, address: str | None,
            job_id: uuid.UUID, coalesced: bool, now: datetime) -> None:
        called = target.automation_pk is not None and (
            target.last_called is None or now.timestamp() - target.last_called >= 60
        )
        site = (target.macro_pk, target.page_id, key_kind, key_lookup, address, job_id)
        interval = settings.AUTOMATION_COUNT_FLUSH_SECONDS
        if not coalesced or interval == 0:
            audit.record_trigger(macro_id=target.macro_pk, page_id=target.page_id, key_kind=key_kind,
                                 key_lookup=key_lookup, address=address, job_id=job_id, coalesced=coalesced)
            if called:  # to the minute: one write a minute at most, not one per call
                _write_last_called({target.automation_pk: now})
            return
        with self._lock:
            self._calls[site] = self._calls.get(site, 0) + 1
            if called:
                self._last_called[target.automation_pk] = now
            self._pending += 1
            if self._timer is None:
                self._start_timer()
            due = self._pending >= self.FLUSH_AT or time.monotonic() - self._since >= interval
        if due:
            # Never inside a caller's transaction (the page trigger's): after it commits.
            transaction.on_commit(self._flush_if_free)

    def flush(self, timeout: float = 15) -> None:
        """Write what this process holds, after any batch being written now (any thread, at exit)."""
        if self._writing.acquire(timeout=timeout):
            try:
                self._write_batch()
            finally:
                self._writing.release()

    def _flush_if_free(self) -> None:
        # A request never waits for another thread's batch: that writer may be waiting for a
        # lock this request's connection holds. What stays pending is the timer's.
        if self._writing.acquire(blocking=False):
            try:
                self._write_batch()
            finally:
                self._writing.release()
        self._ensure_timer()

    def _ensure_timer(self) -> None:
        with self._lock:
            if self._pending and self._timer is None:
                self._start_timer()

    def _start_timer(self) -> None:
        self._since = time.monotonic()
        self._timer = threading.Timer(settings.AUTOMATION_COUNT_FLUSH_SECONDS or 1, self._flush_from_timer)
        self._timer.daemon = True
        self._timer.start()

    def _write_batch(self) -> None:
        with self._lock:
            batch, last_called = self._calls, self._last_called
            self._calls, self._last_called, self._pending = {}, {}, 0
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if not batch and not last_called:
            return
        try:
            audit.record_trigger_batch(batch, timezone.now())
            batch = {}
            _write_last_called(last_called)
        except DatabaseError as exc:
            # The database is away (a restart): keep the batch for the next attempt.
            log.warning("could not write %d counted automation calls yet (%s: %s); kept for the next batch",
                        sum(batch.values()), type(exc).__name__, exc)
            with self._lock:
                for site, n in batch.items():
                    self._calls[site] = self._calls.get(site, 0) + n
                    self._pending += n
                for pk, at in last_called.items():
                    self._last_called.setdefault(pk, at)

    def _flush_from_timer(self) -> None:
        try:
            with self._lock:
                self._timer = None
            self.flush()
        finally:
            connections.close_all()  # this thread's own connections, not the request thread's
            self._ensure_timer()  # calls that came while it wrote, or a batch the database refused


def _write_last_called(times: dict[int, datetime]) -> None:
    """One statement for the batch: "last called" of each macro, to the minute."""
    if not times:
        return
    table = connection.ops.quote_name(MacroAutomation._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    params = [p for pk, at in times.items() for p in (pk, adapt(at))]
    at = "v.at::timestamptz" if connection.vendor == "postgresql" else "v.at"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(pk, at) AS (VALUES {', '.join(['(%s, %s)'] * len(times))})"
            f" UPDATE {table} SET last_called_at = {at} FROM v WHERE {table}.id = v.pk",
            params,
        )


call_counts = CallCounts()
