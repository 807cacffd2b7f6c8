"""Backup archives: the whole site, or chosen spaces, in one file; and restoring one.

The format (``FORMAT_VERSION`` 1) is a ZIP file:

``manifest.json``
    ``{"format": "snapshots-backup", "format_version": 1, "created_at", "scope": "site" |
    "spaces", "spaces": [keys] | null, "database": "sqlite" | "postgresql", "migrations":
    {app: [applied names]}, "tables": [{"table": "macros.snapshotrow", "file":
    "data/macros.snapshotrow.jsonl", "fields": [attnames], "rows": N, "sha256": hex}]}``
``data/<app>.<model>.jsonl``
    one JSON array per row, values in the table's ``fields`` order: ids as numbers or
    strings (UUIDs), dates and times in ISO 8601 with their offset, a JSON field as its
    JSON text in a string (so neither side parses a snapshot row's issue), a reference
    to a table that is not in the archive (a Django permission) as its natural key. ``sha256`` is the digest of the member's uncompressed bytes.

The tables are found, not listed: every model of the ``auth``, ``macros`` and
``automation`` apps (many-to-many link tables included) except those in ``SKIPPED``, in
an order where each table comes after the tables it refers to (a reference that closes
a cycle, such as a page's current version, is written after the fact). A model another
change adds to those apps is therefore in the next backup without a line here.

Rows are read with ``iterator()`` and written as they come, and restored in batches, so
memory stays flat however many snapshot rows a site holds (bench/bench_backup.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid
import zipfile
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import F
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.duration import duration_iso_string

FORMAT = "snapshots-backup"
FORMAT_VERSION = 1
APPS = ("auth", "macros", "automation")
MANIFEST = "manifest.json"
BATCH = 1000
PROGRESS_EVERY = 5000

# Tables of those apps that a backup leaves out, and why. Outside those apps nothing is
# carried: sessions (people sign in again), content types and Django admin's log (made
# and kept by Django itself), django-q2's queue, results and schedules (schedules are
# made again from the macros' own schedules after a restore).
SKIPPED = {
    "auth.permission": "made by migrate on every site; grants refer to one by (app, model, codename)",
    "automation.backuprun": "the backup runs of one site, with file paths on that host",
    "macros.jirafieldlist": "a copy of Jira's field list, read again from Jira on the restored site",
}
# On a full restore these one-row settings tables may already hold the row a fresh
# site makes for itself; the archive's row replaces it.
REPLACED_ON_FULL_RESTORE = {"macros.sitesettings"}
# A space backup names people and groups; restoring it maps them by these fields.
MERGED_BY = {"auth.user": "username", "auth.group": "name"}
# What a space backup carries of a person: no password, no site-wide powers.
PERSON_FIELDS = ("id", "username", "first_name", "last_name", "email", "date_joined")


class BackupError(Exception):
    """Why an archive cannot be written or restored, as a sentence for a person."""


# --- tables ----------------------------------------------------------------------------


@dataclass
class Table:
    model: type[models.Model]
    deferred: set[str] = field(default_factory=set)  # attnames written after every table is in

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def member(self) -> str:
        return f"data/{self.label}.jsonl"

    @property
    def concrete_fields(self) -> list[models.Field]:
        return list(self.model._meta.concrete_fields)

    def references(self) -> list[models.Field]:
        return [f for f in self.concrete_fields if _is_reference(f)]


def tables() -> list[Table]:
    """Every table a backup carries, each after the tables it refers to."""
    found: list[type[models.Model]] = []
    for label in APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed or meta.label_lower in SKIPPED:
                continue
            found.append(model)
    return _ordered([Table(model) for model in found])


def _ordered(candidates: list[Table]) -> list[Table]:
    models_in = {t.model for t in candidates}
    waiting: dict[type, set] = {}
    for table in candidates:
        waiting[table.model] = set()
        for f in table.references():
            if f.related_model is table.model:
                table.deferred.add(f.attname)  # a row pointing at a row of its own table
            elif f.related_model in models_in:
                waiting[table.model].add(f.related_model)
    order: list[Table] = []
    pending = list(candidates)
    while pending:
        done = {t.model for t in order}
        ready = [t for t in pending if waiting[t.model] <= done]
        if ready:
            order.extend(ready)
            pending = [t for t in pending if t not in ready]
            continue
        # A cycle (a page and its current version): the first reference in it that may be
        # empty is written after every table is in.
        for table in pending:
            cut = [f for f in table.references() if f.null and f.related_model in waiting[table.model] - done]
            if cut:
                target = cut[0].related_model
                if all(f.null for f in table.references() if f.related_model is target):
                    table.deferred.update(f.attname for f in table.references() if f.related_model is target)
                    waiting[table.model].discard(target)
                    break
        else:
            raise BackupError("The tables refer to each other in a cycle without a column that may be empty.")
    return order


def _is_reference(f: models.Field) -> bool:
    return f.is_relation and f.concrete and (f.many_to_one or f.one_to_one)


# --- scope -----------------------------------------------------------------------------


@dataclass
class Scope:
    """The whole site (``spaces`` None) or some spaces, and what that means per table."""

    spaces: list[str] | None = None
    users: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)

    @property
    def is_site(self) -> bool:
        return self.spaces is None

    def queryset(self, table: Table) -> models.QuerySet | None:
        """The table's rows in this scope, or None when the table is not in it."""
        manager = table.model._base_manager
        if self.is_site:
            return manager.all()
        label = table.label
        if label == "auth.user":
            return manager.filter(pk__in=self.users)
        if label == "auth.group":
            return manager.filter(pk__in=self.groups)
        if label == "auth.user_groups":
            return manager.filter(group_id__in=self.groups)
        path = _path_to_space(table.model)
        if path is None:
            return None
        return manager.filter(**{f"{path}key__in" if path else "key__in": self.spaces})

    def fields(self, table: Table) -> list[models.Field]:
        if not self.is_site and table.label == "auth.user":
            return [f for f in table.concrete_fields if f.attname in PERSON_FIELDS]
        return table.concrete_fields


