"""Same-organization foreign keys, enforced by PostgreSQL.

Every foreign key between two tenant tables gets a composite twin,
``(organization_id, <fk>) REFERENCES target (organization_id, id)``, so a row
can never point at another organization's row, whatever the code does (the
database's referential checks bypass row-level security, so RLS alone would
not stop it). Like the RLS policies, the constraints are derived from the
models after every ``migrate``. Keys that lead with ``organization_id`` are
also what lets the schema be distributed by organization (Citus).
"""

from __future__ import annotations

import hashlib

from django.apps import apps
from django.db import connections

from portfolio.models import OrgOwned


def _name(table: str, column: str, suffix: str) -> str:
    name = f"{table}_{column}_{suffix}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[: 63 - 9]}_{digest}"


def same_org_foreign_keys() -> list[tuple[str, str, str]]:
    """(table, column, target table) for each foreign key between tenant tables."""
    keys = []
    for model in apps.get_models():
        if not issubclass(model, OrgOwned) or model._meta.proxy:
            continue
        if getattr(model, "DERIVED_FACTS", False):
            # Rows the metric engine computes from rows already checked (e.g.
            # streams.FlowWipSpan): a referential check per row would only slow
            # every import down.
            continue
        for field in model._meta.concrete_fields:
            target = field.related_model
            if (
                field.many_to_one
                and field.name != "organization"
                and isinstance(target, type)
                and issubclass(target, OrgOwned)
            ):
                keys.append((model._meta.db_table, field.column, target._meta.db_table))
    return sorted(keys)


def apply(using: str = "migrator") -> None:
    connection = connections[using]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint")
        existing = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        indexes = {row[0] for row in cursor.fetchall()}
        for table, column, target in same_org_foreign_keys():
            key = _name(target, "organization_id", "id_key")
            if key not in indexes:
                cursor.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {qn(key)} "
                    f"ON {qn(target)} (organization_id, id)"
                )
                indexes.add(key)
            name = _name(table, column, "same_org")
            if name in existing:
                continue
            cursor.execute(
                f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} "
                f"FOREIGN KEY (organization_id, {qn(column)}) "
                f"REFERENCES {qn(target)} (organization_id, id) DEFERRABLE INITIALLY DEFERRED"
            )
