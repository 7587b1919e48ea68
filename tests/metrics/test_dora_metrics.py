"""DORA metrics (docs/metrics.md#dora-metrics) on small hand-made histories, worked out
in comments."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.engine import Period, dora_metrics, value_stream_metrics
from portfolio.tenancy import organization_context
from streams.models import Change, Deployment, Incident, ValueStream
from tests.metrics.test_flow_metrics import at, stream

pytestmark = pytest.mark.django_db

# Ten days: [07-01 00:00Z, 07-11 00:00Z).
TEN_DAYS = Period(dt.date(2026, 7, 1), dt.date(2026, 7, 10))


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def deploy(
    org, vs: ValueStream, key: str, when: str, status: str = "success", env: str = "production"
) -> Deployment:
    return Deployment.objects.create(
        organization=org,
        value_stream=vs,
        key=key,
        environment=env,
        deployed_at=at(when),
        status=status,
    )


def change(org, vs: ValueStream, key: str, committed: str, deployment: Deployment) -> Change:
    return Change.objects.create(
        organization=org,
        value_stream=vs,
        key=key,
        committed_at=at(committed),
        deployment=deployment,
    )


def incident(
    org, vs: ValueStream, key: str, opened: str, resolved: str | None, cause=None
) -> Incident:
    return Incident.objects.create(
        organization=org,
        value_stream=vs,
        key=key,
        opened_at=at(opened),
        resolved_at=at(resolved) if resolved else None,
        deployment=cause,
    )


def history(org, vs: ValueStream) -> None:
    d1 = deploy(org, vs, "d1", "2026-07-02T00:00")
    change(org, vs, "c1", "2026-07-01T00:00", d1)  # 24 h
    change(org, vs, "c2", "2026-07-01T12:00", d1)  # 12 h
    d2 = deploy(org, vs, "d2", "2026-07-05T00:00")
    change(org, vs, "c3", "2026-07-04T18:00", d2)  # 6 h
    incident(org, vs, "i1", "2026-07-05T01:00", "2026-07-05T03:00", cause=d2)  # 2 h; d2 failed
    d3 = deploy(org, vs, "d3", "2026-07-06T00:00", status="failure")
    change(org, vs, "c4", "2026-07-01T00:00", d3)  # shipped by a failed deployment: not counted
    d4 = deploy(org, vs, "d4", "2026-07-07T00:00", env="staging")
    change(org, vs, "c5", "2026-07-06T00:00", d4)  # not production: not counted
    incident(org, vs, "i0", "2026-07-07T01:00", None, cause=d4)  # staging: not in CFR
    d5 = deploy(org, vs, "d5", "2026-07-11T00:00")  # at P.end: outside
    change(org, vs, "c6", "2026-07-10T00:00", d5)
    d6 = deploy(org, vs, "d6", "2026-07-01T00:00")  # at P.start: inside
    change(org, vs, "c7", "2026-06-30T00:00", d6)  # 24 h
    incident(org, vs, "i2", "2026-07-08T00:00", "2026-07-09T06:00")  # 30 h
    incident(org, vs, "i3", "2026-07-09T00:00", "2026-07-11T00:00")  # resolved at P.end: out
    incident(org, vs, "i4", "2026-07-09T00:00", None)  # unresolved: out
    incident(org, vs, "i5", "2026-06-20T00:00", "2026-07-01T00:00")  # at P.start: 264 h


def test_every_dora_key(org):
    vs = stream(org, "vs")
    history(org, vs)
    m = dora_metrics(organization=org, value_stream_ids=[vs.pk], period=TEN_DAYS)
    # Production deployments in P: d1, d2, d3, d6 (d4 is staging, d5 at P.end).
    # Successful ones: d1, d2, d6 = 3 over 10 days.
    assert m["deployment_frequency_per_day"] == pytest.approx(0.3)
    # Lead times of changes shipped by d1, d2, d6: 24, 12, 6, 24 h -> median (12 + 24) / 2.
    assert m["lead_time_for_changes_median_hours"] == pytest.approx(18)
    # Failed or incident-causing: d3 (failure), d2 (caused i1) = 2 of 4 -> 50 %.
    assert m["change_failure_rate"] == pytest.approx(50)
    # Incidents resolved in P: i1 2 h, i2 30 h, i5 264 h (06-20 .. 07-01) -> median 30.
    assert m["time_to_restore_median_hours"] == pytest.approx(30)


def test_no_production_deployments_gives_null_rates(org):
    vs = stream(org, "vs")
    d = deploy(org, vs, "s1", "2026-07-02T00:00", env="staging")
    change(org, vs, "c1", "2026-07-01T00:00", d)
    m = dora_metrics(organization=org, value_stream_ids=[vs.pk], period=TEN_DAYS)
    # 0 successful production deployments over 10 days is a frequency of 0, not null.
    assert m["deployment_frequency_per_day"] == 0
    assert m["lead_time_for_changes_median_hours"] is None
    assert m["change_failure_rate"] is None
    assert m["time_to_restore_median_hours"] is None


def test_only_failed_production_deployments(org):
    vs = stream(org, "vs")
    d = deploy(org, vs, "f1", "2026-07-02T00:00", status="failure")
    change(org, vs, "c1", "2026-07-01T00:00", d)
    m = dora_metrics(organization=org, value_stream_ids=[vs.pk], period=TEN_DAYS)
    # 1 of 1 failed -> 100 %; no successful deployment: frequency 0, lead time null.
    assert m["change_failure_rate"] == pytest.approx(100)
    assert m["deployment_frequency_per_day"] == 0
    assert m["lead_time_for_changes_median_hours"] is None


def test_dora_rolls_up_to_the_parent(org):
    parent = stream(org, "parent")
    left = stream(org, "left", parent=parent)
    right = stream(org, "right", parent=parent)
    deploy(org, parent, "p1", "2026-07-02T00:00")
    d = deploy(org, left, "l1", "2026-07-03T00:00")
    change(org, left, "c1", "2026-07-02T00:00", d)  # 24 h
    r = deploy(org, right, "r1", "2026-07-04T00:00", status="failure")
    incident(org, right, "i1", "2026-07-04T00:00", "2026-07-04T10:00", cause=r)  # 10 h
    m = value_stream_metrics(
        organization=org, value_stream_ids=[parent.pk, left.pk, right.pk], period=TEN_DAYS
    )
    # parent: p1, l1 successful of 3 production -> 2 / 10 = 0.2; 1 of 3 failed.
    assert m[parent.pk]["deployment_frequency_per_day"] == pytest.approx(0.2)
    assert m[parent.pk]["change_failure_rate"] == pytest.approx(100 / 3)
    assert m[parent.pk]["lead_time_for_changes_median_hours"] == pytest.approx(24)
    assert m[parent.pk]["time_to_restore_median_hours"] == pytest.approx(10)
    # left alone: l1 -> 0.1 per day, 0 of 1 failed; right: 1 of 1 failed.
    assert m[left.pk]["deployment_frequency_per_day"] == pytest.approx(0.1)
    assert m[left.pk]["change_failure_rate"] == 0
    assert m[left.pk]["time_to_restore_median_hours"] is None
    assert m[right.pk]["change_failure_rate"] == pytest.approx(100)
