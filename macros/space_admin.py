"""A space's permissions, for its space admins: who may view, take snapshots, edit, administer.

"View and take snapshots" is the reference product's override: a group that may take
snapshots without edit rights. Whether it counts is the site's call
(``SiteSettings.snapshot_group_override``), which this screen shows but cannot change.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from macros.models import SiteSettings, Space, SpacePermission
from macros.permissions import can_admin_space, can_view

Level = SpacePermission.Level


class GrantForm(forms.Form):
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False, empty_label="— a group —")
    username = forms.CharField(required=False, label="or a person (user name)")
    level = forms.TypedChoiceField(choices=Level.choices, coerce=int, initial=Level.SNAPSHOT)

    def clean(self):
        data = super().clean()
        group, username = data.get("group"), (data.get("username") or "").strip()
        if bool(group) == bool(username):
            raise forms.ValidationError("Choose a group or type a user name (one of the two).")
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                self.add_error("username", f"There is no user named “{username}”.")
            data["user"] = user
        return data


def _id(value: str | None) -> int:
    """A row id from a form field; anything else is a row that does not exist."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Http404("No such permission.")
    return int(value)


def _space_for_admin(user, key: str) -> Space:
    space = get_object_or_404(Space, key=key)
    if not can_view(user, space):
        raise Http404("No such space.")
    if not can_admin_space(user, space):
        raise PermissionDenied(f"You need admin permission on the space {space.name}.")
    return space


@login_required
def space_permissions(request: HttpRequest, key: str) -> HttpResponse:
    space = _space_for_admin(request.user, key)
    form = GrantForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "remove":
            grant = get_object_or_404(SpacePermission, space=space, pk=_id(request.POST.get("grant")))
            if grant.user_id == request.user.pk:
                messages.error(request, "You cannot remove your own permission; ask another space admin.")
            else:
                grant.delete()
                messages.success(request, f"Removed the permission of {grant.user or grant.group}.")
            return redirect("space_permissions", space.key)
        if form.is_valid():
            who = form.cleaned_data.get("group") or form.cleaned_data["user"]
            if getattr(who, "pk", None) == request.user.pk and isinstance(who, get_user_model()):
                messages.error(request, "You cannot change your own permission; ask another space admin.")
                return redirect("space_permissions", space.key)
            field = "group" if isinstance(who, Group) else "user"
            with transaction.atomic():
                SpacePermission.objects.update_or_create(space=space, **{field: who}, defaults={"level": form.cleaned_data["level"]})
            messages.success(request, f"{who} now has “{Level(form.cleaned_data['level']).label}” on {space.name}.")
            return redirect("space_permissions", space.key)
    grants = space.permissions.select_related("user", "group").order_by("-level", "group__name", "user__username")
    return render(
        request,
        "macros/space_permissions.html",
        {"space": space, "grants": grants, "form": form, "override": SiteSettings.load().snapshot_group_override, "snapshot_level": Level.SNAPSHOT},
    )
