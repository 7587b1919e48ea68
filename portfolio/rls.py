"""Row-level security: the second wall behind the ORM's organization filters.

After every ``migrate`` (as the owner role), ``apply`` brings the database to
this state, idempotently:

- every table of an ``OrgOwned`` model (and any other table with an
  ``organization_id`` column, such as history tables) has RLS enabled and
  forced, with a policy admitting only rows of the transaction's organization
  (``throughline.organization``);
- a few tables read before the organization is known have one extra clause:
  a member reads their own memberships (``throughline.user``), and an
  invitation or API token is readable by its secret's hash
  (``throughline.lookup``);
- the app role may read and write every table but owns none, and may only
  insert into and read the tables of models marked ``APPEND_ONLY`` (the audit
  log): no UPDATE or DELETE, whatever the policies admit.

Deriving the policies from the models means a new tenant table is covered the
day it is migrated; tests/portfolio/test_rls.py checks the catalog.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connections

from config import database
from portfolio.models import OrgOwned

# Extra USING clauses for tables read before the organization is known.
EXTRA_READ = {
    "portfolio_membership": "user_id = throughline_current_user()",
    "portfolio_invitation": "token_hash = throughline_lookup_key()",
    "portfolio_apitoken": "key_hash = throughline_lookup_key()",
}

FUNCTIONS = """
CREATE OR REPLACE FUNCTION throughline_current_organization() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('throughline.organization', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION throughline_current_user() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('throughline.user', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION throughline_lookup_key() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('throughline.lookup', true), '') $$;
"""


def tenant_tables(cursor) -> list[str]:
    """Every table of the public schema with an organization_id column."""
    model_tables = {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if issubclass(m, OrgOwned)
    }
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT a.attisdropped
        """
    )
    return sorted(model_tables | {row[0] for row in cursor.fetchall()})


def append_only_tables() -> list[str]:
    """Tables of the models marked ``APPEND_ONLY``: the app role may not change their rows."""
    return sorted(m._meta.db_table for m in apps.get_models() if getattr(m, "APPEND_ONLY", False))


def apply(using: str = "migrator") -> None:
    app_role = database.roles().app
    with connections[using].cursor() as cursor:
        qn = connections[using].ops.quote_name
        cursor.execute(FUNCTIONS)
        existing = set(connections[using].introspection.table_names(cursor))
        for table in tenant_tables(cursor):
            if table not in existing:
                continue
            t = qn(table)
            org = "organization_id = throughline_current_organization()"
            read = f"{org} OR {EXTRA_READ[table]}" if table in EXTRA_READ else org
            cursor.execute(
                f"""
                ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
                ALTER TABLE {t} FORCE ROW LEVEL SECURITY;
                DROP POLICY IF EXISTS tenant_read ON {t};
                DROP POLICY IF EXISTS tenant_write ON {t};
                DROP POLICY IF EXISTS tenant_update ON {t};
                DROP POLICY IF EXISTS tenant_delete ON {t};
                CREATE POLICY tenant_read ON {t} FOR SELECT USING ({read});
                CREATE POLICY tenant_write ON {t} FOR INSERT WITH CHECK ({org});
                CREATE POLICY tenant_update ON {t} FOR UPDATE USING ({org}) WITH CHECK ({org});
                CREATE POLICY tenant_delete ON {t} FOR DELETE USING ({org});
                """
            )
        role = qn(app_role)
        cursor.execute(
            f"""
            GRANT USAGE ON SCHEMA public TO {role};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
            REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {role};
            """  # noqa: S608 - the role name is quoted by the backend
        )
        for table in append_only_tables():
            if table in existing:
                # A referential cascade (deleting the organization) runs as the
                # table's owner, so it still removes these rows.
                cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {qn(table)} FROM {role}")


def post_migrate(sender, using: str, **kwargs) -> None:
    """After every migrate: same-organization keys, then RLS and grants."""
    from portfolio import org_keys

    # Only the owner may alter tables. The app role also emits post_migrate when
    # a test flushes its database; everything is already in place then.
    if connections[using].settings_dict["USER"] == database.roles().owner:
        org_keys.apply(using=using)
        apply(using=using)
