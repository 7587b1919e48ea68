"""The manual KPI values page: enter a value per period for a KPI measured elsewhere."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from journeys.models import Journey
from metrics.definitions import METRICS, Subject, keys_for
from metrics.manual import manual_value_delete, manual_value_set
from metrics.models import ManualKpiValue, PeriodKind
from portfolio.models import Role, may_edit
from portfolio.tenancy import get_for_request, org_view
from streams.models import ValueStream

PAGE_SIZE = 50


def _subjects(request: HttpRequest) -> list[tuple[str, str]]:
    """The form's subjects as ("journey:<id>" or "value_stream:<id>", label)."""
    org = request.organization
    journeys = Journey.objects.filter(organization=org).order_by("name")
    streams = ValueStream.objects.filter(organization=org).order_by("name")
    return [(f"journey:{j.pk}", f"Journey: {j.name}") for j in journeys] + [
        (f"value_stream:{s.pk}", f"Value stream: {s.name}") for s in streams
    ]


def _page(
    request: HttpRequest,
    *,
    form: dict | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = ManualKpiValue.objects.filter(organization=request.organization).select_related(
        "journey", "value_stream", "entered_by"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for manual in page:
        manual.label = METRICS[manual.key].label if manual.key in METRICS else manual.key
    return render(
        request,
        "metrics/manual.html",
        {
            "page_obj": page,
            "subjects": _subjects(request),
            "keys": {
                "Journey KPIs": [(k, METRICS[k].label) for k in keys_for(Subject.JOURNEY)],
                "Value stream metrics": [
                    (k, METRICS[k].label) for k in keys_for(Subject.VALUE_STREAM)
                ],
            },
            "period_kinds": PeriodKind.choices,
            "form": form or {"period_kind": PeriodKind.QUARTER},
            "errors": errors or [],
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.VIEWER)
def manual_values_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    if not may_edit(request.membership):
        return _page(request, errors=["Entering values needs the editor role."], status=403)
    form = {
        name: request.POST.get(name, "").strip()
        for name in ("subject", "key", "period_kind", "period_start", "value", "note")
    }
    errors = []
    kind, _, raw_id = form["subject"].partition(":")
    model = {"journey": Journey, "value_stream": ValueStream}.get(kind)
    subject = None
    if model is not None and raw_id.isdigit():
        subject = model.objects.filter(organization=request.organization, pk=int(raw_id)).first()
    if subject is None:
        errors.append("Subject: choose a journey or a value stream.")
    try:
        start = dt.date.fromisoformat(form["period_start"])
    except ValueError:
        errors.append(f"Period start: '{form['period_start']}' is not a date (YYYY-MM-DD).")
        start = None
    try:
        value = float(form["value"])
    except ValueError:
        errors.append(f"Value: '{form['value']}' is not a number.")
        value = None
    if not errors:
        try:
            manual_value_set(
                organization=request.organization,
                subject=subject,
                key=form["key"],
                period_kind=form["period_kind"],
                period_start=start,
                value=value,
                note=form["note"],
                user=request.user,
            )
        except ValidationError as exc:
            errors = [
                f"{field.replace('_', ' ').capitalize()}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
    if errors:
        return _page(request, form=form, errors=errors, status=400)
    return redirect("manual_kpis", org_slug=request.organization.slug)


@require_POST
@org_view(Role.EDITOR)
def manual_value_delete_view(request: HttpRequest, manual_kpi_id: int) -> HttpResponse:
    manual = get_for_request(request, ManualKpiValue.objects.all(), pk=manual_kpi_id)
    manual_value_delete(organization=request.organization, manual=manual)
    return redirect("manual_kpis", org_slug=request.organization.slug)
