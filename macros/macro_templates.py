"""Macro templates: a macro's set-up saved for reuse, and macros added from one.

A template holds everything but automation: the title, the levels (JQL + fields) and the
display settings. A macro made from it has no key and no schedule; those stay per macro.
"""

from __future__ import annotations

import copy

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from macros import pages as page_service
from macros.models import Macro, MacroTemplate, MacroTemplateUse, PageDraft

KEPT = ("title", "levels", "display")
TABS = {"recent": "Recent", "mine": "My templates", "all": "All templates"}


def save_template(macro: Macro, user, *, name: str, description: str = "", site: bool = False) -> MacroTemplate:
    """Save the macro's configuration (as the editor sees it) as a personal or site template."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("A template needs a name.")
    if site and not user.is_staff:
        raise PermissionDenied("Only site administrators make site templates.")
    config = macro.draft_config()
    kept = {key: copy.deepcopy(config.get(key)) for key in KEPT if config.get(key) is not None}
    return MacroTemplate.objects.create(
        name=name[:120], description=description.strip()[:255], owner=None if site else user, config=kept, created_by=user
    )


def visible_templates(user) -> QuerySet[MacroTemplate]:
    """A person's own templates and the site's."""
    return MacroTemplate.objects.filter(Q(owner=user) | Q(owner__isnull=True))


def choose(user, tab: str, query: str = "") -> list[MacroTemplate]:
    """The chooser's list: Recent (last used first), My templates, or All templates."""
    templates = visible_templates(user).select_related("owner")
    query = " ".join(query.split())[:100]
    if query:
        templates = templates.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if tab == "recent":
        uses = MacroTemplateUse.objects.filter(user=user, template__in=templates).select_related("template__owner").order_by("-used_at")[:10]
        return [use.template for use in uses]
    if tab == "mine":
        templates = templates.filter(owner=user)
    return list(templates.order_by(F("owner").asc(nulls_last=True), "name", "pk")[:200])


def add_macro_from_template(draft: PageDraft, template: MacroTemplate, user) -> Macro:
    """A new macro in the draft with the template's configuration; remembered as recent."""
    config = copy.deepcopy(template.config)
    with transaction.atomic():
        macro = page_service.add_macro(draft, config.get("title") or template.name)
        page_service.save_macro_draft(macro, {**macro.draft, **{k: v for k, v in config.items() if k in KEPT}})
        MacroTemplateUse.objects.update_or_create(template=template, user=user, defaults={"used_at": timezone.now()})
    return macro


def delete_template(template: MacroTemplate, user) -> None:
    if template.owner_id != user.pk and not (template.owner_id is None and user.is_staff):
        raise PermissionDenied("You can delete your own templates; site administrators delete site templates.")
    template.delete()
