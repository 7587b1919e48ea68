"""Pages for journeys: list, journey map with touchpoints and the emotion curve.

Reading works without JavaScript. Edits post a form: with htmx the answer is
the partial to swap (the journey board, a touchpoint card, the header); a
form with errors comes back in place, with status 200 because htmx does not
swap 4xx answers; without htmx a successful post redirects to the map and a
form with errors is shown on its own page with status 400.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from journeys import selectors, services
from journeys.forms import (
    FLAG_LABELS,
    FlagForm,
    JourneyForm,
    JourneyStageAddForm,
    JourneyStageForm,
    MoveForm,
    TouchpointForm,
)
from journeys.models import Journey, JourneyStage, Touchpoint
from portfolio.models import Role, may_edit
from portfolio.tenancy import get_for_request, org_view

LIST = "journeys/list.html"
MAP = "journeys/map.html"
EDIT = "journeys/edit.html"
PAGE_SIZE = 25


def _add_service_errors(form: Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names if the
    form has that field, else above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _map_url(journey_or_id: Journey | int, org_slug: str, anchor: str = "") -> str:
    pk = journey_or_id.pk if isinstance(journey_or_id, Journey) else journey_or_id
    url = reverse("journey_map", kwargs={"org_slug": org_slug, "journey_id": pk})
    return f"{url}#{anchor}" if anchor else url


# --- The list ----------------------------------------------------------------------


def _list_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    org = request.organization
    search = request.GET.get("q", "").strip()
    page = Paginator(selectors.journeys_list(organization=org, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    can_edit = may_edit(request.membership)
    return {
        "page": page,
        "q": search,
        "form": JourneyForm(organization=org) if can_edit else None,
        **extra,
    }


@require_GET
@org_view()
def journey_list(request: HttpRequest) -> HttpResponse:
    template = f"{LIST}#results" if request.htmx else LIST
    return render(request, template, _list_context(request))


@require_POST
@org_view(Role.EDITOR)
def journey_create(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = JourneyForm(request.POST, organization=org)
    if form.is_valid():
        try:
            journey = services.journey_save(organization=org, journey=form.save(commit=False))
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            url = _map_url(journey, org.slug)
            messages.success(request, f"Journey “{journey.name}” was created.")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        return render(request, f"{LIST}#create-form", {"form": form})
    return render(request, LIST, _list_context(request, form=form), status=400)


# --- The journey map ---------------------------------------------------------------


def _board_context(request: HttpRequest, journey: Journey, **extra: Any) -> dict[str, Any]:
    stages = selectors.journey_stages(organization=request.organization, journey=journey)
    return {
        "journey": journey,
        "stages": stages,
        "curve": selectors.emotion_curve(stages),
        "touchpoint_count": sum(len(stage.touchpoints.all()) for stage in stages),
        "stage_add_form": JourneyStageAddForm(),
        "flag_labels": FLAG_LABELS,
        **extra,
    }


def _board(request: HttpRequest, journey: Journey, **extra: Any) -> HttpResponse:
    """The board (curve and columns) after a change, swapped in place of the old one."""
    if not request.htmx:
        if extra.get("board_error"):
            messages.error(request, extra["board_error"])
        return redirect(_map_url(journey, request.organization.slug))
    context = _board_context(request, journey, **extra)
    response = _with_header(request, render(request, f"{MAP}#board", context), context)
    return reswap(retarget(response, "#journey-board"), "outerHTML")


def _with_header(request: HttpRequest, response: HttpResponse, context: dict) -> HttpResponse:
    """Append the header as an out-of-band swap: its stage and touchpoint counts change too."""
    header = render_to_string(f"{MAP}#header", {**context, "oob": True}, request=request)
    response.content += header.encode()
    return response


def _form(
    request: HttpRequest, partial: str, context: dict[str, Any], *, title: str, invalid: bool
) -> HttpResponse:
    """An edit form: the partial for htmx, else a page of its own (reachable without JS)."""
    if request.htmx:
        return render(request, f"{MAP}#{partial}", context)
    context |= {"form_partial": f"{MAP}#{partial}", "title": title}
    return render(request, EDIT, context, status=400 if invalid else 200)


@require_GET
@org_view()
def journey_map(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_for_request(
        request, selectors.journey_for_map(organization=request.organization), pk=journey_id
    )
    # htmx asks for the map's body when a form is cancelled; it picks the part it
    # needs (hx-select), so one answer serves every "Cancel" link.
    template = f"{MAP}#map-body" if request.htmx else MAP
    return render(request, template, _board_context(request, journey))


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def journey_edit(request: HttpRequest, journey_id: int) -> HttpResponse:
    org = request.organization
    journey = get_for_request(request, selectors.journey_for_map(organization=org), pk=journey_id)
    name = journey.name  # the form writes submitted values onto the instance
    form = JourneyForm(request.POST or None, instance=journey, organization=org)
    if request.method == "POST" and form.is_valid():
        try:
            journey = services.journey_save(organization=org, journey=form.save(commit=False))
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            if not request.htmx:
                return redirect(_map_url(journey, org.slug))
            journey = selectors.journey_for_map(organization=org).get(pk=journey.pk)
            return render(request, f"{MAP}#header", _board_context(request, journey))
    return _form(
        request,
        "journey-form",
        {"journey": journey, "form": form},
        title=f"Edit the journey {name}",
        invalid=request.method == "POST",
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def journey_delete(request: HttpRequest, journey_id: int) -> HttpResponse:
    org = request.organization
    journey = get_for_request(request, Journey, pk=journey_id)
    if request.method == "GET":
        return render(request, "journeys/delete.html", {"journey": journey})
    try:
        services.journey_delete(organization=org, journey=journey)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        url = _map_url(journey, org.slug)
    else:
        messages.success(request, f"Journey “{journey.name}” was deleted.")
        url = reverse("journey_list", kwargs={"org_slug": org.slug})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- Stages ------------------------------------------------------------------------


@require_POST
@org_view(Role.EDITOR)
def journey_stage_add(request: HttpRequest, journey_id: int) -> HttpResponse:
    org = request.organization
    journey = get_for_request(request, selectors.journey_for_map(organization=org), pk=journey_id)
    form = JourneyStageAddForm(request.POST)
    if form.is_valid():
        try:
            stage = JourneyStage(journey=journey, name=form.cleaned_data["name"])
            services.journey_stage_save(organization=org, stage=stage)
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            return _board(request, journey)
    if request.htmx:
        return _board(request, journey, stage_add_form=form)
    return _form(
        request,
        "stage-add",
        {"journey": journey, "stage_add_form": form},
        title="Add a stage",
        invalid=True,
    )


def _stage(request: HttpRequest, journey_stage_id: int) -> JourneyStage:
    return get_for_request(
        request,
        JourneyStage.objects.select_related("journey__product"),
        pk=journey_stage_id,
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def journey_stage_edit(request: HttpRequest, journey_stage_id: int) -> HttpResponse:
    org = request.organization
    stage = _stage(request, journey_stage_id)
    # Ids unique on the map page, where several forms may be open at once.
    form = JourneyStageForm(request.POST or None, instance=stage, auto_id=f"stage{stage.pk}_%s")
    if request.method == "POST" and form.is_valid():
        try:
            services.journey_stage_save(organization=org, stage=form.save(commit=False))
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            return _board(request, stage.journey)
    return _form(
        request,
        "stage-form",
        {"journey": stage.journey, "stage": stage, "form": form},
        title=f"Edit the stage {stage.name}",
        invalid=request.method == "POST",
    )


@require_POST
@org_view(Role.EDITOR)
def journey_stage_delete(request: HttpRequest, journey_stage_id: int) -> HttpResponse:
    org = request.organization
    stage = _stage(request, journey_stage_id)
    try:
        services.journey_stage_delete(organization=org, stage=stage)
    except ValidationError as exc:
        return _board(request, stage.journey, board_error=" ".join(exc.messages))
    return _board(request, stage.journey)


@require_POST
@org_view(Role.EDITOR)
def journey_stage_move(request: HttpRequest, journey_stage_id: int) -> HttpResponse:
    org = request.organization
    stage = _stage(request, journey_stage_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _board(request, stage.journey, board_error="Move a stage left or right.")
    services.journey_stage_move(organization=org, stage=stage, offset=form.offset)
    return _board(request, stage.journey)


@require_POST
@org_view(Role.EDITOR)
def journey_stage_flag(request: HttpRequest, journey_stage_id: int) -> HttpResponse:
    org = request.organization
    stage = _stage(request, journey_stage_id)
    form = FlagForm(request.POST)
    if not form.is_valid():
        return _board(
            request, stage.journey, board_error="Choose the entry, work start or conversion flag."
        )
    services.journey_stage_save(
        organization=org, stage=stage, set_flags=[form.cleaned_data["flag"]]
    )
    return _board(request, stage.journey)


# --- Touchpoints -------------------------------------------------------------------


def _touchpoint_save(request: HttpRequest, form: TouchpointForm) -> Touchpoint | None:
    """Save a valid form through the service; None (errors on the form) if it refuses."""
    if not form.is_valid():
        return None
    try:
        return services.touchpoint_save(
            organization=request.organization,
            touchpoint=form.save(commit=False),
            components=form.cleaned_data["components"],
        )
    except ValidationError as exc:
        _add_service_errors(form, exc)
        return None


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def journey_touchpoint_add(request: HttpRequest, journey_stage_id: int) -> HttpResponse:
    org = request.organization
    stage = _stage(request, journey_stage_id)
    touchpoint = Touchpoint(stage=stage, journey=stage.journey)
    form = TouchpointForm(
        request.POST or None,
        instance=touchpoint,
        organization=org,
        journey=stage.journey,
        auto_id=f"new-touchpoint{stage.pk}_%s",
    )
    if request.method == "POST" and _touchpoint_save(request, form) is not None:
        return _board(request, stage.journey)
    return _form(
        request,
        "touchpoint-form",
        {"journey": stage.journey, "stage": stage, "tp": None, "form": form},
        title=f"Add a touchpoint to {stage.name}",
        invalid=request.method == "POST",
    )


def _touchpoint(request: HttpRequest, touchpoint_id: int) -> Touchpoint:
    return get_for_request(
        request,
        selectors.touchpoint_for_card(organization=request.organization).select_related(
            "journey__product"
        ),
        pk=touchpoint_id,
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def journey_touchpoint_edit(request: HttpRequest, touchpoint_id: int) -> HttpResponse:
    org = request.organization
    touchpoint = _touchpoint(request, touchpoint_id)
    stage_before = touchpoint.stage_id
    form = TouchpointForm(
        request.POST or None,
        instance=touchpoint,
        organization=org,
        journey=touchpoint.journey,
        auto_id=f"touchpoint{touchpoint.pk}_%s",
    )
    if request.method == "POST" and _touchpoint_save(request, form) is not None:
        if not request.htmx or touchpoint.stage_id != stage_before:
            # Moved to another stage: both columns change.
            return _board(request, touchpoint.journey)
        fresh = _touchpoint(request, touchpoint.pk)
        return render(request, f"{MAP}#touchpoint", {"tp": fresh})
    return _form(
        request,
        "touchpoint-form",
        {"journey": touchpoint.journey, "stage": touchpoint.stage, "tp": touchpoint, "form": form},
        title=f"Edit the touchpoint {touchpoint.name}",
        invalid=request.method == "POST",
    )


@require_POST
@org_view(Role.EDITOR)
def journey_touchpoint_delete(request: HttpRequest, touchpoint_id: int) -> HttpResponse:
    touchpoint = _touchpoint(request, touchpoint_id)
    services.touchpoint_delete(organization=request.organization, touchpoint=touchpoint)
    if request.htmx:
        # The card swaps itself for nothing (it is gone); the header's counts change.
        journey = selectors.journey_for_map(organization=request.organization).get(
            pk=touchpoint.journey_id
        )
        return _with_header(request, HttpResponse(""), _board_context(request, journey))
    return redirect(_map_url(touchpoint.journey_id, request.organization.slug))
