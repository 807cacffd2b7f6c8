"""Backup and restore of a site holding a million snapshot rows: time and peak memory.

Each step runs in a fresh process, the way ``manage.py backup`` / ``restore`` and a
django-q2 worker run it, and reports its own wall time and peak RSS
(``resource.getrusage``). Baselines measured in the same run, on the same data:

* memory: the peak RSS of an idle Django process of this site (``django.setup()`` and
  one query) — what any worker costs before it does anything;
* time: the database's own dump and load of the same database (``pg_dump -Fc`` /
  ``pg_restore``, or ``sqlite3 .dump`` / ``sqlite3 < dump``), which know nothing of the
  format, checksums or ids.

The databases are made for the run and dropped after it: PostgreSQL by default
(postgres://postgres@127.0.0.1:5432), or SQLite files in a temporary directory.

    .venv/bin/python bench/bench_backup.py                      # PostgreSQL, 1,000,000 rows
    .venv/bin/python bench/bench_backup.py --database sqlite
    .venv/bin/python bench/bench_backup.py --rows 100000        # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_jira_memory import issue  # noqa: E402

PG = "postgres://postgres@127.0.0.1:5432"
FIELDS = ["summary", "status", "assignee", "priority", "issuetype", "fixVersions", "labels", "updated", "customfield_10016"]
ROWS_PER_SNAPSHOT = 50_000


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snapshots_site.settings")
    import django

    django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(n: int) -> str:
    item = issue(n, True)
    return json.dumps({**item, "fields": {k: v for k, v in item["fields"].items() if k in FIELDS}})


# --------------------------------------------------------------------------------------
# Steps (each in its own process)


def fill(rows: int) -> None:
    """A space, pages, macros, and snapshots of 50,000 rows each until ``rows`` rows."""
    _django()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from macros import pages
    from macros.models import PageVersion, Snapshot, Space, SpacePermission

    started = time.perf_counter()
    editor = get_user_model().objects.create_user("bench-editor", "bench@example.com", "bench-password-1")
    space = Space.objects.create(key="bench", name="Bench")
    SpacePermission.objects.create(space=space, user=editor, level=SpacePermission.Level.EDIT)
    snapshots = -(-rows // ROWS_PER_SNAPSHOT)
    made = 0
    for s in range(snapshots):
        if s % 4 == 0:  # four snapshots per macro, one macro per page
            page = pages.create_page(space, f"Page {s // 4}", "A big snapshot.", editor)
            draft = pages.get_draft(page, editor)
            macro = pages.add_macro(draft, "All issues")
            pages.save_macro_draft(macro, {"title": "All issues", "levels": [{"jql": "project = P0", "fields": FIELDS}], "display": {"page_size": 25}})
            pages.publish(page, editor)
            macro.refresh_from_db()
        count = min(ROWS_PER_SNAPSHOT, rows - made)
        with transaction.atomic():
            now = timezone.now()
            snapshot = Snapshot.objects.create(
                macro=macro, complete=True, columns=[[{"id": f, "name": f.title()} for f in FIELDS]], levels=macro.levels,
                source="JiraCloud", source_site="https://bench.atlassian.net", issue_count=count, counts={"levels": [count]},
                taken_at=now, taken_by=editor, actor="bench-editor",
            )
            number = page.versions.count() + 1
            PageVersion.objects.create(page=page, number=number, kind="snapshot", title=page.title, body=page.body, snapshot=snapshot, author=editor, actor="bench-editor")
            _rows_into(connection, snapshot.pk, made, count)
        made += count
    print(json.dumps({"rows": made, "snapshots": snapshots, "seconds": time.perf_counter() - started}))


def _rows_into(connection, snapshot_id: int, start: int, count: int) -> None:
    columns = "(snapshot_id, position, level, parent_position, issue_key, data)"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY macros_snapshotrow {columns} FROM STDIN") as copy:
            for i in range(count):
                n = start + i
                copy.write_row((snapshot_id, i + 1, 1, None, f"P{n % 8}-{n}", _row(n)))
        return
    with connection.cursor() as cursor:
        for first in range(0, count, 5000):
            cursor.executemany(
                f"INSERT INTO macros_snapshotrow {columns} VALUES (%s, %s, %s, %s, %s, %s)",
                [(snapshot_id, i + 1, 1, None, f"P{(start + i) % 8}-{start + i}", _row(start + i)) for i in range(first, min(first + 5000, count))],
            )


def idle() -> None:
    _django()
    from django.contrib.auth import get_user_model

    get_user_model().objects.count()
    print(json.dumps({"peak_mb": _peak_mb()}))


def backup(output: str) -> None:
    _django()
    from automation.backup import write_backup

    started = time.perf_counter()
    result = write_backup(output)
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rows": result.rows, "bytes": Path(output).stat().st_size}))


def restore(archive: str) -> None:
    _django()
    from automation.backup import restore as restore_archive

    started = time.perf_counter()
    report = restore_archive(archive)
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rows": report.total}))


# --------------------------------------------------------------------------------------
# The run


def _step(args: list[str], database_url: str, timeout: float = 3600) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "DJANGO_SETTINGS_MODULE": "snapshots_site.settings"}
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"step {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _manage(database_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "DJANGO_SETTINGS_MODULE": "snapshots_site.settings"}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)


def _timed(command: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, shell=True, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - started


def _pg(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    tag = f"bench_backup_{os.getpid()}"
    if args.database == "postgresql":
        source, target, dumped = f"{PG}/{tag}_src", f"{PG}/{tag}_dst", f"{PG}/{tag}_dump"
        for url in (source, target, dumped):
            _pg(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')
    else:
        source, target = f"sqlite:///{work / 'source.sqlite3'}", f"sqlite:///{work / 'target.sqlite3'}"
    try:
        print(f"Backup and restore of {args.rows:,} snapshot rows on {args.database} (2-core machine, shared)")
        _manage(source, "migrate", "--noinput")
        filled = _step(["fill", str(args.rows)], source)
        print(f"  site filled: {filled['rows']:,} rows in {filled['snapshots']} snapshots ({filled['seconds']:.0f} s)")
        baseline = _step(["idle"], source)
        archive = work / "site.zip"
        made = _step(["backup", str(archive)], source)
        _manage(target, "migrate", "--noinput")
        restored = _step(["restore", str(archive)], target)
        assert restored["rows"] == made["rows"], (restored, made)
        if args.database == "postgresql":
            dump = work / "site.pgdump"
            dump_s = _timed(f"pg_dump -Fc -f {dump} {source}")
            load_s = _timed(f"pg_restore --no-owner -d {dumped} {dump}")
            dump_name = "pg_dump -Fc / pg_restore"
        else:
            dump = work / "site.sql"
            dump_s = _timed(f"sqlite3 {work / 'source.sqlite3'} .dump > {dump}")
            load_s = _timed(f"sqlite3 {work / 'dumped.sqlite3'} < {dump}")
            dump_name = "sqlite3 .dump / load"
        print(f"  idle Django process (baseline): peak RSS {baseline['peak_mb']:.0f} MB")
        print(
            f"  backup : {made['seconds']:6.1f} s  ({made['rows'] / made['seconds']:,.0f} rows/s)  peak RSS {made['peak_mb']:.0f} MB "
            f"(+{made['peak_mb'] - baseline['peak_mb']:.0f} MB over idle)  archive {made['bytes'] / 2**20:.0f} MB"
        )
        print(
            f"  restore: {restored['seconds']:6.1f} s  ({restored['rows'] / restored['seconds']:,.0f} rows/s)  peak RSS {restored['peak_mb']:.0f} MB "
            f"(+{restored['peak_mb'] - baseline['peak_mb']:.0f} MB over idle)"
        )
        print(f"  {dump_name}: {dump_s:.1f} s / {load_s:.1f} s, dump {dump.stat().st_size / 2**20:.0f} MB")
        print(f"  ratio to the database's own tools: backup {made['seconds'] / dump_s:.1f}x, restore {restored['seconds'] / load_s:.1f}x")
        goal = "met" if max(made["peak_mb"], restored["peak_mb"]) <= 200 else "NOT met"
        print(f"  goal peak RSS <= 200 MB: {goal}")
    finally:
        if args.database == "postgresql":
            for url in (source, target, dumped):
                _pg(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in {"fill", "idle", "backup", "restore"}:
        step, *rest = sys.argv[1:]
        {"fill": lambda: fill(int(rest[0])), "idle": idle, "backup": lambda: backup(rest[0]), "restore": lambda: restore(rest[0])}[step]()
    else:
        main()