def _path_to_space(model: type[models.Model]) -> str | None:
    """The shortest chain of references from ``model`` to a Space ("page__space__"), if any."""
    from macros.models import Space

    if model is Space:
        return ""
    seen = {model}
    queue: deque[tuple[type[models.Model], str]] = deque([(model, "")])
    while queue:
        current, path = queue.popleft()
        for f in current._meta.concrete_fields:
            if not _is_reference(f) or f.related_model in seen:
                continue
            if f.related_model._meta.app_label not in ("macros", "automation"):
                continue
            step = f"{path}{f.name}__"
            if f.related_model is Space:
                return step
            seen.add(f.related_model)
            queue.append((f.related_model, step))
    return None


def _people_of(scope: Scope, ordered: list[Table]) -> None:
    """The people and groups a space backup names: those its rows refer to, and group members."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    for table in ordered:
        if table.model._meta.app_label == "auth":
            continue
        rows = scope.queryset(table)
        if rows is None:
            continue
        for f in table.references():
            if f.related_model is User:
                scope.users.update(v for v in rows.values_list(f.attname, flat=True).distinct() if v is not None)
            elif f.related_model is Group:
                scope.groups.update(v for v in rows.values_list(f.attname, flat=True).distinct() if v is not None)
    scope.users.update(User.groups.through.objects.filter(group_id__in=scope.groups).values_list("user_id", flat=True))


# --- values ----------------------------------------------------------------------------


def _to_json(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a value a backup can hold")


def _dumps(row) -> str:
    return json.dumps(row, default=_to_json, ensure_ascii=False, separators=(",", ":"))


class NaturalKeys:
    """References to tables a backup leaves out (permissions), written as natural keys."""

    def __init__(self):
        self._out: dict[type, dict] = defaultdict(dict)
        self._in: dict[type, dict] = defaultdict(dict)

    def out(self, model: type[models.Model], pk) -> list | None:
        if pk is None:
            return None
        cache = self._out[model]
        if pk not in cache:
            row = model._base_manager.filter(pk=pk).first()
            # A row of another app without a natural key (none today) is left out; the
            # reference is restored empty.
            cache[pk] = list(row.natural_key()) if row is not None and hasattr(row, "natural_key") else None
        return cache[pk]

    def back(self, model: type[models.Model], key: list | None):
        if key is None:
            return None
        cache = self._in[model]
        marker = tuple(key)
        if marker not in cache:
            try:
                cache[marker] = model._default_manager.get_by_natural_key(*key).pk
            except model.DoesNotExist:
                raise BackupError(f"This site has no {model._meta.verbose_name} {'.'.join(map(str, key))} that the archive refers to.") from None
        return cache[marker]


def _in_archive(f: models.Field, labels: set[str]) -> bool:
    return f.related_model._meta.label_lower in labels


# --- writing ---------------------------------------------------------------------------

Progress = Callable[[int, int], None]


@dataclass
class BackupResult:
    path: Path
    manifest: dict

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.manifest["tables"])


def write_backup(output: str | os.PathLike, spaces: Iterable[str] | None = None, *, progress: Progress | None = None) -> BackupResult:
    """Write the whole site (or ``spaces``) to ``output``; the file appears only when complete."""
    from macros.models import Space

    output = Path(output)
    keys = None if spaces is None else sorted({k.strip() for k in spaces if k.strip()})
    if keys is not None:
        if not keys:
            raise BackupError("Name at least one space to back up.")
        known = set(Space.objects.filter(key__in=keys).values_list("key", flat=True))
        missing = [k for k in keys if k not in known]
        if missing:
            raise BackupError(f"There is no space with the key {', '.join(missing)} on this site.")
    scope = Scope(spaces=keys)
    ordered = tables()
    partial = output.with_name(output.name + ".partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _consistent_read():
            if not scope.is_site:
                _people_of(scope, ordered)
            plan = [(t, scope.queryset(t)) for t in ordered]
            plan = [(t, rows) for t, rows in plan if rows is not None]
            total = sum(rows.count() for _, rows in plan)
            manifest = _manifest(scope)
            done = 0
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as archive:
                labels = {t.label for t, _ in plan}
                natural = NaturalKeys()
                for table, rows in plan:
                    entry, done = _write_table(archive, table, scope.fields(table), rows, labels, natural, done, total, progress)
                    manifest["tables"].append(entry)
                archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(output, manifest)


def _manifest(scope: Scope) -> dict:
    applied = defaultdict(list)
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        if app in APPS:
            applied[app].append(name)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "scope": "site" if scope.is_site else "spaces",
        "spaces": scope.spaces,
        "database": connection.vendor,
        "migrations": dict(applied),
        "tables": [],
    }


def _write_table(archive, table, fields, rows, labels, natural, done, total, progress) -> tuple[dict, int]:
    outside = {i: f.related_model for i, f in enumerate(fields) if _is_reference(f) and not _in_archive(f, labels)}
    # A JSON column travels as the database's own text, in a string: parsing a snapshot
    # row's issue only to print it again (and back on restore) was most of the time.
    columns = [Cast(f.attname, models.TextField()) if isinstance(f, models.JSONField) else F(f.attname) for f in fields]
    names = [f"c{i}" for i in range(len(fields))]
    digest = hashlib.sha256()
    count = 0
    lines: list[str] = []
    query = rows.order_by("pk").annotate(**dict(zip(names, columns, strict=True))).values_list(*names)
    with archive.open(table.member, "w", force_zip64=True) as member:
        for row in query.iterator(chunk_size=2000):
            if outside:
                row = list(row)
                for i, model in outside.items():
                    row[i] = natural.out(model, row[i])
            lines.append(_dumps(row))
            count += 1
            if count % 1000 == 0:
                _flush(lines, member, digest)
            if progress is not None and (done + count) % PROGRESS_EVERY == 0:
                progress(done + count, total)
        _flush(lines, member, digest)
    if progress is not None:
        progress(done + count, total)
    entry = {"table": table.label, "file": table.member, "fields": [f.attname for f in fields], "rows": count, "sha256": digest.hexdigest()}
    return entry, done + count


def _flush(lines: list[str], member, digest) -> None:
    if lines:
        data = ("\n".join(lines) + "\n").encode()
        digest.update(data)
        member.write(data)
        lines.clear()


@contextmanager
def _consistent_read() -> Iterator[None]:
    """Read every table as of one moment, so that a backup of a busy site restores.

    PostgreSQL: one repeatable-read transaction. SQLite: a deferred transaction, whose
    first read fixes the snapshot in WAL mode without taking the write lock (the site's
    own transactions are IMMEDIATE, which would hold writers off for the whole backup).
    Inside an outer transaction (tests) the outer one already fixes what is read.
    """
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
        return
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("COMMIT")


# --- reading ---------------------------------------------------------------------------


class Archive:
    """An archive opened for restoring: the manifest read and checked, members readable."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise BackupError(f"There is no file {self.path}.")
        try:
            self.zip = zipfile.ZipFile(self.path)
            raw = self.zip.read(MANIFEST)
        except (zipfile.BadZipFile, EOFError, OSError):
            raise BackupError(
                f"{self.path.name} is not a complete Snapshots backup: it cannot be read as an archive "
                "(it may be truncated, for example by an interrupted download)."
            ) from None
        except KeyError:
            raise BackupError(f"{self.path.name} is not a Snapshots backup: it has no {MANIFEST}.") from None
        try:
            manifest = json.loads(raw)
        except ValueError:
            raise BackupError(f"The manifest of {self.path.name} is damaged: it is not valid JSON.") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{self.path.name} is not a Snapshots backup (its manifest names another format).")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise BackupError(f"The manifest of {self.path.name} has no valid format version.")
        if version > FORMAT_VERSION:
            raise BackupError(
                f"{self.path.name} was written in backup format version {version}; this site reads version "
                f"{FORMAT_VERSION} and older. Upgrade Snapshots on this site, then restore."
            )
        if manifest.get("scope") not in ("site", "spaces") or not isinstance(manifest.get("tables"), list):
            raise BackupError(f"The manifest of {self.path.name} is damaged: it has no scope or table list.")
        for entry in manifest["tables"]:
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("table"), str)
                and entry.get("file") == f"data/{entry['table']}.jsonl"
                and isinstance(entry.get("fields"), list)
                and isinstance(entry.get("rows"), int)
                and isinstance(entry.get("sha256"), str)
            ):
                raise BackupError(f"The manifest of {self.path.name} is damaged: a table's entry lacks its file, fields, row count or checksum.")
        self.manifest = manifest
        self.entries = {t["table"]: t for t in manifest["tables"]}

    @property
    def is_site(self) -> bool:
        return self.manifest["scope"] == "site"

    def close(self) -> None:
        self.zip.close()

    def rows(self, entry: dict) -> Iterator[list]:
        """The member's rows; a member that does not read back whole is a damaged archive."""
        try:
            with self.zip.open(entry["file"]) as member:
                for line in io.TextIOWrapper(member, encoding="utf-8"):
                    yield json.loads(line)
        except KeyError:
            raise BackupError(f"The archive is damaged: {entry['file']} is missing.") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, UnicodeDecodeError, zlib.error):
            raise BackupError(f"The archive is damaged: {entry['file']} cannot be read back.") from None

    def verify(self, entry: dict) -> int:
        """Check one member against its checksum and row count without keeping it in memory."""
        digest = hashlib.sha256()
        lines = 0
        try:
            with self.zip.open(entry["file"]) as member:
                while chunk := member.read(1 << 20):
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
        except KeyError:
            raise BackupError(f"The archive is damaged: {entry['file']} is missing.") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error):
            raise BackupError(f"The archive is damaged: {entry['file']} cannot be read back.") from None
        if digest.hexdigest() != entry.get("sha256") or lines != entry.get("rows"):
            raise BackupError(
                f"The archive is damaged: {entry['file']} does not match its checksum in the manifest. Nothing was restored."
            )
        return lines


