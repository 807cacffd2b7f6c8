"""The automation API's paths (DESIGN §5); also the URLconf its OpenAPI description covers."""

from django.urls import path, re_path

from automation import api, page_api

urlpatterns = [
    path("api/automation/v1/macros/<str:macro_id>/snapshots", api.TriggerMacroSnapshot.as_view(), name="automation_trigger_macro"),
    path("api/automation/v1/pages/<str:page_id>/snapshots", page_api.TriggerPageSnapshots.as_view(), name="automation_trigger_page"),
    path("api/automation/v1/snapshots", page_api.TriggerSnapshots.as_view(), name="automation_trigger_bulk"),
    path("api/automation/v1/jobs/<str:job_id>", api.JobStatus.as_view(), name="automation_job_status"),
    # The reference product's path for the same page trigger.
    path("take-snapshot/<str:page_id>", page_api.TakeSnapshotOfPage.as_view(), name="automation_take_snapshot_page"),
]

# What snapshots_site.wsgi's API handler resolves against: the paths above, then a JSON 404
# for anything else under them (settings.AUTOMATION_API_PREFIXES), as the site's URLconf
# answers those paths.
handler_urlpatterns = [*urlpatterns, re_path(r"", api.NotFoundView.as_view())]
