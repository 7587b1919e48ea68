"""Event ingestion (streams.ingest): the service, the import_events command and the bulk API."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from portfolio.tenancy import organization_context
from streams.ingest import ImportRejected, ImportResult, events_import
from streams.models import (
    Change,
    Deployment,
    FlowItem,
    FlowTransition,
    Incident,
    StateCategory,
    ValueStream,
)
from streams.services import status_mappings_set, value_stream_save
from tests.api import send
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

ITEMS = "key,type,title,value_stream,created_at\n"
TRANSITIONS = "key,at,state\n"
DEPLOYMENTS = "key,value_stream,environment,deployed_at,status\n"
CHANGES = "key,value_stream,committed_at,deployment\n"
INCIDENTS = "key,value_stream,opened_at,resolved_at,deployment\n"


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, tzinfo=UTC)


def stream(org, slug: str) -> ValueStream:
    with organization_context(org.pk):
        return value_stream_save(
            organization=org, value_stream=ValueStream(slug=slug, name=slug.title())
        )


@pytest.fixture
def dental(tenant_a) -> ValueStream:
    return stream(tenant_a.org, "dental")


def run(org, kind: str, text: str) -> ImportResult:
    with organization_context(org.pk):
        return events_import(organization=org, kind=kind, rows=io.StringIO(text))


def rejected(org, kind: str, text: str) -> list[str]:
    with pytest.raises(ImportRejected) as caught:
        run(org, kind, text)
    return caught.value.messages


def item(org, key: str) -> FlowItem:
    with organization_context(org.pk):
        return FlowItem.objects.get(organization=org, key=key)


def counts(result: ImportResult) -> tuple[int, int, int]:
    return result.created, result.updated, result.unchanged


# --- Importing and upserting ---------------------------------------------------------


def test_flow_items_are_created_then_unchanged_then_updated(tenant_a, dental):
    text = (
        ITEMS
        + "F-1,feature,Quote online,dental,2026-07-01T09:30:00Z\n"
        + "F-2,defect,,dental,2026-07-01T10:00:00+02:00\n"
    )
    result = run(tenant_a.org, "flow_items", text)
    assert counts(result) == (2, 0, 0)
    assert result.value_stream_ids == {dental.pk}
    f2 = item(tenant_a.org, "F-2")
    assert (f2.type, f2.title, f2.created_at) == ("defect", "", t(1, 8))
    assert (f2.state, f2.started_at, f2.done_at, f2.active_seconds) == ("new", None, None, 0)

    again = run(tenant_a.org, "flow_items", text)
    assert counts(again) == (0, 0, 2)
    assert again.value_stream_ids == frozenset()

    changed = run(tenant_a.org, "flow_items", text.replace("Quote online", "Quote on the web"))
    assert counts(changed) == (0, 1, 1)
    assert item(tenant_a.org, "F-1").title == "Quote on the web"


def test_moving_an_item_touches_both_value_streams(tenant_a, dental):
    travel = stream(tenant_a.org, "travel")
    run(tenant_a.org, "flow_items", ITEMS + "F-1,feature,,dental,2026-07-01T09:30:00Z\n")
    result = run(tenant_a.org, "flow_items", ITEMS + "F-1,feature,,travel,2026-07-01T09:30:00Z\n")
    assert counts(result) == (0, 1, 0)
    assert result.value_stream_ids == {dental.pk, travel.pk}


def test_dora_events_upsert_by_key(tenant_a, dental):
    org = tenant_a.org
    deployments = DEPLOYMENTS + (
        "D-1,dental,production,2026-07-02T10:00:00Z,success\n"
        "D-2,dental,staging,2026-07-02T11:00:00Z,failure\n"
    )
    changes = CHANGES + "C-1,dental,2026-07-01T10:00:00Z,D-1\n"
    incidents = INCIDENTS + (
        "I-1,dental,2026-07-03T10:00:00Z,2026-07-03T12:30:00Z,D-1\nI-2,dental,2026-07-04T10:00:00Z,,\n"
    )
    assert counts(run(org, "deployments", deployments)) == (2, 0, 0)
    assert counts(run(org, "changes", changes)) == (1, 0, 0)
    assert counts(run(org, "incidents", incidents)) == (2, 0, 0)
    for kind, text in (
        ("deployments", deployments),
        ("changes", changes),
        ("incidents", incidents),
    ):
        assert counts(run(org, kind, text)) == (0, 0, text.count("\n") - 1)
    with organization_context(org.pk):
        change = Change.objects.select_related("deployment").get(organization=org, key="C-1")
        assert change.deployment.key == "D-1"
        assert change.committed_at == t(1, 10)
        i1, i2 = Incident.objects.filter(organization=org).order_by("key")
        assert (i1.resolved_at, i1.deployment.key) == (
            datetime(2026, 7, 3, 12, 30, tzinfo=UTC),
            "D-1",
        )
        assert (i2.resolved_at, i2.deployment) == (None, None)
        assert Deployment.objects.get(organization=org, key="D-2").status == "failure"


# --- Rejections: every bad row, its exact reason, nothing written ---------------------


def test_every_bad_flow_item_is_reported_and_nothing_is_written(tenant_a, dental):
    text = ITEMS + (
        "F-1,feature,Fine,dental,2026-07-01T09:30:00Z\n"  # line 2: fine
        "F-2,story,,dental,2026-07-01T09:30:00Z\n"  # line 3
        "F-3,feature,,nowhere,2026-07-01T09:30:00Z\n"  # line 4
        "F-4,feature,,dental,2026-07-01T09:30:00\n"  # line 5
        "F-5,feature,,dental,yesterday\n"  # line 6
        "F-6,feature,,dental\n"  # line 7
        "F-1,debt,,dental,2026-07-01T09:30:00Z\n"  # line 8
        ",feature,,dental,2026-02-30T09:30:00Z\n"  # line 9
    )
    assert rejected(tenant_a.org, "flow_items", text) == [
        "line 3: type 'story' is not one of feature, defect, risk, debt",
        "line 4: value stream 'nowhere' is unknown",
        "line 5: created_at '2026-07-01T09:30:00' has no UTC offset; expected ISO 8601 with Z "
        "or +hh:mm, e.g. 2026-07-01T09:30:00Z",
        "line 6: created_at 'yesterday' is not an ISO 8601 time; "
        "expected e.g. 2026-07-01T09:30:00Z",
        "line 7: 4 values; expected 5 (key,type,title,value_stream,created_at)",
        "line 8: key 'F-1' is already on line 2; name each record once",
        "line 9: key is empty",
        "line 9: created_at '2026-02-30T09:30:00Z' is not an ISO 8601 time; expected e.g. "
        "2026-07-01T09:30:00Z",
    ]
    with organization_context(tenant_a.org.pk):
        assert not FlowItem.objects.filter(organization=tenant_a.org).exists()


def test_header_must_name_the_columns(tenant_a, dental):
    assert rejected(tenant_a.org, "flow_items", "key,type,value_stream,created,x\n") == [
        "line 1: header missing title, created_at; unknown created, x; "
        "expected key,type,title,value_stream,created_at"
    ]
    assert rejected(tenant_a.org, "flow_items", "") == [
        "line 1: the file is empty; expected the header key,type,title,value_stream,created_at"
    ]


def test_columns_may_come_in_any_order(tenant_a, dental):
    text = "created_at,value_stream,title,type,key\n2026-07-01T09:30:00Z,dental,T,risk,R-1\n"
    assert counts(run(tenant_a.org, "flow_items", text)) == (1, 0, 0)
    assert item(tenant_a.org, "R-1").type == "risk"


def test_the_same_bad_rows_without_a_malformed_record_are_read_by_postgresql(tenant_a, dental):
    # Every record has five values, so PostgreSQL's CSV parser stages the file
    # (the fast path); the rows' problems and line numbers are the same as above.
    text = ITEMS + (
        "F-1,feature,Fine,dental,2026-07-01T09:30:00Z\n"  # line 2: fine
        "F-2,story,,dental,2026-07-01T09:30:00Z\n"  # line 3
        "F-1,debt,,dental,2026-07-01T09:30:00Z\n"  # line 4
        ",feature,,dental,2026-02-30T09:30:00Z\n"  # line 5: an impossible date
    )
    assert rejected(tenant_a.org, "flow_items", text) == [
        "line 3: type 'story' is not one of feature, defect, risk, debt",
        "line 4: key 'F-1' is already on line 2; name each record once",
        "line 5: key is empty",
        "line 5: created_at '2026-02-30T09:30:00Z' is not an ISO 8601 time; expected e.g. "
        "2026-07-01T09:30:00Z",
    ]


def test_a_quoted_line_break_does_not_shift_the_reported_lines(tenant_a, dental):
    text = ITEMS + (
        'F-1,feature,"Quote\nonline\r\nin three lines",dental,2026-07-01T09:30:00Z\n'  # 2-4
        "F-2,story,,dental,2026-07-01T09:30:00Z\n"  # line 5
    )
    assert rejected(tenant_a.org, "flow_items", text) == [
        "line 5: type 'story' is not one of feature, defect, risk, debt"
    ]
    assert counts(run(tenant_a.org, "flow_items", text.replace("story", "risk"))) == (2, 0, 0)
    assert item(tenant_a.org, "F-1").title == "Quote\nonline\r\nin three lines"


def test_values_are_trimmed_and_blank_lines_skipped(tenant_a, dental):
    text = ITEMS + " F-1 ,\tfeature , Title ,dental, 2026-07-01T09:30:00Z \n\n"
    assert counts(run(tenant_a.org, "flow_items", text)) == (1, 0, 0)
    f1 = item(tenant_a.org, "F-1")
    assert (f1.type, f1.title, f1.created_at) == ("feature", "Title", t(1, 9).replace(minute=30))
    crlf = ITEMS.replace("\n", "\r\n") + "F-1,feature,Title,dental,2026-07-01T09:30:00Z\r\n"
    assert counts(run(tenant_a.org, "flow_items", crlf)) == (0, 0, 1)


def test_a_nul_character_is_named_by_its_line(tenant_a, dental):
    text = ITEMS + "F-1,feature,,dental,2026-07-01T09:30:00Z\nF-2,feature,a\x00b,dental,x\n"
    assert rejected(tenant_a.org, "flow_items", text) == ["line 3: contains a NUL character"]


def test_another_organizations_keys_are_unknown(tenant_a, tenant_b, dental):
    stream(tenant_b.org, "theirs")
    run(tenant_b.org, "flow_items", ITEMS + "B-1,feature,,theirs,2026-07-01T09:30:00Z\n")
    run(
        tenant_b.org,
        "deployments",
        DEPLOYMENTS + "BD-1,theirs,production,2026-07-01T09:30:00Z,success\n",
    )
    org = tenant_a.org
    assert rejected(org, "flow_items", ITEMS + "A-1,feature,,theirs,2026-07-01T09:30:00Z\n") == [
        "line 2: value stream 'theirs' is unknown"
    ]
    assert rejected(org, "flow_transitions", TRANSITIONS + "B-1,2026-07-02T09:30:00Z,active\n") == [
        "line 2: flow item 'B-1' is unknown"
    ]
    assert rejected(org, "changes", CHANGES + "C-1,dental,2026-07-01T09:30:00Z,BD-1\n") == [
        "line 2: deployment 'BD-1' is unknown"
    ]
    # Nothing of B's changed either.
    assert item(tenant_b.org, "B-1").state == "new"


def test_bad_transitions(tenant_a, dental):
    org = tenant_a.org
    run(org, "flow_items", ITEMS + "F-1,feature,,dental,2026-07-01T00:00:00Z\n")
    run(org, "flow_transitions", TRANSITIONS + "F-1,2026-07-02T00:00:00Z,active\n")
    text = TRANSITIONS + (
        "F-1,2026-07-03T00:00:00Z,doing\n"  # line 2
        "F-1,2026-07-04T00:00:00Z,done\n"  # line 3
        "F-1,2026-07-04T02:00:00+02:00,waiting\n"  # line 4: the same instant as line 3
        "F-1,2026-07-02T00:00:00Z,waiting\n"  # line 5: stored as active at that instant
        "F-1,2026-07-02T00:00:00Z,active\n"  # line 6: stored, but also on line 5
        "F-9,2026-07-05T00:00:00Z,done\n"  # line 7
    )
    assert rejected(org, "flow_transitions", text) == [
        "line 2: state 'doing' is not one of new, active, waiting, done, canceled, "
        "nor a tool status mapped in value stream 'dental'",
        "line 4: flow item 'F-1' has another transition at the same instant on line 3; "
        "transitions of one item never share an instant",
        "line 5: flow item 'F-1' already has a transition to 'active' at 2026-07-02T00:00:00Z; "
        "transitions of one item never share an instant",
        "line 6: flow item 'F-1' has another transition at the same instant on line 5; "
        "transitions of one item never share an instant",
        "line 7: flow item 'F-9' is unknown",
    ]
    with organization_context(org.pk):
        assert FlowTransition.objects.filter(organization=org).count() == 1
    assert item(org, "F-1").state == "active"


def test_a_transition_before_its_items_creation_is_rejected_naming_the_line(tenant_a, dental):
    org = tenant_a.org
    run(
        org,
        "flow_items",
        ITEMS
        + "F-1,feature,,dental,2026-07-01T09:30:00Z\n"
        + "F-2,feature,,dental,2026-07-01T09:30:00.25Z\n",
    )
    text = TRANSITIONS + (
        "F-1,2026-07-01T09:30:00Z,active\n"  # line 2: at its creation, which is fine
        "F-1,2026-07-01T09:00:00Z,new\n"  # line 3
        "F-2,2026-07-01T11:30:00+02:00,active\n"  # line 4: 09:30:00 UTC, a quarter second early
    )
    assert rejected(org, "flow_transitions", text) == [
        "line 3: at 2026-07-01T09:00:00Z is before flow item 'F-1' was created at "
        "2026-07-01T09:30:00Z",
        "line 4: at 2026-07-01T11:30:00+02:00 is before flow item 'F-2' was created at "
        "2026-07-01T09:30:00.25Z",
    ]
    with organization_context(org.pk):
        assert not FlowTransition.objects.filter(organization=org).exists()
    assert item(org, "F-1").state == "new"


def test_an_item_created_after_its_first_transition_is_rejected_naming_the_line(tenant_a, dental):
    """The same rule from the other side: a re-import may not move an item's creation
    past the transitions it has."""
    org = tenant_a.org
    run(org, "flow_items", ITEMS + "F-1,feature,,dental,2026-07-01T00:00:00Z\n")
    run(org, "flow_transitions", TRANSITIONS + "F-1,2026-07-02T00:00:00Z,active\n")
    text = (
        ITEMS
        + "F-0,feature,,dental,2026-07-09T00:00:00Z\nF-1,feature,,dental,2026-07-03T00:00:00Z\n"
    )
    assert rejected(org, "flow_items", text) == [
        "line 3: created_at 2026-07-03T00:00:00Z is after the first transition of flow item "
        "'F-1', at 2026-07-02T00:00:00Z; an item is created before its transitions"
    ]
    assert item(org, "F-1").created_at == t(1)
    # Up to the first transition is fine.
    at_first = ITEMS + "F-1,feature,,dental,2026-07-02T02:00:00+02:00\n"
    assert counts(run(org, "flow_items", at_first)) == (0, 1, 0)
    assert item(org, "F-1").created_at == t(2)


def test_bad_dora_rows(tenant_a, dental):
    org = tenant_a.org
    assert rejected(
        org,
        "deployments",
        DEPLOYMENTS + "D-1,dental,,2026-07-01T00:00:00Z,ok\n",
    ) == ["line 2: environment is empty", "line 2: status 'ok' is not one of success, failure"]
    assert rejected(org, "changes", CHANGES + "C-1,dental,2026-07-01T00:00:00Z,\n") == [
        "line 2: deployment is empty"
    ]
    assert rejected(org, "changes", CHANGES + "C-1,dental,2026-07-01T00:00:00Z,D-404\n") == [
        "line 2: deployment 'D-404' is unknown"
    ]
    assert rejected(
        org, "incidents", INCIDENTS + "I-1,dental,2026-07-02T00:00:00Z,2026-07-01T00:00:00Z,\n"
    ) == ["line 2: resolved_at 2026-07-01T00:00:00Z is before opened_at 2026-07-02T00:00:00Z"]


# --- Tool statuses and derived facts --------------------------------------------------


def test_tool_statuses_map_through_the_item_value_stream(tenant_a, dental):
    org = tenant_a.org
    with organization_context(org.pk):
        status_mappings_set(
            organization=org,
            value_stream=dental,
            mapping={"In Progress": "active", "In Review": "waiting", "Shipped": "done"},
        )
    run(org, "flow_items", ITEMS + "F-1,feature,,dental,2026-07-01T00:00:00Z\n")
    text = TRANSITIONS + (
        "F-1,2026-07-01T00:00:00Z,in progress\n"
        "F-1,2026-07-02T00:00:00Z,IN REVIEW\n"
        "F-1,2026-07-03T00:00:00Z,Shipped\n"
    )
    assert counts(run(org, "flow_transitions", text)) == (3, 0, 0)
    with organization_context(org.pk):
        states = list(
            FlowTransition.objects.filter(organization=org).order_by("at").values_list("state")
        )
    assert states == [("active",), ("waiting",), ("done",)]
    assert counts(run(org, "flow_transitions", text)) == (0, 0, 3)


def facts(org, key: str) -> tuple:
    i = item(org, key)
    return i.state, i.started_at, i.done_at, i.active_seconds, i.waiting_seconds


def test_derived_facts_on_hand_worked_histories(tenant_a, dental):
    org = tenant_a.org
    run(
        org,
        "flow_items",
        ITEMS + "".join(f"{k},feature,,dental,2026-07-01T00:00:00Z\n" for k in "ABCDEF"),
    )
    result = run(
        org,
        "flow_transitions",
        TRANSITIONS
        # A, reopened: active 1st 00h -> done 2nd 00h -> active 3rd 00h -> done 3rd 12h.
        # It is done at its final done; active = 24h + 12h; the first done span counts as neither.
        + "A,2026-07-01T00:00:00Z,active\nA,2026-07-02T00:00:00Z,done\n"
        + "A,2026-07-03T00:00:00Z,active\nA,2026-07-03T12:00:00Z,done\n"
        # B, canceled: new 1st -> active 2nd -> canceled 4th. Not done; active 2 days.
        + "B,2026-07-01T00:00:00Z,new\nB,2026-07-02T00:00:00Z,active\n"
        + "B,2026-07-04T00:00:00Z,canceled\n"
        # C, straight to done: started_at = done_at, flow time 0.
        + "C,2026-07-05T00:00:00Z,done\n"
        # D, waiting: active 1st 00h -> waiting 1st 06h -> active 2nd 06h -> done 2nd 08h.
        # active = 6h + 2h, waiting = 24h.
        + "D,2026-07-01T00:00:00Z,active\nD,2026-07-01T06:00:00Z,waiting\n"
        + "D,2026-07-02T06:00:00Z,active\nD,2026-07-02T08:00:00Z,done\n"
        # E, in progress: active 1st -> waiting 2nd; time counts up to the last transition.
        + "E,2026-07-01T00:00:00Z,active\nE,2026-07-02T00:00:00Z,waiting\n",
        # F has no transitions: new.
    )
    assert counts(result) == (14, 0, 0)
    h = 3600
    assert facts(org, "A") == ("done", t(1), t(3, 12), 36 * h, 0)
    assert facts(org, "B") == ("canceled", t(2), None, 48 * h, 0)
    assert facts(org, "C") == ("done", t(5), t(5), 0, 0)
    assert facts(org, "D") == ("done", t(1), t(2, 8), 8 * h, 24 * h)
    assert facts(org, "E") == ("waiting", t(1), None, 24 * h, 0)
    assert facts(org, "F") == ("new", None, None, 0, 0)

    # A later import adds to the history: E finishes; only E's facts change.
    more = run(org, "flow_transitions", TRANSITIONS + "E,2026-07-02T12:00:00Z,done\n")
    assert counts(more) == (1, 0, 0)
    assert more.value_stream_ids == {dental.pk}
    assert facts(org, "E") == ("done", t(1), t(2, 12), 24 * h, 12 * h)
    assert facts(org, "A") == ("done", t(1), t(3, 12), 36 * h, 0)


def test_importing_the_same_transitions_twice_changes_nothing(tenant_a, dental):
    org = tenant_a.org
    run(org, "flow_items", ITEMS + "F-1,feature,,dental,2026-07-01T00:00:00Z\n")
    text = TRANSITIONS + "F-1,2026-07-01T00:00:00Z,active\nF-1,2026-07-02T00:00:00Z,done\n"
    run(org, "flow_transitions", text)
    with organization_context(org.pk):
        before = list(FlowTransition.objects.filter(organization=org).values_list("pk", "at"))
    again = run(org, "flow_transitions", text.replace("T00:00:00Z", "T02:00:00+02:00"))
    assert counts(again) == (0, 0, 2)
    assert again.value_stream_ids == frozenset()
    with organization_context(org.pk):
        after = list(FlowTransition.objects.filter(organization=org).values_list("pk", "at"))
    assert after == before
    assert facts(org, "F-1")[0] == StateCategory.DONE


# --- The import_events command --------------------------------------------------------


def call(tmp_path, *args: str, text: str) -> tuple[str, str]:
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_events", *args, str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_prints_the_counts(tmp_path, tenant_a, dental):
    text = ITEMS + "F-1,feature,Quote,dental,2026-07-01T09:30:00Z\n"
    out, _ = call(tmp_path, "--org", "org-a", "--kind", "flow_items", text=text)
    assert out == "flow_items: 1 created, 0 updated, 0 unchanged\n"
    out, _ = call(tmp_path, "--org", "org-a", "--kind", "flow_items", text=text)
    assert out == "flow_items: 0 created, 0 updated, 1 unchanged\n"


def test_command_reports_every_bad_row_and_changes_nothing(tmp_path, tenant_a, dental):
    text = ITEMS + (
        "F-1,feature,,dental,2026-07-01T09:30:00Z\n"
        "F-2,feature,,dental,2026-07-01\n"
        "F-3,epic,,dental,2026-07-01T09:30:00Z\n"
    )
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "import_events", "--org", "org-a", "--kind", "flow_items", str(path), stderr=err
        )
    assert str(caught.value) == f"{path}: 2 bad rows (above); nothing was imported"
    assert err.getvalue().splitlines() == [
        "line 3: created_at '2026-07-01' has no UTC offset; expected ISO 8601 with Z or +hh:mm, "
        "e.g. 2026-07-01T09:30:00Z",
        "line 4: type 'epic' is not one of feature, defect, risk, debt",
    ]
    with organization_context(tenant_a.org.pk):
        assert not FlowItem.objects.filter(organization=tenant_a.org).exists()


def test_command_exits_non_zero_on_bad_arguments(tmp_path, tenant_a):
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("import_events", "--org", "org-a", "--kind", "flow_items", "/no/such.csv")
    with pytest.raises(CommandError, match="--org: no organization has the slug 'nope'"):
        call_command("import_events", "--org", "nope", "--kind", "flow_items", "/no/such.csv")
    with pytest.raises(CommandError, match="invalid choice: 'journeys'"):
        call_command("import_events", "--org", "org-a", "--kind", "journeys", "/no/such.csv")


def test_command_exit_code_in_a_shell(tmp_path, tenant_a, dental):
    """The real entry point: a rejected file exits 1 with the reasons on stderr."""
    from django.core.management import ManagementUtility

    path = tmp_path / "events.csv"
    path.write_text(ITEMS + "F-1,feature,,dental,soon\n", encoding="utf-8")
    utility = ManagementUtility(
        ["manage.py", "import_events", "--org", "org-a", "--kind", "flow_items", str(path)]
    )
    with pytest.raises(SystemExit) as exited:
        utility.execute()
    assert exited.value.code == 1


# --- The bulk API ---------------------------------------------------------------------

ITEM = {
    "key": "F-1",
    "type": "feature",
    "title": "Quote",
    "value_stream": "dental",
    "created_at": "2026-07-01T09:30:00Z",
}


@pytest.mark.parametrize("role", ["admin", "editor"])
def test_api_upserts_for_editors_and_admins(tenant_a, dental, role):
    client = client_for(getattr(tenant_a, role))
    answer = send(client, "post", "events/flow-items/", [ITEM, {**ITEM, "key": "F-2"}])
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {
        "kind": "flow_items",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "value_stream_ids": [dental.pk],
        "journey_ids": [],
    }
    again = send(client, "post", "events/flow-items/", [ITEM, {**ITEM, "key": "F-2"}])
    assert again.json()["unchanged"] == 2


def test_api_transitions_and_derived_facts(tenant_a, dental):
    client = client_for(tenant_a.editor)
    send(client, "post", "events/flow-items/", [{**ITEM, "created_at": "2026-07-01T00:00:00Z"}])
    answer = send(
        client,
        "post",
        "events/flow-transitions/",
        [
            {"key": "F-1", "at": "2026-07-01T00:00:00Z", "state": "active"},
            {"key": "F-1", "at": "2026-07-02T00:00:00Z", "state": "done"},
        ],
    )
    assert answer.status_code == 200, answer.json()
    assert facts(tenant_a.org, "F-1") == ("done", t(1), t(2), 86400, 0)


def test_api_rejects_a_transition_before_its_items_creation(tenant_a, dental):
    client = client_for(tenant_a.editor)
    send(client, "post", "events/flow-items/", [ITEM])
    answer = send(
        client,
        "post",
        "events/flow-transitions/",
        [
            {"key": "F-1", "at": "2026-07-01T09:30:00Z", "state": "active"},
            {"key": "F-1", "at": "2026-07-01T08:00:00Z", "state": "new"},
        ],
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [
            "item 2: at 2026-07-01T08:00:00Z is before flow item 'F-1' was created at "
            "2026-07-01T09:30:00Z"
        ]
    }
    with organization_context(tenant_a.org.pk):
        assert not FlowTransition.objects.filter(organization=tenant_a.org).exists()


def test_api_reports_every_bad_item_and_writes_nothing(tenant_a, dental):
    client = client_for(tenant_a.editor)
    answer = send(
        client,
        "post",
        "events/flow-items/",
        [ITEM, {**ITEM, "key": "F-2", "type": "story"}, "F-3", {"key": "F-4", "colour": 1}],
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [
            "item 2: type 'story' is not one of feature, defect, risk, debt",
            "item 3: expected an object with the fields key, type, title, value_stream, created_at",
            "item 4: unknown field 'colour'",
            "item 4: missing field 'type'",
            "item 4: missing field 'value_stream'",
            "item 4: missing field 'created_at'",
        ]
    }
    with organization_context(tenant_a.org.pk):
        assert not FlowItem.objects.filter(organization=tenant_a.org).exists()
    not_a_list = send(client, "post", "events/flow-items/", ITEM)
    assert not_a_list.status_code == 400
    assert not_a_list.json()["errors"][0].startswith("the body must be a JSON list")


def test_api_optional_fields_may_be_left_out_or_null(tenant_a, dental):
    client = client_for(tenant_a.editor)
    send(
        client,
        "post",
        "events/deployments/",
        [
            {
                "key": "D-1",
                "value_stream": "dental",
                "environment": "production",
                "deployed_at": "2026-07-01T00:00:00Z",
                "status": "success",
            }
        ],
    )
    answer = send(
        client,
        "post",
        "events/incidents/",
        [
            {"key": "I-1", "value_stream": "dental", "opened_at": "2026-07-02T00:00:00Z"},
            {
                "key": "I-2",
                "value_stream": "dental",
                "opened_at": "2026-07-02T00:00:00Z",
                "resolved_at": None,
                "deployment": "D-1",
            },
        ],
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["created"] == 2


def test_api_viewers_may_not_import(tenant_a, dental):
    answer = send(client_for(tenant_a.viewer), "post", "events/flow-items/", [ITEM])
    assert answer.status_code == 403
    with organization_context(tenant_a.org.pk):
        assert not FlowItem.objects.filter(organization=tenant_a.org).exists()


def test_api_another_organization_answers_404(tenant_a, tenant_b, dental):
    stream(tenant_b.org, "dental")
    answer = send(client_for(tenant_a.editor), "post", "events/flow-items/", [ITEM], org="org-b")
    assert answer.status_code == 404
    with organization_context(tenant_b.org.pk):
        assert not FlowItem.objects.filter(organization=tenant_b.org).exists()


# --- Volume ---------------------------------------------------------------------------


def test_a_20000_row_file_imports(tenant_a, dental):
    org = tenant_a.org
    n = 20_000
    items = ITEMS + "".join(
        f"F-{i},{('feature', 'defect', 'risk', 'debt')[i % 4]},Item {i},dental,"
        f"2026-07-01T00:00:00Z\n"
        for i in range(n)
    )
    transitions = TRANSITIONS + "".join(
        f"F-{i // 2},2026-07-0{1 + i % 2}T{i % 24:02d}:00:00Z,{('active', 'done')[i % 2]}\n"
        for i in range(n)
    )
    # Bounded memory is by design (COPY streams the rows); this proves the volume works.
    assert counts(run(org, "flow_items", items)) == (n, 0, 0)
    assert counts(run(org, "flow_transitions", transitions)) == (n, 0, 0)
    with organization_context(org.pk):
        assert FlowItem.objects.filter(organization=org, state="done").count() == n // 2
    assert counts(run(org, "flow_items", items)) == (0, 0, n)


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        (ITEMS + "F-1,feature,,dental,2026-07-01T09:30:00Z\n", True),
        (ITEMS + 'F-1,feature,"two\nlines",dental,x\n', True),
        (ITEMS + "F-1,feature,,dental\n", False),  # four values: Python names the line
        (ITEMS + "F-1,feature,,dental,x\n\nF-2,feature,,dental,x\n", False),  # a blank line
        (ITEMS + 'F-1,feature,"open quote,dental,x\n', False),
    ],
)
def test_postgresql_parses_well_formed_csv_and_python_the_rest(tenant_a, text, fast):
    from django.db import connection, transaction

    from streams.ingest import KINDS, STAGE, _copy_csv, _create_temp_tables

    spec = KINDS["flow_items"]
    source, errors = io.StringIO(text), []
    with transaction.atomic(), connection.cursor() as cursor:
        _create_temp_tables(cursor.cursor, spec)
        assert _copy_csv(cursor.cursor, spec, source, errors) is fast
        cursor.execute(f"SELECT line, key FROM {STAGE} ORDER BY line")  # noqa: S608
        staged = cursor.fetchall()
    assert errors == []
    assert staged == ([(2, "F-1")] if fast else [])
    if not fast:
        assert source.tell() == 0  # rewound for the Python reader
