"""Taking snapshots: the one service both "Take snapshot" and the automation API call.

``request_snapshot`` queues (or joins) a job and returns at once; ``take`` runs on a
django-q2 worker, reads the source page by page, and stores the snapshot and its page
version in one transaction at the end.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from macros import fieldlist
from macros.chart_data import ChartTally
from macros.fieldtypes.memo import value_keys
from macros.fieldtypes.renderers import flat_text
from macros.models import Macro, Page, PageVersion, SiteSettings, Snapshot, SnapshotJob, SnapshotRow
from macros.sources import JqlError, Source, SourceError, get_source
from macros.sources.base import FieldInfo, snapshot_budget
from macros.sources.levels import Children
from macros.tables import RowIndexer

log = logging.getLogger(__name__)

# Lower levels run one search per issue of the level above, or one per batch of them
# (macros.sources.levels); these bound one job.
MAX_SUBQUERIES = 1000
MAX_ISSUES = 200_000

Trigger = SnapshotJob.Trigger
Status = SnapshotJob.Status


def request_snapshot(
    macro: Macro, trigger: str, *, user=None, key_lookup: str = ""
) -> tuple[SnapshotJob, bool]:
    """Queue a snapshot of ``macro``, or join the one already queued.

    Returns ``(job, coalesced)``. The partial unique index on queued jobs makes this
    race-free across processes: of two concurrent inserts one fails and joins the other.
    """
    for _ in range(3):
        existing = SnapshotJob.objects.filter(macro=macro, status=Status.QUEUED).first()
        if existing is not None:
            return existing, True
        job = SnapshotJob(macro=macro, trigger=trigger, requested_by=user, key_lookup=key_lookup)
        try:
            with transaction.atomic():
                job.save(force_insert=True)
                transaction.on_commit(lambda job_id=job.pk: enqueue(job_id))
        except IntegrityError:
            continue  # another process queued one between our read and our insert
        return job, False
    raise RuntimeError("Could not queue or find a queued snapshot job.")


def enqueue(job_id) -> None:
    from django_q.tasks import async_task

    async_task("macros.tasks.run_snapshot_job", str(job_id), task_name=f"snapshot-{job_id}", group="snapshots")


class WorkerStopping(BaseException):
    """The worker was asked to stop (SIGTERM, a deploy) while it ran a snapshot.

    A BaseException, like django-q2's own timeout, so that no ``except Exception`` on the
    way up mistakes it for the snapshot failing.
    """


def take(job_id) -> Snapshot | None:
    """Run one job to its end. Safe to call twice for the same job: one snapshot at most."""
    now = timezone.now()
    claimed = SnapshotJob.objects.filter(
        # A run whose lease lapsed (its worker died) is taken over while it has attempts
        # left; past them the sweep fails it with its reason.
        Q(status=Status.QUEUED)
        | Q(status=Status.RUNNING, lease_until__lt=now, attempts__lt=settings.Q_CLUSTER["max_attempts"]),
        pk=job_id
    ).update(
        status=Status.RUNNING,
        started_at=now,
        lease_until=now + SnapshotJob.lease_length(),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        log.info("snapshot job %s is finished or held by another worker; nothing to do", job_id)
        return None
    job = SnapshotJob.objects.select_related("macro__page", "requested_by").get(pk=job_id)
    with LeaseHeartbeat(job):
        try:
            # A previous attempt that died mid-way may have left rows behind: they are void.
            Snapshot.objects.filter(job=job, complete=False).delete()
            with snapshot_budget(settings.SNAPSHOT_JOB_TIMEOUT), _collector.easing():
                return _run(job)
        except WorkerStopping:
            _hand_back(job)
            raise
        except SourceError as exc:
            _fail(job, str(exc))
        except (OperationalError, InterfaceError):
            # The database went away mid-snapshot (restart, failover): not the job's fault.
            # Leave it running; its lease lapses and the sweep queues it again.
            log.warning("snapshot job %s lost the database; it will be retried", job_id)
            raise
        except Exception:
            log.exception("snapshot job %s failed unexpectedly", job_id)
            _fail(job, "The snapshot failed because of an internal error; the site's logs have the details.")
    return None


class _EasedCollector:
    """The garbage collector, eased while snapshots are taken in this process.

    Issues parsed ahead of the writer (Data Center: up to 16 pages of 1,000) outlive the
    young generations, so a 20,000-issue snapshot set off several full passes, each
    walking every object alive: the ~100,000 Django and the app hold, and the issues read
    ahead, which are all still in use. That was 0.3-0.6 s of a 3 s snapshot (issue 12's
    bar). While any snapshot runs, what the process held before is frozen out of the full
    passes (``gc.freeze``) and full passes come ten times less often; the young
    generations, which free what a snapshot throws away, run as always. The last snapshot
    to end hands everything back (``gc.unfreeze``, the thresholds as they were).
    """

    FULL_PASS_SPACING = 10

    def __init__(self):
        self._lock = threading.Lock()
        self._snapshots = 0
        self._thresholds: tuple[int, int, int] | None = None

    @contextmanager
    def easing(self) -> Iterator[None]:
        with self._lock:
            self._snapshots += 1
            if self._snapshots == 1:
                gc.freeze()
                self._thresholds = young, middle, full = gc.get_threshold()
                gc.set_threshold(young, middle, full * self.FULL_PASS_SPACING)
        try:
            yield
        finally:
            with self._lock:
                self._snapshots -= 1
                if self._snapshots == 0:
                    gc.set_threshold(*self._thresholds)
                    gc.unfreeze()


_collector = _EasedCollector()


class LeaseHeartbeat:
    """Renews a running job's lease from a thread of its own, every third of the lease.

    A thread, so that the lease is renewed whatever the job is doing (waiting on Jira's
    retries and back-off included) and the source code need not know about it. It stops
    renewing at the job's time limit (SNAPSHOT_JOB_TIMEOUT), so that a worker stuck past
    it loses the job to the sweep, and when the job is no longer this attempt's.
    """

    def __init__(self, job: SnapshotJob):
        self.job_id = job.pk
        self.attempts = job.attempts
        self.interval = settings.SNAPSHOT_LEASE_SECONDS / 3
        self.deadline = time.monotonic() + settings.SNAPSHOT_JOB_TIMEOUT
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.pk}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval) and time.monotonic() < self.deadline:
                if not self.renew():
                    return
        finally:
            connections.close_all()  # this thread's own connections

    def renew(self) -> bool:
        """One beat; False once the job is no longer this attempt's to renew."""
        try:
            held = SnapshotJob.objects.filter(pk=self.job_id, status=Status.RUNNING, attempts=self.attempts).update(
                lease_until=timezone.now() + SnapshotJob.lease_length()
            )
        except DatabaseError:
            # The database is away for a moment: try again at the next beat. If it stays
            # away the lease lapses, which is what should happen.
            log.warning("snapshot job %s could not renew its lease", self.job_id, exc_info=True)
            connections.close_all()
            return True
        self.beats += 1
        return bool(held)


