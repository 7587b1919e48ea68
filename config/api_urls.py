from django.urls import path
from rest_framework.routers import SimpleRouter

from portfolio import apis

router = SimpleRouter()
router.register("members", apis.MemberViewSet, basename="member")
router.register("invitations", apis.InvitationViewSet, basename="invitation")

urlpatterns = [
    path("", apis.OrganizationDetailAPI.as_view(), name="api_organization"),
    *router.urls,
]
