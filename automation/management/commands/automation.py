"""``python manage.py automation <subcommand>`` (DESIGN §6).

Each subcommand is a small class in ``SUBCOMMANDS``; adding one is appending a class.
"""

from __future__ import annotations

import json
import uuid
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from automation import globalkeys, service, site
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


class Site(Subcommand):
    name = "site"
    help = "Switch automation on or off for the whole site (acts at once; macro settings are kept)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--enable", action="store_true", help="Switch automation on for the site.")
        group.add_argument("--disable", action="store_true", help="Switch automation off: every call is refused.")

    def handle(self, **options):
        on = bool(options["enable"])
        changed = site.set_automation_enabled(on, None, via=VIA)
        state = "on" if on else "off"
        if not changed:
            self.stdout.write(f"Automation was already {state} for this site.")
        elif on:
            self.stdout.write("Automation is on for this site: macros with live automation answer again, with their keys.")
        else:
            self.stdout.write("Automation is off for this site: every call is refused (403 site_automation_disabled); macro settings are kept.")


class GlobalKey(Subcommand):
    name = "global-key"
    help = "The site's global API key: create (or replace) it, or revoke it."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,revoke}")
        called = getattr(parser, "called_from_command_line", None)
        create = actions.add_parser("create", help="Make a new global key (any current one stops working) and print it once.", called_from_command_line=called)
        create.add_argument("--days", type=int, default=None, help="Days it stays valid (default 90).")
        create.add_argument("--json", action="store_true", help='Print {"api_key": …, "expires_at": …}.')
        actions.add_parser("revoke", help="Revoke the global key; it stops working at once.", called_from_command_line=called)

    @sensitive_variables("issued")
    def handle(self, **options):
        if options["action"] == "revoke":
            key = globalkeys.revoke(None, via=VIA)
            self.stdout.write("The global API key is revoked; it no longer works." if key else "There is no global API key to revoke.")
            return
        try:
            issued = globalkeys.create(None, via=VIA, days=options["days"])
        except globalkeys.GlobalKeyError as exc:
            raise CommandError(str(exc)) from None
        expires_at = issued.expires_at.isoformat().replace("+00:00", "Z")
        if options["json"]:
            self.stdout.write(json.dumps({"api_key": issued.raw, "expires_at": expires_at}))
            return
        self.stdout.write(f"Global API key: {issued.raw}")
        self.stdout.write(f"Expires:        {expires_at}")
        self.stdout.write("This is the only time the key is shown: copy it now, it will not be shown again. Any previous global key no longer works.")


SUBCOMMANDS: list[type[Subcommand]] = [ListMacros, Enable, Regenerate, Disable, Site, GlobalKey]


class Command(BaseCommand):
    help = "Automation of Snapshots macros and the site: list, enable, regenerate, disable, site, global-key."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="{" + ",".join(s.name for s in SUBCOMMANDS) + "}")
        for cls in SUBCOMMANDS:
            # Django's CommandParser turns a usage error into a CommandError, subparsers too.
            sub = subparsers.add_parser(cls.name, help=cls.help, description=cls.help, called_from_command_line=getattr(parser, "called_from_command_line", None))
            cls(self).add_arguments(sub)

    def handle(self, *args, subcommand: str, **options):
        by_name = {cls.name: cls for cls in SUBCOMMANDS}
        by_name[subcommand](self).handle(**options)
