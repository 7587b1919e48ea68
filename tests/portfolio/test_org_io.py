"""Backup and restore of one organization (portfolio.org_io, ``export_org`` / ``import_org``).

The history is tests/metrics/report_history.py's (two value streams, parent and
child; flow items, deployments with a failure, a change, an incident; a journey
with surveys; objectives with a linked and a manual key result), completed here
with what a restore must also bring back: a tool-status mapping, a reopened item,
one in progress and one canceled, a staging deployment and an open incident,
journey events of every type, more check-ins, manual KPI values, a frozen quarter
and organization settings. Organization B has the same slugs and keys, so any
leak between the two would show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from metrics.engine import kpis_for_period
from metrics.manual import manual_value_set
from metrics.models import KpiSnapshot, ManualKpiValue
from metrics.reports.csv import report_csv
from metrics.reports.data import quarterly_report_freeze, report_data_build
from metrics.reports.exports import report_render
from portfolio import org_io
from portfolio.model_io import model_export
from portfolio.models import AuditAction, AuditEvent, Membership, Organization, OrgOwned, Role
from portfolio.okrs import check_in_create, okrs_for_quarter
from portfolio.org_io import (
    CARRIED,
    EVENT_SOURCES,
    NOT_CARRIED,
    OrgImportError,
    org_export,
    org_import,
)
from portfolio.rls import tenant_tables
from portfolio.services import organization_update
from portfolio.tenancy import organization_context
from streams.ingest import KINDS, events_import
from streams.models import ValueStream
from streams.services import status_mappings_set
from tests.metrics.report_history import build_history

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
# A whole quarter, the one before, and a few days inside a quarter.
RANGES = (
    (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
    (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
    (dt.date(2026, 7, 4), dt.date(2026, 7, 20)),
)

FLOW_ITEMS = (
    "key,type,title,value_stream,created_at\n"
    "R1,debt,Reopened debt,claims,2026-06-20T00:00:00Z\n"
    "W1,feature,In review,claims,2026-07-01T00:00:00Z\n"
    "X1,risk,Dropped,dental,2026-07-01T00:00:00Z\n"
)
# R1 is done, reopened and done again; W1 waits in a tool status; X1 is canceled.
FLOW_TRANSITIONS = (
    "key,at,state\n"
    "R1,2026-07-01T00:00:00Z,active\n"
    "R1,2026-07-05T00:00:00Z,done\n"
    "R1,2026-07-06T12:30:00.5Z,active\n"
    "R1,2026-07-09T00:00:00Z,done\n"
    "W1,2026-07-02T00:00:00Z,active\n"
    "W1,2026-07-03T00:00:00Z,In Review\n"
    "X1,2026-07-02T00:00:00Z,active\n"
    "X1,2026-07-04T00:00:00Z,canceled\n"
)
DEPLOYMENTS = (
    "key,value_stream,environment,deployed_at,status\n"
    "D3,claims,staging,2026-07-25T10:00:00Z,success\n"
)
INCIDENTS = "key,value_stream,opened_at,resolved_at,deployment\nI2,dental,2026-09-29T10:00:00Z,,\n"
# Every journey event type, on build_journey's stages submit -> assess -> paid.
JOURNEY_EVENTS = (
    "key,journey,type,at,customer,ref,value,stage,touchpoint\n"
    "E1,claim,stage_entered,2026-07-02T09:00:00Z,c1,app-1,,submit,form\n"
    "E2,claim,stage_entered,2026-07-03T09:00:00Z,c1,app-1,,assess,call\n"
    "E3,claim,stage_entered,2026-07-08T09:00:00Z,c1,app-1,,paid,\n"
    "E4,claim,stage_entered,2026-07-04T09:00:00Z,c2,,,submit,\n"
    "E5,claim,case_resolved,2026-07-09T10:00:00Z,c1,,1,,call\n"
    "E6,claim,case_resolved,2026-07-10T10:00:00Z,c2,,3,,\n"
    "E7,claim,renewal_due,2026-08-01T00:00:00Z,c1,policy-1,,,\n"
    "E8,claim,renewed,2026-07-25T00:00:00Z,c1,policy-1,,,\n"
    "E9,claim,renewal_due,2026-08-15T00:00:00Z,c2,policy-2,,,\n"
    "E10,claim,acquired,2026-06-01T00:00:00Z,c1,,,,\n"
    "E11,claim,acquired,2026-06-02T00:00:00Z,c2,,,,\n"
    "E12,claim,churned,2026-08-20T00:00:00Z,c2,,,,\n"
    "E13,claim,acquisition_cost,2026-07-01T00:00:00Z,,,250.5,,\n"
    "E14,claim,acquired,2026-07-15T00:00:00Z,c3,,,,\n"
    "E15,claim,claim_paid,2026-07-12T00:00:00Z,c1,claim-9,1234.5678,,\n"
    "E16,claim,survey,2026-07-20T00:00:00Z,c3,,7,submit,form\n"
)


@pytest.fixture
def rich(tenant_a):
    """Organization A with the history of the module docstring; answers its objects."""
    org = tenant_a.org
    objects = build_history(org)
    with organization_context(org.pk):
        organization_update(
            organization=org, name=org.name, time_zone="Europe/Berlin", dora_report_year=2021
        )
        status_mappings_set(
            organization=org, value_stream=objects["claims"], mapping={"In Review": "waiting"}
        )
        for kind, rows in (
            ("flow_items", FLOW_ITEMS),
            ("flow_transitions", FLOW_TRANSITIONS),
            ("deployments", DEPLOYMENTS),
            ("incidents", INCIDENTS),
            ("journey_events", JOURNEY_EVENTS),
        ):
            events_import(organization=org, kind=kind, rows=io.StringIO(rows))
        check_in_create(
            organization=org,
            key_result=objects["trained"],
            value=7,
            confidence=8,
            note="Half the assessors",
            author=tenant_a.editor,
            at=dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC),
        )
        manual_value_set(
            organization=org,
            subject=objects["journey"],
            key="nps",
            period_kind="quarter",
            period_start=dt.date(2026, 7, 1),
            value=42.5,
            note="From the survey tool",
            user=tenant_a.editor,
        )
        manual_value_set(
            organization=org,
            subject=objects["claims"],
            key="flow_velocity",
            period_kind="month",
            period_start=dt.date(2026, 8, 1),
            value=12,
        )
        # The last step, as in life: the quarter's first export freezes its figures.
        quarterly_report_freeze(organization=org, quarter="2026-Q3", user=tenant_a.admin)
    return objects


@pytest.fixture
def other(tenant_b):
    """Organization B, with the same slugs and keys as A and names of its own."""
    return build_history(tenant_b.org, dental_name="Dental of B", claims_name="Claims of B")


def export_text(org: Organization) -> str:
    out = StringIO()
    with organization_context(org.pk):
        org_export(organization=org, out=out)
    return out.getvalue()


def restore(text: str, slug: str | None = None) -> org_io.ImportSummary:
    return org_import(stream=StringIO(text), slug=slug)


def edited(text: str, edit) -> str:
    data = json.loads(text)
    edit(data)
    return json.dumps(data)


def without_exported_at(text: str) -> str:
    lines = text.splitlines(keepends=True)
    assert lines[3].startswith('"exported_at": ')
    return "".join(lines[:3] + lines[4:])


def without_ids(value):
    """Report and OKR structures carry database ids, which a restore renumbers."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k != "id" and not k.endswith("_id")}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def figures(org: Organization) -> dict:
    """Every number the organization shows, by slug: kpis for the ranges, the frozen
    quarter's report, a report computed now, the OKRs, the manual values, the model."""
    with organization_context(org.pk):
        frozen = quarterly_report_freeze(organization=org, quarter="2026-Q3")
        kpis = {
            f"{a}..{b}": kpis_for_period(organization=org, date_from=a, date_to=b)
            for a, b in RANGES
        }
        for answer in kpis.values():
            answer.pop("org")
        okrs = [
            without_ids(dataclasses.asdict(o))
            for o in okrs_for_quarter(organization=org, quarter="2026-Q3", now=NOW)
        ]
        return {
            "kpis": kpis,
            "frozen_data": without_ids(frozen.data) | {"organization": None},
            "frozen_at": frozen.frozen_at,
            "frozen_csv": report_render(report=frozen, fmt="csv")[1],
            "computed_csv": report_csv(
                report_data_build(organization=org, quarter="2026-Q2", now=NOW)
            ),
            "okrs": okrs,
            "manual": sorted(
                (
                    (m.journey or m.value_stream).slug,
                    m.key,
                    m.period_kind,
                    m.period_start,
                    m.period_end,
                    m.value,
                    m.note,
                    m.entered_by.email if m.entered_by else None,
                )
                for m in ManualKpiValue.objects.filter(organization=org).select_related(
                    "journey", "value_stream", "entered_by"
                )
            ),
            "model": model_export(organization=org),
        }


