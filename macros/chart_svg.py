"""Chart geometry for server-side SVG: coordinates computed here, drawn by templates.

Pages print them, they need no script and no CDN, and the same numbers are always
printed beside them as a table. Colours are CSS classes (``static/charts.css``) that
follow the status-category lozenges of ``static/app.css``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from macros.chart_data import CATEGORY_KEYS, GroupBar, GroupedCounts, Trend, number_text

PALETTE = 8  # pie slices of other fields than status take colours pal-0 … pal-7
MAX_BARS = 20
MAX_SLICES = 8
OTHER = "Other"


def category_class(name: str) -> str:
    return f"cat-{CATEGORY_KEYS.get(name, 'other')}"


def nice_step(span: float, ticks: int = 4, integer: bool = True) -> float:
    raw = span / ticks if span > 0 else 1
    exponent = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10):
        step = factor * exponent
        if step >= raw:
            break
    return max(step, 1) if integer else step


@dataclass
class Tick:
    at: float
    label: str


# --------------------------------------------------------------------------------------
# Trend: stacked areas per status category, the total line, a point per snapshot


@dataclass
class Band:
    category: str
    css: str
    path: str


@dataclass
class PointMark:
    x: float
    y: float
    href: str
    title: str
    hit_x: float
    hit_width: float


@dataclass
class StickerMark:
    x: float
    label: str
    title: str
    row: int
    anchor: str


@dataclass
class TrendFigure:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    bands: list[Band]
    total_path: str
    points: list[PointMark]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    stickers: list[StickerMark]
    label: str

    legend: list[tuple[str, str]]  # (category, css class)

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top

    @property
    def points_markup(self) -> SafeString:
        """The clickable points, built here: as template nodes, 52 of them cost more than the rest of the trend."""
        return format_html_join(
            "",
            '<a href="{}" class="point" tabindex="-1"><title>{}</title>'
            '<rect x="{}" y="{}" width="{}" height="{}" class="hit"/><circle cx="{}" cy="{}" r="4"/></a>',
            ((p.href, p.title, p.hit_x, self.top, p.hit_width, self.plot_height, p.x, p.y) for p in self.points),
        )


def trend_figure(trend: Trend, page_id: int) -> TrendFigure:
    width, height = 1000, 300
    left, right, top, bottom = 56, width - 20, 46, height - 30
    points = trend.points
    xs = _time_positions([p.taken_at for p in points], left, right)
    peak = max((p.total for p in points), default=0)
    step = nice_step(peak, integer=not trend.is_sum or peak >= 4)
    ceiling = max(step, math.ceil(peak / step) * step) if peak else step * 4

    def y(value: float) -> float:
        return round(bottom - (value / ceiling) * (bottom - top), 1)

    bands = []
    lower = [0.0] * len(points)
    for category in trend.categories:
        upper = [low + p.value(category) for low, p in zip(lower, points, strict=True)]
        if any(p.value(category) for p in points):
            top_edge = [f"{x},{y(v)}" for x, v in zip(xs, upper, strict=True)]
            bottom_edge = [f"{x},{y(v)}" for x, v in reversed(list(zip(xs, lower, strict=True)))]
            bands.append(Band(category, category_class(category), "M" + " L".join(top_edge + bottom_edge) + " Z"))
        lower = upper
    total_path = "M" + " L".join(f"{x},{y(p.total)}" for x, p in zip(xs, points, strict=True))

    local = [localtime(p.taken_at) for p in points]
    version_url = version_url_prefix(page_id)
    marks = []
    for i, (x, p) in enumerate(zip(xs, points, strict=True)):
        before = xs[i - 1] if i else left
        after = xs[i + 1] if i + 1 < len(xs) else right
        hit_x = (before + x) / 2 if i else left
        hit_end = (x + after) / 2 if i + 1 < len(xs) else right
        parts = [f"{c} {number_text(p.value(c))}" for c in trend.categories if p.value(c) or c in CATEGORY_KEYS]
        version = f"v{p.version} · " if p.version else ""
        title = f"{version}{local[i].strftime('%Y-%m-%d %H:%M')} · {', '.join(parts)} · total {number_text(p.total)}"
        if p.stickers:
            title += " · ★ " + ", ".join(p.stickers)
        if p.query_changed:
            title += " · the query changed"
        href = f"{version_url}{p.version}/" if p.version else ""
        marks.append(PointMark(x, y(p.total), href, title, round(hit_x, 1), round(max(hit_end - hit_x, 1), 1)))

    y_ticks = [Tick(y(v), number_text(v)) for v in _range(0, ceiling, step)]
    return TrendFigure(
        width, height, left, top, right, bottom, bands, total_path, marks, y_ticks,
        _x_ticks(xs, local), _sticker_marks(xs, points, left, right),
        trend_label(trend),
        [(c, category_class(c)) for c in trend.categories],
    )


def trend_label(trend: Trend) -> str:
    what = "issues" if not trend.is_sum else f"sum of {trend.measure_name}"
    if not trend.points:
        return f"Trend of {trend.title}: no snapshots yet"
    first, last = trend.points[0], trend.points[-1]
    latest = ", ".join(f"{c} {number_text(last.value(c))}" for c in trend.categories if last.value(c) or c in CATEGORY_KEYS)
    return (
        f"Trend of {trend.title}: {what} per status category over {len(trend.points)} snapshots, "
        f"{_day(first.taken_at)} to {_day(last.taken_at)}; latest {latest}, total {number_text(last.total)}"
    )


def _time_positions(moments: list[datetime], left: float, right: float) -> list[float]:
    if not moments:
        return []
    start, end = moments[0], moments[-1]
    span = (end - start).total_seconds()
    if len(moments) == 1:
        return [round((left + right) / 2, 1)]
    if span <= 0:
        return [round(left + i * (right - left) / (len(moments) - 1), 1) for i in range(len(moments))]
    return [round(left + (m - start).total_seconds() / span * (right - left), 1) for m in moments]


def _range(start: float, stop: float, step: float) -> list[float]:
    values, value = [], start
    while value <= stop + step / 1000:
        values.append(round(value, 6))
        value += step
    return values


def version_url_prefix(page_id: int) -> str:
    """``/pages/7/v/`` — a version's URL is this plus ``<number>/`` (one reverse for 52 links)."""
    url = reverse("page_version", args=[page_id, 1])
    assert url.endswith("/1/")
    return url[: -len("1/")]


