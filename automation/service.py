"""Domain verbs of macro automation: enable, regenerate, disable, go live on publish.

Grants wait for publish, revocations never wait (DESIGN §5): ``enable`` leaves the
endpoint pending until the page is published (the command line may make it live at
once); ``regenerate`` kills the old key in the same transaction that makes the new one;
``disable`` stops the endpoint at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from automation import audit, keys
from automation.models import AutomationEvent, MacroAutomation, MacroKey
from macros.models import Macro, Page, SiteSettings

Kind = AutomationEvent.Kind


class AutomationError(Exception):
    """A verb that does not apply in the macro's current state."""


@dataclass(frozen=True)
class IssuedKey:
    """A freshly made key: the only moment its raw value exists outside the caller's tool."""

    raw: str
    lookup_id: str
    url: str

    def __repr__(self) -> str:
        return f"IssuedKey(lookup_id={self.lookup_id!r}, url={self.url!r})"


def web_request_url(macro: Macro) -> str:
    return settings.SITE_URL + reverse("automation_trigger_macro", args=[macro.public_id])


def site_automation_enabled() -> bool:
    """The site switch, read fresh on every call so that switching it off acts at once."""
    value = SiteSettings.objects.filter(pk=1).values_list("automation_enabled", flat=True).first()
    return True if value is None else value


def automation_of(macro: Macro) -> MacroAutomation | None:
    try:
        return macro.automation
    except MacroAutomation.DoesNotExist:
        return None


def state_of(macro: Macro) -> str:
    automation = automation_of(macro)
    return automation.state if automation is not None else MacroAutomation.State.OFF


def active_key(macro: Macro) -> MacroKey | None:
    return MacroKey.objects.filter(macro=macro, revoked_at__isnull=True).first()


def enable(macro: Macro, user=None, *, via: str, live_at_once: bool = False) -> IssuedKey:
    """Switch automation on with a new key; live at publish (or at once, for the command line)."""
    now = timezone.now()
    with transaction.atomic():
        automation = _lock_automation(macro)
        if automation.is_live:
            raise AutomationError("Automation is already live for this macro; regenerate the key for a new one.")
        issued = _replace_key(macro, user, now)
        automation.enabled = True
        automation.enabled_by = user if user is not None and user.is_authenticated else None
        automation.enabled_at = now
        if live_at_once and macro.is_live:
            automation.live_since = now
        automation.save()
        audit.record(Kind.ENABLED, via=via, macro=macro, actor=user, key_kind=keys.KeyKind.MACRO, key_lookup=issued.lookup_id)
        if automation.is_live:
            audit.record(Kind.WENT_LIVE, via=via, macro=macro, actor=user, key_kind=keys.KeyKind.MACRO, key_lookup=issued.lookup_id)
    return issued


def regenerate(macro: Macro, user=None, *, via: str) -> IssuedKey:
    """A new key for a macro whose automation is on; the old key is dead when this returns."""
    with transaction.atomic():
        automation = _lock_automation(macro)
        if not automation.enabled:
            raise AutomationError("Automation is off for this macro; enable it to make a key.")
        old = active_key(macro)
        issued = _replace_key(macro, user, timezone.now())
        audit.record(
            Kind.REGENERATED,
            via=via,
            macro=macro,
            actor=user,
            key_kind=keys.KeyKind.MACRO,
            key_lookup=issued.lookup_id,
            reason=f"replaces {old.lookup_id}" if old else "",
        )
    return issued


def disable(macro: Macro, user=None, *, via: str, kind: str = Kind.DISABLED) -> bool:
    """Stop the endpoint at once and kill the key. False when it was already off.

    ``kind`` is ``Kind.REVOKED`` when a site administrator does it from the list of
    macros with automation on, so the audit log tells the two apart.
    """
    with transaction.atomic():
        automation = _lock_automation(macro)
        old = active_key(macro)
        if not automation.enabled and old is None:
            return False
        MacroKey.objects.filter(macro=macro, revoked_at__isnull=True).update(revoked_at=timezone.now())
        automation.enabled = False
        automation.live_since = None
        automation.save(update_fields=["enabled", "live_since"])
        audit.record(kind, via=via, macro=macro, actor=user, key_kind=keys.KeyKind.MACRO, key_lookup=old.lookup_id if old else "")
    return True


def grant_waits_for_publish(page: Page) -> bool:
    """Whether a macro of the page has automation switched on but not live until publish."""
    return MacroAutomation.objects.filter(
        macro__page=page, macro__deleted_at__isnull=True, enabled=True, live_since__isnull=True
    ).exists()


def make_live_on_publish(sender, *, page: Page, macros: list[Macro], user=None, **kwargs) -> None:
    """``page_published`` receiver: pending grants of the macros that went live go live now.

    It runs inside the publish transaction, so the grant and the publish commit together.
    """
    now = timezone.now()
    pending = list(
        MacroAutomation.objects.select_for_update()
        .select_related("macro")
        .filter(macro__in=macros, enabled=True, live_since__isnull=True)
    )
    for automation in pending:
        automation.live_since = now
        automation.save(update_fields=["live_since"])
        key = active_key(automation.macro)
        audit.record(
            Kind.WENT_LIVE,
            via=AutomationEvent.Via.PUBLISH,
            macro=automation.macro,
            actor=user,
            key_kind=keys.KeyKind.MACRO,
            key_lookup=key.lookup_id if key else "",
        )


def _lock_automation(macro: Macro) -> MacroAutomation:
    MacroAutomation.objects.get_or_create(macro=macro)
    return MacroAutomation.objects.select_for_update().get(macro=macro)


@sensitive_variables("new")
def _replace_key(macro: Macro, user, now) -> IssuedKey:
    """Revoke the macro's key and make a new one (call inside a transaction)."""
    MacroKey.objects.filter(macro=macro, revoked_at__isnull=True).update(revoked_at=now)
    for _ in range(5):
        new = keys.new_key(keys.KeyKind.MACRO)
        try:
            with transaction.atomic():
                MacroKey.objects.create(
                    macro=macro,
                    lookup_id=new.lookup_id,
                    hash=new.hash,
                    created_by=user if user is not None and user.is_authenticated else None,
                    created_at=now,
                )
        except IntegrityError:
            continue  # a lookup id collision (62 bits: practically never); draw again
        return IssuedKey(raw=new.raw, lookup_id=new.lookup_id, url=web_request_url(macro))
    raise RuntimeError("Could not make a unique key lookup id.")


def record_scheduled_run(sender, *, macro: Macro, job, coalesced: bool, skipped: str, **kwargs) -> None:
    """``scheduled_run`` receiver: a schedule's run is audited like a call, as "schedule"."""
    if skipped:
        audit.record(Kind.REFUSED, via=AutomationEvent.Via.SCHEDULE, macro=macro, reason=skipped)
    else:
        audit.record(Kind.TRIGGERED, via=AutomationEvent.Via.SCHEDULE, macro=macro, job_id=job.pk,
                     reason="coalesced" if coalesced else "")