# --- restoring -------------------------------------------------------------------------


@dataclass
class RestoreReport:
    scope: str
    spaces: list[str] | None
    rows: dict[str, int] = field(default_factory=dict)
    people_mapped: list[str] = field(default_factory=list)
    people_created: list[str] = field(default_factory=list)
    groups_created: list[str] = field(default_factory=list)
    schedules: int = 0
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def lines(self) -> list[str]:
        what = "the whole site" if self.scope == "site" else f"space{'s' if len(self.spaces or []) != 1 else ''} {', '.join(self.spaces or [])}"
        verb = "Would restore" if self.dry_run else "Restored"
        out = [f"{verb} {what}: {self.total} rows."]
        out += [f"  {label}: {count}" for label, count in self.rows.items() if count]
        if self.people_mapped:
            out.append(f"People matched to this site's users by user name: {', '.join(self.people_mapped)}.")
        if self.people_created:
            out.append(
                f"People {'to be ' if self.dry_run else ''}created as inactive users without a password "
                f"(an administrator activates them and sets a password): {', '.join(self.people_created)}."
            )
        if self.groups_created:
            out.append(f"Groups {'to be ' if self.dry_run else ''}created: {', '.join(self.groups_created)}.")
        if self.schedules:
            out.append(f"Schedules {'to be ' if self.dry_run else ''}set up again: {self.schedules}.")
        if self.dry_run:
            out.append("Nothing was written (--dry-run).")
        return out


