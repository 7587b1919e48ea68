from django.urls import path

from journeys import dashboard_views, delivery_views, views

urlpatterns = [
    path("", views.journey_list, name="journey_list"),
    path("new/", views.journey_create, name="journey_create"),
    path("<int:journey_id>/", views.journey_map, name="journey_map"),
    path(
        "<int:journey_id>/delivery/",
        delivery_views.journey_delivery,
        name="journey_delivery",
    ),
    path(
        "<int:journey_id>/dashboard/",
        dashboard_views.journey_dashboard,
        name="journey_dashboard",
    ),
    path(
        "<int:journey_id>/dashboard/events/",
        dashboard_views.journey_dashboard_events,
        name="journey_dashboard_events",
    ),
    path("<int:journey_id>/edit/", views.journey_edit, name="journey_edit"),
    path("<int:journey_id>/delete/", views.journey_delete, name="journey_delete"),
    path("<int:journey_id>/stages/new/", views.journey_stage_add, name="journey_stage_add"),
    path(
        "stages/<int:journey_stage_id>/edit/", views.journey_stage_edit, name="journey_stage_edit"
    ),
    path(
        "stages/<int:journey_stage_id>/delete/",
        views.journey_stage_delete,
        name="journey_stage_delete",
    ),
    path(
        "stages/<int:journey_stage_id>/move/", views.journey_stage_move, name="journey_stage_move"
    ),
    path(
        "stages/<int:journey_stage_id>/flag/", views.journey_stage_flag, name="journey_stage_flag"
    ),
    path(
        "stages/<int:journey_stage_id>/touchpoints/new/",
        views.journey_touchpoint_add,
        name="journey_touchpoint_add",
    ),
    path(
        "touchpoints/<int:touchpoint_id>/edit/",
        views.journey_touchpoint_edit,
        name="journey_touchpoint_edit",
    ),
    path(
        "touchpoints/<int:touchpoint_id>/delete/",
        views.journey_touchpoint_delete,
        name="journey_touchpoint_delete",
    ),
]
