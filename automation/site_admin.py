"""Site administration (staff only): the automation switch and snapshot override, the
global API key, macros with automation on (with revoke), and the audit log.

Views parse, authorise, call one verb (``automation.site``, ``automation.globalkeys``,
``automation.service``) and render. A new global key appears only in the response to
the POST that made it, never in a redirect, message or session.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from automation import globalkeys, keys, service, site
from automation.models import AutomationEvent, GlobalKey, MacroAutomation, MacroKey
from macros.models import Macro, SiteSettings

Kind = AutomationEvent.Kind
VIA = AutomationEvent.Via.SITE_ADMIN


def staff_required(view):
    """Anonymous people go to sign-in; signed-in people who are not staff get 403."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("Site administration is for site administrators.")
        return view(request, *args, **kwargs)

    return wrapped


def _render(request: HttpRequest, template: str, section: str, context: dict) -> HttpResponse:
    return render(request, f"automation/site_admin/{template}", {"section": section, **context})


# --- home ---------------------------------------------------------------------------------


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    settings_row = SiteSettings.load()
    states = MacroAutomation.objects.filter(enabled=True).aggregate(
        live=Count("pk", filter=Q(live_since__isnull=False)), pending=Count("pk", filter=Q(live_since__isnull=True))
    )
    return _render(
        request,
        "home.html",
        "home",
        {
            "site": settings_row,
            "global_key": globalkeys.current(),
            "live": states["live"],
            "pending": states["pending"],
            "recent": AutomationEvent.objects.select_related("macro", "page", "actor")[:8],
        },
    )


# --- switches -----------------------------------------------------------------------------


@staff_required
def switches(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        setting = request.POST.get("setting")
        on = request.POST.get("enabled") == "on"
        if setting == "automation":
            if site.set_automation_enabled(on, request.user, via=VIA):
                messages.success(
                    request,
                    "Automation is on for this site: every macro with live automation answers again, with the keys it had."
                    if on
                    else "Automation is off for this site: every call is refused with site_automation_disabled. "
                    "Macro settings and keys are kept.",
                )
        elif setting == "override":
            if site.set_snapshot_override(on, request.user, via=VIA):
                messages.success(
                    request,
                    "Space admins' snapshot grants are honoured again."
                    if on
                    else "Snapshot grants are off: only people with edit permission can take snapshots.",
                )
        return redirect("site_admin_switches")
    return _render(request, "switches.html", "switches", {"site": SiteSettings.load()})


# --- global key ---------------------------------------------------------------------------


class DaysForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=globalkeys.MAX_DAYS, initial=GlobalKey.DEFAULT_DAYS, label="Valid for (days)")


@staff_required
@sensitive_variables("issued")
def global_key(request: HttpRequest) -> HttpResponse:
    issued = None
    form = DaysForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "revoke":
            if globalkeys.revoke(request.user, via=VIA) is not None:
                messages.success(request, "The global API key is revoked: calls with it are refused from now on.")
            return redirect("site_admin_global_key")
        if not form.is_valid():
            return _render(request, "global_key.html", "global_key", _key_context(form, None))
        days = form.cleaned_data["days"]
        try:
            if action == "prolong":
                key = globalkeys.prolong(request.user, via=VIA, days=days)
                messages.success(request, f"The global API key is valid until {timezone.localtime(key.expires_at):%Y-%m-%d %H:%M}.")
                return redirect("site_admin_global_key")
            if action == "regenerate":
                issued = globalkeys.regenerate(request.user, via=VIA, days=days)
            elif action == "create":
                issued = globalkeys.create(request.user, via=VIA, days=days)
            else:
                return redirect("site_admin_global_key")
        except globalkeys.GlobalKeyError as exc:
            messages.error(request, str(exc))
            return redirect("site_admin_global_key")
        form = DaysForm()
    response = _render(request, "global_key.html", "global_key", _key_context(form, issued))
    if issued is not None:
        response["Cache-Control"] = "no-store"  # the one response that carries the key
    return response