def restore(path: str | os.PathLike, *, dry_run: bool = False, progress: Progress | None = None) -> RestoreReport:
    """Restore an archive into this site, all or nothing; refuse with a sentence before writing."""
    archive = Archive(path)
    try:
        return _Restore(archive, progress).run(dry_run)
    finally:
        archive.close()


class _Restore:
    def __init__(self, archive: Archive, progress: Progress | None):
        self.archive = archive
        self.progress = progress
        self.manifest = archive.manifest
        self.site = archive.is_site
        self.report = RestoreReport(scope=self.manifest["scope"], spaces=self.manifest.get("spaces"))
        self.natural = NaturalKeys()
        self.ids: dict[type, dict] = defaultdict(dict)  # remapped tables: old id -> new id
        self.created_groups: set = set()
        self.deferred: list[tuple[Table, models.Field, object, object]] = []

    # -- checks, in the order a person would want to hear them ---------------------------

    def run(self, dry_run: bool) -> RestoreReport:
        self._check_schema()
        self.plan = [t for t in tables() if t.label in self.archive.entries]
        self._check_fields()
        self.remapped = {t.model for t in self.plan if not self._keeps_id(t)}
        total = 0
        for table in self.plan:
            total += self.archive.verify(self.archive.entries[table.label])
        self.total = total
        if self.site:
            self._check_empty()
        else:
            self._check_collisions()
        self.report.dry_run = dry_run
        self.report.schedules = self.archive.entries.get("macros.macroschedule", {}).get("rows", 0)
        if dry_run:
            for table in self.plan:
                self.report.rows[table.label] = self.archive.entries[table.label]["rows"]
            if not self.site:
                self._preview_people()
            return self.report
        try:
            with transaction.atomic():
                self._write()
        except IntegrityError as exc:
            raise BackupError(f"The archive collides with data already on this site; nothing was restored. ({_first_line(exc)})") from None
        except DatabaseError as exc:
            raise BackupError(f"The database refused the archive's rows; nothing was restored. ({_first_line(exc)})") from None
        return self.report

    def _check_schema(self) -> None:
        archived = self.manifest.get("migrations") or {}
        here = MigrationRecorder(connection).applied_migrations()
        for app, names in archived.items():
            for name in names:
                if (app, name) not in here:
                    raise BackupError(
                        f"The archive comes from a newer version of Snapshots (its database has migration {app}.{name}, "
                        "which this site has not applied). Upgrade Snapshots here and run `manage.py migrate`, then restore."
                    )

    def _check_fields(self) -> None:
        known = {t.label: t for t in tables()}
        for label, entry in self.archive.entries.items():
            if label not in known:
                raise BackupError(f"The archive holds a table this site does not have ({label}); it comes from a newer version of Snapshots.")
            have = {f.attname for f in known[label].concrete_fields}
            extra = [name for name in entry.get("fields", []) if name not in have]
            if extra:
                raise BackupError(f"The archive's {label} has fields this site does not have ({', '.join(extra)}); it comes from a newer version of Snapshots.")

    def _check_empty(self) -> None:
        busy = []
        for table in self.plan:
            if table.label in REPLACED_ON_FULL_RESTORE:
                continue
            count = table.model._base_manager.count()
            if count:
                busy.append(f"{count} {table.model._meta.verbose_name_plural if count != 1 else table.model._meta.verbose_name}")
        if busy:
            raise BackupError(
                "This is a backup of a whole site, and a whole site is restored into an empty one, but this site "
                f"already has {', '.join(busy[:4])}{' and more' if len(busy) > 4 else ''}. Make a new database, run "
                "`manage.py migrate` and restore there (without creating users first); to add some spaces to a "
                "live site, restore a space backup (`manage.py backup --space KEY`)."
            )

    def _check_collisions(self) -> None:
        """Space keys, page ids, macro ids, job ids and any other unique value already taken here."""
        for table in self.plan:
            if table.label in MERGED_BY or table.model._meta.auto_created:
                continue
            entry = self.archive.entries[table.label]
            names = entry["fields"]
            checks = [
                (names.index(f.attname), f)
                for f in table.concrete_fields
                if f.attname in names and ((f.unique and not f.primary_key) or (f.primary_key and self._keeps_id(table)))
                and not _is_reference(f)
            ]
            if not checks:
                continue
            pending: dict[int, list] = defaultdict(list)
            for row in self.archive.rows(entry):
                for i, _ in checks:
                    if row[i] is not None:
                        pending[i].append(row[i])
                if sum(len(v) for v in pending.values()) >= BATCH:
                    self._collide(table, checks, pending)
            self._collide(table, checks, pending)

    def _collide(self, table: Table, checks, pending: dict[int, list]) -> None:
        for i, f in checks:
            values = [f.to_python(v) for v in pending.pop(i, [])]
            if not values:
                continue
            taken = list(table.model._base_manager.filter(**{f"{f.name}__in": values}).values_list(f.attname, flat=True)[:5])
            if taken:
                what = {"macros.space": "space key", "macros.page": "page id", "macros.macro": "macro id"}.get(
                    table.label, f"{table.model._meta.verbose_name} {f.verbose_name}"
                )
                raise BackupError(
                    f"This site already has the {what}{'s' if len(taken) > 1 else ''} {', '.join(map(str, taken))} "
                    "that the archive would restore; nothing was restored. Ids are kept on restore so that links and "
                    "automation keep working: restore into a site that does not have them (or move the space there away first)."
                )

    def _keeps_id(self, table: Table) -> bool:
        """Whether rows keep their archived id: always on a full restore; on a space restore for
        pages (their ids are in automation URLs) and ids that are not counters (job UUIDs)."""
        if self.site:
            return True
        if table.label in MERGED_BY or table.model._meta.auto_created:
            return False
        pk = table.model._meta.pk
        return table.label == "macros.page" or not isinstance(pk, models.AutoField)

    def _preview_people(self) -> None:
        for label, key in MERGED_BY.items():
            entry = self.archive.entries.get(label)
            if entry is None:
                continue
            table = next(t for t in self.plan if t.label == label)
            position = entry["fields"].index(key)
            names = [row[position] for row in self.archive.rows(entry)]
            existing = set(table.model._base_manager.filter(**{f"{key}__in": names}).values_list(key, flat=True))
            if label == "auth.user":
                self.report.people_mapped = [n for n in names if n in existing]
                self.report.people_created = [n for n in names if n not in existing]
            else:
                self.report.groups_created = [n for n in names if n not in existing]

    # -- writing ---------------------------------------------------------------------

    def _write(self) -> None:
        if self.site:
            for table in self.plan:
                if table.label in REPLACED_ON_FULL_RESTORE:
                    table.model._base_manager.all().delete()
        labels = {t.label for t in self.plan}
        done = 0
        for table in self.plan:
            done = self._write_table(table, labels, done)
        self._write_deferred()
        if self.site or any(self._keeps_id(t) for t in self.plan):
            self._reset_sequences()
        self._resync_schedules()

    def _write_table(self, table: Table, labels: set[str], done: int) -> int:
        entry = self.archive.entries[table.label]
        names = entry["fields"]
        by_name = {f.attname: f for f in table.concrete_fields}
        archived = [by_name[n] for n in names]
        readers = [self._reader(f, labels) for f in archived]
        missing = [f for f in table.concrete_fields if f.attname not in names and not f.primary_key]
        merge = None if self.site else MERGED_BY.get(table.label)
        keep = self._keeps_id(table)
        remember = not keep and self._is_referenced(table)
        pk = table.model._meta.pk
        columns = [f for f in table.concrete_fields if keep or not f.primary_key]
        writers = [(f.attname, _writer(f)) for f in columns]
        deferred = [i for i, f in enumerate(archived) if f.attname in table.deferred]
        group_at = names.index("group_id") if table.label == "auth.user_groups" and not self.site else None
        hook = ROW_HOOKS.get(table.label)
        batch: list[list] = []
        count = 0
        for raw in self.archive.rows(entry):
            if len(raw) != len(archived):
                raise BackupError(f"The archive is damaged: a row of {entry['file']} has {len(raw)} values for {len(archived)} fields.")
            values = {f.attname: read(value) for f, read, value in zip(archived, readers, raw, strict=True)}
            for f in missing:
                values[f.attname] = _default(f)
            old_pk = values.get(pk.attname)
            if merge is not None:
                self._merge(table, merge, values)
                continue
            if group_at is not None and raw[group_at] not in self.created_groups:
                continue
            if hook is not None:
                hook(self, values)
            for i in deferred:
                if raw[i] is not None:
                    self.deferred.append((table, archived[i], old_pk, raw[i]))
            row = [write(values[attname]) for attname, write in writers]
            if remember:
                self.ids[table.model][old_pk] = _insert_returning(table, columns, row)
            else:
                batch.append(row)
                if len(batch) >= BATCH:
                    _insert(table, columns, batch)
                    batch = []
            count += 1
            if self.progress is not None and (done + count) % PROGRESS_EVERY == 0:
                self.progress(done + count, self.total)
        if batch:
            _insert(table, columns, batch)
        self.report.rows[table.label] = count
        return done + entry["rows"]

    def _reader(self, f: models.Field, labels: set[str]) -> Callable:
        """How one field's archived value becomes the value to write (ids mapped, types parsed)."""
        if f.attname in _deferred_of(self.plan, f.model):
            return lambda value: None  # written after every table is in
        if _is_reference(f):
            target = f.related_model
            if target._meta.label_lower not in labels:
                return lambda value: self.natural.back(target, value)
            if target in self.remapped:
                ids = self.ids[target]

                def mapped(value):
                    if value is None:
                        return None
                    new = ids.get(value)
                    if new is None and not f.null:
                        raise BackupError(
                            f"The archive is inconsistent: a {f.model._meta.verbose_name} refers to a "
                            f"{target._meta.verbose_name} it does not hold. Nothing was restored."
                        )
                    return new

                return mapped
            return _parser(f.target_field)
        return _parser(f)

    def _is_referenced(self, table: Table) -> bool:
        return any(f.related_model is table.model for other in self.plan for f in other.references())

    def _merge(self, table: Table, key: str, values: dict) -> None:
        """A person or group of a space backup: this site's own by name, or a new one."""
        model = table.model
        old_pk = values[model._meta.pk.attname]
        existing = model._base_manager.filter(**{key: values[key]}).values_list("pk", flat=True).first()
        if existing is not None:
            self.ids[model][old_pk] = existing
            if table.label == "auth.user":
                self.report.people_mapped.append(values[key])
            return
        row = dict(values)
        row.pop(model._meta.pk.attname)
        if table.label == "auth.user":
            row.update(password=make_password(None), is_active=False, is_staff=False, is_superuser=False)
            self.report.people_created.append(values[key])
        else:
            self.created_groups.add(old_pk)
            self.report.groups_created.append(values[key])
        self.ids[model][old_pk] = model._base_manager.create(**row).pk

    def _write_deferred(self) -> None:
        for table, f, old_pk, value in self.deferred:
            target = f.related_model
            new_value = self.ids[target].get(value) if target in self.remapped else f.target_field.to_python(value)
            pk = self.ids[table.model].get(old_pk) if table.model in self.remapped else old_pk
            table.model._base_manager.filter(pk=pk).update(**{f.attname: new_value})

    def _reset_sequences(self) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), [t.model for t in self.plan])
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    def _resync_schedules(self) -> None:
        from macros import schedules
        from macros.models import MacroSchedule

        restored = MacroSchedule.objects.select_related("macro")
        if not self.site:
            restored = restored.filter(macro__page__space__key__in=self.report.spaces or [])
        for schedule in restored:
            schedules.sync(schedule)


