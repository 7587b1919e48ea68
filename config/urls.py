from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portfolio import apis, views
from portfolio.auth_forms import EmailAuthenticationForm
from streams import webhook_views

# Swagger UI sets inline styles from its own script; its page alone allows them.
api_docs = csp_override({**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]})(
    SpectacularSwaggerSplitView.as_view(url_name="api_schema")
)

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        LoginView.as_view(authentication_form=EmailAuthenticationForm),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/<slug:org_slug>/", include("portfolio.urls")),
    path("o/<slug:org_slug>/streams/", include("streams.urls")),
    path("o/<slug:org_slug>/journeys/", include("journeys.urls")),
    path("o/<slug:org_slug>/", include("metrics.urls")),
    # Webhook deliveries: signed with the organization's secret, no session (docs/webhooks.md).
    path("hooks/<str:org_slug>/github/", webhook_views.github_delivery, name="webhook_github"),
    path("hooks/<str:org_slug>/jira/", webhook_views.jira_delivery, name="webhook_jira"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/v1/docs/", api_docs, name="api_docs"),
    path("api/v1/orgs/", apis.OrganizationListAPI.as_view(), name="api_organizations"),
    path("api/v1/orgs/<slug:org_slug>/", include("config.api_urls")),
    path("admin/", admin.site.urls),
]

# JSON for an /api/ path that no route matches, the site's 404 page elsewhere.
handler404 = "portfolio.api_input.page_not_found"