def _hand_back(job: SnapshotJob) -> None:
    """Put a job its worker was told to stop back on the queue at once, its rows discarded.

    The attempt does not count: a deploy is not the job's fault.
    """
    if not connection.in_atomic_block:
        connection.close()  # the signal may have struck in the middle of a database call
    mine = SnapshotJob.objects.filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts)
    with transaction.atomic():
        Snapshot.objects.filter(job=job, complete=False).delete()
        try:
            with transaction.atomic():
                handed = mine.update(
                    status=Status.QUEUED, attempts=F("attempts") - 1, lease_until=None, started_at=None, fetched=0
                )
        except IntegrityError:
            # A newer request queued a job for the macro meanwhile (one queued job per
            # macro): this one stays running with a lapsed lease, for the next worker.
            handed = mine.update(attempts=F("attempts") - 1, lease_until=timezone.now() - timedelta(seconds=1))
        if handed:
            transaction.on_commit(lambda: enqueue(job.pk))
    log.warning("snapshot job %s: the worker is stopping; handed the job back to the queue", job.pk)


def _fail(job: SnapshotJob, reason: str) -> None:
    with transaction.atomic():
        SnapshotJob.objects.filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts).update(
            status=Status.FAILED, error=reason, finished_at=timezone.now(), lease_until=None
        )
        Snapshot.objects.filter(job=job, complete=False).delete()