# Values JSON already gives in the type the database takes: nothing to convert.
_PLAIN = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField", "CharField", "TextField",
    "SlugField", "EmailField", "BooleanField",
}


def _plain(f: models.Field) -> bool:
    return f.get_internal_type() in _PLAIN or isinstance(f, models.JSONField)  # JSON travels as its text


def _parser(f: models.Field) -> Callable:
    if _plain(f):
        return lambda value: value
    return lambda value: None if value is None else f.to_python(value)


def _writer(f: models.Field) -> Callable:
    target = f.target_field if _is_reference(f) else f
    if _plain(target):
        return lambda value: value
    return lambda value: target.get_db_prep_save(value, connection)


def _deferred_of(plan: list[Table], model) -> set[str]:
    return next((t.deferred for t in plan if t.model is model), set())


def _default(f: models.Field):
    if f.has_default():
        value = f.get_default()
        return json.dumps(value) if isinstance(f, models.JSONField) else value
    if f.null:
        return None
    if isinstance(f, models.DateTimeField):
        return timezone.now()
    return f.get_default()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _insert_sql(table: Table, columns: list, rows: int) -> str:
    q = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {q(table.model._meta.db_table)} ({', '.join(q(f.column) for f in columns)}) VALUES {', '.join([one] * rows)}"