def _key_context(form: DaysForm, issued: globalkeys.IssuedGlobalKey | None) -> dict:
    from django.conf import settings
    from django.urls import reverse

    return {
        "form": form,
        "issued": issued,
        "key": globalkeys.current(),
        "history": GlobalKey.objects.select_related("created_by")[:10],
        "header": keys.HEADER,
        "site_url": settings.SITE_URL,
        "bulk_url": settings.SITE_URL + reverse("automation_trigger_bulk"),
        "example_page_url": settings.SITE_URL + reverse("automation_take_snapshot_page", args=[42]),
        "default_days": GlobalKey.DEFAULT_DAYS,
    }


# --- macros with automation on ------------------------------------------------------------


@staff_required
def automated_macros(request: HttpRequest) -> HttpResponse:
    active_key = MacroKey.objects.filter(macro=OuterRef("macro"), revoked_at__isnull=True).values("lookup_id")[:1]
    rows = (
        MacroAutomation.objects.filter(enabled=True, macro__deleted_at__isnull=True)
        .select_related("macro__page__space", "enabled_by")
        .annotate(key_lookup=Subquery(active_key))
        .order_by("macro__page__space__name", "macro__page__title", "macro__position", "macro__pk")
    )
    state = request.GET.get("state")
    if state == "live":
        rows = rows.filter(live_since__isnull=False)
    elif state == "pending":
        rows = rows.filter(live_since__isnull=True)
    page = Paginator(rows, 50).get_page(request.GET.get("p"))
    return _render(
        request, "automated_macros.html", "macros", {"rows": page, "state": state, "site": SiteSettings.load()}
    )


@staff_required
@require_POST
def revoke_macro(request: HttpRequest, macro_id) -> HttpResponse:
    macro = get_object_or_404(Macro.objects.select_related("page"), public_id=macro_id)
    if service.disable(macro, request.user, via=VIA, kind=Kind.REVOKED):
        title = macro.title or (macro.draft or {}).get("title") or "Jira issues"
        messages.success(request, f"Automation of “{title}” on “{macro.page.title}” is revoked: its endpoint and key stopped working.")
    target = request.POST.get("next", "")
    # Only a path of this site: an outside URL would make the button an open redirect.
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(target)  # not redirect(): it would read "foo" as a URL name
    return redirect("site_admin_macros")


# --- audit log ----------------------------------------------------------------------------


class AuditFilter(forms.Form):
    event = forms.ChoiceField(choices=[("", "Any event"), *Kind.choices], required=False)
    macro = forms.UUIDField(required=False, label="Macro id")
    # The largest id a BigAutoField holds: past it SQLite raises OverflowError, not "no rows".
    page = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Page id")
    # Days a database timestamp can hold in any time zone (year 1 or 9999 overflows).
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(date(1900, 1, 1)), MaxValueValidator(date(9000, 12, 31))],
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(date(1900, 1, 1)), MaxValueValidator(date(9000, 12, 31))],
    )

    def filter(self, events):
        data = self.cleaned_data
        if data.get("event"):
            events = events.filter(kind=data["event"])
        if data.get("macro"):
            events = events.filter(macro__public_id=data["macro"])
        if data.get("page"):
            events = events.filter(page_id=data["page"])
        zone = timezone.get_current_timezone()
        if data.get("since"):
            events = events.filter(last_seen_at__gte=datetime.combine(data["since"], time.min, zone))
        if data.get("until"):
            events = events.filter(created_at__lte=datetime.combine(data["until"], time.max, zone))
        return events


@staff_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilter(request.GET or None)
    events = AutomationEvent.objects.select_related("macro", "page", "actor")
    if form.is_bound and form.is_valid():
        events = form.filter(events)
    elif form.is_bound:
        events = events.none()
    page = Paginator(events, 50).get_page(request.GET.get("p"))
    query = request.GET.copy()
    query.pop("p", None)
    return _render(request, "audit_log.html", "audit", {"form": form, "events": page, "query": query.urlencode()})
