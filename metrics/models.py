"""Stored KPI snapshots: every metric of a subject for one week, month or quarter."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portfolio.jobs import Job
from portfolio.models import ModelEntity, OrgOwned, quarter_validator, validate_quantity


class PeriodKind(models.TextChoices):
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"


class KpiSnapshot(OrgOwned):
    """All metric keys of one subject (a value stream, or a journey) for one period.

    Pages read these; the workers recompute them from the events. One row per
    (organization, subject, period), whatever races the recomputes run.
    """

    value_stream = models.ForeignKey(
        "streams.ValueStream", on_delete=models.CASCADE, null=True, related_name="snapshots"
    )
    journey = models.ForeignKey(
        "journeys.Journey", on_delete=models.CASCADE, null=True, related_name="snapshots"
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()  # inclusive, in the organization's time zone
    period_end = models.DateField()  # inclusive
    values = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_stream__isnull=False, journey__isnull=True)
                | models.Q(value_stream__isnull=True, journey__isnull=False),
                name="kpisnapshot_one_subject",
            ),
            models.UniqueConstraint(
                fields=["organization", "value_stream", "period_kind", "period_start"],
                condition=models.Q(value_stream__isnull=False),
                name="kpisnapshot_stream_period_uniq",
            ),
            models.UniqueConstraint(
                fields=["organization", "journey", "period_kind", "period_start"],
                condition=models.Q(journey__isnull=False),
                name="kpisnapshot_journey_period_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_kind} {self.period_start}"


class RecomputeState(OrgOwned):
    """Whether an organization's snapshots are stale: ingestion marks it dirty and
    queues a recompute; the first recompute to run clears it, so a burst of
    imports costs one recompute (the debounce)."""

    dirty_since = models.DateTimeField(null=True)
    last_run_at = models.DateTimeField(null=True)
    # Bumped in the same transaction as every change of the organization's events
    # and of its snapshots: cached metrics, charts and kpis answers are keyed by it
    # (metrics.cache), so a commit makes every earlier entry unreachable.
    version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="recomputestate_org_uniq")
        ]

    def __str__(self) -> str:
        return f"recompute state of {self.organization_id}"


class ManualKpiValue(ModelEntity):
    """A KPI value the organization measures elsewhere (e.g. NPS from a survey tool),
    entered by hand for one period of one subject.

    Kept apart from the computed snapshots: pages show the two side by side and
    say which is which; nothing computed ever overwrites a manual value.
    """

    value_stream = models.ForeignKey(
        "streams.ValueStream", on_delete=models.CASCADE, null=True, related_name="manual_kpis"
    )
    journey = models.ForeignKey(
        "journeys.Journey", on_delete=models.CASCADE, null=True, related_name="manual_kpis"
    )
    key = models.CharField(max_length=60)  # a key of metrics.definitions.METRICS
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()  # the period's first day, in the organization's zone
    period_end = models.DateField()  # its last day
    value = models.FloatField(validators=[validate_quantity])
    note = models.CharField(max_length=500, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-period_start", "key", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_stream__isnull=False, journey__isnull=True)
                | models.Q(value_stream__isnull=True, journey__isnull=False),
                name="manualkpivalue_one_subject",
            ),
            models.UniqueConstraint(
                fields=["organization", "value_stream", "key", "period_kind", "period_start"],
                condition=models.Q(value_stream__isnull=False),
                name="manualkpivalue_stream_uniq",
            ),
            models.UniqueConstraint(
                fields=["organization", "journey", "key", "period_kind", "period_start"],
                condition=models.Q(journey__isnull=False),
                name="manualkpivalue_journey_uniq",
            ),
        ]

    @property
    def subject_type(self) -> str:
        return "journey" if self.journey_id else "value_stream"

    @property
    def subject_slug(self) -> str:
        return (self.journey or self.value_stream).slug

    def __str__(self) -> str:
        return f"{self.key} {self.period_kind} {self.period_start}: {self.value}"


# --- The quarterly report (metrics.reports) -------------------------------------------


class QuarterlyReport(OrgOwned):
    """The figures of one organization's quarterly report
    (docs/metrics.md#the-quarterly-report), computed once and kept: every later export
    of a finished quarter reads these, so it reproduces the same numbers whatever events
    arrive afterwards, until an admin recomputes them. ``data`` holds everything the renderers draw
    (``metrics.reports.data``)."""

    quarter = models.CharField(max_length=7, validators=[quarter_validator])
    data = models.JSONField(default=dict)
    # When the figures were computed; for a quarter still in progress they are
    # computed again by every export until the first one after the quarter's end.
    frozen_at = models.DateTimeField(default=timezone.now)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The figures stop at the day they were computed: the quarter had not ended.
    in_progress = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "quarter"], name="quarterlyreport_org_quarter_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"report {self.quarter}"


class ReportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    XLSX = "xlsx", "Excel (XLSX)"
    CSV = "csv", "CSV"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReportExport(Job):
    """One request to export a quarter's report in some formats, built by a worker
    (metrics.reports.exports) as a background job (portfolio.jobs); its files are
    ``ReportFile`` rows."""

    quarter = models.CharField(max_length=7, validators=[quarter_validator])
    formats = models.JSONField(default=list)  # ReportFormat values, in that order
    # Recompute the quarter's frozen figures first (admins only).
    recompute = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    step = models.CharField(max_length=100, blank=True)  # what the worker is doing now
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The frozen figures' time the files were built from.
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "-created_at"], name="reportexport_org_created_idx"
            )
        ]

    def __str__(self) -> str:
        return f"export of {self.quarter} ({', '.join(self.formats)})"


class ReportFile(OrgOwned):
    """One built file of an export, kept in the database so that row-level security
    guards it like every other row of the organization."""

    export = models.ForeignKey(ReportExport, on_delete=models.CASCADE, related_name="files")
    format = models.CharField(max_length=10, choices=ReportFormat.choices)
    filename = models.CharField(max_length=200)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "export", "format"], name="reportfile_export_format_uniq"
            )
        ]

    def __str__(self) -> str:
        return self.filename