def tenant_models() -> set[str]:
    """Every model with an organization: OrgOwned ones, and the history tables."""
    return {
        m._meta.label
        for m in apps.get_models(include_auto_created=True)
        if issubclass(m, OrgOwned) or any(f.name == "organization" for f in m._meta.fields)
    }


def delete_organization(org: Organization) -> None:
    """Delete the organization and every row of it, acting for it (row-level security).

    The ORM's cascade stops at PROTECT keys (a child value stream, a family's products),
    so the rows of every tenant table go first, by SQL, in any order: Django's and
    portfolio.org_keys' foreign keys are deferred to the end of the transaction. Then
    the organization, which the database cascades to the append-only tables (the app
    role may not delete from those), and the deferred keys are checked at once.
    """
    append_only = {m._meta.db_table for m in apps.get_models() if getattr(m, "APPEND_ONLY", 0)}
    with organization_context(org.pk), connection.cursor() as cursor:
        for table in tenant_tables(cursor):
            if table not in append_only:
                cursor.execute(
                    f"DELETE FROM {connection.ops.quote_name(table)} WHERE organization_id = %s",  # noqa: S608
                    [org.pk],
                )
        Organization.objects.filter(pk=org.pk).delete()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def rows_left(organization_id: int) -> dict[str, int]:
    with organization_context(organization_id), connection.cursor() as cursor:
        left = {}
        for table in tenant_tables(cursor):
            name = connection.ops.quote_name(table)
            cursor.execute(
                f"SELECT count(*) FROM {name} WHERE organization_id = %s",  # noqa: S608
                [organization_id],
            )
            left[table] = cursor.fetchone()[0]
    return {table: n for table, n in left.items() if n}


