"""Spaces, pages, their versions, Snapshots macros, snapshots and snapshot jobs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from macros.rendering import render_body


class Space(models.Model):
    key = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Site administration can switch Snapshots off for one space: its tables are hidden
    # and triggers for its macros refused, while every snapshot stays stored.
    snapshots_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("space", args=[self.key])


class SpacePermission(models.Model):
    """A grant on a space to one user or one group.

    Levels are cumulative (admin ⊃ edit ⊃ snapshot ⊃ view). ``snapshot`` is the
    reference product's override: viewers in a group a space admin names may take
    snapshots without edit rights, unless a site admin turns the override off.
    """

    class Level(models.IntegerChoices):
        VIEW = 10, "View"
        SNAPSHOT = 20, "View and take snapshots"
        EDIT = 30, "Edit"
        ADMIN = 40, "Administer"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="permissions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE)
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.VIEW)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True)) | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="space_permission_user_xor_group",
            ),
            models.UniqueConstraint(fields=["space", "user"], name="one_grant_per_space_user"),
            models.UniqueConstraint(fields=["space", "group"], name="one_grant_per_space_group"),
        ]

    def __str__(self) -> str:
        return f"{self.space.key}: {self.user or self.group} → {self.get_level_display()}"


class Page(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="pages")
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    current_version = models.ForeignKey(
        "PageVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["space", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("page", args=[self.pk])

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def live_macros(self) -> models.QuerySet[Macro]:
        """The macros of the published page, in their published order."""
        return self.macros.filter(published_at__isnull=False, deleted_at__isnull=True).order_by("position", "pk")


class PageDraft(models.Model):
    """The one draft of a page: what Save stores and Publish makes live."""

    page = models.OneToOneField(Page, on_delete=models.CASCADE, related_name="draft")
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    # Public ids of the macros in the draft, in order; a published macro missing from
    # this list is removed from the page when the draft is published.
    macro_order = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Draft of {self.page}"


class PageVersion(models.Model):
    """One published state of a page; a publish and every snapshot make one."""

    class Kind(models.TextChoices):
        PUBLISH = "publish", "Published"
        SNAPSHOT = "snapshot", "Snapshot"

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    # The body rendered once, when the version is made (or on its first view, for versions
    # older than this field): a view must not pay for Markdown.
    body_html = models.TextField(blank=True, default="")
    # The macros as they were: [{"id": uuid, "title": …, "config": …, "snapshot": id|None}]
    macros = models.JSONField(default=list)
    snapshot = models.OneToOneField(
        "Snapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="page_version"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=64, help_text="Who made the version: a user name, automation or schedule.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["page", "-number"]
        constraints = [models.UniqueConstraint(fields=["page", "number"], name="one_version_number_per_page")]

    def __str__(self) -> str:
        return f"{self.page} v{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("page_version", args=[self.page_id, self.number])

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        if self._state.adding and not self.body_html:
            self.body_html = self._html_of_body()
        elif not self._state.adding and (update_fields is None or "body" in update_fields):
            self.body_html = render_body(self.body)  # e.g. corrected in the admin
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "body_html"}
        super().save(*args, **kwargs)

    def rendered_body(self) -> str:
        """The body as HTML, rendered at most once per version."""
        if not self.body_html and self.body:
            self.body_html = self._html_of_body()
            PageVersion.objects.filter(pk=self.pk).update(body_html=self.body_html)
        return self.body_html

    def _html_of_body(self) -> str:
        if not self.body:
            return ""
        # A snapshot version repeats the body of the version before it: reuse that render.
        same = PageVersion.objects.filter(page_id=self.page_id, body=self.body).exclude(body_html="")
        return same.order_by("-number").values_list("body_html", flat=True).first() or render_body(self.body)

    def add_sticker(self, label: str, user) -> tuple[Sticker, bool]:
        """Label this snapshot version; ``(sticker, created)``, recorded in the page's audit."""
        from django.core.exceptions import ValidationError
        from django.db import IntegrityError, transaction

        label = " ".join(label.split())
        if not label:
            raise ValidationError("A sticker needs a label.")
        if len(label) > Sticker.MAX_LENGTH:
            raise ValidationError(f"A sticker label has at most {Sticker.MAX_LENGTH} characters.")
        if self.kind != self.Kind.SNAPSHOT:
            raise ValidationError("Stickers go on snapshot versions.")
        try:
            with transaction.atomic():
                sticker = Sticker.objects.create(page_id=self.page_id, version=self, label=label, created_by=user)
                PageEvent.record(self.page_id, PageEvent.Action.STICKER_ADDED, user, version=self, detail=label)
        except IntegrityError:  # the unique constraint: this label is already on this version
            return Sticker.objects.get(version=self, label=label), False
        return sticker, True