def _run(job: SnapshotJob) -> Snapshot | None:
    macro = job.macro
    source = get_source()
    check_same_site(source)
    started = time.monotonic()
    levels = [dict(level) for level in (job.levels or macro.levels)]  # job.levels: a snapshot on save of a draft
    if not levels:
        raise SourceError("This macro has no query; configure it first.")
    wanted = [f for level in levels for f in level.get("fields", [])]
    known = {f.id: f for f in field_infos(source, wanted=wanted)}
    snapshot = Snapshot.objects.create(
        macro=macro,
        job=job,
        levels=levels,
        columns=[[field_column(f, known) for f in level.get("fields", [])] for level in levels],
        source=source.name,
        source_site=source.site_url,
        taken_by=job.requested_by,
        actor=job.actor,
    )
    writer = _RowWriter(snapshot, job)
    parents: list[tuple[int, str]] = []  # (position, key) of the level above
    for depth, level in enumerate(levels, start=1):
        fields = _fields_to_fetch(level.get("fields", []))
        try:
            if depth == 1:
                for page in source.read_pages(level["jql"], fields):
                    writer.write(page.issues, depth, None, expected=page.expected, calls=page.calls)
            else:
                names = {f.id: f.name for f in known.values()}
                children = Children(source, level["jql"], fields, parents, names)
                if children.searches > MAX_SUBQUERIES:
                    raise SourceError(
                        f"Level {depth} would run {children.searches} searches for the {len(parents)} issues of "
                        f"level {depth - 1}; the limit is {MAX_SUBQUERIES}. Narrow the query of level {depth - 1}."
                    )
                for parent_position, issues in children:
                    writer.write(issues, depth, parent_position)
                writer.calls += children.calls
        except JqlError as exc:
            if depth == 1:
                raise
            raise JqlError([f"Level {depth}: {m}" for m in exc.messages]) from None
        writer.flush()
        parents = writer.level_positions.get(depth, [])
    duration_ms = int((time.monotonic() - started) * 1000)
    return _finish(job, snapshot, writer, duration_ms, writer.calls)


def _fields_to_fetch(fields: list[str]) -> list[str]:
    # `key` is not a Jira field (it is on every issue), but a status is needed for the
    # per-category counts that comparisons use.
    wanted = [f for f in fields if f != "key"]
    if "status" not in wanted:
        wanted.append("status")
    return wanted


class _RowWriter:
    """Streams issues into SnapshotRow a thousand at a time so memory stays flat.

    Rows go in with one ``executemany`` per thousand inside one transaction: building a
    model instance per issue and letting ``bulk_create`` prepare each value cost more than
    reading the issues from Jira, and SQLite in autocommit commits every row on its own.
    """

    FLUSH_ROWS = 1000

    def __init__(self, snapshot: Snapshot, job: SnapshotJob):
        self.snapshot = snapshot
        self.job = job
        self.position = 0
        self.calls = 0
        self.level_counts: Counter[int] = Counter()
        self.categories: Counter[str] = Counter()
        self.level_positions: dict[int, list[tuple[int, str]]] = {}
        self._rows: list[tuple] = []
        self._expected: int | None = None
        self.indexer = RowIndexer(snapshot)  # issue 11: what filtering and sorting read
        self.charts = ChartTally(snapshot.columns[0] if snapshot.columns else [])  # chart counts (issue 15)

    def write(self, issues: list[dict], depth: int, parent: int | None, *, expected: int | None = None,
              calls: int = 0) -> None:
        self.calls += calls
        if self.position + len(issues) > MAX_ISSUES:
            raise SourceError(f"This snapshot would hold more than {MAX_ISSUES:,} issues; narrow the query.")
        if depth == 1 and expected is not None:
            self._expected = expected
        positions = self.level_positions.setdefault(depth, [])
        snapshot_id = self.snapshot.pk
        field_ids = self.indexer.field_ids(depth)
        for issue in issues:
            self.position += 1
            key = issue.get("key", "")
            self._rows.append((snapshot_id, self.position, depth, parent, key, _to_json(issue)))
            positions.append((self.position, key))
            # Each value's cache key, once for both the index and the chart counts.
            keys = value_keys(issue.get("fields") or {}, field_ids)
            self.indexer.add(self.position, depth, parent, issue, keys)
            if depth == 1:
                category = _status_category(issue)
                self.categories[category] += 1
                self.charts.add(issue, category, keys)
        self.level_counts[depth] += len(issues)
        if len(self._rows) >= self.FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        with transaction.atomic():
            if self._rows:
                _insert_rows(self._rows)
                self._rows = []
            self.indexer.flush()
            SnapshotJob.objects.filter(pk=self.job.pk).update(
                fetched=self.position,
                expected=self._expected if self._expected is not None else F("expected"),
                lease_until=timezone.now() + SnapshotJob.lease_length(),
            )


MAX_NESTING = 200  # levels of JSON a stored issue may hold (orjson writes at most 254)


def _to_json(issue: dict) -> str:
    try:
        return orjson.dumps(issue).decode()
    except TypeError:  # what orjson will not write (integers past 64 bits), json does
        pass
    try:
        return json.dumps(_shallow(issue), separators=(",", ":"))
    except RecursionError:
        return json.dumps(_shallow(issue, 20), separators=(",", ":"))


