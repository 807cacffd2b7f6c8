"""Tabs of the macro configuration screen.

Other apps add tabs (automation adds "Automation") without macros importing them:
they call ``register_tab`` from their AppConfig.ready().
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class ConfigTab:
    slug: str
    label: str
    url_name: str  # a URL taking (page_id, macro public_id)


_TABS: list[ConfigTab] = [
    ConfigTab("query", "Query", "macro_configure"),
    ConfigTab("display", "Display", "macro_display"),
    ConfigTab("schedule", "Schedule", "macro_schedule"),
]


def register_tab(tab: ConfigTab) -> None:
    if all(t.slug != tab.slug for t in _TABS):
        _TABS.append(tab)


def tabs_for(page, macro, active: str) -> list[dict]:
    return [
        {"label": t.label, "url": reverse(t.url_name, args=[page.pk, macro.public_id]), "active": t.slug == active}
        for t in _TABS
    ]
