from django.urls import path

from portfolio import okr_views
from streams import dashboard_views, template_views, upload_views, views, webhook_views
from streams.formats import FORMATS

urlpatterns = [
    path("", views.stream_list, name="stream_list"),
    path("tree/", views.stream_tree, name="stream_tree"),
    path("templates/", template_views.stream_templates, name="stream_templates"),
    path("overview/", dashboard_views.stream_overview, name="stream_overview"),
    path("import/", upload_views.upload_page, name="event_import"),
    path("import/<int:upload_id>/", upload_views.upload_detail, name="event_upload"),
    # One route per kind (no kind parameter): any other kind is no route, a 404.
    *(
        path(
            f"import/example/{kind}.csv",
            upload_views.upload_example,
            {"kind": kind},
            name=f"event_example_{kind}",
        )
        for kind in FORMATS
    ),
    path("webhooks/", webhook_views.webhooks_page, name="webhooks"),
    path(
        "webhooks/secret/", webhook_views.webhook_secret_rotate_view, name="webhook_secret_rotate"
    ),
    path("webhooks/routes/", webhook_views.webhook_route_add, name="webhook_route_add"),
    path(
        "webhooks/routes/<int:webhook_route_id>/delete/",
        webhook_views.webhook_route_remove,
        name="webhook_route_delete",
    ),
    path("<int:value_stream_id>/", views.stream_detail, name="stream_detail"),
    path("<int:value_stream_id>/map/", views.stream_map, name="stream_map"),
    path(
        "<int:value_stream_id>/dashboard/",
        dashboard_views.stream_dashboard,
        name="stream_dashboard",
    ),
    path(
        "<int:value_stream_id>/dashboard/items/",
        dashboard_views.stream_dashboard_items,
        name="stream_dashboard_items",
    ),
    path("<int:value_stream_id>/delete/", views.stream_delete, name="stream_delete"),
    path("<int:value_stream_id>/status-map/", views.status_map, name="stream_status_map"),
    path(
        "<int:value_stream_id>/objectives/",
        okr_views.stream_objective_link,
        name="stream_objective_link",
    ),
    path(
        "<int:value_stream_id>/objectives/<int:objective_id>/unlink/",
        okr_views.stream_objective_unlink,
        name="stream_objective_unlink",
    ),
    path("<int:value_stream_id>/stages/", views.stage_add, name="stage_add"),
    path("<int:value_stream_id>/stages/reorder/", views.stages_reorder, name="stages_reorder"),
    path(
        "<int:value_stream_id>/stages/<int:vs_stage_id>/", views.stage_rename, name="stage_rename"
    ),
    path(
        "<int:value_stream_id>/stages/<int:vs_stage_id>/move/", views.stage_move, name="stage_move"
    ),
    path(
        "<int:value_stream_id>/stages/<int:vs_stage_id>/delete/",
        views.stage_delete,
        name="stage_delete",
    ),
    path(
        "<int:value_stream_id>/stages/<int:vs_stage_id>/components/",
        views.stage_components,
        name="stage_components",
    ),
]