# --- The restore ------------------------------------------------------------------------


def test_a_restored_organization_gives_the_same_numbers(tenant_a, rich, other):
    org = tenant_a.org
    before = figures(org)
    with organization_context(org.pk):
        members = sorted(
            Membership.objects.filter(organization=org).values_list("user__email", "role")
        )
    assert len(members) == 3
    text = export_text(org)

    delete_organization(org)
    assert not Organization.objects.filter(slug="org-a").exists()
    assert rows_left(org.pk) == {}

    users = get_user_model().objects.count()
    summary = restore(text)
    restored = Organization.objects.get(slug="org-a")
    assert summary.organization == "org-a"
    assert summary.users_created == [], "the members' users still exist: they are reused"
    assert get_user_model().objects.count() == users

    # export -> import -> export gives the same file, but for the time it was written.
    again = export_text(restored)
    assert without_exported_at(again) == without_exported_at(text)

    after = figures(restored)
    for name in before:
        assert after[name] == before[name], name
    assert (restored.name, restored.time_zone, restored.dora_report_year) == (
        org.name,
        "Europe/Berlin",
        2021,
    )
    assert restored.created_at == org.created_at
    with organization_context(restored.pk):
        assert (
            sorted(
                Membership.objects.filter(organization=restored).values_list("user__email", "role")
            )
            == members
        )
        # The import ends with the workers' recompute: the snapshots are there.
        assert KpiSnapshot.objects.filter(organization=restored).exists()
    # B is untouched, and still its own.
    with organization_context(other["claims"].organization_id):
        assert ValueStream.objects.get(pk=other["claims"].pk).name == "Claims of B"


