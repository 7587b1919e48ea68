"""The model JSON (docs/formats.md#the-model-json): export, import, the commands, the page
and the API."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from journeys.models import Journey, JourneyStage, Touchpoint, TouchpointComponent
from journeys.services import journey_stage_save
from metrics.definitions import Subject, keys_for
from portfolio.entities import entity_save
from portfolio.model_io import (
    ModelImportError,
    model_export,
    model_export_json,
    model_import,
    model_parse,
)
from portfolio.models import (
    Component,
    KeyResult,
    Layer,
    Objective,
    ObjectiveJourney,
    ObjectiveValueStream,
    Product,
    ProductFamily,
    Team,
)
from portfolio.services import api_token_create
from portfolio.tenancy import organization_context
from streams.models import Stage, StageComponent, StatusMapping, ValueStream
from streams.services import value_stream_save
from tests.conftest import client_for
from tests.factories import add_member

pytestmark = pytest.mark.django_db

CONTRACT_FILE = Path(__file__).parent / "data" / "contract_model.json"

HISTORY_MODELS = [
    Layer,
    Team,
    ProductFamily,
    Product,
    Component,
    ValueStream,
    Stage,
    StageComponent,
    StatusMapping,
    Journey,
    JourneyStage,
    Touchpoint,
    TouchpointComponent,
    Objective,
    ObjectiveValueStream,
    ObjectiveJourney,
    KeyResult,
]


def contract() -> dict:
    return json.loads(CONTRACT_FILE.read_text())


def canonical(data: dict) -> str:
    """The export's text for ``data``: the same keys in the same order, formatted alike."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def rich(owner_email: str) -> dict:
    """The contract's example plus what it does not show: a cascade, several stages,
    flags away from their defaults, a journey metric, and every extra key."""
    data = contract()
    data["teams"].append({"slug": "platform-team", "name": "Platform team"})
    data["components"].append(
        {
            "slug": "crm",
            "name": "CRM",
            "layer": "Platforms",
            "team": "platform-team",
            "product": None,
            "kind": "platform",
        }
    )
    # "claims-delivery" sorts before its parent "dental": a parent named before it is defined.
    data["value_streams"].insert(
        0,
        {
            "slug": "claims-delivery",
            "name": "Claims delivery",
            "kind": "team",
            "parent": "dental",
            "owner_email": owner_email,
            "stages": [
                {"slug": "develop", "name": "Develop", "components": ["claims-api", "crm"]},
                {"slug": "build", "name": "Build", "components": []},
                {"slug": "deploy", "name": "Deploy", "components": ["crm"]},
            ],
            "description": "Delivers the claims platform.",
            "status_map": {"Done": "done", "In Progress": "active", "In Review": "waiting"},
        },
    )
    data["journeys"].append(
        {
            "slug": "make-claim",
            "name": "Make a claim",
            "persona": "",
            "product": None,
            "stages": [
                {
                    "slug": "report",
                    "name": "Report",
                    "entry": False,
                    "work_start": False,
                    "conversion": False,
                    "emotion": None,
                    "pain_points": [],
                    "opportunities": [],
                    "touchpoints": [
                        {
                            "slug": "call",
                            "name": "Call the hotline",
                            "channel": "phone",
                            "components": [],
                            "value_stream_stage": None,
                            "emotion": -2,
                        },
                        {
                            "slug": "app-report",
                            "name": "Report in the app",
                            "channel": "app",
                            "components": ["claims-api", "crm"],
                            "value_stream_stage": "claims-delivery/deploy",
                            "emotion": 1,
                        },
                    ],
                },
                {
                    "slug": "assess",
                    "name": "Assess",
                    "entry": False,
                    "work_start": True,
                    "conversion": False,
                    "emotion": -1,
                    "pain_points": ["Slow", "No news"],
                    "opportunities": ["Status updates"],
                    "touchpoints": [],
                },
                {
                    "slug": "pay",
                    "name": "Pay",
                    "entry": False,
                    "work_start": False,
                    "conversion": True,
                    "emotion": 2,
                    "pain_points": [],
                    "opportunities": [],
                    "touchpoints": [],
                },
                {
                    "slug": "close",
                    "name": "Close",
                    "entry": False,
                    "work_start": False,
                    "conversion": False,
                    "emotion": None,
                    "pain_points": [],
                    "opportunities": [],
                    "touchpoints": [],
                },
            ],
        }
    )
    data["objectives"].insert(
        0,
        {
            "slug": "a-happier-claim",
            "title": "Claims customers like",
            "quarter": "2026-Q3",
            "parent": "faster-claims",
            "value_streams": ["claims-delivery", "dental"],
            "journeys": ["make-claim"],
            "key_results": [
                {
                    "slug": "claim-nps",
                    "title": "NPS of claimants",
                    "baseline": -10,
                    "target": 20.5,
                    "unit": "score",
                    "metric": {"journey": "make-claim", "key": "nps"},
                    "weight": 2,
                },
                {
                    "slug": "letters",
                    "title": "Fewer letters",
                    "baseline": 100,
                    "target": 10,
                    "unit": "",
                    "metric": None,
                },
            ],
            "owner_email": owner_email,
        },
    )
    return data


