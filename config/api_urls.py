from django.urls import path
from rest_framework.routers import SimpleRouter

from journeys import apis as journey_apis
from metrics import apis as metric_apis
from portfolio import apis, model_apis
from portfolio import entity_apis as portfolio_apis
from streams import apis as stream_apis
from streams.ingest_apis import IMPORT_APIS

router = SimpleRouter()
router.register("members", apis.MemberViewSet, basename="member")
router.register("invitations", apis.InvitationViewSet, basename="invitation")
# The organization's model; route names are "<basename>-list", "<basename>-detail",
# "<basename>-history" (tests/test_route_walk.py names each one's object kind).
router.register("layers", portfolio_apis.LayerViewSet, basename="layer")
router.register("teams", portfolio_apis.TeamViewSet, basename="team")
router.register("product-families", portfolio_apis.ProductFamilyViewSet, basename="productfamily")
router.register("products", portfolio_apis.ProductViewSet, basename="product")
router.register("components", portfolio_apis.ComponentViewSet, basename="component")
router.register("value-streams", stream_apis.ValueStreamViewSet, basename="valuestream")
router.register("stages", stream_apis.StageViewSet, basename="stage")
router.register("journeys", journey_apis.JourneyViewSet, basename="journey")
router.register("journey-stages", journey_apis.JourneyStageViewSet, basename="journeystage")
router.register("touchpoints", journey_apis.TouchpointViewSet, basename="touchpoint")
router.register("objectives", portfolio_apis.ObjectiveViewSet, basename="objective")
router.register("key-results", portfolio_apis.KeyResultViewSet, basename="keyresult")
router.register("check-ins", portfolio_apis.CheckInViewSet, basename="checkin")
router.register("manual-kpis", metric_apis.ManualKpiValueViewSet, basename="manualkpivalue")
router.register("reports", metric_apis.ReportExportViewSet, basename="reportexport")
router.register("audit-events", apis.AuditEventViewSet, basename="auditevent")

urlpatterns = [
    path("", apis.OrganizationDetailAPI.as_view(), name="api_organization"),
    path("model/", model_apis.ModelAPI.as_view(), name="api_model"),
    # Bulk event upserts: one URL per kind (a <kind> parameter has no object to name).
    *(
        path(f"events/{kind.replace('_', '-')}/", view.as_view(), name=f"api_events_{kind}")
        for kind, view in IMPORT_APIS.items()
    ),
    path("kpis/", metric_apis.KpisAPI.as_view(), name="api_kpis"),
    # A report export's files: one URL per format (a <format> parameter has no object to name).
    *(
        path(
            f"reports/<int:export_id>/download/{fmt}/",
            view.as_view(),
            name=f"api_report_download_{fmt}",
        )
        for fmt, view in metric_apis.REPORT_DOWNLOAD_APIS.items()
    ),
    *router.urls,
]
