from django.urls import reverse

from automation import service
from automation.models import AutomationEvent
from macros import pages as page_service


def test_the_editor_says_a_grant_waits_for_publish(client, people, page_and_macro):
    page, macro = page_and_macro
    client.force_login(people["editor"])
    edit = reverse("page_edit", args=[page.pk])
    assert "The draft is the same as the published page." in client.get(edit).content.decode()
    service.enable(macro, people["editor"], via=AutomationEvent.Via.SCREEN)
    assert page_service.has_unpublished_changes(page)
    assert "The draft has changes that are not published yet." in client.get(edit).content.decode()
    page_service.publish(page, people["editor"])
    assert not page_service.has_unpublished_changes(page)
    assert service.state_of(type(macro).objects.get(pk=macro.pk)) == "live"


def test_scheduled_runs_are_audited_as_schedule(page_and_macro):
    from automation.models import AutomationEvent
    from macros import schedules
    from macros.models import SiteSettings

    _, macro = page_and_macro
    schedules.run(macro.pk)
    SiteSettings.objects.update_or_create(pk=1, defaults={"automation_enabled": False})
    schedules.run(macro.pk)
    rows = list(AutomationEvent.objects.filter(via="schedule").order_by("pk").values_list("kind", "reason", "macro_id"))
    assert rows == [("triggered", "", macro.pk), ("refused", "site_automation_disabled", macro.pk)]
