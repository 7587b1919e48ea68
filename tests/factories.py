"""Factories for tests. Tenant state is built through the services, as the product builds it."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from portfolio import services
from portfolio.models import Membership, Organization, Role
from portfolio.tenancy import organization_context

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda u: u.email.lower())
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def make_organization(slug: str, *, name: str | None = None, admin=None) -> Organization:
    admin = admin or UserFactory(email=f"admin@{slug}.example")
    org = services.organization_create(slug=slug, name=name or slug.title(), admin=admin)
    return org


def add_member(organization: Organization, user, role: str = Role.VIEWER) -> Membership:
    with organization_context(organization.pk):
        return Membership.objects.create(organization=organization, user=user, role=role)


def invite(organization: Organization, email: str, *, by, role: str = Role.VIEWER):
    """Invite ``email`` through the service, acting for the organization."""
    from portfolio.services import invitation_create

    with organization_context(organization.pk):
        return invitation_create(organization=organization, email=email, role=role, actor=by)
