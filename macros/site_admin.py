"""Site administration of the Jira connection: what is configured, a connection test,
and the "same site, new URL" confirmation of the same-site guard."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from macros import fieldlist
from macros.models import SiteSettings
from macros.sources import SourceError, get_source


def _connection_context() -> dict:
    site = SiteSettings.load()
    context = {
        "jira_url": settings.JIRA_URL,
        "deployment_setting": settings.JIRA_DEPLOYMENT,
        "jira_user": settings.JIRA_USER,
        "token_set": bool(settings.JIRA_TOKEN),
        "remembered": site.jira_site_url,
        "source": None,
        "source_error": None,
        "fields": [],
        "refresh_minutes": settings.JIRA_FIELDS_REFRESH_MINUTES,
    }
    try:
        source = get_source()
    except SourceError as exc:
        context["source_error"] = str(exc)
        return context
    context["source"] = source
    context["site_changed"] = bool(source.site_url and site.jira_site_url and site.jira_site_url != source.site_url)
    try:
        context["fields"] = [f for f in fieldlist.fields_of(source) if f.custom]
    except SourceError as exc:
        context["fields_error"] = str(exc)
    context["fields_copy"] = fieldlist.stored(source)
    return context


@staff_member_required
def jira_connection(request: HttpRequest) -> HttpResponse:
    return render(request, "macros/jira_connection.html", _connection_context())


@staff_member_required
@require_POST
def jira_test_connection(request: HttpRequest) -> HttpResponse:
    context = _connection_context()
    source = context["source"]
    if source is not None:
        try:
            identity = source.myself()
        except SourceError as exc:
            context["test_error"] = str(exc)
        else:
            context["identity"] = identity
    return render(request, "macros/jira_connection.html", context)


@staff_member_required
@require_POST
def jira_same_site(request: HttpRequest) -> HttpResponse:
    """An administrator confirms the configured URL is the Jira site snapshots came from."""
    try:
        source = get_source()
    except SourceError as exc:
        messages.error(request, str(exc))
        return redirect("jira_connection")
    site = SiteSettings.load()
    previous = site.jira_site_url
    site.jira_site_url = source.site_url
    site.save(update_fields=["jira_site_url", "updated_at"])
    messages.success(request, f"Marked {source.site_url or 'the sample data'} as the same site as {previous or 'before'}; snapshots can be taken again.")
    return redirect("jira_connection")


@staff_member_required
@require_POST
def jira_refresh_fields(request: HttpRequest) -> HttpResponse:
    """Read Jira's field list again now (a custom field created a moment ago shows at once)."""
    try:
        fields = fieldlist.refresh(get_source())
    except SourceError as exc:
        messages.error(request, f"Could not refresh Jira's fields: {exc}")
    else:
        custom = sum(1 for f in fields if f.custom)
        messages.success(request, f"Jira's fields refreshed: {len(fields)} fields, {custom} of them custom.")
    return redirect("jira_connection")
