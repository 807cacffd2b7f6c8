from django.urls import include, path, re_path

from automation import api, backup_api, docs, site_admin, views

urlpatterns = [
    path("", include("automation.api_urls")),
    path("api/automation/v1/backups", backup_api.StartBackup.as_view(), name="automation_backups"),
    path("api/automation/v1/backups/<str:run_id>", backup_api.BackupStatus.as_view(), name="automation_backup_status"),
    path("api/automation/v1/backups/<str:run_id>/download", backup_api.DownloadBackup.as_view(), name="automation_backup_download"),
    path("api/automation/v1/schema/", docs.SchemaView.as_view(), name="automation_schema"),
    path("api/automation/v1/docs/", docs.api_docs, name="automation_api_docs"),
    # Anything else under the API answers JSON, never the site's HTML 404 (the two pages
    # above without their slash still get Django's redirect).
    re_path(r"^api/automation/(?!v1/(?:schema|docs)$)", api.NotFoundView.as_view()),
    re_path(r"^take-snapshot/", api.NotFoundView.as_view()),
    path("site-admin/", site_admin.home, name="site_admin"),
    path("site-admin/automation/", site_admin.switches, name="site_admin_switches"),
    path("site-admin/global-key/", site_admin.global_key, name="site_admin_global_key"),
    path("site-admin/automated-macros/", site_admin.automated_macros, name="site_admin_macros"),
    path("site-admin/automated-macros/<uuid:macro_id>/revoke", site_admin.revoke_macro, name="site_admin_revoke_macro"),
    path("site-admin/audit/", site_admin.audit_log, name="site_admin_audit"),
    path("site-admin/backups/", site_admin.backups, name="site_admin_backups"),
    path("site-admin/backups/<uuid:run_id>/", site_admin.backup_run, name="site_admin_backup_run"),
    path("site-admin/backups/<uuid:run_id>/download", site_admin.backup_download, name="site_admin_backup_download"),
    path(
        "pages/<int:page_id>/macros/<uuid:macro_id>/configure/automation/",
        views.automation_tab,
        name="macro_automation",
    ),
]
