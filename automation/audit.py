"""Writing the automation audit trail (``AutomationEvent``)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from automation.models import AutomationEvent
from macros.models import Macro

log = logging.getLogger(__name__)

Kind = AutomationEvent.Kind
Via = AutomationEvent.Via


def client_address(request: HttpRequest) -> str | None:
    try:
        return request._automation_client_address
    except AttributeError:
        address = request._automation_client_address = _client_address(request)
        return address


def _client_address(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or the forwarded address when proxies are declared.

    A forwarded-address header is whatever the caller wrote into it, plus one hop per
    proxy; trusting it without knowing how many proxies add to it would let a caller pick
    its own address and dodge the refused-attempts guard and the sign-in lockout. So it
    counts only when ``TRUSTED_PROXY_COUNT`` (from the environment) says how many of its
    hops, from the right, our own proxies wrote. Sign-in throttling (django-axes) asks
    this same function.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get(settings.CLIENT_ADDRESS_META) if proxies else None
    if forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        address = hops[-min(proxies, len(hops))]
    return _normal_address(address)


@functools.lru_cache(maxsize=4096)
def _normal_address(address: str) -> str | None:
    """An IP address as Python writes it, or None (parsing one cost a trigger ~5 µs a call)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_network(address: str | None) -> str:
    """What refusals are counted per: the address, or its /64 for IPv6 (one host's share)."""
    if not address:
        return "unknown"
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def record(
    kind: str,
    *,
    via: str,
    macro: Macro | None = None,
    actor=None,
    key_kind: str = "",
    key_lookup: str = "",
    address: str | None = None,
    job_id: uuid.UUID | None = None,
    reason: str = "",
) -> AutomationEvent:
    return AutomationEvent.objects.create(
        kind=kind,
        via=via,
        macro=macro,
        page_id=macro.page_id if macro is not None else None,
        actor=actor if actor is not None and actor.is_authenticated else None,
        key_kind=key_kind,
        key_lookup=key_lookup,
        client_address=address,
        job_id=job_id,
        reason=reason,
    )


def record_refusal(
    reason: str,
    *,
    address: str | None,
    macro_id: int | None = None,
    page_id: int | None = None,
    key_kind: str = "",
    key_lookup: str = "",
) -> None:
    """Count one refused call in its (network, reason, macro, minute) row.

    Nothing the caller controls freely goes into the bucket (an unknown macro id does
    not), so however many calls a client sends it adds at most one row per minute and
    reason for each real macro.
    """
    now = timezone.now()
    bucket = f"{client_network(address)}|{reason}|{macro_id or '-'}|{now:%Y%m%d%H%M}"
    with _relaxed_commit():
        if _bump(bucket, now):
            return
    try:
        with transaction.atomic():
            AutomationEvent.objects.create(
                kind=Kind.REFUSED,
                via=Via.API,
                macro_id=macro_id,
                page_id=page_id,
                key_kind=key_kind,
                key_lookup=key_lookup,
                client_address=address,
                reason=reason,
                bucket=bucket,
                created_at=now,
                last_seen_at=now,
            )
    except IntegrityError:  # another process opened this minute's row first
        _bump(bucket, now)


def _bump(bucket: str, now) -> bool:
    return bool(AutomationEvent.objects.filter(bucket=bucket).update(count=F("count") + 1, last_seen_at=now))


_trigger_sql: dict[str, str] = {}


def record_trigger(
    *, macro_id: int, page_id: int, key_kind: str, key_lookup: str, address: str | None, job_id: uuid.UUID, coalesced: bool,
) -> None:
    """Count one accepted call in its (job, key, address) row, or start that row.

    ``automation.calls.CallCounts`` writes coalesced calls in batches instead
    (``record_trigger_batch``).

    Calls that join a queued job mostly find their row, so the hot path costs one small
    UPDATE rather than an INSERT into a table with several indexes; on SQLite, where two
    web workers take turns at the write lock, that is the difference that shows in
    bench/bench_trigger.py. Written as SQL for the same reason (the ORM's compile step
    cost more than the statement). Two processes starting the same row at once leave two
    rows; later calls count in the first, so every call is counted once.
    """
    if not _trigger_sql:
        _prepare_trigger_sql()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    job = _JOB_ID.get_db_prep_value(job_id, connection)
    with connection.cursor() as cursor:
        if address is None:
            cursor.execute(_trigger_sql["bump_no_address"], [1, now, job, key_lookup])
        else:
            cursor.execute(_trigger_sql["bump"], [1, now, job, key_lookup, address])
        if cursor.rowcount:
            return
    with _relaxed_commit(), connection.cursor() as cursor:
        cursor.execute(
            _trigger_sql["insert"],
            [Kind.TRIGGERED.value, Via.API.value, macro_id, page_id, key_kind, key_lookup, address, job,
             "coalesced" if coalesced else "queued", 1, now, now],
        )