def _shallow(issue: dict, limit: int = MAX_NESTING) -> dict:
    """The issue with any field nested deeper than ``limit`` kept as its words.

    A value nested hundreds deep is no field Jira makes; stored as it is, reading the row
    back (json) and rendering it would run past Python's stack on every page view.
    """
    fields = issue.get("fields")
    if not isinstance(fields, dict) or all(_depth(v, limit) < limit for v in fields.values()):
        return issue
    flat = {k: (flat_text(v) if _depth(v, limit) >= limit else v) for k, v in fields.items()}
    return {**issue, "fields": flat}


def _depth(value, limit: int) -> int:
    """How deep ``value`` nests, counted up to ``limit`` without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest >= limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item if isinstance(v, (dict, list)))
    return deepest


def _insert_rows(rows: list[tuple]) -> None:
    meta = SnapshotRow._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name).column for name in ("snapshot", "position", "level", "parent_position", "issue_key", "data")]
    json_value = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"VALUES (%s, %s, %s, %s, %s, {json_value})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _status_category(issue: dict) -> str:
    status = (issue.get("fields") or {}).get("status") or {}
    category = status.get("statusCategory") or {}
    return category.get("name") or status.get("name") or "No status"


def _finish(job: SnapshotJob, snapshot: Snapshot, writer: _RowWriter, duration_ms: int, requests_made: int):
    now = timezone.now()
    with transaction.atomic():
        done = SnapshotJob.objects.filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts).update(
            status=Status.SUCCEEDED, finished_at=now, lease_until=None, fetched=writer.position, error=""
        )
        if not done:
            # Our lease ran out and another attempt took the job over: its result wins.
            log.warning("snapshot job %s lost its lease; discarding this attempt's rows", job.pk)
            snapshot.delete()
            return None
        snapshot.complete = True
        snapshot.taken_at = now
        snapshot.issue_count = writer.level_counts[1]
        snapshot.counts = {
            "levels": [writer.level_counts[d] for d in range(1, len(snapshot.levels) + 1)],
            "status_categories": dict(writer.categories),
            **writer.charts.counts(),  # chart counts (issue 15): sums per category
        }
        snapshot.group_counts = writer.charts.group_counts()  # chart counts (issue 15)
        snapshot.duration_ms = duration_ms
        snapshot.requests_made = requests_made
        snapshot.save()
        record_version(job.macro.page, PageVersion.Kind.SNAPSHOT, author=job.requested_by, actor=job.actor, snapshot=snapshot)
        settings_row = SiteSettings.load()
        if snapshot.source_site and not settings_row.jira_site_url:
            settings_row.jira_site_url = snapshot.source_site
            settings_row.save(update_fields=["jira_site_url", "updated_at"])
    return snapshot


def record_version(page: Page, kind: str, *, author=None, actor: str, snapshot: Snapshot | None = None) -> PageVersion:
    """Append a version to the page's history (call inside a transaction)."""
    page = Page.objects.select_for_update().get(pk=page.pk)
    last = page.versions.order_by("-number").values_list("number", flat=True).first() or 0
    latest = {
        s.macro_id: s.pk
        for s in Snapshot.objects.finished().filter(macro__page=page).order_by("macro_id", "taken_at")
    } if kind == PageVersion.Kind.PUBLISH else {}
    macros = []
    for macro in page.live_macros():
        snap_id = latest.get(macro.pk) if kind == PageVersion.Kind.PUBLISH else None
        if snapshot is not None and snapshot.macro_id == macro.pk:
            snap_id = snapshot.pk
        macros.append(
            {"id": str(macro.public_id), "title": macro.title, "levels": macro.levels, "display": macro.display, "snapshot": snap_id}
        )
    version = PageVersion.objects.create(
        page=page,
        number=last + 1,
        kind=kind,
        title=page.title,
        body=page.body,
        macros=macros,
        snapshot=snapshot,
        author=author,
        actor=actor,
    )
    Page.objects.filter(pk=page.pk).update(current_version=version)
    return version


def field_infos(source: Source, *, wanted: list[str] | tuple = ()) -> list[FieldInfo]:
    """The source's fields (names and schemas, from the site's copy), or none when Jira cannot say."""
    try:
        return fieldlist.fields_of(source, wanted=wanted)
    except SourceError:
        return []


def field_names(source: Source) -> dict[str, str]:
    names = {f.id: f.name for f in field_infos(source)}
    names.setdefault("key", "Key")
    return names


def field_column(field_id: str, known: dict[str, FieldInfo]) -> dict:
    if field_id in known:
        return known[field_id].column()
    return {"id": field_id, "name": "Key" if field_id == "key" else field_id}