def _insert(table: Table, columns: list, batch: list[list]) -> None:
    # Written as SQL, not bulk_create: that would stamp auto_now fields with today.
    # PostgreSQL takes rows fastest by COPY; SQLite by one prepared INSERT, many times.
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {q(table.model._meta.db_table)} ({', '.join(q(f.column) for f in columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            cursor.executemany(_insert_sql(table, columns, 1), batch)


def _insert_returning(table: Table, columns: list, row: list):
    pk = table.model._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(table, columns, 1) + f" RETURNING {connection.ops.quote_name(pk.column)}", row)
        return cursor.fetchone()[0]


# --- per-table adjustments on restore ---------------------------------------------------


def _settle_unfinished_job(restore: _Restore, values: dict) -> None:
    """A job queued or running when the backup was made has no worker task here."""
    if values.get("status") in ("queued", "running"):
        values.update(
            status="failed",
            error="The site was restored from a backup before this snapshot was finished; take it again.",
            finished_at=timezone.now(),
            lease_until=None,
        )


def _version_snapshot_ids(restore: _Restore, values: dict) -> None:
    """A page version lists its macros with the snapshot each showed, by snapshot id."""
    from macros.models import Snapshot

    mapped = restore.ids.get(Snapshot)
    if restore.site or not mapped or not values.get("macros"):
        return
    values["macros"] = json.dumps([
        {**item, "snapshot": mapped.get(item["snapshot"])} if isinstance(item, dict) and item.get("snapshot") is not None else item
        for item in json.loads(values["macros"])
    ])


def _schedule_made_again(restore: _Restore, values: dict) -> None:
    values["q_schedule_id"] = None  # django-q2's row is made again by schedules.sync


def _counted_refusal(restore: _Restore, values: dict) -> None:
    # The bucket only gathers the current minute's refusals; an old one must not collide here.
    if not restore.site:
        values["bucket"] = None


ROW_HOOKS: dict[str, Callable[[_Restore, dict], None]] = {
    "macros.snapshotjob": _settle_unfinished_job,
    "macros.pageversion": _version_snapshot_ids,
    "macros.macroschedule": _schedule_made_again,
    "automation.automationevent": _counted_refusal,
}
