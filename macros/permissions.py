"""Who may do what in a space. Views ask these helpers; none of them decide on their own."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, Q
from django.http import Http404

from macros.models import Page, SiteSettings, Space, SpacePermission

Level = SpacePermission.Level


def space_level(user: AbstractBaseUser | AnonymousUser, space: Space) -> int:
    """The highest level the user holds on the space, directly or through a group; 0 for none."""
    if not user.is_authenticated or not user.is_active:
        return 0
    if user.is_superuser:
        return Level.ADMIN
    cache = getattr(user, "_space_levels", None)
    if cache is None:
        cache = user._space_levels = {}
    if space.pk not in cache:
        level = SpacePermission.objects.filter(
            Q(user=user) | Q(group__in=user.groups.all()), space=space
        ).aggregate(level=Max("level"))["level"]
        cache[space.pk] = level or 0
    return cache[space.pk]


def visible_spaces(user) -> list[Space]:
    return [space for space in Space.objects.all() if space_level(user, space) >= Level.VIEW]


def can_view(user, space: Space) -> bool:
    return space_level(user, space) >= Level.VIEW


def can_edit(user, space: Space) -> bool:
    return space_level(user, space) >= Level.EDIT


def can_admin_space(user, space: Space) -> bool:
    return space_level(user, space) >= Level.ADMIN


def can_take_snapshot(user, space: Space) -> bool:
    """Page-edit permission, or the space's snapshot grant while the site allows that override."""
    level = space_level(user, space)
    if level >= Level.EDIT:
        return True
    return level >= Level.SNAPSHOT and SiteSettings.load().snapshot_group_override


def page_for(user, page_id: int, *, need: str = "view") -> Page:
    """The page if the user may ``need`` it; 404 when they may not even see it, 403 otherwise."""
    from django.core.exceptions import PermissionDenied

    try:
        page = Page.objects.select_related("space").get(pk=page_id)
    except Page.DoesNotExist:
        raise Http404("No such page.") from None
    if not can_view(user, page.space):
        raise Http404("No such page.")
    allowed = {
        "view": lambda: True,
        "edit": lambda: can_edit(user, page.space),
        "snapshot": lambda: can_take_snapshot(user, page.space),
        "admin": lambda: can_admin_space(user, page.space),
    }[need]()
    if not allowed:
        raise PermissionDenied(f"You need {need} permission on the space {page.space.name}.")
    return page
