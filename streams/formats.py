"""The event CSVs as people read them: the one description behind the import page's
format help, its example files and the event sections of docs/formats.md.

The importer (``streams.ingest.KINDS``) enforces each format; this module takes the
columns from it (their names and order, which are required, which are times) and
adds what a person needs: what each column holds, its allowed values and length,
the kind's rules, and an example. tests/streams/test_formats.py holds the two
together (allowed values, lengths, times and required columns against the
importer's checks; every example imports) and docs/formats.md to this module.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from journeys.models import Journey, JourneyEventType, JourneyStage, Touchpoint
from portfolio.models import Organization
from streams.ingest import EXAMPLE_TIME, KINDS
from streams.models import DeploymentStatus, EventKind, FlowType, StateCategory, ValueStream

DOCS_PATH = "docs/formats.md"
TIME = "time"


@dataclass(frozen=True)
class _Doc:
    """What a column holds, as written by hand for one column of one kind."""

    type: str  # text, slug, key, time, number, one of
    meaning: str
    values: tuple[str, ...] = ()
    max_length: int | None = None


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    type: str
    meaning: str
    values: tuple[str, ...] = ()
    max_length: int | None = None

    @property
    def shape(self) -> str:
        """The type in a few words: ``text, at most 200 characters``, ``one of a, b``."""
        if self.values:
            listed = ", ".join(self.values)
            return f"one of {listed}" if self.type == "one of" else f"{self.type} ({listed})"
        if self.max_length:
            return f"{self.type}, at most {self.max_length} characters"
        return self.type


@dataclass(frozen=True)
class Names:
    """The organization's objects an example names (placeholders in the docs)."""

    value_stream: str
    journey: str
    stage: str
    touchpoint: str


DOC_NAMES = Names(
    value_stream="claims", journey="make-a-claim", stage="submit", touchpoint="web-form"
)


@dataclass(frozen=True)
class EventFormat:
    kind: str
    label: str
    summary: str
    columns: tuple[Column, ...]
    rules: tuple[str, ...]
    example: tuple[
        tuple[str, ...], ...
    ]  # rows, with {value_stream}, {journey}, {stage}, {touchpoint}

    @property
    def header(self) -> str:
        return ",".join(column.name for column in self.columns)

    @property
    def docs_anchor(self) -> str:
        """Where docs/formats.md describes it (GitHub's anchor of its heading)."""
        return f"{DOCS_PATH}#{self.kind}"

    def example_csv(self, names: Names = DOC_NAMES) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(column.name for column in self.columns)
        for row in self.example:
            writer.writerow(value.format(**names.__dict__) for value in row)
        return out.getvalue()


_KEY = "key"
_SLUG = "slug"
_TEXT = "text"

