"""Pages for OKRs (docs/metrics.md#okrs-progress-and-status): the board of a quarter,
an objective's page, and the edits: objectives, key results, check-ins, and the links
between objectives and value streams or journeys (also from a value stream's page).

Progress, status and the values they come from are ``portfolio.okrs``'; these views
only choose what to show. Reading works without JavaScript. Edits post a form: with
htmx the answer is the partial to swap (a key result's row, the key results, the
links); a form with errors comes back in place with status 200, since htmx does not
swap 4xx answers; without htmx a successful post redirects back, and a form with
errors is shown on a page of its own with status 400, nothing typed lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from journeys.dashboard_views import SILENT_UNITS
from journeys.models import Journey
from metrics import charts
from metrics.definitions import METRICS
from metrics.engine import Period, value_stream_metrics
from metrics.journey_kpis import journey_metrics
from metrics.tiles import metric_display
from portfolio import services
from portfolio.entities import entity_delete, history_of, unique_slug
from portfolio.entity_views import _errors_to_form
from portfolio.forms import (
    CheckInForm,
    KeyResultForm,
    LinkForm,
    ObjectiveForm,
    OkrFilterForm,
    quarter_label,
)
from portfolio.models import CheckIn, CheckInSource, KeyResult, Objective, Role
from portfolio.okrs import (
    AT_RISK_GAP,
    ON_TRACK_GAP,
    KeyResultProgress,
    ObjectiveProgress,
    check_in_create,
    check_in_delete,
    local_today,
    objectives_with_progress,
    okr_status,
    okrs_for_quarter,
    quarter_dates,
    quarter_elapsed,
    quarter_of,
    quarter_shift,
    quarter_to_date,
)
from portfolio.tenancy import get_for_request, org_view
from streams.models import ValueStream

BOARD = "portfolio/okr_board.html"
OBJECTIVE = "portfolio/okr_objective.html"
FORM_PAGE = "portfolio/okr_form.html"
PARTS = "portfolio/okr_parts.html"
# The quarter pickers offer these quarters around the current one, and every quarter
# that has objectives.
QUARTERS_BEFORE = 4
QUARTERS_AFTER = 2
# The board indents aligned objectives up to this depth (deeper ones line up with it).
MAX_INDENT = 4
# The headline metrics shown for each linked subject on an objective's page.
LINKED_STREAM_KEYS = (
    "flow_velocity",
    "flow_time_median_days",
    "flow_load",
    "deployment_frequency_per_day",
    "change_failure_rate",
)
LINKED_JOURNEY_KEYS = ("nps", "conversion_rate", "journey_lead_time_median_days")


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _flash(request: HttpRequest, notice: str, error: str) -> None:
    """Before a redirect: what happened, for the next page to say. (An htmx answer
    says it in the swapped part instead, so it is not said twice.)"""
    if notice:
        messages.success(request, notice)
    if error:
        messages.error(request, error)


# --- Quarters ----------------------------------------------------------------------


def _current_quarter(request: HttpRequest) -> str:
    return quarter_of(local_today(request.organization))


def _parse_quarter(request: HttpRequest, raw: str) -> tuple[str, str]:
    """The quarter asked for, or the current one and a message saying why not."""
    current = _current_quarter(request)
    raw = raw.strip()
    if not raw:
        return current, ""
    instead = f"Showing {current}, the current quarter, instead."
    try:
        quarter_dates(raw)
    except ValidationError as exc:
        return current, f"{exc.messages[0]} {instead}"
    except ValueError:
        return current, f"'{raw}' is out of range. {instead}"
    try:
        # The pages link to the quarters before and after it.
        for n in (-1, 1):
            quarter_dates(quarter_shift(raw, n))
    except (ValidationError, ValueError):
        return current, f"'{raw}' is out of range. {instead}"
    return raw, ""


def _used_quarters(request: HttpRequest) -> list[str]:
    """The quarters that have objectives, newest first."""
    return sorted(
        Objective.objects.filter(organization=request.organization)
        .order_by()
        .values_list("quarter", flat=True)
        .distinct(),
        reverse=True,
    )


def _quarter_options(
    request: HttpRequest, *also: str, used: list[str] | None = None
) -> list[tuple[str, str]]:
    """(quarter, label), newest first: recent and next quarters, those with objectives."""
    current = _current_quarter(request)
    quarters = {quarter_shift(current, n) for n in range(-QUARTERS_BEFORE, QUARTERS_AFTER + 1)}
    quarters.update(_used_quarters(request) if used is None else used)
    quarters.update(q for q in also if q)
    return [(q, quarter_label(q, current)) for q in sorted(quarters, reverse=True)]


@dataclass(frozen=True)
class QuarterClock:
    """How far into a quarter today is, in the organization's time zone."""

    quarter: str
    start: dt.date
    end: dt.date
    days: int
    day: int  # 1..days within the quarter, 0 before it, days + 1 after it
    elapsed: float  # 0..1, the share of the quarter gone by, as the status rule uses it

    @property
    def text(self) -> str:
        if self.day <= 0:
            return f"starts {self.start.day} {self.start:%b %Y}"
        if self.day > self.days:
            return f"ended {self.end.day} {self.end:%b %Y}"
        return f"day {self.day} of {self.days}"

    @property
    def previous(self) -> str:
        return quarter_shift(self.quarter, -1)

    @property
    def next(self) -> str:
        return quarter_shift(self.quarter, 1)


