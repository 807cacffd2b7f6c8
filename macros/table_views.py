"""Screens around report tables: templates, the personal setting, and the site-wide
table settings (formatting defaults, Snapshots per space)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from macros import macro_templates, space_switch
from macros import pages as page_service
from macros.forms import SaveTemplateForm, TableDefaultsForm, UserSettingsForm
from macros.models import Macro, MacroTemplate, SnapshotJob, Space, TableDefaults, UserSettings
from macros.permissions import can_take_snapshot, page_for
from macros.snapshots import request_snapshot

OFFER_KEY = "offer_snapshot"  # session: the macro whose changed query the editor is offered a snapshot of


# --- templates ------------------------------------------------------------------------


@login_required
def save_template(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    page = page_for(request.user, page_id, need="edit")
    macro = get_object_or_404(Macro, page=page, public_id=macro_id, deleted_at__isnull=True)
    config = macro.draft_config()
    form = SaveTemplateForm(request.POST or None, initial={"name": config.get("title") or ""})
    if not request.user.is_staff:
        del form.fields["site_template"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            template = macro_templates.save_template(
                macro, request.user, name=data["name"], description=data.get("description", ""), site=bool(data.get("site_template"))
            )
        except ValidationError as exc:
            form.add_error("name", exc.messages[0])
        else:
            kind = "site template" if template.is_site_template else "personal template"
            messages.success(request, f"Saved “{template.name}” as a {kind}. Add it to any page with From template.")
            return redirect("macro_configure", page.pk, macro.public_id)
    return render(request, "macros/template_save.html", {"page": page, "macro": macro, "form": form, "config": config})


@login_required
def template_chooser(request: HttpRequest, page_id: int) -> HttpResponse:
    """From template: pick a template (Recent, My templates, All templates, search) to add a macro."""
    page = page_for(request.user, page_id, need="edit")
    if request.method == "POST":
        template = get_object_or_404(macro_templates.visible_templates(request.user), pk=_int(request.POST.get("template")))
        draft = page_service.get_draft(page, request.user)
        macro = macro_templates.add_macro_from_template(draft, template, request.user)
        messages.success(request, f"Added a macro from the template “{template.name}”. Check it, save, then publish the page.")
        return redirect("macro_configure", page.pk, macro.public_id)
    tab = request.GET.get("tab") or ""
    query = request.GET.get("q", "")[:100]
    if tab not in macro_templates.TABS:
        tab = "recent" if macro_templates.choose(request.user, "recent") else "all"
    templates = macro_templates.choose(request.user, tab, query)
    return render(
        request,
        "macros/template_chooser.html",
        {"page": page, "tab": tab, "tabs": macro_templates.TABS, "query": query, "templates": templates},
    )


@login_required
@require_POST
def delete_template(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(macro_templates.visible_templates(request.user), pk=template_id)
    macro_templates.delete_template(template, request.user)
    messages.info(request, f"Deleted the template “{template.name}”.")
    return redirect(request.POST.get("next") if str(request.POST.get("next", "")).startswith("/") else "home")


# --- the personal setting, and the snapshot it takes ----------------------------------


@login_required
def user_settings(request: HttpRequest) -> HttpResponse:
    current = UserSettings.of(request.user)
    form = UserSettingsForm(request.POST or None, initial={"snapshot_on_save": current.snapshot_on_save})
    if request.method == "POST" and form.is_valid():
        UserSettings.objects.update_or_create(user=request.user, defaults={"snapshot_on_save": form.cleaned_data["snapshot_on_save"]})
        messages.success(request, "Settings saved.")
        return redirect("user_settings")
    mine = MacroTemplate.objects.filter(owner=request.user).order_by("name")
    return render(request, "macros/user_settings.html", {"form": form, "templates": mine})


def after_query_saved(request: HttpRequest, macro: Macro, changed: bool) -> None:
    """What saving a changed query does, by the person's setting: take a snapshot, offer one, or nothing."""
    page = macro.page
    # A macro not on the published page yet gets its first snapshot once it is published.
    if not changed or macro.published_at is None or not page.space.snapshots_enabled or not can_take_snapshot(request.user, page.space):
        return
    choice = UserSettings.of(request.user).snapshot_on_save
    if choice == UserSettings.SnapshotOnSave.YES:
        snapshot_saved_query(macro, request.user)
        messages.info(request, "Taking a snapshot of the new query (your setting: take a snapshot when I save).")
    elif choice == UserSettings.SnapshotOnSave.ASK:
        request.session[OFFER_KEY] = str(macro.public_id)


def snapshot_saved_query(macro: Macro, user) -> SnapshotJob:
    """Queue a snapshot that runs the query as just saved (the draft's levels)."""
    levels = macro.draft_config().get("levels")
    with transaction.atomic():  # the job is enqueued after commit, so it runs with these levels
        job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=user)
        SnapshotJob.objects.filter(pk=job.pk, status=SnapshotJob.Status.QUEUED).update(levels=levels)
    return job


def snapshot_offer(request: HttpRequest, macros: list[Macro]) -> Macro | None:
    """The macro the page editor offers a snapshot of, once (the offer is read and gone)."""
    wanted = request.session.pop(OFFER_KEY, None)
    return next((m for m in macros if str(m.public_id) == wanted), None)


@login_required
@require_POST
def take_snapshot_of_saved_query(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    page = page_for(request.user, page_id, need="snapshot")
    macro = get_object_or_404(Macro, page=page, public_id=macro_id, deleted_at__isnull=True)
    if not page.space.snapshots_enabled:
        raise PermissionDenied(space_switch.SPACE_OFF_SENTENCE)
    snapshot_saved_query(macro, request.user)
    messages.success(request, f"Taking a snapshot of “{macro.draft_config().get('title') or 'the macro'}” with its saved query.")
    return redirect("page_edit", page.pk)


# --- site administration --------------------------------------------------------------


def _staff(request: HttpRequest) -> None:
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied("Site administration is for site administrators.")


@login_required
def site_spaces(request: HttpRequest) -> HttpResponse:
    """Snapshots per space: off hides a space's tables and refuses its triggers; data stays."""
    _staff(request)
    if request.method == "POST":
        space = get_object_or_404(Space, pk=_int(request.POST.get("space")))
        enabled = request.POST.get("enabled") == "on"
        if space_switch.set_snapshots_enabled(space, enabled):
            if enabled:
                messages.success(request, f"Snapshots are on again for {space.name}: its tables show and its triggers work.")
            else:
                messages.success(request, f"Snapshots are off for {space.name}. Its snapshots are still stored; nothing was deleted.")
        return redirect("site_spaces")
    counts = space_switch.stored_counts()
    spaces = [(space, counts.get(space.pk, 0)) for space in Space.objects.order_by("name")]
    return render(request, "macros/site_spaces.html", {"spaces": spaces, "section": "spaces"})


@login_required
def site_table_defaults(request: HttpRequest) -> HttpResponse:
    """Formatting defaults new macros start from (and the date format every table uses)."""
    _staff(request)
    defaults = TableDefaults.load()
    form = TableDefaultsForm(
        request.POST or None,
        initial={"date_format": defaults.date_format, "page_size": defaults.page_size, "empty_cell_text": defaults.empty_cell_text},
    )
    if request.method == "POST" and form.is_valid():
        for name, value in form.cleaned_data.items():
            setattr(defaults, name, value)
        defaults.save()
        messages.success(request, "Formatting defaults saved: tables show dates in the new format, and new macros start from the page size and empty cell text.")
        return redirect("site_table_defaults")
    return render(request, "macros/site_table_defaults.html", {"form": form, "section": "table_defaults"})


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such item.") from None