_DOCS: dict[str, dict[str, _Doc]] = {
    "flow_items": {
        "key": _Doc(
            _TEXT,
            "The item's id in your tool (a Jira issue key, say); a known key updates that item.",
            max_length=200,
        ),
        "type": _Doc("", "The Flow Framework's item type.", values=tuple(FlowType.values)),
        "title": _Doc(_TEXT, "What the item is; may be empty.", max_length=500),
        "value_stream": _Doc(_SLUG, "The slug of the value stream the item belongs to."),
        "created_at": _Doc(TIME, "When the item was created."),
    },
    "flow_transitions": {
        "key": _Doc(_KEY, "The key of a flow item, imported before."),
        "at": _Doc(TIME, "When the item entered the state."),
        "state": _Doc(
            "a state category or a mapped tool status",
            "The state the item entered: a category, or a tool status that the item's value "
            "stream maps to one (its status mapping; compared without case).",
            values=tuple(StateCategory.values),
        ),
    },
    "deployments": {
        "key": _Doc(_TEXT, "The deployment's id (a pipeline run, say).", max_length=200),
        "value_stream": _Doc(_SLUG, "The slug of the value stream that deployed."),
        "environment": _Doc(
            _TEXT, "Where it deployed; only production counts in DORA metrics.", max_length=100
        ),
        "deployed_at": _Doc(TIME, "When the deployment finished."),
        "status": _Doc("", "Whether it succeeded.", values=tuple(DeploymentStatus.values)),
    },
    "changes": {
        "key": _Doc(_TEXT, "The change's id (a commit or pull request).", max_length=200),
        "value_stream": _Doc(_SLUG, "The slug of the value stream the change belongs to."),
        "committed_at": _Doc(TIME, "When the change was committed."),
        "deployment": _Doc(_KEY, "The key of the deployment that shipped it, imported before."),
    },
    "incidents": {
        "key": _Doc(_TEXT, "The incident's id.", max_length=200),
        "value_stream": _Doc(_SLUG, "The slug of the value stream it affected."),
        "opened_at": _Doc(TIME, "When it was opened."),
        "resolved_at": _Doc(TIME, "When it was resolved; empty while it is open."),
        "deployment": _Doc(
            _KEY, "The key of the deployment that caused it, imported before; may be empty."
        ),
    },
    "journey_events": {
        "key": _Doc(_TEXT, "The event's id; a known key updates that event.", max_length=200),
        "journey": _Doc(_SLUG, "The slug of the journey."),
        "type": _Doc(
            "", "What happened (see the rules below).", values=tuple(JourneyEventType.values)
        ),
        "at": _Doc(TIME, "When it happened."),
        "customer": _Doc(_TEXT, "Who it happened to.", max_length=200),
        "ref": _Doc(
            _TEXT, "What it is about: an application, a claim, a contract.", max_length=200
        ),
        "value": _Doc(
            "number",
            "A decimal number with a point (9, 240.50), less than 10^14 either way; "
            "what it means depends on the type.",
        ),
        "stage": _Doc(_SLUG, "The slug of a stage of the journey."),
        "touchpoint": _Doc(
            _SLUG, "The slug of a touchpoint of the journey; in the stage, when both are given."
        ),
    },
}

_SUMMARIES = {
    "flow_items": "One row per work item of a value stream: features, defects, risks, debt.",
    "flow_transitions": (
        "One row per change of state of a flow item: the history the flow metrics are "
        "computed from."
    ),
    "deployments": "One row per deployment of a value stream.",
    "changes": "One row per change (commit, pull request) shipped by a deployment.",
    "incidents": "One row per incident in a value stream.",
    "journey_events": (
        "One row per event of a customer on a journey: what the journey KPIs are computed from."
    ),
}

_RULES = {
    "flow_items": (
        "An item's state, start and end come from its transitions; a new item is in state new.",
    ),
    "flow_transitions": (
        "Import the flow items first: a transition names its item by key.",
        "Upserted by flow item and time, not by key: an item has many transitions.",
        "Transitions of one item never share an instant: two rows of one item with the "
        "same at are refused, and so is a row whose at an earlier import gave another state.",
        "A transition already imported is unchanged; transitions are never updated or deleted.",
        "canceled: the item is neither in progress nor delivered.",
    ),
    "deployments": (),
    "changes": ("Import the deployments first: a change names the deployment that shipped it.",),
    "incidents": (
        "resolved_at is not before opened_at.",
        "Import the deployments first when an incident names one.",
    ),
    "journey_events": (
        "survey: value is the answer, a whole number from 0 to 10.",
        "stage_entered: stage is required, and customer or ref (ref counts the journey's "
        "instances when given: an application, a claim; else the customer).",
        "case_resolved: value is the number of contacts it took, a whole number, 1 or more.",
        "renewal_due and renewed: ref (the contract) is required.",
        "acquired and churned: customer is required.",
        "acquisition_cost and claim_paid: value is the amount, 0 or more.",
    ),
}

_EXAMPLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "flow_items": (
        ("CLM-101", "feature", "Upload receipts from the app", "{value_stream}", EXAMPLE_TIME),
        (
            "CLM-102",
            "defect",
            "Claim form loses the date",
            "{value_stream}",
            "2026-07-02T14:05:00+02:00",
        ),
    ),
    "flow_transitions": (
        ("CLM-101", "2026-07-02T08:00:00Z", "active"),
        ("CLM-101", "2026-07-03T17:00:00Z", "waiting"),
        ("CLM-101", "2026-07-06T16:45:00Z", "done"),
        ("CLM-102", "2026-07-03T10:00:00Z", "active"),
    ),
    "deployments": (
        ("deploy-501", "{value_stream}", "production", "2026-07-06T16:00:00Z", "success"),
        ("deploy-502", "{value_stream}", "production", "2026-07-07T11:20:00Z", "failure"),
    ),
    "changes": (
        ("a1b2c3d", "{value_stream}", "2026-07-05T13:12:00Z", "deploy-501"),
        ("e4f5a6b", "{value_stream}", "2026-07-07T09:02:00Z", "deploy-502"),
    ),
    "incidents": (
        ("INC-7", "{value_stream}", "2026-07-07T11:40:00Z", "2026-07-07T13:05:00Z", "deploy-502"),
        ("INC-8", "{value_stream}", "2026-07-08T08:00:00Z", "", ""),
    ),
    "journey_events": (
        (
            "ev-1001",
            "{journey}",
            "stage_entered",
            EXAMPLE_TIME,
            "cust-42",
            "claim-77",
            "",
            "{stage}",
            "{touchpoint}",
        ),
        (
            "ev-1002",
            "{journey}",
            "claim_paid",
            "2026-07-04T10:00:00Z",
            "cust-42",
            "claim-77",
            "240.50",
            "",
            "",
        ),
        (
            "ev-1003",
            "{journey}",
            "survey",
            "2026-07-05T12:00:00Z",
            "cust-42",
            "",
            "9",
            "",
            "{touchpoint}",
        ),
    ),
}


def _format(kind: str) -> EventFormat:
    spec = KINDS[kind]
    docs = _DOCS[kind]
    columns = tuple(
        Column(
            name=name,
            # A column the bulk API may leave out is one the CSV may leave empty.
            required=name not in spec.optional,
            type=docs[name].type or "one of",
            meaning=docs[name].meaning,
            values=docs[name].values,
            max_length=docs[name].max_length,
        )
        for name in spec.columns
    )
    return EventFormat(
        kind=kind,
        label=EventKind(kind).label,
        summary=_SUMMARIES[kind],
        columns=columns,
        rules=_RULES[kind],
        example=_EXAMPLES[kind],
    )


# In the order to import them: a kind names records of the kinds before it.
FORMATS: dict[str, EventFormat] = {kind: _format(kind) for kind in EventKind.values}


def example_names(organization: Organization) -> Names:
    """The organization's own value stream, journey, stage and touchpoint for the
    examples, so that they import as they are: the first by slug (a stage and a
    touchpoint in journey order), else the docs' placeholders."""
    stream = ValueStream.objects.filter(organization=organization).order_by("slug").first()
    journeys = Journey.objects.filter(organization=organization).order_by("slug")
    # Prefer a journey whose first stage has a touchpoint, then one with a stage.
    touchpoint = (
        Touchpoint.objects.filter(organization=organization, journey__in=journeys)
        .select_related("journey", "stage")
        .order_by("journey__slug", "stage__position", "position")
        .first()
    )
    if touchpoint is not None:
        journey, stage = touchpoint.journey, touchpoint.stage
    else:
        stage = (
            JourneyStage.objects.filter(organization=organization, journey__in=journeys)
            .select_related("journey")
            .order_by("journey__slug", "position")
            .first()
        )
        journey = stage.journey if stage is not None else journeys.first()
    return Names(
        value_stream=stream.slug if stream else DOC_NAMES.value_stream,
        journey=journey.slug if journey else DOC_NAMES.journey,
        stage=stage.slug if stage else ("" if journey else DOC_NAMES.stage),
        touchpoint=touchpoint.slug if touchpoint else ("" if journey else DOC_NAMES.touchpoint),
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def kind_markdown(fmt: EventFormat) -> str:
    """The kind's section of docs/formats.md, exactly (a test keeps the file to it)."""
    lines = [
        f"### `{fmt.kind}`",
        "",
        fmt.summary,
        "",
        "| column | required | type | what it holds |",
        "|---|---|---|---|",
        *(
            f"| `{c.name}` | {'yes' if c.required else 'no'} | {_cell(c.shape)}"
            f" | {_cell(c.meaning)} |"
            for c in fmt.columns
        ),
        "",
    ]
    if fmt.rules:
        lines += [*(f"- {rule}" for rule in fmt.rules), ""]
    lines += ["```csv", fmt.example_csv().rstrip("\n"), "```", ""]
    return "\n".join(lines)
