"""The automation API's paths (DESIGN §5); also the URLconf its OpenAPI description covers."""

from django.urls import path

from automation import api

urlpatterns = [
    path("api/automation/v1/macros/<str:macro_id>/snapshots", api.TriggerMacroSnapshot.as_view(), name="automation_trigger_macro"),
    path("api/automation/v1/jobs/<str:job_id>", api.JobStatus.as_view(), name="automation_job_status"),
]
