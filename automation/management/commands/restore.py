"""``python manage.py restore FILE [--dry-run]`` (DESIGN §6)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from automation import backup_runs
from automation.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive into this site: a whole-site backup into an empty site (a move), "
        "a space backup into a live site. All or nothing; checked before anything is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The archive, as `manage.py backup` or the backups endpoint wrote it.")
        parser.add_argument("--dry-run", action="store_true", help="Check the archive and report what would be restored; write nothing.")

    def handle(self, *args, file: str, dry_run: bool, **options):
        try:
            report = restore(file, dry_run=dry_run)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if not dry_run:
            backup_runs.audit_command("restore", {"scope": report.scope, "spaces": report.spaces})
        for line in report.lines():
            self.stdout.write(line)