def history_rows(org) -> int:
    with organization_context(org.pk):
        return sum(m.history.filter(organization_id=org.pk).count() for m in HISTORY_MODELS)


def do_import(org, data) -> dict:
    with organization_context(org.pk):
        return model_import(organization=org, data=data).counts


def export_text(org) -> str:
    with organization_context(org.pk):
        return model_export_json(organization=org)


def totals(counts: dict) -> dict:
    return {
        key: sum(c[key] for c in counts.values()) for key in ("created", "updated", "unchanged")
    }


# --- Round trips ----------------------------------------------------------------------


def test_the_contract_example_reads_back_as_itself(tenant_a):
    counts = do_import(tenant_a.org, contract())
    assert export_text(tenant_a.org) == canonical(contract())
    # The seven default layers exist already in a new organization; all else is new.
    assert counts["layers"] == {"created": 0, "updated": 0, "unchanged": 7}
    assert counts["key_results"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert totals(counts) == {"created": 11, "updated": 0, "unchanged": 7}


def test_an_export_imported_into_an_empty_organization_exports_the_same_bytes(tenant_a, tenant_b):
    owner = tenant_a.editor
    add_member(tenant_b.org, owner)
    do_import(tenant_a.org, rich(owner.email))
    exported = export_text(tenant_a.org)
    do_import(tenant_b.org, json.loads(exported))
    assert export_text(tenant_b.org) == exported
    # The extras are there, and written only when they differ from the default.
    data = json.loads(exported)
    assert data["components"][0] == {
        "slug": "claims-api",
        "name": "Claims API",
        "layer": "IT portfolio",
        "team": "claims-team",
        "product": "dental",
    }
    assert data["components"][1]["kind"] == "platform"
    assert data["value_streams"][0]["status_map"] == {
        "Done": "done",
        "In Progress": "active",
        "In Review": "waiting",
    }
    assert data["objectives"][0]["key_results"][0]["weight"] == 2
    assert "weight" not in data["objectives"][0]["key_results"][1]


def test_the_export_is_the_import_in_the_contracts_order(tenant_a):
    # rich() is written as the export writes: lists by slug, stages in order,
    # the contract's keys in its order, then the extras.
    data = rich(tenant_a.editor.email)
    do_import(tenant_a.org, data)
    assert export_text(tenant_a.org) == canonical(data)


def test_importing_the_same_file_twice_changes_nothing(tenant_a):
    data = rich(tenant_a.editor.email)
    do_import(tenant_a.org, data)
    before, text = history_rows(tenant_a.org), export_text(tenant_a.org)
    counts = do_import(tenant_a.org, data)
    assert totals(counts)["created"] == totals(counts)["updated"] == 0
    assert history_rows(tenant_a.org) == before
    assert export_text(tenant_a.org) == text
    # And its own export, read back, is no change either.
    counts = do_import(tenant_a.org, json.loads(text))
    assert totals(counts)["created"] == totals(counts)["updated"] == 0
    assert history_rows(tenant_a.org) == before


def flags(org, journey_slug: str) -> list[tuple]:
    with organization_context(org.pk):
        return list(
            JourneyStage.objects.filter(organization=org, journey__slug=journey_slug)
            .order_by("position")
            .values_list("slug", "is_entry", "is_work_start", "is_conversion")
        )


def test_the_files_stage_flags_stick_and_the_others_follow_their_defaults(tenant_a):
    org = tenant_a.org
    do_import(org, rich(tenant_a.editor.email))
    # Work start and conversion as the file says; entry, stated nowhere, on the first stage.
    assert flags(org, "make-claim") == [
        ("report", True, False, False),
        ("assess", False, True, False),
        ("pay", False, False, True),
        ("close", False, False, False),
    ]
    with organization_context(org.pk):
        journey = Journey.objects.get(organization=org, slug="make-claim")
        journey_stage_save(organization=org, stage=JourneyStage(journey=journey, name="Renew"))
    # Set on purpose, conversion stays on "pay" when a stage is added after it.
    assert [s for s, *f in flags(org, "make-claim") if f[2]] == ["pay"]
    # A file that no longer states conversion gives it back to the default (the last stage).
    data = json.loads(export_text(org))
    journey = next(j for j in data["journeys"] if j["slug"] == "make-claim")
    assert [s["slug"] for s in journey["stages"] if s["conversion"]] == ["pay"]
    assert not any(s["entry"] for s in journey["stages"])
    journey["stages"][2]["conversion"] = False
    do_import(org, data)
    assert [s for s, *f in flags(org, "make-claim") if f[2]] == ["renew"]


def test_an_import_updates_in_place_and_leaves_what_it_does_not_name(tenant_a):
    org = tenant_a.org
    do_import(org, rich(tenant_a.editor.email))
    counts = do_import(
        org,
        {
            "teams": [{"slug": "claims-team", "name": "Claims"}],
            # Objects of the organization may be named without being in the file.
            "components": [
                {"slug": "portal", "name": "Portal", "layer": "Experience", "team": "claims-team"}
            ],
            "value_streams": [
                {
                    "slug": "claims-delivery",
                    "name": "Claims delivery",
                    "stages": [
                        {"slug": "deploy", "name": "Release"},
                        {"slug": "test", "name": "Test"},
                    ],
                }
            ],
        },
    )
    assert counts["teams"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert counts["components"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert counts["value_streams"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert counts["stages"] == {"created": 1, "updated": 1, "unchanged": 0}
    data = json.loads(export_text(org))
    assert [t["name"] for t in data["teams"]] == ["Claims", "Platform team"]
    assert [c["slug"] for c in data["components"]] == ["claims-api", "crm", "portal"]
    stream = data["value_streams"][0]
    # The file's stages first, in its order, then the ones only the organization has.
    assert [(s["slug"], s["name"]) for s in stream["stages"]] == [
        ("deploy", "Release"),
        ("test", "Test"),
        ("develop", "Develop"),
        ("build", "Build"),
    ]
    # Keys left out keep their values: components, owner, status map, parent.
    assert stream["stages"][0]["components"] == ["crm"]
    assert stream["owner_email"] == tenant_a.editor.email
    assert stream["status_map"]["In Review"] == "waiting"
    assert stream["parent"] == "dental"
    assert len(data["journeys"]) == 2 and len(data["objectives"]) == 2


def test_owners_need_not_be_members_so_the_model_moves_between_organizations(tenant_a, tenant_b):
    do_import(tenant_a.org, rich("someone@elsewhere.example"))
    text = export_text(tenant_a.org)
    do_import(tenant_b.org, json.loads(text))
    assert export_text(tenant_b.org) == text


def test_an_owner_who_left_still_reads_back(tenant_a):
    org = tenant_a.org
    do_import(org, rich(tenant_a.editor.email))
    with organization_context(org.pk):
        org_membership = tenant_a.editor.memberships.get(organization=org)
        org_membership.delete()
    before = history_rows(org)
    counts = do_import(org, json.loads(export_text(org)))
    assert totals(counts)["updated"] == 0
    assert history_rows(org) == before


# --- Refused files --------------------------------------------------------------------

DELETE = object()


def set_at(data: dict, path: str, value: object) -> None:
    """Set (or with DELETE remove) the value at a path such as ``journeys[0].stages[1].name``."""
    keys = [int(i) if i else k for k, i in re.findall(r"(\w+)|\[(\d+)\]", path)]
    node = data
    for key in keys[:-1]:
        node = node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


def edits(changes: dict[str, object]):
    def apply(data: dict) -> None:
        for path, value in changes.items():
            set_at(data, path, value)

    return apply


def add_stream_cycle(data: dict) -> None:
    data["value_streams"].append({"slug": "dental-b", "name": "B", "parent": "dental"})
    data["value_streams"][0]["parent"] = "dental-b"


def add_second_entry(data: dict) -> None:
    data["journeys"][0]["stages"].append({"slug": "apply", "name": "Apply", "entry": True})


def add_duplicate_team(data: dict) -> None:
    data["teams"].append({"slug": "claims-team", "name": "Again"})


def add_unknown_section(data: dict) -> None:
    data["colours"] = []


TP = "journeys[0].stages[0].touchpoints[0]"
KR = "objectives[0].key_results[0]"
VS_METRICS = ", ".join(keys_for(Subject.VALUE_STREAM))
ONE_SUBJECT = (
    "a metric is of one value stream or one journey (null for a key result with manual check-ins)"
)

BAD_FILES = [
    (
        edits({"value_streams[0].parent": "x"}),
        ["value_streams[0].parent: 'x' is not a value stream"],
    ),
    (
        edits({"components[0].layer": "Nope"}),
        ["components[0].layer: 'Nope' is not a layer"],
    ),
    (
        edits({f"{TP}.value_stream_stage": "dental/nope"}),
        [f"{TP}.value_stream_stage: 'dental/nope' is not a stage"],
    ),
    (
        edits({f"{TP}.value_stream_stage": "nope"}),
        [f"{TP}.value_stream_stage: 'nope' is not 'value-stream-slug/stage-slug'"],
    ),
    (
        edits({f"{KR}.metric.key": "nps"}),
        [f"{KR}.metric.key: 'nps' is not a value stream metric; use one of {VS_METRICS}"],
    ),
    (
        edits({f"{KR}.metric.journey": "get-cover"}),
        [f"{KR}.metric: names both a value_stream and a journey; {ONE_SUBJECT}"],
    ),
    (
        edits({f"{KR}.metric.value_stream": DELETE}),
        [f"{KR}.metric: names no value_stream or journey; {ONE_SUBJECT}"],
    ),
    (edits({"teams[0].name": DELETE}), ["teams[0].name: required, but missing"]),
    (edits({"teams[0].name": 7}), ["teams[0].name: expected a string, got the number 7"]),
    (
        edits({"teams[0].slug": "Claims Team"}),
        [
            "teams[0].slug: 'Claims Team' is not a slug: use 1 to 50 lowercase letters, "
            "digits and inner hyphens",
            "components[0].team: 'claims-team' is not a team",
        ],
    ),
    (
        edits({"teams[0].colour": "red"}),
        ["teams[0].colour: unknown key; expected one of slug, name"],
    ),
    (
        add_unknown_section,
        [
            "colours: unknown key; expected one of layers, teams, product_families, "
            "components, value_streams, journeys, objectives"
        ],
    ),
    (
        edits({"layers": "Business products"}),
        ["layers: expected a list, got the string 'Business products'"],
    ),
    (
        edits({"teams[0]": ["claims-team"]}),
        [
            "teams[0]: expected an object, got a list",
            "components[0].team: 'claims-team' is not a team",
        ],
    ),
    (add_duplicate_team, ["teams[1].slug: 'claims-team' is already used by teams[0].slug"]),
    (
        add_stream_cycle,
        [
            "value_streams[0].parent: 'dental-b' makes a cycle: dental → dental-b → dental",
            "value_streams[1].parent: 'dental' makes a cycle: dental-b → dental → dental-b",
        ],
    ),
    (
        edits({"value_streams[0].parent": "dental"}),
        ["value_streams[0].parent: 'dental' makes a cycle: dental → dental"],
    ),
    (
        edits({"journeys[0].stages[0].emotion": 3}),
        ["journeys[0].stages[0].emotion: 3 is outside -2..2 (very negative .. very positive)"],
    ),
    (
        edits({f"{TP}.emotion": 0.5}),
        [f"{TP}.emotion: expected a whole number from -2 to 2 or null, got the number 0.5"],
    ),
    (
        edits({"journeys[0].stages[0].entry": "yes"}),
        ["journeys[0].stages[0].entry: expected true or false, got the string 'yes'"],
    ),
    (
        add_second_entry,
        [
            "journeys[0].stages[1].entry: 'discover' is already the entry stage; "
            "a journey has one entry stage"
        ],
    ),
    (
        edits({f"{TP}.channel": "kiosk"}),
        [
            f"{TP}.channel: 'kiosk' is not one of web, app, phone, branch, email, letter, "
            "agent, chat, other"
        ],
    ),
    (
        edits({"value_streams[0].owner_email": "nobody-at-example.com"}),
        ["value_streams[0].owner_email: 'nobody-at-example.com' is not an email address"],
    ),
    (
        edits({"objectives[0].quarter": "2026-3"}),
        ["objectives[0].quarter: '2026-3': Use a quarter such as 2026-Q3."],
    ),
    (
        edits({f"{KR}.target": 12}),
        [f"{KR}.target: must differ from the baseline (12)"],
    ),
    (edits({f"{KR}.weight": -1}), [f"{KR}.weight: -1 is below 0"]),
    (
        edits({f"{KR}.baseline": -1e308, f"{KR}.target": 1e308}),
        [
            f"{KR}.baseline: -1e+308 is not a number from -1e15 to 1e15",
            f"{KR}.target: 1e+308 is not a number from -1e15 to 1e15",
        ],
    ),
    (
        # A whole number too big for a float at all.
        edits({f"{KR}.target": 10**400}),
        [f"{KR}.target: 1.00000e+400 is not a number from -1e15 to 1e15"],
    ),
    (edits({f"{KR}.weight": 1e16}), [f"{KR}.weight: 1e+16 is not a number from 0 to 1e15"]),
    (
        edits({"objectives[0].journeys": ["get-cover", "get-cover"]}),
        ["objectives[0].journeys[1]: 'get-cover' is listed twice (also [0])"],
    ),
    (
        edits({"value_streams[0].status_map": {"Done": "done", "done": "finished"}}),
        [
            "value_streams[0].status_map[\"done\"]: 'done' is mapped twice (also as 'Done'; "
            "statuses are compared without case)",
            "value_streams[0].status_map[\"done\"]: the string 'finished' is not one of new, "
            "active, waiting, done, canceled",
        ],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_FILES)
def test_a_bad_file_is_refused_with_path_named_errors_and_writes_nothing(
    tenant_a, mutate, expected
):
    data = contract()
    mutate(data)
    before, text = history_rows(tenant_a.org), export_text(tenant_a.org)
    with pytest.raises(ModelImportError) as refused:
        do_import(tenant_a.org, data)
    assert refused.value.errors == expected
    assert history_rows(tenant_a.org) == before
    assert export_text(tenant_a.org) == text


def test_every_error_of_a_file_is_reported_at_once_in_file_order(tenant_a):
    data = contract()
    for mutate, _expected in BAD_FILES[:3]:
        mutate(data)
    data["teams"][0]["name"] = ""
    with pytest.raises(ModelImportError) as refused:
        do_import(tenant_a.org, data)
    assert refused.value.errors == [
        "teams[0].name: must not be empty",
        "components[0].layer: 'Nope' is not a layer",
        "value_streams[0].parent: 'x' is not a value stream",
        f"{TP}.value_stream_stage: 'dental/nope' is not a stage",
    ]


def test_another_organizations_objects_cannot_be_named(tenant_a, tenant_b):
    org_b = tenant_b.org
    with organization_context(org_b.pk):
        entity_save(Team(slug="b-team", name="B's team"), organization=org_b)
        value_stream_save(
            organization=org_b, value_stream=ValueStream(slug="b-stream", name="B's stream")
        )
    data = contract()
    data["components"][0]["team"] = "b-team"
    data["value_streams"][0]["parent"] = "b-stream"
    with pytest.raises(ModelImportError) as refused:
        do_import(tenant_a.org, data)
    assert refused.value.errors == [
        "components[0].team: 'b-team' is not a team",
        "value_streams[0].parent: 'b-stream' is not a value stream",
    ]
    # Nor does an import into A touch B's objects of the same slug.
    data = contract()
    data["teams"].append({"slug": "b-team", "name": "A's own"})
    do_import(tenant_a.org, data)
    with organization_context(org_b.pk):
        assert Team.objects.get(organization=org_b, slug="b-team").name == "B's team"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"teams": [}', "the file is not valid JSON: line 1, column 12: Expecting value"),
        (b'{\n  "teams": []\n  "layers": []\n}', "the file is not valid JSON: line 3, column 3"),
        (b'{"teams": ["caf\xe9"]}', "the file is not UTF-8 text: line 1, byte 16 is 0xE9"),
        (b'[{"slug": "x"}]', "the file must hold a JSON object"),
        (b'"layers"', "the file must hold a JSON object"),
        (b"NaN", "the file must hold a JSON object"),
    ],
)
def test_a_file_that_is_not_a_json_object_is_refused_in_one_line(raw, message):
    with pytest.raises(ModelImportError) as refused:
        model_parse(raw)
    assert len(refused.value.errors) == 1
    assert refused.value.errors[0].startswith(message)


def test_a_byte_order_mark_is_accepted():
    assert model_parse(b'\xef\xbb\xbf{"teams": []}') == {"teams": []}


def test_the_export_takes_a_constant_number_of_queries(tenant_a, django_assert_num_queries):
    do_import(tenant_a.org, rich(tenant_a.editor.email))
    with organization_context(tenant_a.org.pk), django_assert_num_queries(17):
        model_export(organization=tenant_a.org)


# --- Commands -------------------------------------------------------------------------


def test_import_model_prints_a_summary_and_export_model_prints_what_it_reads(tenant_a, tmp_path):
    path = tmp_path / "model.json"
    path.write_text(CONTRACT_FILE.read_text())
    out = StringIO()
    call_command("import_model", "--org", tenant_a.org.slug, str(path), stdout=out)
    assert "teams: 1 created, 0 updated, 0 unchanged" in out.getvalue().splitlines()
    assert "layers: 0 created, 0 updated, 7 unchanged" in out.getvalue().splitlines()
    out = StringIO()
    call_command("export_model", "--org", tenant_a.org.slug, stdout=out)
    assert out.getvalue() == canonical(contract())
    # Its own export, read back: no change.
    path.write_text(out.getvalue())
    out = StringIO()
    call_command("import_model", "--org", tenant_a.org.slug, str(path), stdout=out)
    assert "teams: 0 created, 0 updated, 1 unchanged" in out.getvalue().splitlines()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the file (No such file or directory)"),
        ('{"teams": [', "the file is not valid JSON: line 1, column 12"),
        ("[]", "the file must hold a JSON object"),
        ('{"teams": [{"slug": "x"}]}', "teams[0].name: required, but missing; nothing was"),
    ],
)
def test_import_model_refuses_bad_input_in_one_line_and_changes_nothing(
    tenant_a, tmp_path, content, message
):
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    before = history_rows(tenant_a.org)
    with pytest.raises(CommandError) as refused:
        call_command("import_model", "--org", tenant_a.org.slug, str(path))
    assert str(refused.value).startswith(f"{path}: {message}")
    assert "\n" not in str(refused.value)
    assert history_rows(tenant_a.org) == before


def test_import_model_lists_every_error_then_fails(tenant_a, tmp_path):
    data = contract()
    data["teams"][0]["name"] = 7
    data["components"][0]["layer"] = "Nope"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    err = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_model", "--org", tenant_a.org.slug, str(path), stderr=err)
    assert str(refused.value) == f"{path}: 2 errors (above); nothing was imported"
    assert err.getvalue().splitlines() == [
        "teams[0].name: expected a string, got the number 7",
        "components[0].layer: 'Nope' is not a layer",
    ]
    with organization_context(tenant_a.org.pk):
        assert not Team.objects.filter(organization=tenant_a.org).exists()


def test_the_model_commands_need_a_known_organization(tmp_path):
    with pytest.raises(CommandError, match="--org: no organization has the slug 'nope'"):
        call_command("export_model", "--org", "nope")
    with pytest.raises(CommandError, match="--org: no organization has the slug 'nope'"):
        call_command("import_model", "--org", "nope", str(tmp_path / "x.json"))


# --- The page -------------------------------------------------------------------------


def page(org) -> str:
    return f"/o/{org.slug}/model/"


def download(org) -> str:
    return f"/o/{org.slug}/model/export.json"


def upload(raw: bytes, name: str = "model.json") -> dict:
    return {"file": SimpleUploadedFile(name, raw, content_type="application/json")}


def test_an_admin_downloads_and_uploads_the_model(tenant_a):
    client = client_for(tenant_a.admin)
    answer = client.get(page(tenant_a.org))
    assert answer.status_code == 200
    assert download(tenant_a.org).encode() in answer.content

    answer = client.post(page(tenant_a.org), upload(CONTRACT_FILE.read_bytes()))
    assert answer.status_code == 200
    assert b"The model was imported." in answer.content
    assert b"<td>key_results</td>" in answer.content

    answer = client.get(download(tenant_a.org))
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="org-a-model.json"'
    assert answer.content.decode() == canonical(contract())

    answer = client.post(page(tenant_a.org), upload(answer.content))
    assert b"nothing needed to change" in answer.content


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b'{"teams": [{"slug": "x"}], "layers": 1}', "teams[0].name: required, but missing"),
        (b'{"teams": [{"slug": "x"}], "layers": 1}', "layers: expected a list, got the number 1"),
        (b"\xff\xfe{}", "the file looks like UTF-16 text"),
        (b"teams: []", "the file is not valid JSON: line 1, column 1"),
    ],
)
def test_a_bad_upload_shows_every_error_and_imports_nothing(tenant_a, raw, shown):
    client = client_for(tenant_a.admin)
    before = history_rows(tenant_a.org)
    answer = client.post(page(tenant_a.org), upload(raw))
    assert answer.status_code == 400
    assert shown in answer.content.decode()
    assert history_rows(tenant_a.org) == before