def check_same_site(source: Source) -> None:
    """Refuse to mix issues of two Jira sites in one history (reference product behaviour)."""
    if not source.site_url:
        return
    remembered = SiteSettings.load().jira_site_url
    if remembered and remembered.rstrip("/") != source.site_url.rstrip("/"):
        raise SourceError(
            f"Snapshots on this site came from {remembered}, but Jira is now configured as {source.site_url}. "
            "A site administrator must confirm it is the same Jira site under a new URL "
            "(Site administration → Jira connection → Same site, new URL) before snapshots can be taken."
        )


REAP_BATCH = 500


def reap_stale_jobs(now=None) -> dict[str, int]:
    """Settle jobs the queue lost; django-q2 runs this every SNAPSHOT_SWEEP_SECONDS (macros/apps.py).

    A running job whose lease lapsed lost its worker (killed, out of memory, machine gone):
    a live worker renews the lease every third of it (``LeaseHeartbeat``). Such a job is
    re-enqueued while it has attempts left and failed with a reason after that. A queued
    job is lost when its broker message is: the Redis broker removes a task when a cluster
    takes it, so a cluster killed with tasks in its memory loses them for good, and the ORM
    broker hands them out again only after ``Q_CLUSTER["retry"]``. A message that was not
    lost after all does no harm: ``take`` claims with a guard, so the second delivery
    finds nothing to do.
    """
    from django.core.cache import cache

    now = now or timezone.now()
    retry = settings.Q_CLUSTER["retry"]
    max_attempts = settings.Q_CLUSTER["max_attempts"]
    dead = Q(status=Status.RUNNING, lease_until__lt=now)

    out_of_attempts = list(
        SnapshotJob.objects.filter(dead, attempts__gte=max_attempts).values_list("pk", flat=True)[:REAP_BATCH]
    )
    with transaction.atomic():
        failed = SnapshotJob.objects.filter(dead, attempts__gte=max_attempts, pk__in=out_of_attempts).update(
            status=Status.FAILED,
            finished_at=now,
            lease_until=None,
            error=(
                f"The worker taking this snapshot stopped before it finished, on each of its {max_attempts} "
                "attempts (the worker process was killed or restarted). Take the snapshot again; if it keeps "
                "happening, ask the site administrator to look at the workers."
            ),
        )
        Snapshot.objects.filter(job__in=out_of_attempts, job__status=Status.FAILED, complete=False).delete()

    requeued = 0
    orphans = SnapshotJob.objects.filter(dead, attempts__lt=max_attempts).order_by("lease_until")
    for job_id, attempts in orphans.values_list("pk", "attempts")[:REAP_BATCH]:
        # Once per attempt (and again after `retry`, should that message be lost too).
        if cache.add(f"snapshot-job-requeued:{job_id}:{attempts}", 1, timeout=retry):
            enqueue(job_id)
            requeued += 1

    # While messages wait in the broker, queued jobs may simply be behind them: only one
    # that waited the broker's whole retry time is presumed lost. With none waiting, a job
    # still queued after two leases is in a cluster's memory, live or dead: a second
    # message costs a free worker one guarded UPDATE, and saves the job from a dead one.
    patience = retry if _messages_waiting() else 2 * settings.SNAPSHOT_LEASE_SECONDS
    stranded = SnapshotJob.objects.filter(status=Status.QUEUED, created_at__lt=now - timedelta(seconds=patience))
    for job_id in stranded.order_by("created_at").values_list("pk", flat=True)[:REAP_BATCH]:
        if cache.add(f"snapshot-job-requeued:{job_id}:queued", 1, timeout=patience):
            enqueue(job_id)
            requeued += 1
    if failed or requeued:
        log.warning("sweep: re-enqueued %d lost snapshot job(s), failed %d out of attempts", requeued, failed)
    return {"requeued": requeued, "failed": failed}


def _messages_waiting() -> int:
    """Tasks waiting in the broker, not yet taken by any cluster (a broker error counts as many)."""
    from django_q.brokers import get_broker

    try:
        return get_broker().queue_size() or 0
    except Exception:  # any broker failure means: presume nothing lost
        log.warning("sweep: could not read the broker's queue size", exc_info=True)
        return 1


def iter_rows(snapshot: Snapshot, *, level: int = 1, offset: int = 0, limit: int | None = None) -> Iterator[SnapshotRow]:
    rows = snapshot.rows.filter(level=level).order_by("position")
    if limit is not None:
        rows = rows[offset : offset + limit]
    return rows.iterator(chunk_size=500)
