from django.urls import include, path, re_path

from automation import api, docs, views

urlpatterns = [
    path("", include("automation.api_urls")),
    path("api/automation/v1/schema/", docs.SchemaView.as_view(), name="automation_schema"),
    path("api/automation/v1/docs/", docs.api_docs, name="automation_api_docs"),
    # Anything else under the API answers JSON, never the site's HTML 404 (the two pages
    # above without their slash still get Django's redirect).
    re_path(r"^api/automation/(?!v1/(?:schema|docs)$)", api.NotFoundView.as_view()),
    path(
        "pages/<int:page_id>/macros/<uuid:macro_id>/configure/automation/",
        views.automation_tab,
        name="macro_automation",
    ),
]