def test_an_upload_without_a_file_says_so(tenant_a):
    answer = client_for(tenant_a.admin).post(page(tenant_a.org), {})
    assert answer.status_code == 400
    assert b"Choose a model JSON file to import." in answer.content


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_the_model_page_is_for_admins(tenant_a, role):
    client = client_for(tenant_a.member(role))
    assert client.get(page(tenant_a.org)).status_code == 403
    assert client.get(download(tenant_a.org)).status_code == 403
    answer = client.post(page(tenant_a.org), upload(CONTRACT_FILE.read_bytes()))
    assert answer.status_code == 403
    with organization_context(tenant_a.org.pk):
        assert not Team.objects.filter(organization=tenant_a.org).exists()


def test_another_organizations_model_page_is_not_found(tenant_a, tenant_b):
    client = client_for(tenant_a.admin)
    assert client.get(page(tenant_b.org)).status_code == 404
    assert client.get(download(tenant_b.org)).status_code == 404
    answer = client.post(page(tenant_b.org), upload(CONTRACT_FILE.read_bytes()))
    assert answer.status_code == 404
    with organization_context(tenant_b.org.pk):
        assert not Team.objects.filter(organization=tenant_b.org).exists()


# --- The API --------------------------------------------------------------------------


def api(org) -> str:
    return f"/api/v1/orgs/{org.slug}/model/"