def _clock(request: HttpRequest, quarter: str) -> QuarterClock:
    org = request.organization
    start, end = quarter_dates(quarter)
    today = local_today(org)
    days = (end - start).days + 1
    day = 0 if today < start else min(days + 1, (today - start).days + 1)
    return QuarterClock(quarter, start, end, days, day, quarter_elapsed(org, quarter))


def _legend() -> dict[str, int]:
    return {
        "on_track_points": round(ON_TRACK_GAP * 100),
        "at_risk_points": round(AT_RISK_GAP * 100),
    }


# --- The board ---------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    objective: ObjectiveProgress
    depth: int
    # Shown only as the ancestor of an objective that matches the filters.
    context: bool
    # A parent in another quarter, which the tree does not show: (title, quarter).
    outside_parent: tuple[str, str] | None = None

    @property
    def indent(self) -> int:
        return min(self.depth, MAX_INDENT)


def _board_rows(
    okrs: list[ObjectiveProgress],
    matches: Callable[[ObjectiveProgress], bool],
    outside: dict[int, tuple[str, str]],
) -> list[BoardRow]:
    """The alignment tree (okrs come parents first), cut to the matching objectives
    and their ancestors in the quarter, each with its depth."""
    by_id = {o.id: o for o in okrs}

    def ancestors(o: ObjectiveProgress) -> list[int]:
        found: list[int] = []
        parent = o.parent_id
        while parent in by_id and parent not in found and parent != o.id:
            found.append(parent)
            parent = by_id[parent].parent_id
        return found

    matched = {o.id for o in okrs if matches(o)}
    shown = set(matched)
    for o in okrs:
        if o.id in matched:
            shown.update(ancestors(o))
    return [
        BoardRow(o, len(ancestors(o)), o.id not in matched, outside.get(o.parent_id))
        for o in okrs
        if o.id in shown
    ]


def _board_context(request: HttpRequest) -> dict[str, Any]:
    org = request.organization
    quarter, quarter_error = _parse_quarter(request, request.GET.get("quarter", ""))
    owners = sorted(
        {
            e.lower()
            for e in Objective.objects.filter(organization=org)
            .exclude(owner_email="")
            .order_by()
            .values_list("owner_email", flat=True)
            .distinct()
        }
    )
    filters = OkrFilterForm(request.GET, organization=org, owners=owners)
    filters.is_valid()
    chosen = filters.cleaned_data
    problems = [quarter_error] if quarter_error else []
    for name, errors in filters.errors.items():
        label = filters.fields[name].label or name.replace("_", " ").capitalize()
        problems += [f"{label}: {e} That filter is left out." for e in errors]
    stream, journey, owner = chosen.get("value_stream"), chosen.get("journey"), chosen.get("owner")

    def matches(o: ObjectiveProgress) -> bool:
        return (
            (stream is None or any(vs["id"] == stream.pk for vs in o.value_streams))
            and (journey is None or any(j["id"] == journey.pk for j in o.journeys))
            and (not owner or o.owner_email.lower() == owner)
        )

    okrs = okrs_for_quarter(organization=org, quarter=quarter)
    # Parents in another quarter are named beside their children (one query, if any).
    outside_ids = {o.parent_id for o in okrs} - {o.id for o in okrs} - {None}
    outside = (
        {
            pk: (title, q)
            for pk, title, q in Objective.objects.filter(
                organization=org, pk__in=outside_ids
            ).values_list("pk", "title", "quarter")
        }
        if outside_ids
        else {}
    )
    rows = _board_rows(okrs, matches, outside)
    used = _used_quarters(request)
    return {
        "quarter": quarter,
        "clock": _clock(request, quarter),
        "quarters": _quarter_options(request, quarter, used=used),
        "latest_used": used[0] if used else None,
        "filters": filters,
        "filtered": bool(stream or journey or owner),
        "problems": problems,
        "rows": rows,
        "matched": sum(not r.context for r in rows),
        "total": len(okrs),
        "place": "board",
        **_legend(),
    }


