"""Screens for a page's past: its history, old versions, comparisons, stickers and exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET, require_POST

from macros import chart_views, exports
from macros.compare import KINDS, compare, latest_pair
from macros.models import Macro, Page, PageVersion, Snapshot, Sticker
from macros.permissions import can_edit, page_for
from macros.tables import build_table

VERSIONS_PER_PAGE = 50
DIFF_ENTRIES_PER_PAGE = 50
SNAPSHOT_CHOICES = 200  # snapshots offered in the compare pickers


@login_required
@require_GET
def page_history(request: HttpRequest, page_id: int) -> HttpResponse:
    page = page_for(request.user, page_id)
    sticker = " ".join(request.GET.get("sticker", "").split())
    versions = (
        page.versions.select_related("snapshot__macro")
        .prefetch_related(Prefetch("stickers", queryset=Sticker.objects.select_related("created_by").order_by("created_at", "pk")))
        .order_by("-number")
    )
    if sticker:
        versions = versions.filter(stickers__label=sticker)
    listing = Paginator(versions, VERSIONS_PER_PAGE).get_page(request.GET.get("p"))
    labels = page.stickers.values("label").annotate(uses=Count("pk")).order_by("label")
    return render(
        request,
        "macros/page_history.html",
        {
            "page": page,
            "versions": listing,
            "sticker": sticker,
            "labels": labels,
            "events": page.events.order_by("-created_at", "-pk")[:20],
            "can_edit": can_edit(request.user, page.space),
            "current_number": page.current_version.number if page.current_version else None,
            "history_url": request.get_full_path(),
            "trends": chart_views.page_trends(request, page),  # issue 15
        },
    )


@login_required
@require_GET
def page_version(request: HttpRequest, page_id: int, number: int) -> HttpResponse:
    page = page_for(request.user, page_id)
    stickers = Prefetch("stickers", queryset=Sticker.objects.select_related("created_by").order_by("created_at", "pk"))
    version = get_object_or_404(PageVersion.objects.prefetch_related(stickers), page=page, number=number)
    wanted = [m["snapshot"] for m in version.macros if m.get("snapshot")]
    snapshots = {s.pk: s for s in Snapshot.objects.finished().filter(pk__in=wanted, macro__page=page)}
    blocks = []
    for item in version.macros:
        snapshot = snapshots.get(item.get("snapshot"))
        table = None
        if snapshot is not None:
            page_number = _int(request.GET.get(f"p{snapshot.macro_id}"), 1)
            table = build_table(snapshot, page_number, (item.get("display") or {}).get("page_size", 25))
        blocks.append(
            {
                "title": item.get("title"),
                "display": item.get("display") or {},  # as it was, with its chart (issue 15)
                "macro": {"public_id": item.get("id")},
                "snapshot": snapshot,
                "table": table,
                "changed": version.snapshot_id is not None and snapshot is not None and snapshot.pk == version.snapshot_id,
            }
        )
    numbers = page.versions.values_list("number", flat=True)
    return render(
        request,
        "macros/page_version.html",
        {
            "page": page,
            "version": version,
            "body_html": version.rendered_body(),
            "blocks": blocks,
            "older": numbers.filter(number__lt=number).order_by("-number").first(),
            "newer": numbers.filter(number__gt=number).order_by("number").first(),
            "is_current": page.current_version_id == version.pk,
            "can_edit": can_edit(request.user, page.space),
        },
    )


@login_required
@require_GET
def compare_snapshots(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    """Two snapshots of one macro side by side; ``?a=<older id>&b=<newer id>``, the two latest by default."""
    page = page_for(request.user, page_id)
    macro = get_object_or_404(Macro, page=page, public_id=macro_id)
    finished = Snapshot.objects.finished().filter(macro=macro)
    older, newer = _chosen_pair(finished, macro, request.GET.get("a"), request.GET.get("b"))
    show = request.GET.get("show") if request.GET.get("show") in KINDS else ""
    comparison = listing = None
    if older is not None and newer is not None:
        comparison = compare(older, newer)
        listing = Paginator(comparison.diff.entries(show or None), DIFF_ENTRIES_PER_PAGE).get_page(request.GET.get("p"))
    choices = list(finished.select_related("page_version").order_by("-taken_at", "-pk")[:SNAPSHOT_CHOICES])
    for chosen in (older, newer):  # an old pick stays selectable however many came after it
        if chosen is not None and chosen not in choices:
            choices.append(chosen)
    return render(
        request,
        "macros/compare.html",
        {
            "page": page,
            "macro": macro,
            "older": older,
            "newer": newer,
            "comparison": comparison,
            "entries": listing,
            "show": show,
            "choices": _labelled(choices),
        },
    )


def _chosen_pair(finished, macro: Macro, a: str | None, b: str | None) -> tuple[Snapshot | None, Snapshot | None]:
    if not a and not b:
        return latest_pair(macro)
    newer = _snapshot_or_404(finished, b) if b else None
    older = _snapshot_or_404(finished, a) if a else None
    if newer is None:
        newer = finished.order_by("-taken_at", "-pk").first()
    if older is None and newer is not None:  # "compare with the previous snapshot"
        older = finished.filter(taken_at__lt=newer.taken_at).order_by("-taken_at", "-pk").first()
    return older, newer


def _snapshot_or_404(finished, snapshot_id: str) -> Snapshot:
    try:
        return finished.select_related("page_version").get(pk=int(snapshot_id))
    except (ValueError, Snapshot.DoesNotExist):
        raise Http404("No such snapshot of this macro.") from None


def _labelled(snapshots: list[Snapshot]) -> list[tuple[Snapshot, str]]:
    """Each snapshot with how the pickers name it: when, who, size, version and stickers."""
    stickers: dict[int, list[str]] = {}
    rows = Sticker.objects.filter(version__snapshot__in=[s.pk for s in snapshots]).order_by("created_at", "pk")
    for snapshot_id, label in rows.values_list("version__snapshot_id", "label"):
        stickers.setdefault(snapshot_id, []).append(label)
    out = []
    for s in snapshots:
        parts = [localtime(s.taken_at).strftime("%Y-%m-%d %H:%M"), s.actor, f"{s.issue_count} issue{pluralize(s.issue_count)}"]
        version = getattr(s, "page_version", None)
        if version is not None:
            parts.append(f"v{version.number}")
        parts += [f"★ {label}" for label in stickers.get(s.pk, [])]
        out.append((s, " · ".join(parts)))
    return out


# --------------------------------------------------------------------------------------
# Stickers


@login_required
@require_POST
def add_sticker(request: HttpRequest, page_id: int, number: int) -> HttpResponse:
    page = page_for(request.user, page_id, need="edit")
    version = get_object_or_404(PageVersion, page=page, number=number)
    try:
        sticker, created = version.add_sticker(request.POST.get("label", ""), request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if created:
            messages.success(request, f"Added the sticker “{sticker.label}” to version {version.number}.")
        else:
            messages.info(request, f"Version {version.number} already has the sticker “{sticker.label}”.")
    return _back(request, page)


@login_required
@require_POST
def remove_sticker(request: HttpRequest, page_id: int, sticker_id: int) -> HttpResponse:
    page = page_for(request.user, page_id, need="edit")
    sticker = get_object_or_404(Sticker.objects.select_related("version"), pk=sticker_id, page=page)
    sticker.remove(request.user)
    messages.success(request, f"Removed the sticker “{sticker.label}” from version {sticker.version.number}.")
    return _back(request, page)


def _back(request: HttpRequest, page: Page) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(target)  # not redirect(): it would read "foo" as a URL name
    return redirect("page_history", page.pk)


# --------------------------------------------------------------------------------------
# Exports


@login_required
@require_GET
def export_csv(request: HttpRequest, page_id: int, snapshot_id: int) -> StreamingHttpResponse:
    snapshot = _exportable(request, page_id, snapshot_id)
    response = StreamingHttpResponse(exports.csv_stream(snapshot), content_type="text/csv; charset=utf-8")
    return _attachment(response, exports.filename(snapshot, "csv"))


@login_required
@require_GET
def export_json(request: HttpRequest, page_id: int, snapshot_id: int) -> StreamingHttpResponse:
    snapshot = _exportable(request, page_id, snapshot_id)
    response = StreamingHttpResponse(exports.json_stream(snapshot), content_type="application/json")
    return _attachment(response, exports.filename(snapshot, "json"))


def _exportable(request: HttpRequest, page_id: int, snapshot_id: int) -> Snapshot:
    page = page_for(request.user, page_id)
    return get_object_or_404(
        Snapshot.objects.finished().select_related("macro__page", "page_version"), pk=snapshot_id, macro__page=page
    )


def _attachment(response: StreamingHttpResponse, name: str) -> StreamingHttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _int(value, default: int) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default