def test_an_admin_reads_and_imports_the_model_through_the_api(tenant_a):
    client = client_for(tenant_a.admin)
    answer = client.post(api(tenant_a.org), CONTRACT_FILE.read_bytes(), "application/json")
    assert answer.status_code == 200
    assert answer.json()["summary"]["teams"] == {"created": 1, "updated": 0, "unchanged": 0}
    answer = client.get(api(tenant_a.org))
    assert answer.status_code == 200
    assert json.dumps(answer.json(), indent=2) + "\n" == canonical(contract())
    answer = client.post(api(tenant_a.org), answer.content, "application/json")
    assert totals(answer.json()["summary"])["unchanged"] == 18


def test_the_api_takes_an_admins_token(tenant_a):
    with organization_context(tenant_a.org.pk):
        key = api_token_create(organization=tenant_a.org, user=tenant_a.admin, name="ci").key
    answer = Client().get(api(tenant_a.org), HTTP_AUTHORIZATION=f"Token {key}")
    assert answer.status_code == 200
    assert answer.json()["layers"][0] == "Business products"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b'{"teams": [{"slug": "x"}]}', ["teams[0].name: required, but missing"]),
        (b'{"teams": [', ["the file is not valid JSON: line 1, column 12: Expecting value"]),
        (
            b"[]",
            [
                "the file must hold a JSON object (with keys such as layers, teams, "
                "product_families), not a list"
            ],
        ),
        (b"", ["the body is empty; send the model JSON"]),
    ],
)
def test_a_bad_body_answers_400_with_every_error(tenant_a, body, errors):
    before = history_rows(tenant_a.org)
    answer = client_for(tenant_a.admin).post(api(tenant_a.org), body, "application/json")
    assert answer.status_code == 400
    assert answer.json() == {"errors": errors}
    assert history_rows(tenant_a.org) == before


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_the_model_api_is_for_admins(tenant_a, role):
    client = client_for(tenant_a.member(role))
    assert client.get(api(tenant_a.org)).status_code == 403
    answer = client.post(api(tenant_a.org), CONTRACT_FILE.read_bytes(), "application/json")
    assert answer.status_code == 403
    with organization_context(tenant_a.org.pk):
        assert not Team.objects.filter(organization=tenant_a.org).exists()


