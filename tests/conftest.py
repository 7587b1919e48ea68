"""Shared fixtures: two organizations (A and B), each with an admin, an editor and a
viewer, and a user with no membership (healthchecks' Alice/Bob/Charlie idea)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.db import connections
from django.test import Client

from config import database
from config.celery import app as celery_app
from portfolio.models import Organization, Role
from portfolio.tenancy import organization_context
from tests.factories import PASSWORD, UserFactory, add_member, make_organization


def pytest_configure(config) -> None:
    from django.conf import settings

    # Hashing passwords at production strength would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """Create the test database as the owner role and run the tests as the app role.

    pytest-django would create and migrate it through ``default``, the app role,
    which may do neither. The owner (``migrator``) creates and migrates it; the
    app role connects to the same database.
    """
    with django_db_blocker.unblock():
        owner = connections["migrator"]
        old_name = owner.settings_dict["NAME"]
        # One test database per run, so that two runs on one server (a
        # developer's and CI's, or two terminals) never clobber each other.
        test_name = f"test_{old_name}_{os.getpid()}"
        _drop_stale_test_databases(owner, f"test_{old_name}_")
        for alias in ("migrator", "default"):
            connections[alias].settings_dict["TEST"]["NAME"] = test_name
        owner.creation.create_test_db(verbosity=0, autoclobber=True)
        connections["default"].creation.set_as_test_mirror(owner.settings_dict)
        app_role = owner.ops.quote_name(database.roles().app)
        with owner.cursor() as cursor:
            # Transactional tests (live server, real worker) empty the tables
            # with TRUNCATE between tests; only the test database grants it.
            cursor.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {app_role}")
    yield
    with django_db_blocker.unblock():
        for alias in connections:
            connections[alias].close()
        owner.creation.destroy_test_db(old_name, verbosity=0)


def _drop_stale_test_databases(owner, prefix: str) -> None:
    """Drop test databases left by runs whose process is gone (killed runs)."""
    with owner._nodb_cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
        for (name,) in cursor.fetchall():
            pid = name.removeprefix(prefix)
            if pid.isdigit() and not _pid_alive(int(pid)):
                cursor.execute(f"DROP DATABASE IF EXISTS {owner.ops.quote_name(name)} WITH (FORCE)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    """Tasks run in-process unless a test starts a real worker."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@dataclass
class Tenant:
    org: Organization
    admin: object
    editor: object
    viewer: object

    def member(self, role: str):
        return {Role.ADMIN: self.admin, Role.EDITOR: self.editor, Role.VIEWER: self.viewer}[role]


def _tenant(slug: str) -> Tenant:
    admin = UserFactory(email=f"admin@{slug}.example")
    # Creating an organization leaves the transaction acting for it; restore
    # whatever context the test had, whatever the order fixtures run in.
    with organization_context(None):
        org = make_organization(slug, name=f"Org {slug.upper()}", admin=admin)
    editor = UserFactory(email=f"editor@{slug}.example")
    viewer = UserFactory(email=f"viewer@{slug}.example")
    add_member(org, editor, Role.EDITOR)
    add_member(org, viewer, Role.VIEWER)
    return Tenant(org=org, admin=admin, editor=editor, viewer=viewer)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return _tenant("org-a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return _tenant("org-b")


@pytest.fixture
def outsider(db):
    return UserFactory(email="outsider@example.com")


@pytest.fixture
def password() -> str:
    return PASSWORD


def client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def in_org():
    """``with in_org(org):`` acts for an organization in test code (RLS context)."""
    return lambda org: organization_context(org.pk)