def _day(moment: datetime) -> str:
    return localtime(moment).strftime("%Y-%m-%d")


def _x_ticks(xs: list[float], moments: list[datetime], gap: float = 80) -> list[Tick]:
    """Dates under the points, as many as fit (``moments`` in local time)."""
    if not xs:
        return []
    local = moments
    same_day = local[0].date() == local[-1].date()
    years = {m.year for m in local}

    def label(m: datetime) -> str:
        if same_day:
            return m.strftime("%H:%M")
        text = f"{m.day} {m.strftime('%b')}"
        return f"{text} {m.year}" if len(years) > 1 else text

    ticks: list[Tick] = []
    # The last snapshot always gets its date; earlier ones when there is room.
    for x, m in reversed(list(zip(xs, local, strict=True))):
        if all(abs(x - t.at) >= gap for t in ticks):
            ticks.append(Tick(x, label(m)))
    return sorted(ticks, key=lambda t: t.at)


def _sticker_marks(xs: list[float], points, left: float, right: float) -> list[StickerMark]:
    marks: list[StickerMark] = []
    last_in_row = [-1e9, -1e9]
    for x, p in zip(xs, points, strict=True):
        if not p.stickers:
            continue
        text = " · ".join(p.stickers)
        short = text if len(text) <= 22 else text[:21] + "…"
        row = 0 if x - last_in_row[0] >= 150 else 1
        last_in_row[row] = x
        anchor = "start" if x - left < 70 else "end" if right - x < 70 else "middle"
        marks.append(StickerMark(x, "★ " + short, text, row, anchor))
    return marks


# --------------------------------------------------------------------------------------
# One snapshot grouped by a field: bars or a pie


@dataclass
class BarMark:
    label: str
    short: str
    value: float
    value_text: str
    y: float
    width: float
    css: str
    text_y: float = 0
    value_x: float = 0


@dataclass
class BarFigure:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[BarMark]
    label: str

    @property
    def label_x(self) -> int:
        return self.label_width - 10


def _limited(bars: list[GroupBar], limit: int) -> list[GroupBar]:
    if len(bars) <= limit:
        return bars
    kept, rest = bars[: limit - 1], bars[limit - 1 :]
    return [*kept, GroupBar(f"{OTHER} ({len(rest)} more)", sum(b.value for b in rest))]


