"""Pages for value streams: list, cascade tree, detail with the inline stage editor,
status mapping, and the value stream map."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portfolio.entities import history_of, unique_slug
from portfolio.entity_views import _errors_to_form
from portfolio.models import Component, Role
from portfolio.okr_views import stream_objectives_context
from portfolio.tenancy import get_for_request, org_view, require_role
from streams import selectors, services
from streams.forms import StageNameForm, StatusMapForm, StreamFilterForm, ValueStreamForm
from streams.models import Stage, ValueStream

PAGE_SIZE = 50


def _save_stream(request: HttpRequest, form: ValueStreamForm) -> ValueStream | None:
    if not form.is_valid():
        return None
    stream = form.save(commit=False)
    if not stream.slug:
        stream.slug = unique_slug(ValueStream, organization=request.organization, name=stream.name)
    try:
        return services.value_stream_save(organization=request.organization, value_stream=stream)
    except ValidationError as exc:
        _errors_to_form(form, exc)
        return None


@org_view()
def stream_list(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = ValueStreamForm(organization=org)
    status = 200
    if request.method == "POST":
        require_role(request, Role.EDITOR)
        form = ValueStreamForm(request.POST, organization=org)
        stream = _save_stream(request, form)
        if stream is not None:
            messages.success(request, f"Value stream “{stream.name}” added.")
            return redirect("stream_detail", org_slug=org.slug, value_stream_id=stream.pk)
        status = 400
    filters = StreamFilterForm(request.GET)
    filters.is_valid()
    f = filters.cleaned_data
    qs = selectors.value_streams(
        organization=org, query=f.get("q", ""), kind=f.get("kind", ""), parent=f.get("parent", "")
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "filters": filters,
        "form": form,
        "querystring": request.GET.copy(),
        "has_any": qs.exists() if not page.object_list else True,
        "parents": ValueStream.objects.filter(organization=org, children__isnull=False)
        .distinct()
        .order_by("name")
        .values_list("slug", "name"),
    }
    template = "streams/list.html#results" if request.htmx else "streams/list.html"
    return render(request, template, context, status=status)


@require_GET
@org_view()
def stream_tree(request: HttpRequest) -> HttpResponse:
    roots = selectors.value_stream_tree(organization=request.organization)
    return render(request, "streams/tree.html", {"roots": roots})


def _detail_context(request: HttpRequest, stream: ValueStream, **extra: object) -> dict:
    org = request.organization
    mappings = stream.status_mappings.order_by("tool_status")
    return {
        "stream": stream,
        "stages": selectors.stages_of(organization=org, value_stream=stream),
        "children": stream.children.filter(organization=org).order_by("name"),
        "touchpoints": selectors.touchpoints_served(organization=org, value_stream=stream),
        "components": Component.objects.filter(organization=org)
        .select_related("layer")
        .order_by("layer__position", "name"),
        "form": ValueStreamForm(instance=stream, organization=org),
        "status_form": StatusMapForm(
            initial={"mapping": "\n".join(f"{m.tool_status} = {m.category}" for m in mappings)}
        ),
        "history": history_of(stream),
        **stream_objectives_context(request, stream),
        **extra,
    }


@org_view()
def stream_detail(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    stream = get_for_request(
        request, ValueStream.objects.select_related("parent"), pk=value_stream_id
    )
    if request.method == "POST":
        require_role(request, Role.EDITOR)
        form = ValueStreamForm(request.POST, instance=stream, organization=request.organization)
        if _save_stream(request, form) is not None:
            messages.success(request, "Saved.")
            return redirect(
                "stream_detail", org_slug=request.organization.slug, value_stream_id=stream.pk
            )
        stream.refresh_from_db()
        return render(
            request, "streams/detail.html", _detail_context(request, stream, form=form), status=400
        )
    if request.htmx and request.htmx.target == "objectives":
        # The objectives' quarter picker: only that section changes.
        context = {
            "stream": stream,
            **stream_objectives_context(request, stream),
        }
        return render(request, "streams/detail.html#objectives", context)
    return render(request, "streams/detail.html", _detail_context(request, stream))


@require_POST
@org_view(Role.EDITOR)
def stream_delete(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    try:
        services.value_stream_delete(organization=request.organization, value_stream=stream)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(
            "stream_detail", org_slug=request.organization.slug, value_stream_id=stream.pk
        )
    messages.success(request, f"Value stream “{stream.name}” deleted.")
    return redirect("stream_list", org_slug=request.organization.slug)


def _stages_partial(request: HttpRequest, stream: ValueStream, error: str = "") -> HttpResponse:
    """The stage editor, re-rendered after each change (htmx swaps it in place)."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(
            "stream_detail", org_slug=request.organization.slug, value_stream_id=stream.pk
        )
    context = _detail_context(request, stream, stage_error=error)
    return render(request, "streams/detail.html#stages", context)


