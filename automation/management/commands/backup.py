"""``python manage.py backup --output FILE [--space KEY]...`` (DESIGN §6)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from automation import backup_runs
from automation.backup import BackupError, write_backup


class Command(BaseCommand):
    help = "Write the whole site, or the spaces named with --space, to one backup archive."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", required=True, help="The archive to write (a .zip file).")
        parser.add_argument("--space", action="append", dest="spaces", metavar="KEY", help="A space to back up (repeat for more); without it, the whole site.")

    def handle(self, *args, output: str, spaces: list[str] | None, **options):
        try:
            result = write_backup(output, spaces)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}.") from None
        backup_runs.audit_command("backup", result.manifest)
        what = "the whole site" if spaces is None else f"space{'s' if len(result.manifest['spaces']) > 1 else ''} {', '.join(result.manifest['spaces'])}"
        self.stdout.write(f"Backed up {what} to {result.path}: {result.rows} rows in {len(result.manifest['tables'])} tables, {result.path.stat().st_size} bytes.")