def default_levels() -> list[dict]:
    return [{"jql": "project = WEB ORDER BY created DESC", "fields": ["key", "summary", "status", "assignee"]}]


def default_display() -> dict:
    return {"page_size": 25, "show_count": True}


class Macro(models.Model):
    """A Snapshots macro on a page.

    ``title``/``levels``/``display``/``position`` are what the published page shows;
    ``draft`` holds the editor's saved but unpublished configuration. ``levels`` is a
    list so multi-level queries (level 2+ run once per issue of the level above) fit.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="macros")
    title = models.CharField(max_length=200, blank=True)
    levels = models.JSONField(default=default_levels)
    display = models.JSONField(default=default_display)
    position = models.PositiveIntegerField(default=0)
    draft = models.JSONField(null=True, blank=True, help_text="Saved, unpublished configuration.")
    published_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["page", "position", "pk"]

    def __str__(self) -> str:
        return self.title or f"Snapshots macro {self.public_id}"

    def get_absolute_url(self) -> str:
        return reverse("macro_configure", args=[self.page_id, self.public_id])

    @property
    def is_live(self) -> bool:
        return self.published_at is not None and self.deleted_at is None

    def draft_config(self) -> dict:
        """What the editor sees: the draft if there is one, else the published config."""
        if self.draft is not None:
            return self.draft
        return {"title": self.title, "levels": self.levels, "display": self.display}

    def latest_snapshot(self) -> Snapshot | None:
        return self.snapshots.filter(complete=True).order_by("-taken_at", "-pk").first()


class SnapshotQuerySet(models.QuerySet):
    def finished(self) -> SnapshotQuerySet:
        return self.filter(complete=True)


class Snapshot(models.Model):
    """The frozen result of one run of a macro.

    Rows live in ``SnapshotRow`` and are written page by page while the source is
    read; the snapshot only counts (``complete``) once every page is in, so a failed
    search never leaves a partial result on the page.
    """

    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="snapshots")
    job = models.OneToOneField(
        "SnapshotJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshot"
    )
    complete = models.BooleanField(default=False)
    columns = models.JSONField(default=list)  # [{"id": "status", "name": "Status"}] per level
    levels = models.JSONField(default=list)  # the levels (JQL + fields) that were run
    source = models.CharField(max_length=32)
    source_site = models.CharField(max_length=255, blank=True)
    issue_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # {"levels": [n1, n2…], "status_categories": {…}, "sums": {…}}
    # The level-1 issues grouped per column, for charts (macros/chart_data.py); None until counted.
    group_counts = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    taken_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    requests_made = models.PositiveIntegerField(default=0)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=64)

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["macro", "-taken_at"]
        indexes = [models.Index(fields=["macro", "complete", "-taken_at"], name="latest_snapshot_of_macro")]

    def __str__(self) -> str:
        return f"Snapshot {self.pk} of {self.macro}"

    @property
    def jql(self) -> str:
        return self.levels[0]["jql"] if self.levels else ""


class SnapshotRow(models.Model):
    """One issue of a snapshot, as the source returned it."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField(default=1)
    parent_position = models.PositiveIntegerField(null=True, blank=True)
    issue_key = models.CharField(max_length=64)
    data = models.JSONField()

    class Meta:
        ordering = ["snapshot", "position"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "position"], name="one_row_per_position")]
        # Nested levels: "the children of these rows" (the paged table, exports).
        indexes = [models.Index(fields=["snapshot", "parent_position"], name="children_of_snapshot_row")]

    def __str__(self) -> str:
        return self.issue_key


class SnapshotJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Person"
        AUTOMATION = "automation", "Automation (macro key)"
        GLOBAL_KEY = "global", "Automation (global key)"
        SCHEDULE = "schedule", "Schedule"
        COMMAND = "command", "Command line"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    key_lookup = models.CharField(max_length=32, blank=True, help_text="Lookup id of the API key that queued it.")
    # A snapshot taken when an editor saves a changed query runs the saved (draft) levels.
    levels = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    fetched = models.PositiveIntegerField(default=0)
    expected = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Coalescing: at most one queued job per macro, enforced by the database so
            # that concurrent triggers in different processes cannot both insert one.
            models.UniqueConstraint(
                fields=["macro"], condition=Q(status="queued"), name="one_queued_job_per_macro"
            ),
        ]
        indexes = [models.Index(fields=["macro", "status"], name="jobs_of_macro_by_status")]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def actor(self) -> str:
        """How the page labels who took the snapshot."""
        if self.trigger == self.Trigger.AUTOMATION:
            return "automation"
        if self.trigger == self.Trigger.GLOBAL_KEY:
            return "automation (global key)"
        if self.trigger == self.Trigger.SCHEDULE:
            return "schedule"
        if self.requested_by is not None:
            return self.requested_by.get_username()
        return "command line"

    def lease_expired(self, now=None) -> bool:
        return self.lease_until is None or self.lease_until < (now or timezone.now())

    @staticmethod
    def lease_length() -> timedelta:
        """How long a running job is left alone without a heartbeat (not how long it may run)."""
        return timedelta(seconds=settings.SNAPSHOT_LEASE_SECONDS)