def test_another_organizations_model_api_is_not_found(tenant_a, tenant_b, outsider):
    for user in (tenant_a.admin, outsider):
        client = client_for(user)
        assert client.get(api(tenant_b.org)).status_code == 404
        answer = client.post(api(tenant_b.org), CONTRACT_FILE.read_bytes(), "application/json")
        assert answer.status_code == 404
    with organization_context(tenant_b.org.pk):
        assert not Team.objects.filter(organization=tenant_b.org).exists()


def test_the_model_api_is_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = schema["paths"]["/api/v1/orgs/{org_slug}/model/"]
    assert {"200", "403", "404"} <= set(operations["get"]["responses"])
    assert {"200", "400", "403", "404"} <= set(operations["post"]["responses"])
    assert "application/json" in operations["post"]["requestBody"]["content"]
    errors = schema["components"]["schemas"]["ModelImportErrors"]
    assert errors["properties"]["errors"]["type"] == "array"


def test_touchpoints_take_the_files_order_before_the_ones_it_does_not_name(tenant_a):
    org = tenant_a.org
    data = contract()
    do_import(org, data)
    touchpoints = data["journeys"][0]["stages"][0]["touchpoints"]
    # A new touchpoint first, in a stage that has one the file no longer names.
    touchpoints[0] = {"slug": "call", "name": "Call us", "channel": "phone"}
    do_import(org, data)
    before = history_rows(org)
    counts = do_import(org, data)
    assert totals(counts)["updated"] == 0
    assert history_rows(org) == before
    exported = json.loads(export_text(org))["journeys"][0]["stages"][0]["touchpoints"]
    assert [tp["slug"] for tp in exported] == ["call", "web-quote"]
