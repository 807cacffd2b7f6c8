"""Charts drawn where a template shows a snapshot, so the screens' views need not change."""

from __future__ import annotations

from django import template

from macros import chart_views

register = template.Library()


@register.simple_tag
def snapshot_chart(page_id: int, snapshot, display: dict | None, title: str | None) -> dict | None:
    """The chart the macro's display asks for (``None`` for none): ``{% snapshot_chart … as chart %}``."""
    return chart_views.snapshot_chart(page_id, snapshot, display, title or "")


@register.simple_tag
def comparison_chart(comparison):
    return chart_views.comparison_chart(comparison)
