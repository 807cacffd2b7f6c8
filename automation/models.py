"""Automation state of macros, their API keys, and the audit trail."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from automation import keys
from macros.models import Macro, Page


class MacroAutomation(models.Model):
    """Whether a macro's automation endpoint is on, and since when it is live.

    ``enabled`` is the editor's saved wish; ``live_since`` is set when the page is
    published with it on (grants wait for publish) and cleared when it is switched off
    (revocations act at once).
    """

    class State(models.TextChoices):
        OFF = "off", "Off"
        PENDING = "pending", "Pending publish"
        LIVE = "live", "Live"

    macro = models.OneToOneField(Macro, on_delete=models.CASCADE, related_name="automation")
    enabled = models.BooleanField(default=False)
    live_since = models.DateTimeField(null=True, blank=True)
    enabled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    enabled_at = models.DateTimeField(null=True, blank=True)
    last_called_at = models.DateTimeField(
        null=True, blank=True, help_text="Last accepted call, to the minute (written at most once a minute)."
    )

    class Meta:
        verbose_name = "macro automation"
        indexes = [
            # "Macros with automation on", for administrators.
            models.Index(fields=["enabled"], condition=Q(enabled=True), name="automation_enabled_macros"),
        ]

    def __str__(self) -> str:
        return f"Automation of {self.macro} ({self.get_state_display()})"

    @property
    def state(self) -> str:
        if not self.enabled:
            return self.State.OFF
        if self.live_since is None:
            return self.State.PENDING
        return self.State.LIVE

    def get_state_display(self) -> str:
        return self.State(self.state).label

    @property
    def is_live(self) -> bool:
        return self.enabled and self.live_since is not None


class MacroKey(models.Model):
    """A macro's API key: its lookup id and an Argon2id hash, never the key itself."""

    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="automation_keys")
    lookup_id = models.CharField(max_length=16, unique=True)
    hash = models.CharField(max_length=255, help_text="Argon2id PHC string of the whole key.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Regenerating revokes and inserts in one transaction; the index makes two
            # concurrent regenerations unable to leave two working keys behind.
            models.UniqueConstraint(fields=["macro"], condition=Q(revoked_at__isnull=True), name="one_active_key_per_macro"),
        ]

    def __str__(self) -> str:
        return f"{self.display_prefix} ({'revoked' if self.revoked_at else 'active'})"

    @property
    def display_prefix(self) -> str:
        """What may be shown of the key: its prefix and lookup id, which are not secret."""
        return f"{keys.PREFIXES[keys.KeyKind.MACRO]}{self.lookup_id}_…"


class GlobalKeyQuerySet(models.QuerySet):
    def active(self) -> GlobalKeyQuerySet:
        """Not revoked (it may still be past its expiry: expired keys can be prolonged)."""
        return self.filter(revoked_at__isnull=True)