class SiteSettings(models.Model):
    """The one row of site-wide switches an administrator changes from the browser."""

    automation_enabled = models.BooleanField(default=True)
    snapshot_group_override = models.BooleanField(
        default=True, help_text="Space admins may let a group take snapshots without edit rights."
    )
    jira_site_url = models.CharField(max_length=255, blank=True, help_text="The Jira site snapshots come from.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "site settings"
        verbose_name_plural = "site settings"

    def __str__(self) -> str:
        return "Site settings"

    @classmethod
    def load(cls) -> SiteSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class Sticker(models.Model):
    """A label an editor puts on a snapshot version ("Sprint 12 end", "Release 2.4 sign-off")."""

    MAX_LENGTH = 60

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="stickers")
    version = models.ForeignKey(PageVersion, on_delete=models.CASCADE, related_name="stickers")
    label = models.CharField(max_length=MAX_LENGTH)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version", "created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["version", "label"], name="one_sticker_label_per_version")]
        # History filtered by sticker: "versions of this page carrying label X".
        indexes = [models.Index(fields=["page", "label"], name="stickers_of_page_by_label")]

    def __str__(self) -> str:
        return self.label

    def remove(self, user) -> None:
        from django.db import transaction

        with transaction.atomic():
            deleted, _ = Sticker.objects.filter(pk=self.pk).delete()
            if deleted:  # two people removing it at once log it once
                PageEvent.record(self.page_id, PageEvent.Action.STICKER_REMOVED, user, version=self.version, detail=self.label)


class PageEvent(models.Model):
    """The page's own audit trail: who labelled which version, and when."""

    class Action(models.TextChoices):
        STICKER_ADDED = "sticker_added", "Sticker added"
        STICKER_REMOVED = "sticker_removed", "Sticker removed"

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32, choices=Action.choices)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["page", "-created_at", "-pk"]
        indexes = [models.Index(fields=["page", "-created_at"], name="events_of_page_newest_first")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.detail}"

    @classmethod
    def record(cls, page_id: int, action: str, user, *, version: PageVersion | None = None, detail: str = "") -> PageEvent:
        return cls.objects.create(
            page_id=page_id,
            action=action,
            version_number=version.number if version is not None else None,
            detail=detail[:255],
            user=user,
            actor=user.get_username() if user is not None else "command line",
        )


class MacroSchedule(models.Model):
    """A macro that refreshes itself: daily or weekly at a time in the site's time zone, or cron.

    The run itself is a django-q2 Schedule row kept in step by ``macros.schedules.sync``;
    this row is what the editor sees and changes.
    """

    class Kind(models.TextChoices):
        DAILY = "daily", "Every day"
        WEEKLY = "weekly", "Every week"
        CRON = "cron", "Cron expression"

    class Weekday(models.IntegerChoices):
        # cron's numbering: 0 is Sunday.
        SUNDAY = 0, "Sunday"
        MONDAY = 1, "Monday"
        TUESDAY = 2, "Tuesday"
        WEDNESDAY = 3, "Wednesday"
        THURSDAY = 4, "Thursday"
        FRIDAY = 5, "Friday"
        SATURDAY = 6, "Saturday"

    macro = models.OneToOneField(Macro, on_delete=models.CASCADE, related_name="schedule")
    enabled = models.BooleanField(default=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DAILY)
    time = models.TimeField(null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True)
    q_schedule_id = models.IntegerField(null=True, blank=True, editable=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Schedule of {self.macro}: {self.describe()}"

    def cron_expression(self) -> str:
        if self.kind == self.Kind.CRON:
            return self.cron.strip()
        minute, hour = self.time.minute, self.time.hour
        if self.kind == self.Kind.WEEKLY:
            return f"{minute} {hour} * * {self.weekday}"
        return f"{minute} {hour} * * *"

    def describe(self) -> str:
        if self.kind == self.Kind.CRON:
            return f"cron “{self.cron}”"
        at = self.time.strftime("%H:%M") if self.time else "?"
        if self.kind == self.Kind.WEEKLY:
            return f"every {self.get_weekday_display()} at {at}"
        return f"every day at {at}"


# --- tables people put in reports (issue 11) ------------------------------------------


class SnapshotRowIndex(models.Model):
    """What filtering and sorting a snapshot's table reads, one narrow row per issue.

    Written next to ``SnapshotRow`` while the snapshot is taken (``macros.tables.RowIndexer``),
    so a filter or a sort over 50,000 issues scans these small rows, never the issue JSON.
    ``sort_keys`` holds, per shown field, a string whose byte order is the field's natural
    order (numbers as numbers, dates as dates, priorities in Jira's order); ``numbers`` the
    values totals add up; ``search_text`` the shown cells, lower-cased.
    """

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="index_rows")
    position = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField(default=1)
    parent_position = models.PositiveIntegerField(null=True, blank=True)
    root_position = models.PositiveIntegerField(help_text="The level-1 issue this row sits under (itself on level 1).")
    search_text = models.TextField(blank=True)
    sort_keys = models.JSONField(default=dict)
    numbers = models.JSONField(default=dict)

    class Meta:
        # The one index: written with every snapshot, so each index more costs every snapshot
        # taken. Level-1 rows come first in position order, so it serves "page N of level 1" too.
        constraints = [models.UniqueConstraint(fields=["snapshot", "position"], name="one_index_row_per_position")]

    def __str__(self) -> str:
        return f"Index of row {self.position} of snapshot {self.snapshot_id}"


