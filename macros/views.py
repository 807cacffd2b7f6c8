"""Screens for spaces, pages, the page editor and the macro configuration."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from macros import pages as page_service
from macros import space_switch, table_views
from macros.chart_options import chart_form
from macros.config_tabs import tabs_for
from macros.forms import DisplayForm, MacroQueryForm, PageForm
from macros.models import Macro, Page, SnapshotJob, Space
from macros.permissions import can_admin_space, can_edit, can_take_snapshot, page_for, visible_spaces
from macros.rendering import render_body
from macros.snapshots import field_column, field_infos, field_names, request_snapshot
from macros.sources import JqlError, SourceError, get_source
from macros.sources.base import SearchTooSlow, preview_budget
from macros.tables import TableState, build_table


@login_required
def home(request: HttpRequest) -> HttpResponse:
    spaces = visible_spaces(request.user)
    pages = Page.objects.filter(space__in=spaces).select_related("space").order_by("space__name", "title")
    return render(request, "macros/home.html", {"spaces": spaces, "pages": pages})


@login_required
def space(request: HttpRequest, key: str) -> HttpResponse:
    space = get_object_or_404(Space, key=key)
    if space not in visible_spaces(request.user):
        raise Http404("No such space.")
    return render(
        request,
        "macros/space.html",
        {
            "space": space,
            "pages": space.pages.order_by("title"),
            "can_edit": can_edit(request.user, space),
            "can_admin": can_admin_space(request.user, space),
        },
    )


@login_required
def page_new(request: HttpRequest, key: str) -> HttpResponse:
    space = get_object_or_404(Space, key=key)
    if space not in visible_spaces(request.user):
        raise Http404("No such space.")
    if not can_edit(request.user, space):
        raise PermissionDenied("You need edit permission on this space to create pages.")
    form = PageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        page = page_service.create_page(space, form.cleaned_data["title"], form.cleaned_data["body"], request.user)
        return redirect("page_edit", page.pk)
    return render(request, "macros/page_new.html", {"space": space, "form": form})


def _macro_block_context(request: HttpRequest, page: Page, macro: Macro) -> dict:
    """A macro as the page shows it; filter, sort, page and open levels come from the URL."""
    space_on = page.space.snapshots_enabled
    snapshot = macro.latest_snapshot() if space_on else None
    state = TableState.from_query(_table_params(request, macro), str(macro.pk))
    table = build_table(snapshot, display=macro.display, state=state) if snapshot else None
    job = macro.jobs.order_by("-created_at").first() if space_on else None
    return {
        "page": page,
        "macro": macro,
        "snapshot": snapshot,
        "table": table,
        "state": state,
        "job": job,
        "space_off": not space_on,
        "can_snapshot": space_on and can_take_snapshot(request.user, page.space),
    }


def _table_params(request: HttpRequest, macro: Macro) -> dict:
    """The query string; on the macro's own URL, ``?p=2`` also means page 2 of its table."""
    params = request.GET.dict()
    if request.resolver_match and request.resolver_match.url_name == "macro_block":
        for name in ("q", "s", "p", "x", "o"):
            if name in params:
                params.setdefault(f"{name}{macro.pk}", params.pop(name))
    return params


@login_required
def page_view(request: HttpRequest, page_id: int) -> HttpResponse:
    page = page_for(request.user, page_id)
    if not page.is_published and not can_edit(request.user, page.space):
        raise Http404("This page has not been published yet.")
    blocks = [_macro_block_context(request, page, macro) for macro in page.live_macros()]
    return render(
        request,
        "macros/page.html",
        {
            "page": page,
            "body_html": _body_html(page),
            "blocks": blocks,
            "can_edit": can_edit(request.user, page.space),
            "has_draft": page_service.has_unpublished_changes(page),
            "version": page.current_version,
            "space_off": not page.space.snapshots_enabled,
        },
    )


def _body_html(page: Page) -> str:
    version = page.current_version
    if version is not None and version.body == page.body:
        return version.rendered_body()
    return render_body(page.body)


@login_required
@require_GET
def macro_block(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    """The rendered macro (table, who took it, job progress), for live updates and paging."""
    page = page_for(request.user, page_id)
    macro = get_object_or_404(page.live_macros(), public_id=macro_id)
    return render(request, "macros/_macro_block.html", _macro_block_context(request, page, macro))


@login_required
@require_GET
def page_live(request: HttpRequest, page_id: int) -> JsonResponse:
    """What changed on the page, cheaply: polled by the open page every few seconds."""
    page = page_for(request.user, page_id)
    state = {}
    for macro in page.live_macros():
        snapshot = macro.latest_snapshot()
        job = macro.jobs.order_by("-created_at").first()
        state[str(macro.public_id)] = {
            "snapshot": snapshot.pk if snapshot else None,
            "job": None
            if job is None
            else {
                "id": str(job.pk),
                "status": job.status,
                "fetched": job.fetched,
                "expected": job.expected,
                "error": job.error or None,
            },
        }
    return JsonResponse({"page": page.pk, "macros": state})


@login_required
@require_POST
def take_snapshot(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    page = page_for(request.user, page_id, need="snapshot")
    macro = get_object_or_404(page.live_macros(), public_id=macro_id)
    if not page.space.snapshots_enabled:
        raise PermissionDenied(space_switch.SPACE_OFF_SENTENCE)
    job, coalesced = request_snapshot(macro, SnapshotJob.Trigger.MANUAL, user=request.user)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"job": str(job.pk), "status": job.status, "coalesced": coalesced}, status=202)
    messages.info(request, "A snapshot was already queued; it will show here when it lands." if coalesced else "Snapshot queued; it will show here when it lands.")
    return redirect(page)


