"""The Automation tab of the macro configuration."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from automation import keys, service
from automation.models import AutomationEvent, MacroAutomation
from macros.config_tabs import tabs_for
from macros.models import Macro
from macros.permissions import page_for

State = MacroAutomation.State
_PLACEHOLDER = uuid.UUID(int=0)
Via = AutomationEvent.Via


@login_required
@sensitive_variables("issued")
def automation_tab(request: HttpRequest, page_id: int, macro_id) -> HttpResponse:
    """Enable, regenerate, disable.

    A new key appears in the response to the POST that made it, and nowhere else: not
    in the session, a message, a redirect or the database. Ticking the box (with
    JavaScript) or Save (without) makes it; Save with the box ticked then just goes back
    to the editor. Grants go live when the page is published; revocations act at once.
    """
    page = page_for(request.user, page_id, need="edit")
    macro = get_object_or_404(Macro.objects.select_related("page"), page=page, public_id=macro_id, deleted_at__isnull=True)
    issued = None
    if request.method == "POST":
        action = request.POST.get("action", "save")
        state = service.state_of(macro)
        if action == "regenerate":
            if state == State.OFF:
                messages.error(request, "Automation is off for this macro: tick the box to make a key.")
                return redirect("macro_automation", page.pk, macro.public_id)
            issued = service.regenerate(macro, request.user, via=Via.SCREEN)
        elif request.POST.get("enabled") == "on":
            if state != State.OFF:
                messages.success(request, _saved_message(state))
                return redirect("page_edit", page.pk)
            issued = service.enable(macro, request.user, via=Via.SCREEN)
        else:
            if state != State.OFF:
                service.disable(macro, request.user, via=Via.SCREEN)
                messages.success(request, "Automation is off for this macro: its endpoint and API key stopped working.")
            return redirect("page_edit", page.pk)
        macro = Macro.objects.select_related("page").get(pk=macro.pk)
    response = render(request, "automation/automation_tab.html", _context(request, page, macro, issued))
    if issued is not None:
        # The one response that carries the key: no cache may keep it, nor the back button.
        response["Cache-Control"] = "no-store"
    return response


def _saved_message(state: str) -> str:
    if state == State.PENDING:
        return "Automation saved. Publish the page to make the endpoint live."
    return "Automation saved."


def _context(request: HttpRequest, page, macro: Macro, issued: service.IssuedKey | None) -> dict:
    automation = service.automation_of(macro)
    state = automation.state if automation is not None else State.OFF
    return {
        "page": page,
        "macro": macro,
        "tabs": tabs_for(page, macro, "automation"),
        "automation": automation,
        "state": state,
        "state_label": State(state).label,
        "enabled": state != State.OFF,
        "url": service.web_request_url(macro),
        "jobs_url": settings.SITE_URL + reverse("automation_job_status", args=[_PLACEHOLDER]).removesuffix(str(_PLACEHOLDER)),
        "issued": issued,
        "key": service.active_key(macro) if state != State.OFF else None,
        "site_enabled": service.site_automation_enabled(),
        "header": keys.HEADER,
        "last_called_recently": automation is not None
        and automation.last_called_at is not None
        and timezone.now() - automation.last_called_at < timedelta(minutes=1),
    }
