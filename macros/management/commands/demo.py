"""``python manage.py demo [--password P]``: an idempotent demo site on the configured source."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from macros import pages as page_service
from macros.models import Macro, Page, SnapshotJob, Space, SpacePermission
from macros.snapshots import request_snapshot, take
from macros.sources import SourceError, get_source

PAGES = [
    {
        "title": "Weekly status",
        "body": (
            "## Where the web team stands\n\nThis page freezes the team's Jira board every Monday. "
            "Take a snapshot to record this week's state; the **History** link shows earlier weeks.\n"
        ),
        "macros": [
            ("Open work on the storefront", "project = WEB AND statusCategory != Done ORDER BY priority DESC, updated DESC",
             ["key", "summary", "status", "assignee", "priority", "customfield_10016", "customfield_10020", "timetracking", "progress"]),
            ("Resolved in the last 30 days", "project in (WEB, MOB) AND resolved >= -30d ORDER BY resolved DESC",
             ["key", "summary", "issuetype", "assignee", "resolutiondate"]),
        ],
    },
    {
        "title": "Release scope",
        "body": "## What ships next\n\nThe epics in scope and the bugs still open against them.\n",
        "macros": [
            ("Epics and their stories", "project = MOB AND issuetype = Epic ORDER BY key ASC",
             ["key", "summary", "status", "fixVersions"]),
            ("Open bugs", "issuetype = Bug AND resolution = Unresolved ORDER BY priority DESC, created ASC",
             ["key", "summary", "priority", "status", "assignee", "created"]),
        ],
    },
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo site: users admin, editor, viewer, a space, pages and first snapshots."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Password for the three demo users (printed if not given).")

    def handle(self, *args, password=None, **options):
        User = get_user_model()
        generated = password is None
        password = password or secrets.token_urlsafe(9)
        with transaction.atomic():
            users = {}
            for name, staff in (("admin", True), ("editor", False), ("viewer", False)):
                user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
                user.is_staff = user.is_superuser = staff
                user.set_password(password)
                user.save()
                users[name] = user
            space, _ = Space.objects.get_or_create(
                key="team", defaults={"name": "Team space", "description": "Status pages of the product teams."}
            )
            snapshotters, _ = Group.objects.get_or_create(name="release-managers")
            for user, level in ((users["editor"], SpacePermission.Level.EDIT), (users["viewer"], SpacePermission.Level.VIEW)):
                SpacePermission.objects.update_or_create(space=space, user=user, defaults={"level": level})
            SpacePermission.objects.update_or_create(
                space=space, group=snapshotters, defaults={"level": SpacePermission.Level.SNAPSHOT}
            )
            created_pages = [self._page(space, spec, users["editor"]) for spec in PAGES]
        for page in created_pages:
            for macro in page.live_macros():
                if macro.latest_snapshot() is None:
                    job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=users["editor"])
                    take(job.pk)  # run it here so the demo has tables even before a worker starts
                    job.refresh_from_db()
                    if job.status == SnapshotJob.Status.FAILED:
                        self.stderr.write(f"Snapshot of “{macro.title}” failed: {job.error}")
        try:
            source = get_source()
            self.stdout.write(f"Demo site ready on the {source.name} source.")
        except SourceError as exc:
            self.stderr.write(f"The configured source is not reachable: {exc}")
        if generated:
            self.stdout.write(f"Users admin, editor and viewer have the password: {password}")
        else:
            self.stdout.write("Users admin, editor and viewer have the password you gave.")

    def _page(self, space: Space, spec: dict, editor) -> Page:
        page = Page.objects.filter(space=space, title=spec["title"]).first()
        if page is not None and page.is_published:
            return page
        if page is None:
            page = page_service.create_page(space, spec["title"], spec["body"], editor)
        draft = page_service.get_draft(page, editor)
        if not Macro.objects.filter(page=page).exists():
            for title, jql, fields in spec["macros"]:
                macro = page_service.add_macro(draft, title)
                page_service.save_macro_draft(
                    macro, {"title": title, "levels": [{"jql": jql, "fields": fields}], "display": {"page_size": 25, "show_count": True}}
                )
                if title == "Open bugs":  # the Chart display option (issue 15)
                    macro.draft["display"]["chart"] = {"type": "bar", "group_by": "priority", "measure": "", "placement": "above"}
                    macro.save(update_fields=["draft"])
                if title == "Epics and their stories":
                    macro.draft["levels"].append({"jql": "parent = $key ORDER BY key ASC", "fields": ["key", "summary", "status", "assignee"]})
                    macro.save(update_fields=["draft"])
                draft.refresh_from_db()
        page_service.publish(page, editor)
        page.refresh_from_db()
        return page
