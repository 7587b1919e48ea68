"""The kept WIP facts (streams.FlowWipSpan, FlowWipChange) behind flow load.

Imports adjust them item by item; they must always equal what a rebuild from
all transitions gives, whatever the order the events arrived in.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest

from metrics.engine import Period, _day_ends_on_steps, flow_item_facts_rebuild
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import FlowWipChange, FlowWipSpan, ValueStream
from streams.services import value_stream_save

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("zone", "year", "on_steps"),
    [
        ("UTC", 2026, True),
        ("Europe/Amsterdam", 2026, True),  # +01:00 / +02:00
        ("Asia/Kathmandu", 2026, True),  # +05:45
        ("Australia/Eucla", 2026, True),  # +08:45
        ("Europe/Amsterdam", 1920, False),  # Amsterdam time, +00:19:32 (+01:19:32 in summer)
        ("Africa/Monrovia", 1970, False),  # -00:44:30
    ],
)
def test_which_day_ends_fall_on_the_15_minute_steps(zone, year, on_steps):
    period = Period(dt.date(year, 1, 1), dt.date(year, 12, 31), zone)
    assert _day_ends_on_steps(period) is on_steps


def _kept(org) -> tuple[list, list]:
    spans = sorted(
        FlowWipSpan.objects.filter(organization=org).values_list(
            "item__key", "value_stream__slug", "started_at", "ended_at"
        )
    )
    changes = sorted(
        (slug, at, change)
        for slug, at, change in FlowWipChange.objects.filter(organization=org).values_list(
            "value_stream__slug", "at", "change"
        )
        if change
    )
    return spans, changes


def test_imports_keep_the_same_wip_facts_as_a_rebuild(tenant_a):
    org = tenant_a.org
    batches = [
        (
            "flow_items",
            "key,type,title,value_stream,created_at\n"
            "A,feature,,one,2026-07-01T00:00:00Z\nB,defect,,one,2026-07-01T00:00:00Z\n"
            "C,debt,,one,2026-07-01T00:00:00Z\n",
        ),
        (
            "flow_transitions",
            "key,at,state\n"
            "A,2026-07-01T09:10:00Z,active\nA,2026-07-02T10:00:00Z,waiting\n"
            "B,2026-07-01T09:20:00Z,active\nB,2026-07-03T11:00:00Z,done\n"
            "C,2026-07-02T08:00:00Z,active\n",
        ),
        # A done; B reopened (a second span); C moves to stream two with its open span.
        (
            "flow_transitions",
            "key,at,state\nA,2026-07-05T12:00:00Z,done\nB,2026-07-06T09:00:00Z,active\n",
        ),
        (
            "flow_items",
            "key,type,title,value_stream,created_at\nC,debt,,two,2026-07-01T00:00:00Z\n",
        ),
        # A transition that arrives late, inside B's first span, and A reopened.
        (
            "flow_transitions",
            "key,at,state\n"
            "B,2026-07-02T09:00:00Z,waiting\nB,2026-07-08T10:00:00Z,done\n"
            "A,2026-07-09T09:00:00Z,active\nC,2026-07-09T09:30:00Z,canceled\n",
        ),
    ]
    with organization_context(org.pk):
        for slug in ("one", "two"):
            value_stream_save(organization=org, value_stream=ValueStream(slug=slug, name=slug))
    for kind, text in batches:
        with organization_context(org.pk):
            events_import(organization=org, kind=kind, rows=io.StringIO(text))
        with organization_context(org.pk):
            kept = _kept(org)
            flow_item_facts_rebuild(organization_id=org.pk)
            assert _kept(org) == kept, f"after {kind}"

    with organization_context(org.pk):
        spans, changes = _kept(org)
    utc = dt.UTC
    assert spans == [
        (
            "A",
            "one",
            dt.datetime(2026, 7, 1, 9, 10, tzinfo=utc),
            dt.datetime(2026, 7, 5, 12, tzinfo=utc),
        ),
        ("A", "one", dt.datetime(2026, 7, 9, 9, tzinfo=utc), None),
        (
            "B",
            "one",
            dt.datetime(2026, 7, 1, 9, 20, tzinfo=utc),
            dt.datetime(2026, 7, 3, 11, tzinfo=utc),
        ),
        (
            "B",
            "one",
            dt.datetime(2026, 7, 6, 9, tzinfo=utc),
            dt.datetime(2026, 7, 8, 10, tzinfo=utc),
        ),
        (
            "C",
            "two",
            dt.datetime(2026, 7, 2, 8, tzinfo=utc),
            dt.datetime(2026, 7, 9, 9, 30, tzinfo=utc),
        ),
    ]
    # A and B start in the same step (09:00..09:15 and 09:15..09:30 are two steps).
    assert changes == [
        ("one", dt.datetime(2026, 7, 1, 9, 0, tzinfo=utc), 1),
        ("one", dt.datetime(2026, 7, 1, 9, 15, tzinfo=utc), 1),
        ("one", dt.datetime(2026, 7, 3, 11, 0, tzinfo=utc), -1),
        ("one", dt.datetime(2026, 7, 5, 12, 0, tzinfo=utc), -1),
        ("one", dt.datetime(2026, 7, 6, 9, 0, tzinfo=utc), 1),
        ("one", dt.datetime(2026, 7, 8, 10, 0, tzinfo=utc), -1),
        ("one", dt.datetime(2026, 7, 9, 9, 0, tzinfo=utc), 1),
        ("two", dt.datetime(2026, 7, 2, 8, 0, tzinfo=utc), 1),
        ("two", dt.datetime(2026, 7, 9, 9, 30, tzinfo=utc), -1),
    ]