@require_GET
@org_view()
def okr_board(request: HttpRequest) -> HttpResponse:
    template = f"{BOARD}#board" if request.htmx else BOARD
    return render(request, template, _board_context(request))


# --- An objective's page -----------------------------------------------------------


def _local(at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return at.astimezone(tz).replace(tzinfo=None)


def _key_result_cards(
    request: HttpRequest,
    objective: Objective,
    key_results: list[KeyResultProgress],
) -> list[dict[str, Any]]:
    """Each key result with its check-ins, newest first, and its history chart."""
    org = request.organization
    tz = ZoneInfo(org.time_zone)
    check_ins: dict[int, list[CheckIn]] = {kr.id: [] for kr in key_results}
    for c in (
        CheckIn.objects.filter(organization=org, key_result_id__in=list(check_ins))
        .select_related("author")
        .order_by("at", "id")
    ):
        check_ins[c.key_result_id].append(c)
    start, end = quarter_dates(objective.quarter)
    quarter_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    now = _local(dt.datetime.now(tz), tz)
    cards = []
    for kr in key_results:
        history = check_ins[kr.id]
        chart = charts.key_result_history_svg(
            # A linked key result read after its quarter ended holds the whole
            # quarter's value: it is drawn at the quarter's end.
            [(min(_local(c.at, tz), quarter_end), c.value) for c in history],
            baseline=kr.baseline,
            target=kr.target,
            start=start,
            end=end,
            unit=kr.unit,
            until=min(now, quarter_end),
            chart_id=f"kr{kr.id}",
            title=f"{kr.title}: values over {objective.quarter}, baseline {kr.baseline:g}, "
            f"target {kr.target:g}",
        )
        cards.append({"kr": kr, "history": history[::-1], "chart": chart})
    return cards


def _subject_metrics(
    request: HttpRequest, objective: Objective, progress: ObjectiveProgress
) -> dict[str, Any]:
    """The linked streams' and journeys' headline metrics for the quarter to date,
    each computed once for all of them by the engine."""
    org = request.organization
    dates = quarter_to_date(org, objective.quarter)
    stream_ids = [vs["id"] for vs in progress.value_streams]
    journey_ids = [j["id"] for j in progress.journeys]
    stream_values: dict[int, dict[str, Any]] = {}
    journey_values: dict[int, dict[str, Any]] = {}
    if dates is not None:
        period = Period.for_organization(org, *dates)
        if stream_ids:
            stream_values = value_stream_metrics(
                organization=org, value_stream_ids=stream_ids, period=period
            )
        if journey_ids:
            journey_values = journey_metrics(
                organization=org, journey_ids=journey_ids, period=period
            )

    def tiles(values: dict[str, Any], keys: Iterable[str], show: Callable) -> list[dict]:
        return [
            {
                "key": k,
                "label": METRICS[k].label,
                "unit": "" if METRICS[k].unit in SILENT_UNITS else METRICS[k].unit,
                "display": show(k, values.get(k)),
                "known": values.get(k) is not None,
            }
            for k in keys
        ]

    return {
        "to_date": dates,
        "streams": [
            {
                **vs,
                "tiles": tiles(stream_values.get(vs["id"], {}), LINKED_STREAM_KEYS, metric_display),
            }
            for vs in progress.value_streams
        ],
        "journeys": [
            {
                **j,
                "tiles": tiles(
                    journey_values.get(j["id"], {}), LINKED_JOURNEY_KEYS, metric_display
                ),
            }
            for j in progress.journeys
        ],
    }


def _progress_of(request: HttpRequest, objective: Objective) -> tuple[ObjectiveProgress, dict]:
    """The objective's progress (as on the board) and its quarter's others, by id."""
    okrs = {
        o.id: o
        for o in okrs_for_quarter(organization=request.organization, quarter=objective.quarter)
    }
    return okrs[objective.pk], okrs


def _children(request: HttpRequest, objective: Objective) -> list[dict[str, Any]]:
    org = request.organization
    children = list(
        objectives_with_progress(organization=org)
        .filter(parent=objective)
        .order_by("-quarter", "title", "id")
    )
    elapsed = {q: quarter_elapsed(org, q) for q in {c.quarter for c in children}}
    return [
        {
            "objective": c,
            "progress": c.progress,
            "status": okr_status(c.progress, elapsed[c.quarter]).value,
        }
        for c in children
    ]


def _objective_context(
    request: HttpRequest, objective: Objective, *, links: bool = True, **extra: Any
) -> dict[str, Any]:
    progress, same_quarter = _progress_of(request, objective)
    context: dict[str, Any] = {
        "objective": objective,
        "progress": progress,
        "parent_progress": same_quarter.get(objective.parent_id),
        "children": _children(request, objective),
        "clock": _clock(request, objective.quarter),
        "cards": _key_result_cards(request, objective, progress.key_results),
        "place": "objective",
        **_legend(),
    }
    if links:
        context |= _links_context(request, objective, progress)
    return context | extra


def _links_context(
    request: HttpRequest, objective: Objective, progress: ObjectiveProgress
) -> dict[str, Any]:
    org = request.organization
    linked_streams = {vs["id"] for vs in progress.value_streams}
    linked_journeys = {j["id"] for j in progress.journeys}
    return {
        "subjects": _subject_metrics(request, objective, progress),
        "quarter_start": quarter_dates(objective.quarter)[0],
        "stream_choices": [
            vs
            for vs in ValueStream.objects.filter(organization=org).order_by("name")
            if vs.pk not in linked_streams
        ],
        "journey_choices": [
            j
            for j in Journey.objects.filter(organization=org).order_by("name")
            if j.pk not in linked_journeys
        ],
    }


def _objective_url(request: HttpRequest, objective_id: int, anchor: str = "") -> str:
    url = reverse(
        "objective_detail",
        kwargs={"org_slug": request.organization.slug, "objective_id": objective_id},
    )
    return f"{url}#{anchor}" if anchor else url


def _board_url(request: HttpRequest, quarter: str) -> str:
    url = reverse("okr_board", kwargs={"org_slug": request.organization.slug})
    return f"{url}?quarter={quarter}"


@require_GET
@org_view()
def objective_detail(request: HttpRequest, objective_id: int) -> HttpResponse:
    objective = get_for_request(
        request, Objective.objects.select_related("parent"), pk=objective_id
    )
    context = _objective_context(request, objective, history=history_of(objective))
    return render(request, OBJECTIVE, context)


# --- Objectives: create, edit, delete ------------------------------------------------


def _objective_form(request: HttpRequest, objective: Objective | None) -> ObjectiveForm:
    quarter = objective.quarter if objective else ""
    initial: dict[str, Any] = {}
    if objective is None:
        quarter, _ = _parse_quarter(request, request.GET.get("quarter", ""))
        initial["quarter"] = quarter
        parent = request.GET.get("parent", "")
        if parent.isdigit():
            initial["parent"] = int(parent)
    return ObjectiveForm(
        request.POST or None,
        instance=objective,
        initial=initial,
        organization=request.organization,
        # The pickers' quarters and the objective's own: a quarter is chosen, not typed.
        quarters=[q for q, _ in _quarter_options(request, quarter)],
        current=_current_quarter(request),
    )


def _objective_save(request: HttpRequest, form: ObjectiveForm) -> Objective | None:
    if not form.is_valid():
        return None
    objective = form.save(commit=False)
    if not objective.slug:
        objective.slug = unique_slug(
            Objective, organization=request.organization, name=objective.title
        )
    try:
        return services.objective_save(
            organization=request.organization,
            objective=objective,
            value_streams=form.cleaned_data["value_streams"],
            journeys=form.cleaned_data["journeys"],
        )
    except ValidationError as exc:
        _errors_to_form(form, exc)
        return None


def _form_page(request: HttpRequest, context: dict[str, Any], *, invalid: bool) -> HttpResponse:
    return render(request, FORM_PAGE, context, status=400 if invalid else 200)


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def objective_create(request: HttpRequest) -> HttpResponse:
    form = _objective_form(request, None)
    if request.method == "POST":
        objective = _objective_save(request, form)
        if objective is not None:
            messages.success(request, f"Objective “{objective.title}” was created.")
            return _redirect(request, _objective_url(request, objective.pk))
    return _form_page(
        request,
        {"form": form, "title": "New objective", "kind": "objective", "submit": "Create objective"},
        invalid=request.method == "POST",
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def objective_edit(request: HttpRequest, objective_id: int) -> HttpResponse:
    objective = get_for_request(request, Objective, pk=objective_id)
    title = objective.title  # the form writes submitted values onto the instance
    form = _objective_form(request, objective)
    if request.method == "POST" and _objective_save(request, form) is not None:
        messages.success(request, f"Objective “{objective.title}” was saved.")
        return _redirect(request, _objective_url(request, objective.pk))
    return _form_page(
        request,
        {
            "form": form,
            "title": f"Edit the objective “{title}”",
            "kind": "objective",
            "objective_id": objective.pk,
            "objective_title": title,
            "submit": "Save",
        },
        invalid=request.method == "POST",
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def objective_delete(request: HttpRequest, objective_id: int) -> HttpResponse:
    objective = get_for_request(request, Objective, pk=objective_id)
    if request.method == "GET":
        return render(
            request,
            "portfolio/okr_delete.html",
            {
                "objective": objective,
                "key_results": objective.key_results.count(),
                "children": objective.children.count(),
            },
        )
    try:
        entity_delete(objective, organization=request.organization)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _redirect(request, _objective_url(request, objective.pk))
    messages.success(request, f"Objective “{objective.title}” was deleted.")
    return _redirect(request, _board_url(request, objective.quarter))


# --- Key results ---------------------------------------------------------------------


def _key_results(
    request: HttpRequest, objective: Objective, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """After a key result changes: the key results swapped in place (htmx), with the
    objective's progress out of band; else back to the objective's page."""
    if not request.htmx:
        _flash(request, notice, error)
        return redirect(_objective_url(request, objective.pk, "key-results"))
    context = _objective_context(request, objective, links=False, notice=notice, kr_error=error)
    response = render(request, f"{OBJECTIVE}#key-results", context)
    response.content += render_to_string(
        f"{PARTS}#objective-progress",
        {**context, "o": context["progress"], "oob": True},
        request=request,
    ).encode()
    return reswap(retarget(response, "#key-results"), "outerHTML")


def _key_result_form(
    request: HttpRequest,
    objective: Objective,
    form: KeyResultForm,
    key_result: KeyResult | None,
    *,
    invalid: bool,
) -> HttpResponse:
    context = {
        "objective": objective,
        "kr_form": form,
        "kr": key_result,
    }
    if request.htmx:
        return render(request, f"{OBJECTIVE}#kr-form", context)
    name = f"the key result “{key_result.title}”" if key_result else "a key result"
    return _form_page(
        request,
        {
            **context,
            "form": form,
            "kind": "key_result",
            "title": f"{'Edit' if key_result else 'Add'} {name}",
            "objective_id": objective.pk,
            "objective_title": objective.title,
        },
        invalid=invalid,
    )


def _key_result_save(request: HttpRequest, form: KeyResultForm) -> KeyResult | None:
    if not form.is_valid():
        return None
    kr = form.save(commit=False)
    if not kr.slug:
        kr.slug = unique_slug(
            KeyResult, organization=request.organization, name=kr.title, objective=kr.objective
        )
    try:
        return services.key_result_save(organization=request.organization, key_result=kr)
    except ValidationError as exc:
        _errors_to_form(form, exc)
        return None


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def key_result_create(request: HttpRequest, objective_id: int) -> HttpResponse:
    objective = get_for_request(request, Objective, pk=objective_id)
    form = KeyResultForm(
        request.POST or None,
        instance=KeyResult(objective=objective),
        organization=request.organization,
        auto_id="kr-new_%s",
    )
    if request.method == "POST":
        kr = _key_result_save(request, form)
        if kr is not None:
            return _key_results(request, objective, notice=f"Key result “{kr.title}” was added.")
    return _key_result_form(request, objective, form, None, invalid=request.method == "POST")


def _key_result(request: HttpRequest, key_result_id: int) -> KeyResult:
    return get_for_request(request, KeyResult.objects.select_related("objective"), pk=key_result_id)


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def key_result_edit(request: HttpRequest, key_result_id: int) -> HttpResponse:
    kr = _key_result(request, key_result_id)
    title = kr.title
    form = KeyResultForm(
        request.POST or None,
        instance=kr,
        organization=request.organization,
        auto_id=f"kr{kr.pk}_%s",
    )
    if request.method == "POST" and _key_result_save(request, form) is not None:
        return _key_results(request, kr.objective, notice=f"Key result “{kr.title}” was saved.")
    kr.title = title
    return _key_result_form(request, kr.objective, form, kr, invalid=request.method == "POST")


@require_POST
@org_view(Role.EDITOR)
def key_result_delete(request: HttpRequest, key_result_id: int) -> HttpResponse:
    kr = _key_result(request, key_result_id)
    try:
        entity_delete(kr, organization=request.organization)
    except ValidationError as exc:
        return _key_results(request, kr.objective, error=" ".join(exc.messages))
    return _key_results(request, kr.objective, notice=f"Key result “{kr.title}” was deleted.")


# --- Check-ins -----------------------------------------------------------------------


def _key_result_row(request: HttpRequest, kr: KeyResult, place: str, **extra: Any) -> HttpResponse:
    """A key result's row (board) or card (objective page) after a check-in, swapped
    in place of the old one, with its objective's progress out of band."""
    objective = kr.objective
    progress, _ = _progress_of(request, objective)
    found = next(k for k in progress.key_results if k.id == kr.pk)
    context = {
        "objective": objective,
        "o": progress,
        "progress": progress,
        "kr": found,
        "clock": _clock(request, objective.quarter),
        "place": place,
        "oob": True,
        **extra,
    }
    if place == "objective":
        context["card"] = _key_result_cards(request, objective, [found])[0]
        response = render(request, f"{OBJECTIVE}#kr-card", context)
    else:
        response = render(request, f"{PARTS}#kr-row", context)
    response.content += render_to_string(
        f"{PARTS}#objective-progress", context, request=request
    ).encode()
    return response


def _back(request: HttpRequest, kr: KeyResult, place: str) -> str:
    if place == "board":
        return _board_url(request, kr.objective.quarter) + f"#kr-{kr.pk}"
    return _objective_url(request, kr.objective_id, f"kr-{kr.pk}")


@require_POST
@org_view(Role.EDITOR)
def check_in_add(request: HttpRequest, key_result_id: int) -> HttpResponse:
    kr = _key_result(request, key_result_id)
    place = "board" if request.POST.get("place") == "board" else "objective"
    form = CheckInForm(request.POST, auto_id=f"kr{kr.pk}-checkin_%s")
    if form.is_valid():
        try:
            check_in_create(
                organization=request.organization,
                key_result=kr,
                value=form.cleaned_data["value"],
                confidence=form.cleaned_data["confidence"],
                note=form.cleaned_data["note"],
                author=request.user,
            )
        except ValidationError as exc:
            _errors_to_form(form, exc)
    if not form.errors:
        if request.htmx:
            return _key_result_row(request, kr, place, checked_in=True)
        messages.success(request, f"Checked in on “{kr.title}”.")
        return redirect(_back(request, kr, place))
    if request.htmx:
        return _key_result_row(request, kr, place, form=form)
    return _form_page(
        request,
        {
            "form": form,
            "kind": "check_in",
            "kr": kr,
            "place": place,
            "title": f"Check in on “{kr.title}”",
            "objective_id": kr.objective_id,
            "objective_title": kr.objective.title,
        },
        invalid=True,
    )


@require_POST
@org_view(Role.EDITOR)
def check_in_remove(request: HttpRequest, check_in_id: int) -> HttpResponse:
    check_in = get_for_request(
        request, CheckIn.objects.select_related("key_result__objective"), pk=check_in_id
    )
    kr = check_in.key_result
    if check_in.source != CheckInSource.MANUAL:
        error = "A measured value is the metric's history; it cannot be deleted."
        if request.htmx:
            return _key_result_row(request, kr, "objective", row_error=error)
        messages.error(request, error)
    else:
        check_in_delete(organization=request.organization, check_in=check_in)
        if request.htmx:
            return _key_result_row(request, kr, "objective")
        messages.success(request, "The check-in was deleted.")
    return redirect(_back(request, kr, "objective"))


# --- Links between objectives and value streams or journeys ---------------------------


def _links(
    request: HttpRequest, objective: Objective, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """After a link changes: the links section swapped in place (htmx), else back."""
    if not request.htmx:
        _flash(request, notice, error)
        return redirect(_objective_url(request, objective.pk, "links"))
    progress, _ = _progress_of(request, objective)
    context = {
        "objective": objective,
        "progress": progress,
        "notice": notice,
        "link_error": error,
        **_links_context(request, objective, progress),
    }
    return render(request, f"{OBJECTIVE}#links", context)


def _link_target(request: HttpRequest, queryset: QuerySet, label: str) -> tuple[Any, str]:
    form: Form = LinkForm(request.POST, queryset=queryset, label=label)
    if form.is_valid():
        return form.cleaned_data["target"], ""
    return None, " ".join(form.errors["target"])


@require_POST
@org_view(Role.EDITOR)
def objective_value_stream_link(request: HttpRequest, objective_id: int) -> HttpResponse:
    org = request.organization
    objective = get_for_request(request, Objective, pk=objective_id)
    stream, error = _link_target(
        request, ValueStream.objects.filter(organization=org), "Value stream"
    )
    if stream is None:
        return _links(request, objective, error=error)
    services.objective_value_stream_link(organization=org, objective=objective, value_stream=stream)
    return _links(request, objective, notice=f"Value stream “{stream.name}” is linked.")


@require_POST
@org_view(Role.EDITOR)
def objective_value_stream_unlink(
    request: HttpRequest, objective_id: int, value_stream_id: int
) -> HttpResponse:
    objective = get_for_request(request, Objective, pk=objective_id)
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    services.objective_value_stream_unlink(
        organization=request.organization, objective=objective, value_stream=stream
    )
    return _links(request, objective, notice=f"Value stream “{stream.name}” is unlinked.")


@require_POST
@org_view(Role.EDITOR)
def objective_journey_link(request: HttpRequest, objective_id: int) -> HttpResponse:
    org = request.organization
    objective = get_for_request(request, Objective, pk=objective_id)
    journey, error = _link_target(request, Journey.objects.filter(organization=org), "Journey")
    if journey is None:
        return _links(request, objective, error=error)
    services.objective_journey_link(organization=org, objective=objective, journey=journey)
    return _links(request, objective, notice=f"Journey “{journey.name}” is linked.")


@require_POST
@org_view(Role.EDITOR)
def objective_journey_unlink(
    request: HttpRequest, objective_id: int, journey_id: int
) -> HttpResponse:
    objective = get_for_request(request, Objective, pk=objective_id)
    journey = get_for_request(request, Journey, pk=journey_id)
    services.objective_journey_unlink(
        organization=request.organization, objective=objective, journey=journey
    )
    return _links(request, objective, notice=f"Journey “{journey.name}” is unlinked.")


# --- The value stream page's objectives ------------------------------------------------


def stream_objectives_context(
    request: HttpRequest,
    stream: ValueStream,
    *,
    quarter: str | None = None,
    notice: str = "",
    error: str = "",
) -> dict[str, Any]:
    """The objectives linked to a value stream, newest quarter first, with progress and
    status, and the objectives of a chosen quarter that could be linked to it."""
    org = request.organization
    quarter_error = ""
    if quarter is None:
        quarter, quarter_error = _parse_quarter(request, request.GET.get("okr_quarter", ""))
    linked = list(
        objectives_with_progress(organization=org)
        .filter(objectivevaluestream__value_stream=stream)
        .order_by("-quarter", "title", "id")
    )
    elapsed = {q: quarter_elapsed(org, q) for q in {o.quarter for o in linked}}
    return {
        "okr_quarter": quarter,
        "okr_quarters": _quarter_options(request, quarter),
        "okr_error": error or quarter_error,
        "okr_notice": notice,
        "stream_objectives": [
            {
                "objective": o,
                "progress": o.progress,
                "status": okr_status(o.progress, elapsed[o.quarter]).value,
            }
            for o in linked
        ],
        "objective_choices": Objective.objects.filter(organization=org, quarter=quarter)
        .exclude(pk__in=[o.pk for o in linked])
        .order_by("title"),
    }


def _stream_objectives(
    request: HttpRequest, stream: ValueStream, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """After a link changes: the stream page's objectives swapped in place (htmx), else
    back to the page, with the quarter the form was showing."""
    quarter, _ = _parse_quarter(request, request.POST.get("okr_quarter", ""))
    if not request.htmx:
        _flash(request, notice, error)
        url = reverse(
            "stream_detail",
            kwargs={"org_slug": request.organization.slug, "value_stream_id": stream.pk},
        )
        return redirect(f"{url}?okr_quarter={quarter}#objectives")
    context = {
        "stream": stream,
        **stream_objectives_context(request, stream, quarter=quarter, notice=notice, error=error),
    }
    return render(request, "streams/detail.html#objectives", context)


@require_POST
@org_view(Role.EDITOR)
def stream_objective_link(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    org = request.organization
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    objective, error = _link_target(
        request, Objective.objects.filter(organization=org), "Objective"
    )
    if objective is None:
        return _stream_objectives(request, stream, error=error)
    services.objective_value_stream_link(organization=org, objective=objective, value_stream=stream)
    return _stream_objectives(request, stream, notice=f"Objective “{objective.title}” is linked.")


@require_POST
@org_view(Role.EDITOR)
def stream_objective_unlink(
    request: HttpRequest, value_stream_id: int, objective_id: int
) -> HttpResponse:
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    objective = get_for_request(request, Objective, pk=objective_id)
    services.objective_value_stream_unlink(
        organization=request.organization, objective=objective, value_stream=stream
    )
    return _stream_objectives(request, stream, notice=f"Objective “{objective.title}” is unlinked.")


# --- Routes ----------------------------------------------------------------------------


def urlpatterns() -> list:
    """Under ``/o/<org_slug>/okrs/``; the value stream page's two are in streams.urls."""
    return [
        path("", okr_board, name="okr_board"),
        path("new/", objective_create, name="objective_create"),
        path("<int:objective_id>/", objective_detail, name="objective_detail"),
        path("<int:objective_id>/edit/", objective_edit, name="objective_edit"),
        path("<int:objective_id>/delete/", objective_delete, name="objective_delete"),
        path("<int:objective_id>/key-results/new/", key_result_create, name="key_result_create"),
        path(
            "<int:objective_id>/value-streams/",
            objective_value_stream_link,
            name="objective_value_stream_link",
        ),
        path(
            "<int:objective_id>/value-streams/<int:value_stream_id>/unlink/",
            objective_value_stream_unlink,
            name="objective_value_stream_unlink",
        ),
        path("<int:objective_id>/journeys/", objective_journey_link, name="objective_journey_link"),
        path(
            "<int:objective_id>/journeys/<int:journey_id>/unlink/",
            objective_journey_unlink,
            name="objective_journey_unlink",
        ),
        path("key-results/<int:key_result_id>/edit/", key_result_edit, name="key_result_edit"),
        path(
            "key-results/<int:key_result_id>/delete/", key_result_delete, name="key_result_delete"
        ),
        path("key-results/<int:key_result_id>/check-ins/", check_in_add, name="check_in_add"),
        path("check-ins/<int:check_in_id>/delete/", check_in_remove, name="check_in_remove"),
    ]