class TableDefaults(models.Model):
    """Formatting defaults a site administrator sets; new macros start from them."""

    class DateFormat(models.TextChoices):
        ISO = "%Y-%m-%d %H:%M", "2025-03-31 14:05"
        ISO_DATE = "%Y-%m-%d", "2025-03-31"
        DAY_MONTH = "%d %b %Y", "31 Mar 2025"
        MONTH_DAY = "%b %d, %Y", "Mar 31, 2025"
        EUROPEAN = "%d/%m/%Y", "31/03/2025"
        US = "%m/%d/%Y", "03/31/2025"

    date_format = models.CharField(max_length=32, choices=DateFormat.choices, default=DateFormat.ISO)
    page_size = models.PositiveSmallIntegerField(default=25)
    empty_cell_text = models.CharField(max_length=40, default="—", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "table formatting defaults"
        verbose_name_plural = "table formatting defaults"

    def __str__(self) -> str:
        return "Table formatting defaults"

    @classmethod
    def load(cls) -> TableDefaults:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class MacroTemplate(models.Model):
    """A macro's configuration saved for reuse: levels, fields, display (never automation).

    ``owner`` set: a personal template; ``owner`` empty: a site template, managed by site
    administrators and offered to everyone.
    """

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=255, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="macro_templates")
    config = models.JSONField(help_text="title, levels and display, as a macro's draft holds them.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_site_template(self) -> bool:
        return self.owner_id is None


class MacroTemplateUse(models.Model):
    """When a person last added a macro from a template: the chooser's Recent list."""

    template = models.ForeignKey(MacroTemplate, on_delete=models.CASCADE, related_name="uses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "user"], name="one_template_use_per_user")]
        indexes = [models.Index(fields=["user", "-used_at"], name="recent_templates_of_user")]


class UserSettings(models.Model):
    """A person's own preferences (``/accounts/settings/``)."""

    class SnapshotOnSave(models.TextChoices):
        ASK = "ask", "Ask every time"
        YES = "yes", "Yes"
        NO = "no", "No"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="snapshot_settings")
    snapshot_on_save = models.CharField(max_length=8, choices=SnapshotOnSave.choices, default=SnapshotOnSave.ASK)

    class Meta:
        verbose_name = "user settings"
        verbose_name_plural = "user settings"

    def __str__(self) -> str:
        return f"Settings of {self.user}"

    @classmethod
    def of(cls, user) -> UserSettings:
        found = cls.objects.filter(user=user).first()
        return found if found is not None else cls(user=user)
class JiraFieldList(models.Model):
    """Jira's field list (names and schemas, from ``GET /field``) as the site last read it.

    The configuration screen and every snapshot read it from here instead of asking Jira
    each time; a schedule refreshes it, and so does **Refresh Jira fields** on the Jira
    connection screen (for a custom field created a moment ago).
    """

    site = models.CharField(max_length=255, unique=True, help_text="The Jira base URL, or the source's name for the sample.")
    fields = models.JSONField(default=list, help_text='[{"id", "name", "custom", "schema"}, …] in Jira\'s order.')
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name = "Jira field list"

    def __str__(self) -> str:
        return f"Fields of {self.site}"
