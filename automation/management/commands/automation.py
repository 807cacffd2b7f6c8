"""``python manage.py automation <subcommand>`` (DESIGN §6).

Each subcommand is a small class in ``SUBCOMMANDS``; more (``site``, ``global-key``)
are added by appending a class, nothing else changes.
"""

from __future__ import annotations

import json
import uuid
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from automation import service
from automation.models import AutomationEvent, MacroAutomation
from macros.models import Macro

VIA = AutomationEvent.Via.COMMAND


class Subcommand:
    name: str = ""
    help: str = ""

    def __init__(self, command: BaseCommand):
        self.command = command
        self.stdout = command.stdout

    def add_arguments(self, parser: ArgumentParser) -> None:
        pass

    def handle(self, **options) -> None:
        raise NotImplementedError


def find_macro(macro_id: str) -> Macro:
    try:
        public_id = uuid.UUID(macro_id)
    except ValueError:
        raise CommandError(f"{macro_id!r} is not a macro id (a UUID, as in the macro's Web request URL).") from None
    macro = Macro.objects.select_related("page__space").filter(public_id=public_id, deleted_at__isnull=True).first()
    if macro is None:
        raise CommandError(f"There is no Snapshots macro with id {macro_id}.")
    return macro


def macro_title(macro: Macro) -> str:
    return macro.title or (macro.draft or {}).get("title") or "Jira issues"


class ListMacros(Subcommand):
    name = "list"
    help = "Macros with their page, space and automation state (off, pending or live)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="A JSON list instead of a table.")

    def handle(self, **options):
        rows = []
        macros = Macro.objects.filter(deleted_at__isnull=True).select_related("page__space", "automation").order_by("page__space__name", "page__title", "position", "pk")
        for macro in macros:
            rows.append(
                {
                    "id": str(macro.public_id),
                    "title": macro_title(macro),
                    "page": macro.page_id,
                    "page_title": macro.page.title,
                    "space": macro.page.space.key,
                    "automation": service.state_of(macro),
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No Snapshots macros yet.")
            return
        columns = [("id", "ID"), ("title", "TITLE"), ("page", "PAGE"), ("page_title", "PAGE TITLE"), ("space", "SPACE"), ("automation", "AUTOMATION")]
        widths = {key: max(len(label), *(len(str(r[key])) for r in rows)) for key, label in columns}
        self.stdout.write("  ".join(label.ljust(widths[key]) for key, label in columns).rstrip())
        for row in rows:
            self.stdout.write("  ".join(str(row[key]).ljust(widths[key]) for key, _ in columns).rstrip())


class _IssuesKey(Subcommand):
    def add_arguments(self, parser):
        parser.add_argument("macro_id", help="The macro's id (UUID).")
        parser.add_argument("--json", action="store_true", help='Print {"url": …, "api_key": …}.')

    @sensitive_variables("issued")
    def print_key(self, issued: service.IssuedKey, as_json: bool, note: str) -> None:
        if as_json:
            self.stdout.write(json.dumps({"url": issued.url, "api_key": issued.raw}))
            return
        self.stdout.write(f"Web request URL: {issued.url}")
        self.stdout.write(f"API key:         {issued.raw}")
        self.stdout.write(f"{note} This is the only time the key is shown: copy it now, it will not be shown again.")


class Enable(_IssuesKey):
    name = "enable"
    help = "Switch automation on for a macro and print its URL and new API key (live at once)."

    def handle(self, **options):
        macro = find_macro(options["macro_id"])
        try:
            issued = service.enable(macro, None, via=VIA, live_at_once=True)
        except service.AutomationError as exc:
            raise CommandError(str(exc)) from None
        state = service.state_of(Macro.objects.get(pk=macro.pk))
        if state != MacroAutomation.State.LIVE:
            self.command.stderr.write("The macro is not on the published page yet: the endpoint goes live when the page is published.")
        self.print_key(issued, options["json"], "Automation is live." if state == MacroAutomation.State.LIVE else "Automation is on, pending publish.")


class Regenerate(_IssuesKey):
    name = "regenerate"
    help = "Replace a macro's API key; the old key stops working at once."

    def handle(self, **options):
        macro = find_macro(options["macro_id"])
        try:
            issued = service.regenerate(macro, None, via=VIA)
        except service.AutomationError as exc:
            raise CommandError(str(exc)) from None
        self.print_key(issued, options["json"], "The old key no longer works.")


class Disable(Subcommand):
    name = "disable"
    help = "Switch automation off for a macro; its endpoint and key stop working at once."

    def add_arguments(self, parser):
        parser.add_argument("macro_id", help="The macro's id (UUID).")

    def handle(self, **options):
        macro = find_macro(options["macro_id"])
        if service.disable(macro, None, via=VIA):
            self.stdout.write(f"Automation is off for “{macro_title(macro)}”; its API key no longer works.")
        else:
            self.stdout.write(f"Automation was already off for “{macro_title(macro)}”.")


SUBCOMMANDS: list[type[Subcommand]] = [ListMacros, Enable, Regenerate, Disable]


class Command(BaseCommand):
    help = "Automation of Snapshots macros: list, enable, regenerate, disable."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="{" + ",".join(s.name for s in SUBCOMMANDS) + "}")
        for cls in SUBCOMMANDS:
            # Django's CommandParser turns a usage error into a CommandError, subparsers too.
            sub = subparsers.add_parser(cls.name, help=cls.help, description=cls.help, called_from_command_line=getattr(parser, "called_from_command_line", None))
            cls(self).add_arguments(sub)

    def handle(self, *args, subcommand: str, **options):
        by_name = {cls.name: cls for cls in SUBCOMMANDS}
        by_name[subcommand](self).handle(**options)
