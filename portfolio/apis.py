"""The API's tenancy choke point, and the organization and member endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from portfolio import selectors, services
from portfolio.api_input import ApiModelSerializer, query_params_check
from portfolio.audit import audit_events
from portfolio.forms import AuditFilterForm
from portfolio.models import (
    ApiToken,
    AuditAction,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    Role,
    role_at_least,
)
from portfolio.tenancy import membership_for, set_transaction_context

_SEALED = ("get_queryset", "get_object", "initial")


class OrgScopedAPIMixin:
    """Every API view under /api/v1/orgs/<org_slug>/ inherits this, and only this
    decides which organization a request acts for.

    After DRF authenticates the request, ``initial`` resolves the organization
    from the URL and the user's membership (a token must belong to the same
    organization), sets it for the transaction (row-level security), and
    checks the role: ``read_role`` for safe methods, ``write_role`` otherwise.
    A missing organization and one the user is not in both answer 404.

    ``get_queryset``/``get_object`` always filter by the organization and
    cannot be overridden (checked when a subclass is defined, as PostHog's
    ``TeamAndOrgViewSetMixin`` does); subclasses narrow with ``scoped_queryset``.
    """

    read_role: ClassVar[str] = Role.VIEWER
    write_role: ClassVar[str] = Role.EDITOR
    organization: Organization
    membership: Membership

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _SEALED:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {name}(); org-scoped API views narrow their "
                    "rows with scoped_queryset() so the organization filter cannot be lost."
                )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        membership = membership_for(request.user, self.kwargs.get("org_slug", ""))
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if membership is None or (token and token.organization_id != membership.organization_id):
            raise NotFound("No such organization.")
        set_transaction_context(organization_id=membership.organization_id, user_id=request.user.pk)
        self.organization = membership.organization
        self.membership = membership
        required = self.read_role if request.method in SAFE_METHODS else self.write_role
        if not role_at_least(membership.role, required):
            raise PermissionDenied(f"This needs the {Role(required).label.lower()} role.")
        # One check for every filter, page number and parameter of the API (a NUL
        # character would reach PostgreSQL, which refuses it: a 500).
        query_params_check(request)

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        base = self.queryset.model._default_manager.filter(organization=self.organization)
        return self.scoped_queryset(base)

    def get_object(self) -> Model:
        lookup = self.lookup_url_kwarg or self.lookup_field
        try:
            obj = self.get_queryset().get(**{self.lookup_field: self.kwargs[lookup]})
        except (self.queryset.model.DoesNotExist, ValueError, TypeError) as exc:
            raise NotFound("Not found.") from exc
        self.check_object_permissions(self.request, obj)
        return obj

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        context["organization"] = getattr(self, "organization", None)
        return context


def as_api_error(exc: DjangoValidationError) -> ApiValidationError:
    return ApiValidationError({"detail": exc.messages})


class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["slug", "name", "time_zone", "created_at", "role"]

    def get_role(self, obj: Organization) -> str:
        return self.context["roles"].get(obj.pk, "")


@extend_schema(tags=["organizations"])
class OrganizationListAPI(APIView):
    """The organizations the caller belongs to, with the caller's role in each."""

    @extend_schema(responses=OrganizationSerializer(many=True))
    def get(self, request: Request) -> Response:
        memberships = selectors.memberships_of_user(user=request.user)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None:
            memberships = memberships.filter(organization_id=token.organization_id)
        roles = {m.organization_id: m.role for m in memberships}
        orgs = [m.organization for m in memberships]
        return Response(OrganizationSerializer(orgs, many=True, context={"roles": roles}).data)


@extend_schema(tags=["organizations"])
class OrganizationDetailAPI(OrgScopedAPIMixin, APIView):
    @extend_schema(
        responses={200: OrganizationSerializer, 404: OpenApiResponse(description="Not found")}
    )
    def get(self, request: Request, org_slug: str) -> Response:
        context = {"roles": {self.organization.pk: self.membership.role}}
        return Response(OrganizationSerializer(self.organization, context=context).data)