def test_the_export_holds_its_organization_and_nothing_of_another(tenant_a, rich, other):
    text = export_text(tenant_a.org)
    data = json.loads(text)
    assert (data["format"], data["version"]) == ("throughline-org", 1)
    assert "Claims of B" not in text and "org-b" not in text
    assert [m["email"] for m in data["members"]] == [
        "admin@org-a.example",
        "editor@org-a.example",
        "viewer@org-a.example",
    ]
    with organization_context(tenant_a.org.pk):
        for kind, (model, _columns, _order) in EVENT_SOURCES.items():
            assert (
                len(data["events"][kind]) == model.objects.filter(organization=tenant_a.org).count()
            ), kind
    transitions = [t for t in data["events"]["flow_transitions"] if t["key"] == "R1"]
    assert [(t["at"], t["state"]) for t in transitions] == [
        ("2026-07-01T00:00:00Z", "active"),
        ("2026-07-05T00:00:00Z", "done"),
        ("2026-07-06T12:30:00.500000Z", "active"),
        ("2026-07-09T00:00:00Z", "done"),
    ]
    # A tool status is stored (and exported) as its state category.
    assert {"key": "W1", "at": "2026-07-03T00:00:00Z", "state": "waiting"} in data["events"][
        "flow_transitions"
    ]
    paid = next(e for e in data["events"]["journey_events"] if e["key"] == "E15")
    assert paid["value"] == "1234.5678" and paid["stage"] is None
    assert [r["quarter"] for r in data["quarterly_reports"]] == ["2026-Q3"]
    assert {
        "journey": "claim",
        "key": "nps",
        "period_kind": "quarter",
        "period_start": "2026-07-01",
        "value": 42.5,
        "note": "From the survey tool",
        "entered_by": "editor@org-a.example",
    } in data["manual_kpi_values"]
    trained = next(g for g in data["okr_history"] if g["key_result"] == "trained")
    assert [(c["value"], c["confidence"], c["author"]) for c in trained["check_ins"]] == [
        (7, 8, "editor@org-a.example"),
        (5, None, None),
    ]
    assert (trained["current"], trained["current_as_of"]) == (5, trained["check_ins"][1]["at"])


def test_a_new_slug_restores_beside_the_original(tenant_a, rich):
    org = tenant_a.org
    before = figures(org)
    summary = restore(export_text(org), slug="org-a-copy")
    copy = Organization.objects.get(slug="org-a-copy")
    assert summary.organization == "org-a-copy"
    after = figures(copy)
    assert after["frozen_data"] == before["frozen_data"]
    for name in ("kpis", "computed_csv", "okrs", "manual", "model"):
        assert after[name] == before[name], name
    # The frozen figures are the same; only the file name follows the new slug.
    with organization_context(copy.pk):
        name, content = report_render(
            report=quarterly_report_freeze(organization=copy, quarter="2026-Q3"), fmt="csv"
        )
    assert name.startswith("org-a-copy-2026-Q3") and content == before["frozen_csv"]


def test_a_member_new_to_this_database_gets_a_user_without_a_password(tenant_a, rich):
    def add_member(data):
        data["members"].append(
            {"email": "new.person@example.com", "role": "editor", "joined_at": None}
        )

    summary = restore(edited(export_text(tenant_a.org), add_member), slug="org-a-copy")
    assert summary.users_created == ["new.person@example.com"]
    assert any("Forgot password" in line for line in summary.lines())
    user = get_user_model().objects.get(email="new.person@example.com")
    assert not user.has_usable_password()
    copy = Organization.objects.get(slug="org-a-copy")
    with organization_context(copy.pk):
        assert Membership.objects.get(organization=copy, user=user).role == Role.EDITOR


