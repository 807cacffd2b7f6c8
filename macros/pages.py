"""Domain verbs on pages: drafts, macros in the draft, and publishing."""

from __future__ import annotations

from collections.abc import Callable

import django.dispatch
from django.db import transaction
from django.utils import timezone

from macros.models import Macro, Page, PageDraft, PageVersion, Space, default_levels
from macros.snapshots import record_version
from macros.tables import new_macro_display

# Other apps say when a page has something waiting for publish that the draft itself
# doesn't show (automation: a grant pending publish). Each takes the page, answers a bool.
pending_publish_checks: list[Callable[[Page], bool]] = []

# Sent inside the publish transaction, with the page and the macros that went live in it.
page_published = django.dispatch.Signal()


def create_page(space: Space, title: str, body: str, user) -> Page:
    with transaction.atomic():
        page = Page.objects.create(space=space, title=title, body=body, created_by=user)
        PageDraft.objects.create(page=page, title=title, body=body, updated_by=user)
    return page


def get_draft(page: Page, user=None) -> PageDraft:
    """The page's one draft, started from the published state when there is none."""
    draft, _ = PageDraft.objects.get_or_create(
        page=page,
        defaults={
            "title": page.title,
            "body": page.body,
            "macro_order": [str(m.public_id) for m in page.live_macros()],
            "updated_by": user,
        },
    )
    return draft


def draft_macros(draft: PageDraft) -> list[Macro]:
    by_id = {str(m.public_id): m for m in draft.page.macros.filter(deleted_at__isnull=True)}
    return [by_id[i] for i in draft.macro_order if i in by_id]


def add_macro(draft: PageDraft, title: str = "") -> Macro:
    with transaction.atomic():
        macro = Macro.objects.create(
            page=draft.page,
            title="",
            position=len(draft.macro_order),
            draft={"title": title or "Jira issues", "levels": default_levels(), "display": new_macro_display()},
        )
        draft.macro_order = [*draft.macro_order, str(macro.public_id)]
        draft.save(update_fields=["macro_order", "updated_at"])
    return macro


def remove_macro(draft: PageDraft, macro: Macro) -> None:
    with transaction.atomic():
        draft.macro_order = [i for i in draft.macro_order if i != str(macro.public_id)]
        draft.save(update_fields=["macro_order", "updated_at"])
        if macro.published_at is None:
            macro.delete()  # never on the published page: nothing to keep


def move_macro(draft: PageDraft, macro: Macro, offset: int) -> None:
    order = list(draft.macro_order)
    key = str(macro.public_id)
    if key not in order:
        return
    i = order.index(key)
    j = max(0, min(len(order) - 1, i + offset))
    order[i], order[j] = order[j], order[i]
    draft.macro_order = order
    draft.save(update_fields=["macro_order", "updated_at"])


def save_macro_draft(macro: Macro, config: dict) -> None:
    macro.draft = config
    macro.save(update_fields=["draft"])


def has_unpublished_changes(page: Page) -> bool:
    if any(check(page) for check in pending_publish_checks):
        return True
    draft = getattr(page, "draft", None)
    if draft is None:
        return False
    if not page.is_published:
        return True
    live = [str(m.public_id) for m in page.live_macros()]
    return (
        draft.title != page.title
        or draft.body != page.body
        or draft.macro_order != live
        or page.macros.filter(deleted_at__isnull=True, draft__isnull=False).exists()
    )


def publish(page: Page, user) -> PageVersion:
    """Make the draft live: title, body, macro order and configuration, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        page = Page.objects.select_for_update().get(pk=page.pk)
        draft = get_draft(page, user)
        order = list(draft.macro_order)
        went_live = []
        for macro in page.macros.filter(deleted_at__isnull=True):
            key = str(macro.public_id)
            if key not in order:
                if macro.published_at is not None:
                    macro.deleted_at = now
                    macro.save(update_fields=["deleted_at"])
                continue
            if macro.draft is not None:
                macro.title = macro.draft.get("title", macro.title)
                macro.levels = macro.draft.get("levels", macro.levels)
                macro.display = macro.draft.get("display", macro.display)
                macro.draft = None
            macro.position = order.index(key)
            if macro.published_at is None:
                macro.published_at = now
            macro.save()
            went_live.append(macro)
        page.title = draft.title
        page.body = draft.body
        page.published_at = page.published_at or now
        page.save(update_fields=["title", "body", "published_at"])
        version = record_version(page, PageVersion.Kind.PUBLISH, author=user, actor=user.get_username() if user else "command line")
        draft.delete()
        # Inside the transaction: automation grants go live with the publish, or not at all.
        page_published.send(sender=Page, page=page, macros=went_live, user=user)
    return version