@login_required
def page_edit(request: HttpRequest, page_id: int) -> HttpResponse:
    page = page_for(request.user, page_id, need="edit")
    draft = page_service.get_draft(page, request.user)
    form = PageForm(request.POST or None, initial={"title": draft.title, "body": draft.body})
    if request.method == "POST" and form.is_valid():
        draft.title = form.cleaned_data["title"]
        draft.body = form.cleaned_data["body"]
        draft.updated_by = request.user
        draft.save()
        action = request.POST.get("action", "save")
        macros_by_id = {str(m.public_id): m for m in page_service.draft_macros(draft)}
        verb, _, target = action.partition(":")
        macro = macros_by_id.get(target)
        if verb == "publish":
            page_service.publish(page, request.user)
            messages.success(request, "Published.")
            return redirect(page)
        if verb == "add_macro":
            macro = page_service.add_macro(draft)
            return redirect("macro_configure", page.pk, macro.public_id)
        if verb in {"remove", "up", "down", "configure"} and macro is None:
            raise Http404("No such macro in this draft.")
        if verb == "remove":
            page_service.remove_macro(draft, macro)
            messages.info(request, f"Removed “{macro.draft_config().get('title') or 'macro'}” from the draft.")
        elif verb in {"up", "down"}:
            page_service.move_macro(draft, macro, -1 if verb == "up" else 1)
        elif verb == "configure":
            return redirect("macro_configure", page.pk, macro.public_id)
        else:
            messages.success(request, "Saved to the draft. Publish to make it live.")
        return redirect("page_edit", page.pk)
    macros = page_service.draft_macros(draft)
    return render(
        request,
        "macros/page_edit.html",
        {
            "page": page,
            "draft": draft,
            "form": form,
            "macros": macros,
            "has_changes": page_service.has_unpublished_changes(page),
            "snapshot_offer": table_views.snapshot_offer(request, macros),
        },
    )


def _editable_macro(request: HttpRequest, page_id: int, macro_id) -> tuple[Page, Macro]:
    page = page_for(request.user, page_id, need="edit")
    macro = get_object_or_404(Macro, page=page, public_id=macro_id, deleted_at__isnull=True)
    return page, macro


@login_required
def macro_configure(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    """The Query tab: title, levels (JQL + fields), with a preview of the first rows."""
    page, macro = _editable_macro(request, page_id, macro_id)
    config = macro.draft_config()
    try:
        source = get_source()
    except SourceError as exc:  # e.g. JIRA_DEPLOYMENT=auto and Jira is unreachable
        source, source_error = None, str(exc)
    else:
        source_error = None
    field_choices = _field_choices(source) if source else []
    form = MacroQueryForm(request.POST or None, config=config)
    preview = None
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "save")
        levels = form.levels()
        if action == "add_level":
            form = MacroQueryForm(config={**config, "title": form.cleaned_data["title"], "levels": [*levels, {"jql": "parent = $key", "fields": ["key", "summary", "status"]}]})
        elif action.startswith("remove_level:"):
            index = _int(action.partition(":")[2], 0)
            kept = [lvl for i, lvl in enumerate(levels) if i != index or i == 0]
            form = MacroQueryForm(config={**config, "title": form.cleaned_data["title"], "levels": kept})
        else:
            preview = _preview(source, levels[0])
            if action == "save" and not preview["errors"]:
                page_service.save_macro_draft(macro, {**config, "title": form.cleaned_data["title"], "levels": levels})
                messages.success(request, "Macro saved to the draft. Publish the page to make it live.")
                table_views.after_query_saved(request, macro, changed=levels != config.get("levels"))
                return redirect("page_edit", page.pk)
    elif request.GET.get("preview"):
        preview = _preview(source, config["levels"][0])
    return render(
        request,
        "macros/macro_configure.html",
        {
            "page": page,
            "macro": macro,
            "form": form,
            "preview": preview,
            "field_choices": field_choices,
            "tabs": tabs_for(page, macro, "query"),
            "source": source,
            "source_error": source_error,
        },
    )