class GlobalKey(models.Model):
    """The site's global API key: any macro, any page, any job. Admins only.

    At most one is active; making a new one revokes the old in the same transaction
    (``automation.globalkeys``). Like macro keys, only the lookup id and an Argon2id
    hash are stored; unlike them it expires, 90 days after it is made unless prolonged.
    """

    DEFAULT_DAYS = 90
    WARN_BEFORE = timedelta(days=14)

    lookup_id = models.CharField(max_length=16, unique=True)
    hash = models.CharField(max_length=255, help_text="Argon2id PHC string of the whole key.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    prolonged_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = GlobalKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "global API key"

    def __str__(self) -> str:
        return f"{self.display_prefix} ({self.state})"

    @property
    def display_prefix(self) -> str:
        return f"{keys.PREFIXES[keys.KeyKind.GLOBAL]}{self.lookup_id}_…"

    def is_expired(self, now=None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def expires_soon(self, now=None) -> bool:
        """Within two weeks of its expiry (the admin screens warn)."""
        now = now or timezone.now()
        return not self.is_expired(now) and self.expires_at - now <= self.WARN_BEFORE

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired() else "active"


class AutomationEventQuerySet(models.QuerySet):
    def refused(self) -> AutomationEventQuerySet:
        return self.filter(kind=AutomationEvent.Kind.REFUSED)


class AutomationEvent(models.Model):
    """One audit row: a key's lifecycle, or counted calls.

    Calls are counted, not listed, so a flood costs updates, not rows: accepted calls in
    one row per job, key and client address (``reason`` says whether the first of them
    queued the job or joined it); refused calls in one row per client network, reason,
    macro and minute (``bucket``). ``count`` grows; ``last_seen_at`` moves.
    """

    class Kind(models.TextChoices):
        ENABLED = "enabled", "Automation enabled"
        REGENERATED = "regenerated", "API key regenerated"
        DISABLED = "disabled", "Automation disabled"
        WENT_LIVE = "went_live", "Went live (page published)"
        TRIGGERED = "triggered", "Snapshot triggered"
        REFUSED = "refused", "Call refused"
        REVOKED = "revoked", "Automation revoked by an administrator"
        SITE_ENABLED = "site_enabled", "Automation switched on for the site"
        SITE_DISABLED = "site_disabled", "Automation switched off for the site"
        GLOBAL_KEY_CREATED = "global_key_created", "Global key created"
        GLOBAL_KEY_PROLONGED = "global_key_prolonged", "Global key prolonged"
        GLOBAL_KEY_REGENERATED = "global_key_regenerated", "Global key regenerated"
        GLOBAL_KEY_REVOKED = "global_key_revoked", "Global key revoked"
        OVERRIDE_ENABLED = "override_enabled", "Snapshot group override allowed"
        OVERRIDE_DISABLED = "override_disabled", "Snapshot group override turned off"
        BACKUP_MADE = "backup_made", "Backup made"
        BACKUP_RESTORED = "backup_restored", "Backup restored"
        BACKUP_FAILED = "backup_failed", "Backup or restore failed"
        BACKUP_DOWNLOADED = "backup_downloaded", "Backup downloaded"

    class Via(models.TextChoices):
        SCREEN = "screen", "Automation tab"
        COMMAND = "command", "Command line"
        PUBLISH = "publish", "Page publish"
        API = "api", "Automation API"
        SITE_ADMIN = "site_admin", "Site administration"
        SCHEDULE = "schedule", "Schedule"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    via = models.CharField(max_length=16, choices=Via.choices)
    macro = models.ForeignKey(Macro, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    page = models.ForeignKey(Page, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    key_kind = models.CharField(max_length=16, blank=True, help_text="macro or global")
    key_lookup = models.CharField(max_length=16, blank=True, help_text="Lookup id of the key (never the key).")
    client_address = models.GenericIPAddressField(null=True, blank=True)
    job_id = models.UUIDField(null=True, blank=True)
    reason = models.CharField(max_length=40, blank=True, help_text="Refusal code; for accepted calls “queued” or “coalesced”.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    count = models.PositiveIntegerField(default=1)
    bucket = models.CharField(max_length=120, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    objects = AutomationEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Only counted refusals have a bucket; other rows stay out of this index.
            models.UniqueConstraint(fields=["bucket"], condition=Q(bucket__isnull=False), name="one_refusal_row_per_bucket"),
        ]
        indexes = [
            models.Index(fields=["-created_at"], name="automation_events_newest"),
            models.Index(fields=["macro", "kind", "-created_at"], name="automation_events_of_macro"),
            # An accepted call finds the row that counts its job's calls.
            models.Index(fields=["job_id"], condition=Q(job_id__isnull=False), name="automation_events_of_job"),
        ]

    def __str__(self) -> str:
        suffix = f" ×{self.count}" if self.count > 1 else ""
        return f"{self.get_kind_display()}{suffix}"


class SharedCounter(models.Model):
    """A counter every process shares, for rate limits when the cache is not Redis.

    ``automation.counters`` increments it with one atomic upsert; a row past
    ``expires_at`` counts as absent and starts over on its next increment.
    """

    name = models.CharField(max_length=200, primary_key=True)
    value = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="shared_counters_by_expiry")]

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class BackupRun(models.Model):
    """One backup or restore, run as a django-q2 task on a worker (``automation.backup_runs``).

    ``file_name`` is relative to ``settings.BACKUP_DIR``, which is never served by URL; a
    pruned backup keeps its row with an empty ``file_name``.
    """

    class Kind(models.TextChoices):
        BACKUP = "backup", "Backup"
        RESTORE = "restore", "Restore"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    spaces = models.JSONField(null=True, blank=True, help_text="Space keys, or null for the whole site.")
    dry_run = models.BooleanField(default=False)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    rows_done = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    summary = models.TextField(blank=True)
    error = models.TextField(blank=True)
    via = models.CharField(max_length=16, choices=AutomationEvent.Via.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    key_lookup = models.CharField(max_length=16, blank=True, help_text="Lookup id of the global key that asked (never the key).")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def scope_label(self) -> str:
        return "whole site" if self.spaces is None else ", ".join(self.spaces)

    @property
    def percent(self) -> int | None:
        if not self.rows_total:
            return None
        return min(100, self.rows_done * 100 // self.rows_total)
