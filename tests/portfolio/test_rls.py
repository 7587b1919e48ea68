"""Row-level security: the second wall, checked as the app role with raw SQL."""

import pytest
from django.db import connection, connections

from config import database
from portfolio import rls
from portfolio.models import ApiToken, Invitation, Membership, Role
from portfolio.services import api_token_create
from portfolio.tenancy import organization_context, set_transaction_context
from tests.factories import invite

pytestmark = pytest.mark.django_db(databases=["default", "migrator"])


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]


def org_ids(table: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT organization_id FROM {table}")  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def seeded(tenant_a, tenant_b):
    for t in (tenant_a, tenant_b):
        invite(t.org, f"new@{t.org.slug}.example", by=t.admin)
        with organization_context(t.org.pk):
            api_token_create(organization=t.org, user=t.admin, name="ci")
    return tenant_a, tenant_b


def test_app_role_is_not_superuser_owner_or_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, is_super, bypass = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables"
            " WHERE schemaname = 'public' AND tableowner = current_user"
        )
        owned = cursor.fetchone()[0]
    assert user == database.roles().app
    assert (is_super, bypass, owned) == (False, False, 0)


def test_raw_sql_sees_no_rows_without_an_organization(seeded):
    set_transaction_context(organization_id=None, user_id=None)
    for table in ("portfolio_membership", "portfolio_invitation", "portfolio_apitoken"):
        assert count(table) == 0, table


def test_raw_sql_sees_only_the_current_organizations_rows(seeded):
    a, b = seeded
    set_transaction_context(organization_id=a.org.pk)
    for table in ("portfolio_membership", "portfolio_invitation", "portfolio_apitoken"):
        assert org_ids(table) == {a.org.pk}, table
    # Org A has an admin, an editor and a viewer.
    assert count("portfolio_membership") == 3
    set_transaction_context(organization_id=b.org.pk)
    assert org_ids("portfolio_membership") == {b.org.pk}


def test_a_member_reads_only_their_own_memberships_across_organizations(seeded):
    a, _ = seeded
    set_transaction_context(organization_id=None, user_id=a.admin.pk)
    rows = Membership.objects.values_list("organization_id", "user_id")
    assert list(rows) == [(a.org.pk, a.admin.pk)]


def test_writes_into_another_organization_are_refused(seeded):
    from django.db import DatabaseError, transaction

    a, b = seeded
    set_transaction_context(organization_id=a.org.pk)
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        Membership.objects.create(organization=b.org, user=a.editor, role=Role.ADMIN)
    # Updates and deletes of another organization's rows touch nothing.
    assert Membership.objects.filter(organization=b.org).update(role=Role.ADMIN) == 0
    assert ApiToken.objects.filter(organization=b.org).delete()[0] == 0
    set_transaction_context(organization_id=b.org.pk)
    assert Membership.objects.filter(organization=b.org, role=Role.ADMIN).count() == 1
    assert ApiToken.objects.filter(organization=b.org).count() == 1


def test_lookup_key_reveals_only_the_row_with_that_secret(seeded):
    from portfolio.services import secret_hash
    from portfolio.tenancy import lookup_key

    a, _ = seeded
    with organization_context(a.org.pk):
        key = api_token_create(organization=a.org, user=a.editor, name="lookup").key
    set_transaction_context(organization_id=None)
    with lookup_key(secret_hash(key)):
        assert list(ApiToken.objects.values_list("name", flat=True)) == ["lookup"]
        assert Invitation.objects.count() == 0
        assert Membership.objects.count() == 0
    with lookup_key("0" * 64):
        assert ApiToken.objects.count() == 0
    assert ApiToken.objects.count() == 0


def test_every_tenant_table_has_rls_enabled_forced_and_policies():
    with connections["migrator"].cursor() as cursor:
        tables = rls.tenant_tables(cursor)
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r'
            """
        )
        state = {name: (enabled, forced, policies) for name, enabled, forced, policies in cursor}
    assert {"portfolio_membership", "portfolio_invitation", "portfolio_apitoken"} <= set(tables)
    for table in tables:
        assert state[table] == (True, True, 4), table


def test_every_org_owned_model_table_is_covered():
    from django.apps import apps

    from portfolio.models import OrgOwned

    with connections["migrator"].cursor() as cursor:
        tables = set(rls.tenant_tables(cursor))
    models = {m._meta.db_table for m in apps.get_models() if issubclass(m, OrgOwned)}
    assert models <= tables


def test_an_sql_error_inside_an_organization_context_surfaces_as_itself(tenant_a):
    from django.db import DatabaseError, connection

    with (
        pytest.raises(DatabaseError, match="division by zero"),
        organization_context(tenant_a.org.pk),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 1 / 0")
    # The context before it is back: none.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('throughline.organization', true)")
        assert cursor.fetchone()[0] in ("", None)