@login_required
def macro_display(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    """The Display tab: rows per page, saved order, grouping, totals, placeholders, columns."""
    page, macro = _editable_macro(request, page_id, macro_id)
    config = macro.draft_config()
    display = config.get("display") or {}
    columns = _column_names(macro, config)
    form = DisplayForm(request.POST or None, display=display, columns=columns)
    charts = chart_form(macro, config, request.POST or None)  # the Chart option (issue 15)
    if request.method == "POST" and form.is_valid() and charts.is_valid():
        # Keys another tab or app keeps in the display settings stay as they are.
        page_service.save_macro_draft(macro, {**config, "display": {**display, **form.display(), **charts.display_options()}})
        messages.success(request, "Display options saved to the draft.")
        return redirect("page_edit", page.pk)
    return render(
        request,
        "macros/macro_display.html",
        {"page": page, "macro": macro, "form": form, "tabs": tabs_for(page, macro, "display"), "chart_form": charts},
    )


def _column_names(macro: Macro, config: dict) -> list[tuple[str, str]]:
    """Level 1's fields with their names: from the last snapshot, else the source, else the id."""
    fields = ((config.get("levels") or [{}])[0]).get("fields") or []
    names: dict[str, str] = {"key": "Key"}
    snapshot = macro.latest_snapshot()
    if snapshot is not None:
        names.update({c["id"]: c["name"] for level in snapshot.columns for c in level})
    if any(f not in names for f in fields):
        try:
            names = {**field_names(get_source()), **names}
        except SourceError:
            pass
    return [(f, names.get(f, f)) for f in fields]


def _preview(source, level: dict) -> dict:
    fields = [f for f in level["fields"] if f != "key"] or ["summary"]
    if source is None:
        return {"errors": [], "warning": "The source is not reachable.", "issues": [], "expected": None, "fields": level["fields"]}
    try:
        with preview_budget():
            result = source.preview(level["jql"], fields, limit=10)
    except JqlError as exc:
        return {"errors": exc.messages, "issues": [], "expected": None, "fields": level["fields"]}
    except SearchTooSlow as exc:  # the query itself is at fault: not saved as it is
        return {"errors": [str(exc)], "issues": [], "expected": None, "fields": level["fields"]}
    except SourceError as exc:
        return {"errors": [], "warning": str(exc), "issues": [], "expected": None, "fields": level["fields"]}
    from macros.fieldtypes import cell_html

    known = {f.id: f for f in field_infos(source, wanted=level["fields"])}
    columns = [field_column(f, known) for f in level["fields"]]
    rows = [[cell_html(issue, c, source.site_url) for c in columns] for issue in result.issues]
    return {"errors": [], "rows": rows, "expected": result.expected, "fields": [c["name"] for c in columns]}


def _field_choices(source) -> list:
    fields = field_infos(source)
    return sorted(fields, key=lambda f: (f.custom, f.name.lower()))


def _int(value, default: int) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default



@login_required
def macro_schedule(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    """The Schedule tab: the macro refreshes itself daily, weekly or on a cron expression."""
    from macros import schedules
    from macros.forms import ScheduleForm
    from macros.models import MacroSchedule, SiteSettings

    page, macro = _editable_macro(request, page_id, macro_id)
    schedule = MacroSchedule.objects.filter(macro=macro).first()
    initial = {"enabled": False, "kind": "daily"}
    if schedule is not None:
        initial = {"enabled": schedule.enabled, "kind": schedule.kind, "time": schedule.time, "weekday": schedule.weekday, "cron": schedule.cron}
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if schedule is None and not data["enabled"]:
            return redirect("macro_schedule", page.pk, macro.public_id)
        schedule = schedule or MacroSchedule(macro=macro)
        schedule.enabled = data["enabled"]
        if data["enabled"]:
            schedule.kind = data["kind"]
            schedule.time = data.get("time")
            schedule.weekday = data.get("weekday")
            schedule.cron = data.get("cron", "")
        schedule.updated_by = request.user
        schedules.save_schedule(schedule)
        if schedule.enabled:
            messages.success(request, f"Schedule saved: {schedule.describe()} ({settings.TIME_ZONE}).")
        else:
            messages.success(request, "Schedule switched off.")
        return redirect("macro_schedule", page.pk, macro.public_id)
    last_run = macro.jobs.filter(trigger=SnapshotJob.Trigger.SCHEDULE).order_by("-created_at").first()
    return render(
        request,
        "macros/macro_schedule.html",
        {
            "page": page,
            "macro": macro,
            "form": form,
            "schedule": schedule,
            "next_run": schedules.next_run_of(schedule) if schedule and schedule.enabled else None,
            "last_run": last_run,
            "site_automation_enabled": SiteSettings.load().automation_enabled,
            "time_zone": settings.TIME_ZONE,
            "tabs": tabs_for(page, macro, "schedule"),
        },
    )