def test_the_reader_holds_one_value_at_a_time_and_reads_across_blocks(tenant_a, rich, monkeypatch):
    # Blocks of 7 characters: every value, key and separator is split somewhere.
    monkeypatch.setattr(org_io, "READ_CHUNK", 7)
    text = export_text(tenant_a.org)
    restore(text, slug="org-a-copy")
    copy = Organization.objects.get(slug="org-a-copy")
    assert without_exported_at(export_text(copy)).replace("org-a-copy", "org-a") == (
        without_exported_at(text)
    )


# --- Refusals: nothing is written --------------------------------------------------------


def assert_refused(text: str, *expected: str, slug: str = "org-a-copy") -> None:
    users = get_user_model().objects.count()
    with pytest.raises(OrgImportError) as refused:
        restore(text, slug=slug)
    message = "\n".join(refused.value.errors)
    for part in expected:
        assert part in message
    assert not Organization.objects.filter(slug=slug).exists()
    assert get_user_model().objects.count() == users


def _set(path: tuple, value):
    def edit(data):
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _set(("events", "flow_transitions", 2, "state"), "doing"),
            "events.flow_transitions item 3: state 'doing' is not one of new, active",
        ),
        (
            _set(("events", "deployments", 0, "deployed_at"), "2026-07-10 10:00"),
            "events.deployments item 1: deployed_at '2026-07-10 10:00' has no UTC offset",
        ),
        (
            _set(("okr_history", 0, "check_ins", 0, "confidence"), 11),
            "okr_history[0].check_ins[0].confidence: Ensure this value is less than or equal "
            "to 10.",
        ),
        (
            _set(("manual_kpi_values", 0, "period_start"), "2026-08-02"),
            "manual_kpi_values[0].period_start: 2026-08-02 is not the first day of a month",
        ),
        (
            _set(("okr_history", 0, "current"), 1e308),
            "okr_history[0].current: 1e+308 is not a number from -1e15 to 1e15",
        ),
        (
            _set(("okr_history", 0, "current"), -(10**400)),
            "okr_history[0].current: -1.00000e+400 is not a number from -1e15 to 1e15",
        ),
        (
            _set(("okr_history", 0, "check_ins", 0, "value"), -1e308),
            "okr_history[0].check_ins[0].value: -1e+308 is not a number from -1e15 to 1e15",
        ),
        (
            _set(("manual_kpi_values", 0, "value"), 1e16),
            "manual_kpi_values[0].value: 1e+16 is not a number from -1e15 to 1e15",
        ),
        (
            _set(("model", "objectives", 0, "key_results", 0, "target"), 1e308),
            "model.objectives[0].key_results[0].target: 1e+308 is not a number from -1e15 to 1e15",
        ),
        (_set(("members", 1, "role"), "owner"), "members[1].role: 'owner' is not one of admin"),
        (
            _set(("model", "value_streams", 0, "parent"), "nowhere"),
            "model.value_streams[0].parent: 'nowhere' is not a value stream",
        ),
        (
            _set(("quarterly_reports", 0, "data"), []),
            "quarterly_reports[0].data: expected an object",
        ),
    ],
)
def test_a_bad_row_rejects_the_file(tenant_a, rich, edit, expected):
    assert_refused(edited(export_text(tenant_a.org), edit), expected)


def test_another_version_is_refused(tenant_a, rich):
    assert_refused(
        edited(export_text(tenant_a.org), _set(("version",), 2)),
        "version: the number 2 is not supported; this Throughline reads version 1 of "
        "throughline-org files",
    )


def test_an_existing_slug_is_refused(tenant_a, rich):
    assert_refused(
        export_text(tenant_a.org),
        "organization 'org-a' already exists in this database; restore the file under another "
        "slug (import_org --org NEW_SLUG)",
        slug=None,
    )