def bar_figure(data: GroupedCounts, title: str) -> BarFigure:
    width, label_width, row, bar_height = 760, 190, 30, 20
    bars = _limited(data.bars, MAX_BARS)
    peak = max((b.value for b in bars), default=0) or 1
    room = width - label_width - 80
    marks = []
    for i, bar in enumerate(bars):
        css = f"cat-{bar.category}" if bar.category else "bar-plain"
        short = bar.label if len(bar.label) <= 30 else bar.label[:29] + "…"
        y, length = 8 + i * row, round(max(bar.value / peak * room, 0), 1)
        marks.append(
            BarMark(bar.label, short, bar.value, number_text(bar.value), y, length, css, y + 15, label_width + length + 8)
        )
    return BarFigure(width, 16 + len(bars) * row, label_width, bar_height, marks, chart_label(data, title))


def chart_label(data: GroupedCounts, title: str) -> str:
    values = "; ".join(f"{b.label} {number_text(b.value)}" for b in _limited(data.bars, MAX_BARS))
    return f"Chart of {title}: {data.measure_name.lower() if not data.measure else data.measure_name} by {data.field_name}. {values}"


@dataclass
class Slice:
    label: str
    value: float
    value_text: str
    percent: str
    path: str
    css: str


@dataclass
class PieFigure:
    size: int
    slices: list[Slice]
    label: str
    whole: bool  # one slice is everything: drawn as a circle

    @property
    def centre(self) -> float:
        return self.size / 2

    radius = 110


def pie_figure(data: GroupedCounts, title: str) -> PieFigure:
    size, radius = 240, 110
    centre = size / 2
    bars = [b for b in _limited(data.bars, MAX_SLICES) if b.value > 0]
    total = sum(b.value for b in bars) or 1
    slices, angle = [], -math.pi / 2
    for i, bar in enumerate(bars):
        sweep = bar.value / total * 2 * math.pi
        end = angle + sweep
        x1, y1 = centre + radius * math.cos(angle), centre + radius * math.sin(angle)
        x2, y2 = centre + radius * math.cos(end), centre + radius * math.sin(end)
        large = 1 if sweep > math.pi else 0
        path = f"M{centre},{centre} L{x1:.1f},{y1:.1f} A{radius},{radius} 0 {large} 1 {x2:.1f},{y2:.1f} Z"
        if data.field == "statusCategory" and bar.category:
            css = f"cat-{bar.category}"
        elif bar.label.startswith(OTHER):
            css = "pal-other"
        else:
            css = f"pal-{i % PALETTE}"
        slices.append(Slice(bar.label, bar.value, number_text(bar.value), f"{bar.value / total:.0%}", path, css))
        angle = end
    return PieFigure(size, slices, chart_label(data, title), whole=len(slices) == 1)


# --------------------------------------------------------------------------------------
# Compare: the two snapshots' category counts as two stacked bars


@dataclass
class Segment:
    name: str
    value: int
    x: float
    width: float
    css: str
    show_value: bool

    @property
    def text_x(self) -> float:
        return self.x + 6


@dataclass
class CompareRow:
    label: str
    y: float
    text_y: float
    segments: list[Segment] = field(default_factory=list)
    total: int = 0
    total_x: float = 0


@dataclass
class CompareFigure:
    width: int
    height: int
    label_width: int
    rows: list[CompareRow]
    label: str

    @property
    def label_x(self) -> int:
        return self.label_width - 10


def compare_figure(categories, older_label: str, newer_label: str) -> CompareFigure:
    width, label_width, bar_room = 640, 150, 420
    before = sum(c.before for c in categories)
    after = sum(c.after for c in categories)
    peak = max(before, after, 1)
    rows = []
    for i, (label, attr) in enumerate(((older_label, "before"), (newer_label, "after"))):
        row = CompareRow(label, 6 + i * 34, 6 + i * 34 + 17)
        x = float(label_width)
        for c in categories:
            value = getattr(c, attr)
            w = round(value / peak * bar_room, 1)
            row.segments.append(Segment(c.name, value, round(x, 1), w, category_class(c.name), w >= 22 and value > 0))
            x += w
            row.total += value
        row.total_x = round(x + 8, 1)
        rows.append(row)
    text = "; ".join(f"{c.name} {c.before} → {c.after}" for c in categories)
    return CompareFigure(width, 6 + 2 * 34, label_width, rows, f"Issues per status category, before and after: {text}")
