from django.urls import path

from metrics import views

urlpatterns = [
    path("manual/", views.manual_values_page, name="manual_kpis"),
    path(
        "manual/<int:manual_kpi_id>/delete/",
        views.manual_value_delete_view,
        name="manual_kpi_delete",
    ),
]