def _prepare_trigger_sql() -> None:
    q = connection.ops.quote_name
    table = q(AutomationEvent._meta.db_table)

    def col(name: str) -> str:
        return q(AutomationEvent._meta.get_field(name).column)

    columns = ["kind", "via", "macro", "page", "key_kind", "key_lookup", "client_address", "job_id", "reason", "count", "created_at", "last_seen_at"]
    # Two processes may both start a row for the same call site; the first one counts.
    row = (
        f"SELECT {col('id')} FROM {table}"
        f" WHERE {col('job_id')} = %s AND {col('kind')} = '{Kind.TRIGGERED.value}' AND {col('key_lookup')} = %s"
    )
    bump = f"UPDATE {table} SET {col('count')} = {col('count')} + %s, {col('last_seen_at')} = %s"
    if connection.vendor == "postgresql":
        # _relaxed_commit in one statement (one round trip): the setting is local to this
        # statement's own transaction and is read when it commits.
        bump += " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
    bump += f" WHERE {col('id')} = "
    _trigger_sql.update(
        insert=f"INSERT INTO {table} ({', '.join(col(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
        bump=f"{bump}({row} AND {col('client_address')} = %s ORDER BY {col('id')} LIMIT 1)",
        bump_no_address=f"{bump}({row} AND {col('client_address')} IS NULL ORDER BY {col('id')} LIMIT 1)",
    )


_JOB_ID = AutomationEvent._meta.get_field("job_id")


@contextmanager
def _relaxed_commit() -> Iterator[None]:
    """On PostgreSQL, commit call counts without waiting for the WAL flush.

    A synchronous commit waits for an fsync, which cost more than the rest of a call
    (bench_trigger.py on PostgreSQL: 19% of the bare view, 50%+ without). A crash can
    lose the last fraction of a second of counts, never corrupt them; the jobs themselves
    are committed normally by ``request_snapshot``. SQLite (synchronous=NORMAL in WAL
    mode) does not flush per commit anyway. A transaction either way.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def record_trigger_batch(calls: dict[tuple, int], now) -> None:
    """Count batches of coalesced calls: ``{(macro_id, page_id, key_kind, key_lookup, address, job_id): n}``.

    One UPDATE for the whole batch (a batch spread over many keys would otherwise cost a
    statement, and on PostgreSQL a round trip, per key), and one INSERT for the call
    sites that have no row yet (the job was queued by another key or address).
    """
    # In one order everywhere: two processes writing overlapping batches then lock the
    # rows in the same order instead of deadlocking (PostgreSQL aborts one of them).
    sites = sorted(calls.items(), key=lambda item: (str(item[0][5]), item[0][3], item[0][4] or ""))
    try:
        with _relaxed_commit():  # all or nothing: a batch kept for later is never half counted
            _record_sites(sites, now)
    except IntegrityError:
        # A macro or page deleted since its calls were counted: write the others one by one.
        for site in sites:
            try:
                with _relaxed_commit():
                    _record_sites([site], now)
            except IntegrityError:
                log.info("dropped %d counted calls of a macro that is gone", site[1])


def _record_sites(sites: list[tuple[tuple, int]], now) -> None:
    for start in range(0, len(sites), 1000):
        chunk = sites[start : start + 1000]
        found = _bump_many(chunk, now)
        # Call sites without a row yet (their job was queued by a schedule, a person, or
        # another key) get theirs in one statement, not one each: after a deploy or a
        # scheduled run, a burst over many macros found none (a second per worker's batch).
        AutomationEvent.objects.bulk_create(
            AutomationEvent(
                kind=Kind.TRIGGERED, via=Via.API, macro_id=macro_id, page_id=page_id, key_kind=key_kind,
                key_lookup=key_lookup, client_address=address, job_id=job_id, reason="coalesced", count=n,
                created_at=now, last_seen_at=now,
            )
            for (macro_id, page_id, key_kind, key_lookup, address, job_id), n in chunk
            if (str(job_id), key_lookup, address) not in found  # address: as client_address() gives it
        )


def _bump_many(chunk: list[tuple[tuple, int]], now) -> set[tuple[str, str, str | None]]:
    q = connection.ops.quote_name
    table = q(AutomationEvent._meta.db_table)

    def col(name: str) -> str:
        return q(AutomationEvent._meta.get_field(name).column)

    postgres = connection.vendor == "postgresql"
    same_address = "IS NOT DISTINCT FROM v.addr::inet" if postgres else "IS v.addr"
    job = "v.job::uuid" if postgres else "v.job"
    at = connection.ops.adapt_datetimefield_value(now)
    values, params = [], []
    for (_, _, _, key_lookup, address, job_id), n in chunk:
        values.append("(%s, %s, %s, %s)")
        params += [_JOB_ID.get_db_prep_value(job_id, connection), key_lookup, address, n]
    sql = (
        f"WITH v(job, lookup, addr, n) AS (VALUES {', '.join(values)})"
        f" UPDATE {table} SET {col('count')} = {col('count')} + v.n, {col('last_seen_at')} = %s FROM v"
        f" WHERE {table}.{col('id')} = (SELECT e.{col('id')} FROM {table} e WHERE e.{col('job_id')} = {job}"
        f" AND e.{col('kind')} = '{Kind.TRIGGERED.value}' AND e.{col('key_lookup')} = v.lookup"
        f" AND e.{col('client_address')} {same_address} ORDER BY e.{col('id')} LIMIT 1)"
        f" RETURNING {table}.{col('job_id')}, {table}.{col('key_lookup')}, {table}.{col('client_address')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, at])
        rows = cursor.fetchall()
    return {(str(uuid.UUID(str(job_id))), key_lookup, None if address is None else str(address)) for job_id, key_lookup, address in rows}
