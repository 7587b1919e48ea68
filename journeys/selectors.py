"""Reads for journeys: the list, the journey map and its emotion curve, the form choices.

Every function takes the organization explicitly; the querysets select and
prefetch what their page shows, so a page's query count does not grow with
its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from journeys.models import Journey, JourneyStage, Touchpoint
from portfolio.models import Component, Organization, Product
from streams.models import Stage

# The journey map lays its stage columns out at this width and gap (CSS pixels,
# static/css/journeys.css: .journey-columns); the emotion curve above them uses
# the same numbers so that each stage's point sits over the middle of its column.
COLUMN_WIDTH = 272
COLUMN_GAP = 16


def _count_of(model: type[JourneyStage] | type[Touchpoint]) -> Coalesce:
    """The number of ``model`` rows of each journey, as a correlated subquery.

    Two subqueries instead of two joined ``Count``s: joining stages and
    touchpoints would multiply the rows of a journey by each other.
    """
    rows = (
        model.objects.filter(organization=OuterRef("organization"), journey=OuterRef("pk"))
        .order_by()
        .values("journey")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def journeys_list(*, organization: Organization, search: str = "") -> QuerySet[Journey]:
    """The organization's journeys with their stage and touchpoint counts, by name.

    ``search`` matches the name or the persona, case-insensitively.
    """
    qs = Journey.objects.filter(organization=organization)
    search = search.strip()
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(persona__icontains=search))
    return (
        qs.select_related("product")
        .annotate(stage_count=_count_of(JourneyStage), touchpoint_count=_count_of(Touchpoint))
        .order_by("name", "id")
    )


def journey_for_map(*, organization: Organization) -> QuerySet[Journey]:
    """Journeys with what the map's header shows (fetch one with ``get_for_request``)."""
    return Journey.objects.filter(organization=organization).select_related("product")


def touchpoints_for_map(*, organization: Organization) -> QuerySet[Touchpoint]:
    """Touchpoints with the value-stream stage and the components (and teams) serving them."""
    return (
        Touchpoint.objects.filter(organization=organization)
        .select_related("value_stream_stage__value_stream")
        .prefetch_related(
            Prefetch(
                "components",
                queryset=Component.objects.filter(organization=organization)
                .select_related("team")
                .order_by("name", "id"),
            )
        )
        .order_by("position", "id")
    )


def journey_stages(*, organization: Organization, journey: Journey) -> list[JourneyStage]:
    """The journey's stages in order, each with its touchpoints and what serves them."""
    return list(
        JourneyStage.objects.filter(organization=organization, journey=journey)
        .prefetch_related(
            Prefetch("touchpoints", queryset=touchpoints_for_map(organization=organization))
        )
        .order_by("position", "id")
    )


def touchpoint_for_card(*, organization: Organization) -> QuerySet[Touchpoint]:
    """Touchpoints with what one card shows (fetch one with ``get_for_request``)."""
    return touchpoints_for_map(organization=organization).select_related("stage")


def products_for_choice(*, organization: Organization) -> QuerySet[Product]:
    return Product.objects.filter(organization=organization).order_by("name", "id")


def components_for_choice(*, organization: Organization) -> QuerySet[Component]:
    return (
        Component.objects.filter(organization=organization)
        .select_related("team")
        .order_by("name", "id")
    )


def value_stream_stages_for_choice(*, organization: Organization) -> QuerySet[Stage]:
    """Every value-stream stage, grouped by value stream (in its order) for a select."""
    return (
        Stage.objects.filter(organization=organization)
        .select_related("value_stream")
        .order_by("value_stream__name", "value_stream_id", "position", "id")
    )


# --- The emotion curve -----------------------------------------------------------

EMOTION_MIN, EMOTION_MAX = -2, 2
EMOTION_LABELS = {
    -2: "very negative",
    -1: "negative",
    0: "neutral",
    1: "positive",
    2: "very positive",
}


def emotion_label(value: int | None) -> str:
    return EMOTION_LABELS.get(value, "not scored") if value is not None else "not scored"


def emotion_score(value: int | None) -> str:
    """The score with its sign: +1, 0, -2 (written with a real minus sign); empty if not scored."""
    if value is None:
        return ""
    return f"+{value}" if value > 0 else str(value).replace("-", "\u2212")


@dataclass(frozen=True)
class CurvePoint:
    x: float
    y: float
    emotion: int
    stage: str

    @property
    def text(self) -> str:
        return emotion_score(self.emotion)

    @property
    def label_y(self) -> float:
        """Where the score is written: above the point, or below it at the very top."""
        return self.y - 9 if self.emotion < EMOTION_MAX else self.y + 17

    @property
    def description(self) -> str:
        return f"{self.stage}: {self.text} ({emotion_label(self.emotion)})"


@dataclass(frozen=True)
class CurveGap:
    x: float
    stage: str


@dataclass(frozen=True)
class CurveLevel:
    y: float
    value: int
    text: str


@dataclass(frozen=True)
class EmotionCurve:
    """Coordinates of a server-drawn SVG: one point per scored stage, lines through
    consecutive scored stages, a gap mark for each stage without a score."""

    width: int
    height: int
    points: list[CurvePoint]
    # "x,y x,y ..." for each run of consecutive scored stages (two points or more).
    lines: list[str]
    gaps: list[CurveGap]
    levels: list[CurveLevel]

    @property
    def zero_y(self) -> float:
        return next(level.y for level in self.levels if level.value == 0)

    @property
    def summary(self) -> str:
        if not self.points:
            return "Emotion curve: no stage is scored yet."
        return "Emotion curve: " + "; ".join(p.description for p in self.points) + "."


def emotion_curve(
    stages: Sequence[JourneyStage],
    *,
    column_width: int = COLUMN_WIDTH,
    gap: int = COLUMN_GAP,
    height: int = 132,
    padding: int = 22,
) -> EmotionCurve:
    """Lay the stages' emotions (-2..+2, docs/metrics.md#customer-journeys) over the columns.

    Stage ``i``'s point is at the middle of column ``i``; +2 is at the top,
    -2 at the bottom. A stage without an emotion breaks the line.
    """
    n = len(stages)
    width = max(n * column_width + max(n - 1, 0) * gap, column_width)
    step = (height - 2 * padding) / (EMOTION_MAX - EMOTION_MIN)

    def y_of(value: int) -> float:
        return round(padding + (EMOTION_MAX - value) * step, 1)

    points: list[CurvePoint] = []
    gaps: list[CurveGap] = []
    runs: list[list[CurvePoint]] = [[]]
    for i, stage in enumerate(stages):
        x = round(i * (column_width + gap) + column_width / 2, 1)
        if stage.emotion is None:
            gaps.append(CurveGap(x=x, stage=stage.name))
            runs.append([])
            continue
        point = CurvePoint(x=x, y=y_of(stage.emotion), emotion=stage.emotion, stage=stage.name)
        points.append(point)
        runs[-1].append(point)
    lines = [" ".join(f"{p.x:g},{p.y:g}" for p in run) for run in runs if len(run) > 1]
    levels = [
        CurveLevel(y=y_of(v), value=v, text=emotion_score(v))
        for v in range(EMOTION_MAX, EMOTION_MIN - 1, -1)
    ]
    return EmotionCurve(
        width=width, height=height, points=points, lines=lines, gaps=gaps, levels=levels
    )
