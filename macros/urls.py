from django.urls import path

from macros import views

urlpatterns = [
    path("", views.home, name="home"),
    path("spaces/<slug:key>/", views.space, name="space"),
    path("spaces/<slug:key>/new-page/", views.page_new, name="page_new"),
    path("pages/<int:page_id>/", views.page_view, name="page"),
    path("pages/<int:page_id>/live", views.page_live, name="page_live"),
    path("pages/<int:page_id>/edit/", views.page_edit, name="page_edit"),
    path("pages/<int:page_id>/history/", views.page_history, name="page_history"),
    path("pages/<int:page_id>/v/<int:number>/", views.page_version, name="page_version"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/", views.macro_block, name="macro_block"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/snapshot", views.take_snapshot, name="take_snapshot"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/configure/", views.macro_configure, name="macro_configure"),
    path("pages/<int:page_id>/macros/<uuid:macro_id>/configure/display/", views.macro_display, name="macro_display"),
]
