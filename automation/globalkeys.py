"""The site's global API key: create, prolong, regenerate, revoke (DESIGN §5, §6).

One key at most is active. Every verb runs in one transaction that first locks the site
settings row, so two administrators pressing *Create* at once serialise there and the
second one's key replaces the first's instead of leaving two working keys. Every verb
writes its audit row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from automation import audit, keys
from automation.models import AutomationEvent, GlobalKey
from macros.models import SiteSettings

Kind = AutomationEvent.Kind
MAX_DAYS = 3650


class GlobalKeyError(Exception):
    """A verb that does not apply: no key to prolong or revoke, or a bad number of days."""


@dataclass(frozen=True)
class IssuedGlobalKey:
    """A freshly made global key: the only moment its raw value exists."""

    raw: str
    lookup_id: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedGlobalKey(lookup_id={self.lookup_id!r}, expires_at={self.expires_at.isoformat()})"


def current() -> GlobalKey | None:
    """The active (not revoked) global key, expired or not."""
    return GlobalKey.objects.active().select_related("created_by").first()


def validity(days: int | None) -> timedelta:
    days = GlobalKey.DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise GlobalKeyError(f"A global key is valid for 1 to {MAX_DAYS} days, not {days}.")
    return timedelta(days=days)


def create(user=None, *, via: str, days: int | None = None) -> IssuedGlobalKey:
    """A new global key; any active one is revoked in the same transaction."""
    return _issue(user, via=via, days=days, regenerating=False)


def regenerate(user=None, *, via: str, days: int | None = None) -> IssuedGlobalKey:
    """Replace the active key (the old one dies at once); a full validity period again."""
    return _issue(user, via=via, days=days, regenerating=True)


def prolong(user=None, *, via: str, days: int | None = None) -> GlobalKey:
    """Valid for ``days`` (90 by default) from now; an expired key works again."""
    length = validity(days)
    now = timezone.now()
    with transaction.atomic():
        _lock_site()
        key = GlobalKey.objects.active().select_for_update().first()
        if key is None:
            raise GlobalKeyError("There is no global API key to prolong; create one.")
        previous = key.expires_at
        key.expires_at = now + length
        key.prolonged_at = now
        key.save(update_fields=["expires_at", "prolonged_at"])
        audit.record(
            Kind.GLOBAL_KEY_PROLONGED, via=via, actor=user, key_kind=keys.KeyKind.GLOBAL, key_lookup=key.lookup_id,
            reason=f"until {key.expires_at:%Y-%m-%d} (was {previous:%Y-%m-%d})",
        )
    return key


def revoke(user=None, *, via: str) -> GlobalKey | None:
    """Kill the active key at once. None when there was none."""
    with transaction.atomic():
        _lock_site()
        key = GlobalKey.objects.active().select_for_update().first()
        if key is None:
            return None
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(Kind.GLOBAL_KEY_REVOKED, via=via, actor=user, key_kind=keys.KeyKind.GLOBAL, key_lookup=key.lookup_id)
    return key


@sensitive_variables("new")
def _issue(user, *, via: str, days: int | None, regenerating: bool) -> IssuedGlobalKey:
    length = validity(days)
    now = timezone.now()
    with transaction.atomic():
        _lock_site()
        old = GlobalKey.objects.active().select_for_update().first()
        if regenerating and old is None:
            raise GlobalKeyError("There is no global API key to regenerate; create one.")
        GlobalKey.objects.active().update(revoked_at=now)
        for _ in range(5):
            new = keys.new_key(keys.KeyKind.GLOBAL)
            try:
                with transaction.atomic():
                    key = GlobalKey.objects.create(
                        lookup_id=new.lookup_id,
                        hash=new.hash,
                        created_by=user if user is not None and user.is_authenticated else None,
                        created_at=now,
                        expires_at=now + length,
                    )
            except IntegrityError:
                continue  # a lookup id collision (62 bits: practically never); draw again
            break
        else:
            raise RuntimeError("Could not make a unique key lookup id.")
        audit.record(
            Kind.GLOBAL_KEY_REGENERATED if old is not None else Kind.GLOBAL_KEY_CREATED,
            via=via, actor=user, key_kind=keys.KeyKind.GLOBAL, key_lookup=key.lookup_id,
            reason=f"replaces {old.lookup_id}" if old is not None else "",
        )
    return IssuedGlobalKey(raw=new.raw, lookup_id=key.lookup_id, expires_at=key.expires_at)


def _lock_site() -> None:
    SiteSettings.load()
    SiteSettings.objects.select_for_update().filter(pk=1).first()
