from django.urls import include, path

from portfolio import entity_views, model_views, okr_views, views

urlpatterns = [
    path("", views.org_home, name="org_home"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("settings/", views.org_settings, name="org_settings"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("audit/", views.audit_log, name="audit_log"),
    path("model/", model_views.model_page, name="model_io"),
    path("model/export.json", model_views.model_download, name="model_export"),
    *entity_views.urlpatterns(),
    path("okrs/", include(okr_views.urlpatterns())),
]