class MemberSerializer(ApiModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "created_at"]
        read_only_fields = ["id", "email", "name", "created_at"]

    def get_name(self, obj: Membership) -> str:
        return obj.user.get_full_name() or obj.user.email


@extend_schema_view(
    list=extend_schema(summary="List members"),
    retrieve=extend_schema(summary="A member"),
    partial_update=extend_schema(summary="Change a member's role (admins)"),
    destroy=extend_schema(summary="Remove a member (admins)"),
)
@extend_schema(tags=["members"])
class MemberViewSet(
    OrgScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Membership.objects.all()
    serializer_class = MemberSerializer
    write_role = Role.ADMIN
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("user").order_by("user__email", "pk")

    def perform_update(self, serializer: MemberSerializer) -> None:
        try:
            services.membership_change_role(
                organization=self.organization,
                membership=serializer.instance,
                role=serializer.validated_data.get("role", serializer.instance.role),
                actor=self.request.user,
                request=self.request,
            )
        except DjangoValidationError as exc:
            raise as_api_error(exc) from exc

    def perform_destroy(self, instance: Membership) -> None:
        try:
            services.membership_remove(
                organization=self.organization,
                membership=instance,
                actor=self.request.user,
                request=self.request,
            )
        except DjangoValidationError as exc:
            raise as_api_error(exc) from exc


class InvitationSerializer(ApiModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at", "email_sent_at", "url"]
        read_only_fields = ["id", "created_at", "expires_at", "email_sent_at", "url"]

    def get_url(self, obj: Invitation) -> str | None:
        # The link exists only in the answer that created the invitation.
        return self.context.get("url")


@extend_schema_view(
    list=extend_schema(summary="Pending invitations (admins)"),
    create=extend_schema(summary="Invite someone by email (admins); the answer holds the link"),
    destroy=extend_schema(summary="Revoke an invitation (admins)"),
)
@extend_schema(tags=["members"])
class InvitationViewSet(
    OrgScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Invitation.objects.all()
    serializer_class = InvitationSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(accepted_at=None, revoked_at=None).order_by("-created_at")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            new = services.invitation_create(
                organization=self.organization,
                email=serializer.validated_data["email"],
                role=serializer.validated_data.get("role", Role.VIEWER),
                actor=request.user,
                request=request,
            )
        except DjangoValidationError as exc:
            raise as_api_error(exc) from exc
        data = InvitationSerializer(new.invitation, context={"url": new.url}).data
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Invitation) -> None:
        services.invitation_revoke(
            organization=self.organization,
            invitation=instance,
            actor=self.request.user,
            request=self.request,
        )


class AuditEventSerializer(serializers.ModelSerializer):
    action = serializers.ChoiceField(choices=AuditAction.choices)
    actor_email = serializers.EmailField(
        allow_blank=True, help_text="Who acted, as they were then; empty for the system."
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "action",
            "actor_email",
            "target",
            "detail",
            "ip_address",
            "user_agent",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="The audit log (admins), newest first",
        parameters=[
            OpenApiParameter("action", str, enum=AuditAction.values, description="One action."),
            OpenApiParameter("actor", str, description="The actor's email (any case)."),
            OpenApiParameter(
                "since",
                # A date or a date-time (empty: no filter), exactly what the filter accepts.
                {
                    "oneOf": [
                        {"type": "string", "format": "date"},
                        {"type": "string", "format": "date-time"},
                        {"type": "string", "maxLength": 0},
                    ]
                },
                description="Events from this date or ISO 8601 date-time on; without an "
                "offset, in the organization's time zone.",
            ),
        ],
    ),
    retrieve=extend_schema(summary="One audit event (admins)"),
)
@extend_schema(tags=["audit"])
class AuditEventViewSet(
    OrgScopedAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Read-only: audit events are written by the actions they record, and never change."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.order_by("-at", "-id")

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # A date-time without an offset is the organization's, as on the page.
        with timezone.override(self.organization.time_zone):
            form = AuditFilterForm(self.request.query_params)
            if not form.is_valid():
                raise ApiValidationError({k: list(v) for k, v in form.errors.items()})
        f = form.cleaned_data
        return audit_events(
            organization=self.organization,
            action=f["action"],
            actor_email=f["actor"],
            since=f["since"],
        )


# --- Shared by the model's API (portfolio.entity_apis, streams.apis, journeys.apis) ---


def api_error(
    exc: DjangoValidationError, *, fields: Mapping[str, str] | None = None
) -> ApiValidationError:
    """A service's ValidationError as DRF's 400, keyed by the API's field names.

    ``fields`` renames model fields to the API's names (``owner`` -> ``owner_email``).
    An organization-scoped uniqueness error is put on the field that clashes,
    without naming the organization. Errors with no field stay under ``detail``,
    as ``as_api_error`` answers.
    """
    if not hasattr(exc, "error_dict"):
        return as_api_error(exc)
    fields = fields or {}
    body: dict[str, list[str]] = {}
    for name, errors in exc.error_dict.items():
        for error in errors:
            key, messages = name, error.messages
            params = error.params or {}
            if error.code == "unique_together" and "unique_check" in params:
                unique = [f for f in params["unique_check"] if f != "organization"]
                meta = params["model_class"]._meta
                labels = " and ".join(str(meta.get_field(f).verbose_name) for f in unique)
                key = unique[-1]
                messages = [f"A {meta.verbose_name} with this {labels} already exists."]
            key = fields.get(key, key)
            if key == NON_FIELD_ERRORS:
                key = api_settings.NON_FIELD_ERRORS_KEY
            body.setdefault(key, []).extend(messages)
    return ApiValidationError(body)


@extend_schema_field(OpenApiTypes.STR)
class OrgRelatedField(serializers.RelatedField):
    """A reference to one of the request organization's objects by its natural key.

    The queryset is always the organization's (serializer context
    "organization"), so another organization's object fails exactly like a
    missing one: "'x' is not a team." A key of several parts, such as a value
    stream stage's ``keys=("value_stream__slug", "slug")``, is written with
    slashes: ``"dental/onboarding"``.
    """

    default_error_messages = {
        "does_not_exist": "'{value}' is not a {kind}.",
        "invalid": "Name the {kind} with a string.",
    }

    def __init__(
        self, model: type[Model], *, keys: tuple[str, ...] = ("slug",), kind: str = "", **kwargs
    ) -> None:
        self.model, self.keys = model, keys
        self.kind = kind or str(model._meta.verbose_name)
        if not kwargs.get("read_only"):
            # Never used: get_queryset() builds the organization's queryset per request.
            kwargs["queryset"] = model._default_manager.none()
        if len(keys) == 1:
            kwargs.setdefault("help_text", f"The {self.kind}'s {keys[0]}.")
        super().__init__(**kwargs)

    def scope(self, queryset: QuerySet, organization: Organization) -> QuerySet:
        return queryset.filter(organization=organization)

    def get_queryset(self) -> QuerySet:
        organization = self.context.get("organization")
        queryset = self.model._default_manager.all()
        return queryset.none() if organization is None else self.scope(queryset, organization)

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str) or not data:
            self.fail("invalid", kind=self.kind)
        parts = data.split("/", len(self.keys) - 1) if len(self.keys) > 1 else [data]
        obj = None
        if len(parts) == len(self.keys):
            lookup = dict(zip(self.keys, parts, strict=True))
            obj = self.get_queryset().filter(**lookup).order_by("pk").first()
        if obj is None:
            self.fail("does_not_exist", value=data, kind=self.kind)
        return obj

    def to_representation(self, value: Model) -> str:
        parts = []
        for key in self.keys:
            obj = value
            for attr in key.split("__"):
                obj = getattr(obj, attr)
            parts.append(str(obj))
        return "/".join(parts)


class OwnerEmailField(serializers.EmailField):
    """An owner, by email (lowercased); null or "" for none. An owner need not be a member."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("help_text", "The owner's email, or null; they need not be a member.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).strip().lower()

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_representation(self, value: str) -> str | None:
        return value or None
