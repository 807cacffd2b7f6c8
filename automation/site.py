"""Site-wide switches a site administrator changes: automation on/off, the snapshot override.

Both act at once: every automation call reads the switch in its one lookup query, and
``macros.permissions.can_take_snapshot`` reads the override on each check. Per-macro
settings are never touched, so switching automation back on resumes every macro as it was.
"""

from __future__ import annotations

from django.db import transaction

from automation import audit
from automation.models import AutomationEvent
from macros.models import SiteSettings

Kind = AutomationEvent.Kind


def set_automation_enabled(enabled: bool, user=None, *, via: str) -> bool:
    """Switch automation on or off for the whole site. False when it already was."""
    return _set("automation_enabled", enabled, user, via=via, on=Kind.SITE_ENABLED, off=Kind.SITE_DISABLED)


def set_snapshot_override(allowed: bool, user=None, *, via: str) -> bool:
    """Whether a space admin's "View and take snapshots" grant lets people snapshot without edit."""
    return _set("snapshot_group_override", allowed, user, via=via, on=Kind.OVERRIDE_ENABLED, off=Kind.OVERRIDE_DISABLED)


def _set(field: str, value: bool, user, *, via: str, on: str, off: str) -> bool:
    with transaction.atomic():
        SiteSettings.load()
        site = SiteSettings.objects.select_for_update().get(pk=1)
        if getattr(site, field) == value:
            return False
        setattr(site, field, value)
        site.save(update_fields=[field, "updated_at"])
        audit.record(on if value else off, via=via, actor=user)
    return True
