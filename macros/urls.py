from django.urls import path

from macros import chart_views, history, site_admin, space_admin, views

urlpatterns = [
    path("site-admin/jira/", site_admin.jira_connection, name="jira_connection"),
    path("site-admin/jira/test", site_admin.jira_test_connection, name="jira_test_connection"),
    path("site-admin/jira/same-site", site_admin.jira_same_site, name="jira_same_site"),
    path("", views.home, name="home"),
    path("spaces/<slug:key>/", views.space, name="space"),
    path("spaces/<slug:key>/new-page/", views.page_new, name="page_new"),
    path("spaces/<slug:key>/permissions/", space_admin.space_permissions, name="space_permissions"),
    path("pages/<int:page_id>/", views.page_view, name="page"),
    path("pages/<int:page_id>/live", views.page_live, name="page_live"),
    path("pages/<int:page_id>/edit/", views.page_edit, name="page_edit"),
    path("pages/<int:page_id>/history/", history.page_history, name="page_history"),
    path("pages/<int:page_id>/v/<int:number>/", history.page_version, name="page_version"),
    path("pages/<int:page_id>/v/<int:number>/stickers/", history.add_sticker, name="sticker_add"),
    path("pages/<int:page_id>/stickers/<int:sticker_id>/remove", history.remove_sticker, name="sticker_remove"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/compare/", history.compare_snapshots, name="compare_snapshots"),
    path("pages/<int:page_id>/snapshots/<int:snapshot_id>/export.csv", history.export_csv, name="snapshot_export_csv"),
    path("pages/<int:page_id>/snapshots/<int:snapshot_id>/export.json", history.export_json, name="snapshot_export_json"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/trend.csv", chart_views.trend_csv, name="trend_csv"),
    path("pages/<int:page_id>/snapshots/<int:snapshot_id>/chart.csv", chart_views.chart_csv, name="chart_csv"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/", views.macro_block, name="macro_block"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/snapshot", views.take_snapshot, name="take_snapshot"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/configure/", views.macro_configure, name="macro_configure"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/configure/display/", views.macro_display, name="macro_display"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/configure/schedule/", views.macro_schedule, name="macro_schedule"),
]
