"""Writing the automation audit trail (``AutomationEvent``)."""

from __future__ import annotations

import ipaddress
import uuid

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.settings import api_settings

from automation.models import AutomationEvent
from macros.models import Macro

Kind = AutomationEvent.Kind
Via = AutomationEvent.Via


def client_address(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or X-Forwarded-For when proxies are declared.

    DRF trusts X-Forwarded-For blindly when ``NUM_PROXIES`` is unset, which would let a
    caller pick its own address and dodge the refused-attempts guard; here the header
    counts only when REST_FRAMEWORK["NUM_PROXIES"] says how many proxies add to it.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = api_settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        address = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_network(address: str | None) -> str:
    """What refusals are counted per: the address, or its /64 for IPv6 (one host's share)."""
    if not address:
        return "unknown"
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def record(
    kind: str,
    *,
    via: str,
    macro: Macro | None = None,
    actor=None,
    key_kind: str = "",
    key_lookup: str = "",
    address: str | None = None,
    job_id: uuid.UUID | None = None,
    reason: str = "",
) -> AutomationEvent:
    return AutomationEvent.objects.create(
        kind=kind,
        via=via,
        macro=macro,
        page_id=macro.page_id if macro is not None else None,
        actor=actor if actor is not None and actor.is_authenticated else None,
        key_kind=key_kind,
        key_lookup=key_lookup,
        client_address=address,
        job_id=job_id,
        reason=reason,
    )


def record_refusal(
    reason: str,
    *,
    address: str | None,
    macro: Macro | None = None,
    key_kind: str = "",
    key_lookup: str = "",
) -> None:
    """Count one refused call in its (network, reason, macro, minute) row.

    Nothing the caller controls freely goes into the bucket (an unknown macro id does
    not), so however many calls a client sends it adds at most one row per minute and
    reason for each real macro.
    """
    now = timezone.now()
    bucket = f"{client_network(address)}|{reason}|{macro.pk if macro else '-'}|{now:%Y%m%d%H%M}"
    if _bump(bucket, now):
        return
    try:
        with transaction.atomic():
            AutomationEvent.objects.create(
                kind=Kind.REFUSED,
                via=Via.API,
                macro=macro,
                page_id=macro.page_id if macro is not None else None,
                key_kind=key_kind,
                key_lookup=key_lookup,
                client_address=address,
                reason=reason,
                bucket=bucket,
                created_at=now,
                last_seen_at=now,
            )
    except IntegrityError:  # another process opened this minute's row first
        _bump(bucket, now)


def _bump(bucket: str, now) -> bool:
    return bool(AutomationEvent.objects.filter(bucket=bucket).update(count=F("count") + 1, last_seen_at=now))
