"""Pages under /o/<slug>/: manual KPI values and the quarterly reports."""

from django.urls import path

from metrics import report_views, views
from metrics.models import ReportFormat

urlpatterns = [
    path("kpis/manual/", views.manual_values_page, name="manual_kpis"),
    path(
        "kpis/manual/<int:manual_kpi_id>/delete/",
        views.manual_value_delete_view,
        name="manual_kpi_delete",
    ),
    path("reports/", report_views.reports_page, name="reports"),
    path("reports/<int:export_id>/", report_views.report_export_page, name="report_export"),
    # One URL per format (a <format> parameter has no object to name).
    *(
        path(
            f"reports/<int:export_id>/download/{fmt}/",
            report_views.report_download,
            {"fmt": fmt},
            name=f"report_download_{fmt}",
        )
        for fmt in ReportFormat.values
    ),
]
