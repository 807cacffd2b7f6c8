"""Index snapshots taken before tables could be filtered and sorted (a one-off backfill).

Tables index an old snapshot the first time a reader shows it anyway; this does it ahead
of time, oldest first, so nobody waits on a big one.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from macros.models import Snapshot, SnapshotRowIndex
from macros.tables import ensure_index


class Command(BaseCommand):
    help = "Write the filter/sort index of finished snapshots that have none yet."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--snapshot", type=int, action="append", help="only this snapshot id (repeatable)")

    def handle(self, *args, snapshot=None, **options) -> None:
        indexed = SnapshotRowIndex.objects.values("snapshot_id")
        todo = Snapshot.objects.finished().exclude(pk__in=indexed).order_by("taken_at", "pk")
        if snapshot:
            todo = todo.filter(pk__in=snapshot)
        done = rows = 0
        began = time.monotonic()
        for item in todo.iterator():
            ensure_index(item)
            done += 1
            rows += item.issue_count
            self.stdout.write(f"snapshot {item.pk}: {item.issue_count} issue(s) indexed")
        self.stdout.write(self.style.SUCCESS(f"{done} snapshot(s) indexed ({rows} level-1 issues) in {time.monotonic() - began:.1f} s"))
