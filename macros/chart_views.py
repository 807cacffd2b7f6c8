"""Charts on screens: the History's trends, a macro's chart display option, their CSV data."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET

from macros.chart_data import STATUS_CATEGORY, Trend, grouped, number_text, trend_of
from macros.chart_svg import CompareFigure, bar_figure, compare_figure, pie_figure, trend_figure, version_url_prefix
from macros.compare import Comparison
from macros.exports import safe_cell
from macros.models import Macro, Page, Snapshot
from macros.permissions import page_for

CHART_TYPES = ("bar", "pie")


def page_trends(request: HttpRequest, page: Page) -> list[dict]:
    """A trend per live macro of ``page`` with two or more snapshots, for its History."""
    trends = []
    for macro in page.live_macros():
        parameter = f"measure{macro.pk}"
        trend = trend_of(macro, request.GET.get(parameter, ""))
        if len(trend.points) < 2:
            continue
        trends.append(
            {
                "macro": macro,
                "trend": trend,
                "figure": trend_figure(trend, page.pk),
                "table_rows": _table_rows(trend, version_url_prefix(page.pk)),
                "measures": [
                    (name, _with(request.GET, parameter, measure_id, f"trend-{macro.public_id}"), measure_id == trend.measure)
                    for measure_id, name in trend.measures
                ],
                "csv_url": reverse("trend_csv", args=[page.pk, macro.public_id])
                + (f"?measure={trend.measure}" if trend.measure else ""),
            }
        )
    return trends


def _table_rows(trend: Trend, version_url: str) -> SafeString:
    """The rows of the table under a trend, built here for the same reason as its points."""
    rows = []
    for row in trend.rows():
        point = row["point"]
        version = format_html('<a href="{}{}/">v{}</a>', version_url, point.version, point.version) if point.version else ""
        rows.append(
            format_html(
                '<tr><td>{}</td><td class="nowrap"><time datetime="{}">{}</time></td>{}<td class="num total">{}</td>{}<td>{}{}</td></tr>\n',
                version,
                row["iso"],
                row["taken"],
                format_html_join("", '<td class="num">{}</td>', ((v,) for v in row["values"])),
                row["total"],
                format_html('<td class="num">{}</td>', row["remaining"]) if trend.is_sum else "",
                format_html_join(" ", '<span class="sticker plain">{}</span>', ((s,) for s in point.stickers)),
                mark_safe(' <span class="badge pending" title="The macro\'s JQL differs from the snapshot before">query changed</span>')
                if point.query_changed
                else "",
            )
        )
    return mark_safe("".join(rows))  # each row built by format_html


def _with(query: QueryDict, name: str, value: str, anchor: str) -> str:
    changed = query.copy()
    if value:
        changed[name] = value
    else:
        changed.pop(name, None)
    encoded = changed.urlencode()
    return f"?{encoded}#{anchor}" if encoded else f"?#{anchor}"


def snapshot_chart(page_id: int, snapshot: Snapshot | None, display: dict | None, title: str) -> dict | None:
    """The chart a macro's display options ask for, drawn from the snapshot's stored counts."""
    options = (display or {}).get("chart") or {}
    if snapshot is None or options.get("type") not in CHART_TYPES or not options.get("group_by"):
        return None
    measure = options.get("measure") or ""
    data = grouped(snapshot, options["group_by"], measure)
    title = title or "Jira issues"
    figure = bar_figure(data, title) if options["type"] == "bar" else pie_figure(data, title)
    query = QueryDict(mutable=True)
    query.update({"group_by": data.field, **({"measure": measure} if measure else {})})
    return {
        "type": options["type"],
        "data": data,
        "figure": figure,
        "replaces_table": options.get("placement") == "instead" and not data.problem,
        "csv_url": reverse("chart_csv", args=[page_id, snapshot.pk]) + "?" + query.urlencode(),
    }


def comparison_chart(comparison: Comparison | None) -> CompareFigure | None:
    if comparison is None or not comparison.categories:
        return None
    return compare_figure(
        comparison.categories,
        localtime(comparison.older.taken_at).strftime("%Y-%m-%d %H:%M"),
        localtime(comparison.newer.taken_at).strftime("%Y-%m-%d %H:%M"),
    )


# --------------------------------------------------------------------------------------
# CSV of what a chart shows


@login_required
@require_GET
def trend_csv(request: HttpRequest, page_id: int, macro_id) -> StreamingHttpResponse:
    page = page_for(request.user, page_id)
    macro = get_object_or_404(Macro, page=page, public_id=macro_id)
    trend = trend_of(macro, request.GET.get("measure", ""))
    name = f"{slugify(page.title)}-{slugify(macro.title or 'snapshots')}-trend.csv"
    return _csv_response(_trend_rows(trend), name)


def _trend_rows(trend: Trend) -> Iterator[list[str]]:
    what = "" if not trend.is_sum else f" ({trend.measure_name})"
    extra = ["Remaining (not Done)"] if trend.is_sum else []
    yield ["Version", "Snapshot", "Taken at", *[f"{c}{what}" for c in trend.categories], f"Total{what}", *extra, "Stickers", "Query changed"]
    for p in trend.points:
        remaining = [_plain(p.remaining)] if trend.is_sum else []
        yield [
            str(p.version or ""),
            str(p.snapshot_id),
            localtime(p.taken_at).isoformat(timespec="seconds"),
            *[_plain(p.value(c)) for c in trend.categories],
            _plain(p.total),
            *remaining,
            " | ".join(p.stickers),
            "yes" if p.query_changed else "",
        ]


@login_required
@require_GET
def chart_csv(request: HttpRequest, page_id: int, snapshot_id: int) -> StreamingHttpResponse:
    page = page_for(request.user, page_id)
    snapshot = get_object_or_404(Snapshot.objects.finished().select_related("macro"), pk=snapshot_id, macro__page=page)
    group_by = request.GET.get("group_by") or STATUS_CATEGORY
    data = grouped(snapshot, group_by, request.GET.get("measure", ""))
    if data.problem:
        return HttpResponse(data.problem, status=400, content_type="text/plain; charset=utf-8")
    rows = [[data.field_name, data.measure_name], *([b.label, _plain(b.value)] for b in data.bars)]
    taken = localtime(snapshot.taken_at).strftime("%Y-%m-%d-%H%M")
    name = f"{slugify(page.title)}-{slugify(snapshot.macro.title or 'snapshot')}-{taken}-by-{slugify(data.field_name)}.csv"
    return _csv_response(iter(rows), name)


def _plain(value: float) -> str:
    return number_text(value).replace(",", "")


class _Line:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows: Iterator[list[str]], name: str) -> StreamingHttpResponse:
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # Excel reads UTF-8 CSV as the local code page without it
        for row in rows:
            yield writer.writerow([safe_cell(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
