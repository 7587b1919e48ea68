"""Cached metrics: what the dashboards and the kpis API compute, kept in Django's
cache until the organization's metric inputs change.

An entry's key names the organization and a *stamp* of everything its metrics are
computed from besides the request's own parameters (period, subject):

- the organization's ``RecomputeState`` row, bumped by ``metrics_inputs_changed`` in
  the same transaction as every change of events (ingestion marks the snapshots
  dirty through ``recompute_mark_dirty``) and of snapshots (``snapshots_recompute``):
  its id, its version and its ``xmin`` (the id of the transaction that bumped it,
  never reused, so the stamp a rolled-back transaction saw never comes back);
- the row versions (PostgreSQL's ``xmin``) of the organization's value streams,
  journeys, journey stages and touchpoints: a new parent, a stage flag, a stream
  added or deleted changes the roll-ups and the journey KPIs without any event.

A key is never invalidated: a commit that changes the inputs changes the stamp, and
later requests look up new keys (the expiry only frees superseded entries). The
stamp is read in the request's transaction, so an entry is always stored under a
stamp no newer than the data it was computed from. Each gunicorn worker may keep
its own cache (the default local-memory one): they agree, as they all read the stamp
from the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Hashable
from typing import Any

from django.core.cache import cache
from django.db import connection

from metrics.engine import kpis_for_period
from portfolio.models import Organization

# Entries are never stale (the key names the inputs' stamp): this only bounds how
# long a superseded one holds memory.
CACHE_SECONDS = 3600

_STAMP_SQL = """
SELECT (SELECT s.id || '.' || s.version || '.' || s.xmin::text FROM metrics_recomputestate s
        WHERE s.organization_id = %(org)s),
       md5(concat_ws('|',
           (SELECT string_agg(v.id || ':' || v.xmin::text, ',' ORDER BY v.id)
            FROM streams_valuestream v WHERE v.organization_id = %(org)s),
           (SELECT string_agg(j.id || ':' || j.xmin::text, ',' ORDER BY j.id)
            FROM journeys_journey j WHERE j.organization_id = %(org)s),
           (SELECT string_agg(s.id || ':' || s.xmin::text, ',' ORDER BY s.id)
            FROM journeys_journeystage s WHERE s.organization_id = %(org)s),
           (SELECT string_agg(t.id || ':' || t.xmin::text, ',' ORDER BY t.id)
            FROM journeys_touchpoint t WHERE t.organization_id = %(org)s)))
"""

_BUMP_SQL = """
INSERT INTO metrics_recomputestate (organization_id, version) VALUES (%(org)s, 1)
ON CONFLICT (organization_id)
DO UPDATE SET version = metrics_recomputestate.version + 1
"""


def metrics_inputs_stamp(*, organization: Organization) -> str:
    """The stamp of the organization's metric inputs now (one query); call it inside
    the organization's context."""
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, {"org": organization.pk})
        version, structure = cursor.fetchone()
    return f"{version or '0'}.{structure}"


def metrics_inputs_changed(*, organization: Organization) -> None:
    """Note that the organization's events or snapshots changed in this transaction:
    every cached entry of it becomes unreachable when the transaction commits."""
    with connection.cursor() as cursor:
        cursor.execute(_BUMP_SQL, {"org": organization.pk})


def metrics_cached[T](
    *,
    organization: Organization,
    name: str,
    parts: tuple[Hashable, ...],
    compute: Callable[[], T],
) -> T:
    """``compute()``'s value for (organization, name, parts) as of the inputs' current
    stamp: from the cache when present, else computed and stored.

    ``parts`` must name everything else the value depends on (subject, period, time
    zone); their ``repr`` is hashed into the key."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    stamp = metrics_inputs_stamp(organization=organization)
    key = f"metrics:{organization.pk}:{name}:{digest}:{stamp}"
    value: Any = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def kpis_for_period_cached(
    *, organization: Organization, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    """``metrics.engine.kpis_for_period``, computed once per state of the inputs."""
    return metrics_cached(
        organization=organization,
        name="kpis",
        parts=(organization.slug, organization.time_zone, date_from, date_to),
        compute=lambda: kpis_for_period(
            organization=organization, date_from=date_from, date_to=date_to
        ),
    )
