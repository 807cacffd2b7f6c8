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


# --- backup and restore -------------------------------------------------------------------
# Runs are queued here and done by the worker (automation.backup_runs), never in the request.


class BackupForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[("site", "The whole site"), ("spaces", "Chosen spaces"), ("csv", "Spaces listed in a CSV file")],
        initial="site",
        widget=forms.RadioSelect,
        label="What to back up",
    )
    spaces = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Spaces")
    csv_file = forms.FileField(required=False, label="CSV file of space keys")

    def __init__(self, *args, **kwargs):
        from macros.models import Space

        super().__init__(*args, **kwargs)
        self.fields["spaces"].choices = [(s.key, f"{s.name} ({s.key})") for s in Space.objects.order_by("name")]

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == "spaces" and not data.get("spaces"):
            raise forms.ValidationError("Tick at least one space, or back up the whole site.")
        if scope == "csv":
            upload = data.get("csv_file")
            if upload is None:
                raise forms.ValidationError("Choose a CSV file with one space key per line.")
            data["spaces"] = _space_keys_from_csv(upload)
        return data

    def chosen_spaces(self) -> list[str] | None:
        return None if self.cleaned_data["scope"] == "site" else self.cleaned_data["spaces"]


def _space_keys_from_csv(upload) -> list[str]:
    """The first column of each line; a header (key, space, space key) is skipped."""
    import csv
    import io

    if upload.size > 1024 * 1024:
        raise forms.ValidationError("The CSV file is larger than 1 MiB; a list of space keys is much smaller.")
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise forms.ValidationError("The CSV file is not UTF-8 text.") from None
    keys = []
    for row in csv.reader(io.StringIO(text)):
        cell = row[0].strip() if row else ""
        if cell and cell.lower() not in ("key", "space", "space key", "space_key"):
            keys.append(cell)
    if not keys:
        raise forms.ValidationError("The CSV file names no space key (one key per line, in the first column).")
    return keys


class RestoreForm(forms.Form):
    archive = forms.FileField(label="Backup archive (.zip)")
    dry_run = forms.BooleanField(required=False, label="Only check it and report what would be restored (dry run)")


@staff_required
def backups(request: HttpRequest) -> HttpResponse:
    from django.conf import settings as django_settings

    from automation import backup_runs
    from automation.backup import BackupError
    from automation.models import BackupRun

    backup_form, restore_form = BackupForm(), RestoreForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "backup":
                backup_form = BackupForm(request.POST, request.FILES)
                if backup_form.is_valid():
                    run = backup_runs.start_backup(backup_form.chosen_spaces(), via=VIA, user=request.user)
                    messages.success(request, f"Backup of the {run.scope_label} queued: it runs on the worker; this page follows it.")
                    return redirect("site_admin_backup_run", run.pk)
            elif action == "restore":
                restore_form = RestoreForm(request.POST, request.FILES)
                if restore_form.is_valid():
                    run = backup_runs.start_restore(
                        restore_form.cleaned_data["archive"], via=VIA, user=request.user, dry_run=restore_form.cleaned_data["dry_run"]
                    )
                    messages.success(request, "Archive received: it is checked, then restored, on the worker.")
                    return redirect("site_admin_backup_run", run.pk)
        except BackupError as exc:
            messages.error(request, str(exc))
    return _render(
        request,
        "backups.html",
        "backups",
        {
            "backup_form": backup_form,
            "restore_form": restore_form,
            "runs": BackupRun.objects.select_related("requested_by")[:20],
            "keep": django_settings.BACKUP_KEEP,
        },
    )


@staff_required
def backup_run(request: HttpRequest, run_id) -> HttpResponse:
    from automation.models import BackupRun

    run = get_object_or_404(BackupRun.objects.select_related("requested_by"), pk=run_id)
    return _render(request, "backup_run.html", "backups", {"run": run})


@staff_required
def backup_download(request: HttpRequest, run_id) -> HttpResponse:
    from django.http import FileResponse, Http404

    from automation import backup_runs
    from automation.models import BackupRun

    run = get_object_or_404(BackupRun, pk=run_id, kind=BackupRun.Kind.BACKUP, status=BackupRun.Status.SUCCEEDED)
    path = backup_runs.path_of(run)
    if path is None:
        raise Http404("This backup's file was pruned.")
    AutomationEvent.objects.create(kind=Kind.BACKUP_DOWNLOADED, via=VIA, actor=request.user, job_id=run.pk, reason=backup_runs.scope_reason(run.spaces))
    response = FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip")
    response["Cache-Control"] = "no-store"
    return response