@require_POST
@org_view(Role.EDITOR)
def stage_add(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    form = StageNameForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.stage_add(
                organization=request.organization,
                value_stream=stream,
                name=form.cleaned_data["name"],
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "A stage needs a name."
    return _stages_partial(request, stream, error)


def _stage(request: HttpRequest, value_stream_id: int, vs_stage_id: int) -> Stage:
    return get_for_request(
        request,
        Stage.objects.select_related("value_stream"),
        pk=vs_stage_id,
        value_stream_id=value_stream_id,
    )


@require_POST
@org_view(Role.EDITOR)
def stage_rename(request: HttpRequest, value_stream_id: int, vs_stage_id: int) -> HttpResponse:
    stage = _stage(request, value_stream_id, vs_stage_id)
    form = StageNameForm(request.POST)
    error = ""
    if form.is_valid():
        stage.name = form.cleaned_data["name"].strip()
        try:
            services.stage_save(organization=request.organization, stage=stage)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "A stage needs a name."
    return _stages_partial(request, stage.value_stream, error)


@require_POST
@org_view(Role.EDITOR)
def stage_move(request: HttpRequest, value_stream_id: int, vs_stage_id: int) -> HttpResponse:
    stage = _stage(request, value_stream_id, vs_stage_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    services.stage_move(organization=request.organization, stage=stage, offset=offset)
    return _stages_partial(request, stage.value_stream)


@require_POST
@org_view(Role.EDITOR)
def stages_reorder(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    """Drag and drop: the stage ids in their new order, as `order` fields."""
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    error = ""
    try:
        ids = [int(v) for v in request.POST.getlist("order")]
        services.stages_reorder(
            organization=request.organization, value_stream=stream, ordered_ids=ids
        )
    except ValueError:
        error = "The new order must list stage ids."
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _stages_partial(request, stream, error)


@require_POST
@org_view(Role.EDITOR)
def stage_delete(request: HttpRequest, value_stream_id: int, vs_stage_id: int) -> HttpResponse:
    stage = _stage(request, value_stream_id, vs_stage_id)
    error = ""
    try:
        services.stage_delete(organization=request.organization, stage=stage)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _stages_partial(request, stage.value_stream, error)


@require_POST
@org_view(Role.EDITOR)
def stage_components(request: HttpRequest, value_stream_id: int, vs_stage_id: int) -> HttpResponse:
    stage = _stage(request, value_stream_id, vs_stage_id)
    try:
        ids = {int(v) for v in request.POST.getlist("components")}
    except ValueError:
        return _stages_partial(request, stage.value_stream, "Choose components from the list.")
    components = list(Component.objects.filter(organization=request.organization, pk__in=ids))
    if len(components) != len(ids):
        return _stages_partial(request, stage.value_stream, "Choose components from the list.")
    services.stage_components_set(
        organization=request.organization, stage=stage, components=components
    )
    return _stages_partial(request, stage.value_stream)


@require_POST
@org_view(Role.EDITOR)
def status_map(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    form = StatusMapForm(request.POST)
    if form.is_valid():
        try:
            services.status_mappings_set(
                organization=request.organization,
                value_stream=stream,
                mapping=form.cleaned_data["mapping"],
            )
        except ValidationError as exc:
            form.add_error("mapping", exc)
    if form.errors:
        context = _detail_context(request, stream, status_form=form)
        return render(request, "streams/detail.html", context, status=400)
    messages.success(request, "Status mapping saved.")
    return redirect("stream_detail", org_slug=request.organization.slug, value_stream_id=stream.pk)


@require_GET
@org_view()
def stream_map(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    smap = selectors.value_stream_map(organization=request.organization, value_stream=stream)
    return render(request, "streams/map.html", {"stream": stream, "map": smap})
