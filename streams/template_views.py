"""The value stream templates page: what each template creates, and applying one.

Editors and admins may apply a template (editors maintain the model: the README's
"Roles"); the page exists to apply them, so viewers get 403 on it altogether.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portfolio.models import Role
from portfolio.tenancy import org_view
from streams.models import StreamKind
from streams.templates import TEMPLATES, template_apply, templates_in_place


def _catalogue(in_place: dict[str, set[str]]) -> list[dict]:
    """The templates as the page shows them: streams with their parents' names, stages
    in order, journeys, and how much of each the organization already has."""
    rows = []
    for key, template in TEMPLATES.items():
        names = {s.slug: s.name for s in template.model.value_streams}
        streams = [
            {
                "name": s.name,
                "slug": s.slug,
                "kind": StreamKind(s.kind).label,
                "parent": names.get(s.parent, s.parent) if s.parent else "",
                "stages": [stage.name for stage in s.stages],
            }
            for s in template.model.value_streams
        ]
        journeys = [
            {
                "name": j.name,
                "persona": j.persona,
                "stages": [stage.name for stage in j.stages],
                "touchpoints": sum(len(stage.touchpoints) for stage in j.stages),
            }
            for j in template.model.journeys
        ]
        rows.append(
            {
                "key": key,
                "name": template.name,
                "summary": template.summary,
                "streams": streams,
                "journeys": journeys,
                # A template gives all its streams one mapping.
                "statuses": list(template.model.value_streams[0].status_mapping.items()),
                "present": len(in_place[key]),
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def stream_templates(request: HttpRequest) -> HttpResponse:
    org = request.organization
    if request.method == "POST":
        try:
            result = template_apply(organization=org, key=request.POST.get("template", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, str(result))
        return redirect("stream_templates", org_slug=org.slug)
    catalogue = _catalogue(templates_in_place(organization=org))
    return render(request, "streams/templates.html", {"catalogue": catalogue})