def test_a_truncated_file_is_refused_with_where_it_breaks(tenant_a, rich):
    text = export_text(tenant_a.org)
    cut = text.index('"deployments"')
    assert_refused(text[:cut], "events: expected a key in double quotes, found the end")
    assert_refused(
        '{"format": "throughline-org", "version": 1, "members": []}', "organization: missing"
    )


# --- Every tenant table is carried or named ----------------------------------------------


def test_every_tenant_table_is_carried_or_left_out_with_a_reason():
    tables = tenant_models()
    forgotten = tables - CARRIED.keys() - NOT_CARRIED.keys()
    assert not forgotten, f"add to org_io.CARRIED or NOT_CARRIED (with why): {sorted(forgotten)}"
    assert not CARRIED.keys() & NOT_CARRIED.keys()
    stale = (CARRIED.keys() | NOT_CARRIED.keys()) - tables
    assert not stale, f"not tenant models (any more): {sorted(stale)}"
    assert all(reason.strip() for reason in NOT_CARRIED.values())


def test_the_events_are_written_in_the_ingest_columns_and_order():
    assert list(EVENT_SOURCES) == list(KINDS)
    for kind, (_model, columns, _order) in EVENT_SOURCES.items():
        assert tuple(columns) == KINDS[kind].columns, kind


# --- The commands ------------------------------------------------------------------------


def test_export_org_and_import_org(tmp_path: Path, tenant_a, rich):
    path = tmp_path / "org-a.json"
    out = StringIO()
    call_command("export_org", "--org", "org-a", "-o", str(path), stdout=out)
    assert out.getvalue().startswith(f"wrote {path} (")
    with organization_context(tenant_a.org.pk):
        event = AuditEvent.objects.get(action=AuditAction.ORG_EXPORTED)
    # A backup holds all of the data: the security log names it, with no user.
    assert (event.organization_id, event.actor_id, event.target) == (
        tenant_a.org.pk,
        None,
        str(path),
    )
    assert event.detail["counts"]["flow_transitions"] == 16
    # report_history's four items with two transitions each, and the eight above.
    assert "flow_transitions 16" in out.getvalue()
    out = StringIO()
    call_command("import_org", str(path), "--org", "org-a-copy", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "restored organization org-a-copy"
    assert "events.flow_transitions: 16 created, 0 updated, 0 unchanged" in lines
    copy = Organization.objects.get(slug="org-a-copy")
    with organization_context(copy.pk):
        assert model_export(organization=copy) == figures(tenant_a.org)["model"]


def test_export_org_writes_standard_output_without_o(tenant_a, rich):
    out = StringIO()
    call_command("export_org", "--org", "org-a", stdout=out)
    assert without_exported_at(out.getvalue()) == without_exported_at(export_text(tenant_a.org))


def test_the_commands_fail_with_a_one_line_reason(tmp_path: Path, tenant_a, rich):
    path = tmp_path / "org-a.json"
    call_command("export_org", "--org", "org-a", "-o", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match=r"already exists.*; nothing was imported$"):
        call_command("import_org", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("import_org", str(tmp_path / "missing.json"), stdout=StringIO())
    with pytest.raises(CommandError, match="--org: no organization has the slug 'nope'"):
        call_command("export_org", "--org", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "export_org", "--org", "org-a", "-o", str(tmp_path / "no" / "x.json"), stdout=StringIO()
        )
    bad = tmp_path / "bad.json"
    bad.write_text(edited(path.read_text(), _set(("format",), "something-else")))
    with pytest.raises(CommandError) as refused:
        call_command("import_org", str(bad), "--org", "org-a-copy", stdout=StringIO())
    assert "\n" not in str(refused.value)
    assert "format: 'something-else' is not a Throughline organization backup" in str(refused.value)
    assert not Organization.objects.filter(slug="org-a-copy").exists()
