"""OKR pages: the board, an objective's page, the edits of objectives, key results and
check-ins, and the links to value streams and journeys from both sides.

Every OKR here is in the organization's current quarter unless a test says otherwise,
so the board shows it without a ``quarter`` parameter. The manual key result goes
from a baseline of 0 to a target of 10 people: a check-in of 4 is 40% progress
(docs/metrics.md#key-result-progress: (4 - 0) / (10 - 0)), and, as the objective's
only other key result is none, the objective's progress is 40% too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from journeys.models import Journey
from journeys.services import journey_save
from metrics.reports.data import quarterly_report_freeze
from portfolio import services
from portfolio.models import (
    CheckIn,
    KeyResult,
    Objective,
    ObjectiveJourney,
    ObjectiveValueStream,
)
from portfolio.okrs import check_in_create, local_today, quarter_dates, quarter_of, quarter_shift
from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.conftest import Tenant, client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class Okrs:
    quarter: str
    stream: ValueStream
    web: ValueStream
    journey: Journey
    parent: Objective
    child: Objective
    lone: Objective
    manual: KeyResult
    linked: KeyResult


def current_quarter(tenant: Tenant) -> str:
    return quarter_of(local_today(tenant.org))


def make_okrs(tenant: Tenant) -> Okrs:
    """Two top-level objectives, one with an aligned child:

    - "Pay claims faster" (owner lead@), linked to Claims delivery and Make a claim,
      with the manual key result "Assessors trained" (0 -> 10 people);
      - "Ship safely" (owner team@), linked to Web delivery, with a key result linked
        to Web delivery's change failure rate (15% -> 10%);
    - "Members recommend us" (owner lead@), linked to nothing, no key results.
    """
    org = tenant.org
    q = current_quarter(tenant)
    with organization_context(org.pk):
        stream = value_stream_save(
            organization=org, value_stream=ValueStream(slug="claims", name="Claims delivery")
        )
        web = value_stream_save(
            organization=org, value_stream=ValueStream(slug="web", name="Web delivery")
        )
        journey = journey_save(organization=org, journey=Journey(slug="claim", name="Make a claim"))
        parent = services.objective_save(
            organization=org,
            objective=Objective(
                slug="faster", title="Pay claims faster", quarter=q, owner_email="lead@example.com"
            ),
            value_streams=[stream],
            journeys=[journey],
        )
        child = services.objective_save(
            organization=org,
            objective=Objective(
                slug="safer",
                title="Ship safely",
                quarter=q,
                parent=parent,
                owner_email="team@example.com",
            ),
            value_streams=[web],
        )
        lone = services.objective_save(
            organization=org,
            objective=Objective(
                slug="recommend",
                title="Members recommend us",
                quarter=q,
                owner_email="lead@example.com",
            ),
        )
        manual = services.key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=parent,
                slug="trained",
                title="Assessors trained",
                baseline=0,
                target=10,
                unit="people",
            ),
        )
        linked = services.key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=child,
                slug="cfr",
                title="Change failure rate down",
                baseline=15,
                target=10,
                unit="%",
                metric_value_stream=web,
                metric_key="change_failure_rate",
            ),
        )
    return Okrs(q, stream, web, journey, parent, child, lone, manual, linked)


def check_in(tenant: Tenant, kr: KeyResult, value: float, **kwargs) -> CheckIn:
    with organization_context(tenant.org.pk):
        return check_in_create(
            organization=tenant.org, key_result=kr, value=value, author=tenant.editor, **kwargs
        )


def board(client: Client, query: str = "", **headers: str) -> str:
    response = client.get(f"/o/org-a/okrs/{query}", **headers)
    assert response.status_code == 200
    return response.content.decode()


def shown(html: str) -> dict[str, bool]:
    """The board's objectives by slug: True when shown only for context (dimmed)."""
    found = {}
    for tag in re.findall(r'<li class="okr-objective[^"]*"[^>]*>', html):
        slug = re.search(r'data-objective="([\w-]+)"', tag)[1]
        found[slug] = 'data-context="true"' in tag
    return found


def count(model, **lookup) -> int:
    org = lookup.pop("org")
    with organization_context(org.pk):
        return model.objects.filter(organization=org, **lookup).count()


# --- The board ----------------------------------------------------------------------


def test_the_board_shows_the_alignment_tree_with_progress_status_and_the_rule(tenant_a):
    okrs = make_okrs(tenant_a)
    check_in(tenant_a, okrs.manual, 4, confidence=6)
    html = board(client_for(tenant_a.viewer))

    assert shown(html) == {"recommend": False, "faster": False, "safer": False}
    # Parents first, each followed by the objectives aligned to it (by title).
    assert html.index('data-objective="faster"') < html.index('data-objective="safer"')
    assert re.search(
        r'class="okr-objective okr-depth-1[^"]*" id="objective-\d+" data-objective="safer"', html
    )
    faster = html[html.index('data-objective="faster"') : html.index('data-objective="safer"')]
    assert "Assessors trained" in faster
    assert "40%" in faster  # the key result's progress, and the objective's
    assert "4 people" in faster and "10 people" in faster
    assert "Check in" not in faster  # a viewer only reads
    safer = html[html.index('data-objective="safer"') :]
    assert "Measured from <strong>Change failure rate</strong> of" in safer
    assert 'data-status="no_data"' in safer  # no events: the rate is undefined
    assert "Claims delivery" in faster and "Make a claim" in faster
    # The elapsed share of the quarter, in the organization's time zone.
    start, end = quarter_dates(okrs.quarter)
    today = local_today(tenant_a.org)
    assert f"day {(today - start).days + 1} of {(end - start).days + 1}" in html
    assert "How progress and status are worked out" in html
    assert "no more than 10 points behind" in html and "up to 25 points behind" in html


def test_an_objective_whose_only_key_result_has_no_data_is_no_data_everywhere(tenant_a):
    """ "Pay claims faster" has one key result, nothing checked in: the board, the
    objective page, the API and the report all say no data, as its key result does,
    never "0%" or "Off track"."""
    okrs = make_okrs(tenant_a)
    client = client_for(tenant_a.viewer)

    def progress_block(html: str) -> str:
        start = html.index(f'id="objective-{okrs.parent.pk}-progress"')
        return html[start : html.index("</div>", start)]

    for html in (board(client), client.get(f"/o/org-a/okrs/{okrs.parent.pk}/").content.decode()):
        block = progress_block(html)
        assert 'data-status="no_data"' in block and ">No data<" in block
        assert ">0%<" not in block and "off_track" not in block
        assert '<span class="okr-pct" data-testid="objective-percent">—</span>' in block
    answer = client.get("/api/v1/orgs/org-a/objectives/", {"quarter": okrs.quarter}).json()
    found = {o["slug"]: (o["progress"], o["status"]) for o in answer["results"]}
    assert found["faster"] == (None, "no_data")
    key_result = client.get(f"/api/v1/orgs/org-a/key-results/{okrs.manual.pk}/").json()
    assert (key_result["progress"], key_result["status"]) == (None, "no_data")
    with organization_context(tenant_a.org.pk):
        data = quarterly_report_freeze(organization=tenant_a.org, quarter=okrs.quarter).data
    reported = {o["slug"]: o for o in data["objectives"]}["faster"]
    assert (reported["progress"], reported["status"]) == (None, "no_data")
    assert reported["key_results"][0]["status"] == "no_data"


def test_the_board_lets_editors_check_in_on_manual_key_results_only(tenant_a):
    okrs = make_okrs(tenant_a)
    html = board(client_for(tenant_a.editor))
    assert f'action="/o/org-a/okrs/key-results/{okrs.manual.pk}/check-ins/"' in html
    assert f"/key-results/{okrs.linked.pk}/check-ins/" not in html


def test_a_bad_quarter_says_so_and_shows_the_current_one(tenant_a):
    okrs = make_okrs(tenant_a)
    html = board(client_for(tenant_a.viewer), "?quarter=2026-Q9")
    assert (
        f"&#x27;2026-Q9&#x27; is not a quarter such as 2026-Q3. Showing {okrs.quarter}, "
        "the current quarter, instead." in html
    )
    assert set(shown(html)) == {"faster", "safer", "recommend"}


def test_the_quarter_picker_offers_recent_and_next_quarters_and_those_with_objectives(tenant_a):
    okrs = make_okrs(tenant_a)
    with organization_context(tenant_a.org.pk):
        services.objective_save(
            organization=tenant_a.org,
            objective=Objective(slug="old", title="An old one", quarter="2019-Q2"),
        )
    html = board(client_for(tenant_a.viewer), "?quarter=2019-Q2")
    picker = html[html.index('name="quarter"') : html.index("</select>")]
    options = re.findall(r'<option value="([\d]{4}-Q\d)"', picker)
    assert options[0] == quarter_shift(okrs.quarter, 2)
    assert f"{okrs.quarter} (current)" in picker
    assert quarter_shift(okrs.quarter, -4) in options
    assert "2019-Q2" in options
    assert '<option value="2019-Q2" selected>' in picker
    assert set(shown(html)) == {"old"}


def test_filters_keep_matches_and_show_their_ancestors_dimmed(tenant_a):
    okrs = make_okrs(tenant_a)
    client = client_for(tenant_a.viewer)

    by_stream = board(client, f"?value_stream={okrs.web.pk}")
    assert shown(by_stream) == {"faster": True, "safer": False}
    assert "1 of 3 objectives matches" in by_stream
    # A dimmed ancestor is context only: its key results are not listed.
    assert "Assessors trained" not in by_stream

    assert shown(board(client, f"?journey={okrs.journey.pk}")) == {"faster": False}
    assert shown(board(client, "?owner=lead%40example.com")) == {
        "recommend": False,
        "faster": False,
    }
    assert shown(board(client, "?owner=team%40example.com")) == {"faster": True, "safer": False}
    both = board(client, f"?owner=lead%40example.com&value_stream={okrs.stream.pk}")
    assert shown(both) == {"faster": False}

    nothing = board(client, f"?owner=team%40example.com&journey={okrs.journey.pk}")
    assert shown(nothing) == {}
    assert "No objective of" in nothing and "Show all 3 objectives" in nothing


def test_filters_with_htmx_answer_the_board_partial(tenant_a):
    okrs = make_okrs(tenant_a)
    html = board(client_for(tenant_a.viewer), f"?value_stream={okrs.web.pk}", **HTMX)
    assert html.lstrip().startswith('<div id="okr-board"')
    assert "<html" not in html
    assert shown(html) == {"faster": True, "safer": False}


def test_an_unknown_filter_value_is_named_and_left_out(tenant_a, tenant_b):
    make_okrs(tenant_a)
    theirs = make_okrs(tenant_b)
    client = client_for(tenant_a.viewer)
    for query in ("?value_stream=2000000000", f"?value_stream={theirs.web.pk}"):
        html = board(client, query)
        assert "Value stream: Select a valid choice." in html
        assert "That filter is left out." in html
        assert set(shown(html)) == {"faster", "safer", "recommend"}
    html = board(client, "?owner=nobody%40example.com")
    assert "Owner: Select a valid choice." in html


def test_the_empty_board_invites_editors_to_add_an_objective(tenant_a):
    editor_html = board(client_for(tenant_a.editor))
    quarter = current_quarter(tenant_a)
    assert f"No objectives for {quarter} yet" in editor_html
    assert f'href="/o/org-a/okrs/new/?quarter={quarter}">Add the first objective' in editor_html
    viewer_html = board(client_for(tenant_a.viewer))
    assert "Add the first objective" not in viewer_html
    assert "Editors and admins add objectives." in viewer_html


def _grow(tenant: Tenant, okrs: Okrs, n: int) -> None:
    """``n`` more objectives shaped like the first ones: each linked to a stream and a
    journey, aligned to the previous, with a manual key result checked in and a linked one."""
    org = tenant.org
    with organization_context(org.pk):
        parent = None
        for i in range(n):
            objective = services.objective_save(
                organization=org,
                objective=Objective(
                    slug=f"o{i}",
                    title=f"Objective {i}",
                    quarter=okrs.quarter,
                    parent=parent,
                    owner_email=f"owner{i}@example.com",
                ),
                value_streams=[okrs.stream],
                journeys=[okrs.journey],
            )
            kr = services.key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=objective, slug="m", title="Manual", baseline=0, target=5
                ),
            )
            check_in_create(organization=org, key_result=kr, value=i % 5)
            services.key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=objective,
                    slug="l",
                    title="Linked",
                    baseline=3,
                    target=2,
                    metric_value_stream=okrs.stream,
                    metric_key="flow_time_median_days",
                ),
            )
            parent = objective if i % 3 else None


# The request (session, user, membership and the switcher's, the RLS context, the
# savepoint) and the board's own: owners, the filter's stream, objectives with their
# streams, journeys and key results, quarters, and the filters' streams and journeys.
BOARD_QUERIES = 17


@pytest.mark.parametrize("n", [0, 27])
def test_the_board_takes_the_same_queries_for_3_and_30_objectives(
    tenant_a, django_assert_num_queries, n
):
    okrs = make_okrs(tenant_a)
    _grow(tenant_a, okrs, n)
    client = client_for(tenant_a.editor)
    client.get("/o/org-a/okrs/")  # the session is loaded and cached
    with django_assert_num_queries(BOARD_QUERIES):
        html = board(client, f"?value_stream={okrs.stream.pk}")
    assert len(shown(html)) == 1 + n  # "faster" and the grown ones are linked to it


# --- An objective's page ------------------------------------------------------------


def test_the_objective_page_shows_key_results_history_and_linked_metrics(tenant_a):
    okrs = make_okrs(tenant_a)
    check_in(tenant_a, okrs.manual, 2, confidence=5, note="Two through the course")
    check_in(tenant_a, okrs.manual, 4, confidence=7)
    response = client_for(tenant_a.viewer).get(f"/o/org-a/okrs/{okrs.parent.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Pay claims faster</h1>" in html
    assert "lead@example.com" in html
    assert f'href="/o/org-a/okrs/{okrs.child.pk}/">Ship safely</a>' in html  # aligned to it
    card = html[html.index(f'id="kr-{okrs.manual.pk}"') :]
    assert 'aria-labelledby="kr' in card  # the history chart
    assert "Two through the course" in card and "by editor@org-a.example" in card
    assert card.index(">4 people<") < card.index(">2 people<")  # newest first
    assert "7/10" in card
    # The linked value stream and journey, each with its headline metrics and dashboard.
    assert f'href="/o/org-a/streams/{okrs.stream.pk}/dashboard/?period=quarter&amp;from=' in html
    assert f'href="/o/org-a/journeys/{okrs.journey.pk}/dashboard/?period=quarter&amp;from=' in html
    assert 'data-metric="flow_velocity"' in html and 'data-metric="nps"' in html
    assert "Edit objective" not in html and "Link a value stream" not in html


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_dollar_signs_in_a_title_or_unit_are_text_on_the_objective_page(tenant_a, role):
    """matplotlib would read $...$ as mathtext (and fail on this one): it is text."""
    okrs = make_okrs(tenant_a)
    with organization_context(tenant_a.org.pk):
        Objective.objects.filter(pk=okrs.parent.pk).update(title="Cut cost by $x^$")
        KeyResult.objects.filter(pk=okrs.manual.pk).update(unit="$x^$")
    check_in(tenant_a, okrs.manual, 4)
    response = client_for(tenant_a.member(role)).get(f"/o/org-a/okrs/{okrs.parent.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Cut cost by $x^$</h1>" in html
    card = html[html.index(f'id="kr-{okrs.manual.pk}"') :]
    assert ">$x^$</text>" in card  # the history chart's axis label, as typed


def test_the_objective_page_takes_the_same_queries_however_many_links_and_key_results(
    tenant_a,
):
    okrs = make_okrs(tenant_a)
    client = client_for(tenant_a.viewer)
    url = f"/o/org-a/okrs/{okrs.parent.pk}/"
    client.get(url)  # the session is loaded and cached

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    org = tenant_a.org
    with organization_context(org.pk):
        streams = [
            value_stream_save(
                organization=org, value_stream=ValueStream(slug=f"vs{i}", name=f"Stream {i}")
            )
            for i in range(3)
        ]
        journey = journey_save(organization=org, journey=Journey(slug="cover", name="Get cover"))
        services.objective_save(
            organization=org,
            objective=okrs.parent,
            value_streams=[okrs.stream, okrs.web, *streams],
            journeys=[okrs.journey, journey],
        )
        for i, stream in enumerate(streams):
            kr = services.key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=okrs.parent, slug=f"m{i}", title=f"Manual {i}", baseline=0, target=3
                ),
            )
            check_in_create(organization=org, key_result=kr, value=1)
            check_in_create(organization=org, key_result=kr, value=2)
            services.key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=okrs.parent,
                    slug=f"l{i}",
                    title=f"Linked {i}",
                    baseline=10,
                    target=20,
                    metric_value_stream=stream,
                    metric_key="flow_velocity",
                ),
            )
    assert queries() == few


def test_a_linked_key_result_says_where_it_is_measured_from(tenant_a):
    okrs = make_okrs(tenant_a)
    html = client_for(tenant_a.editor).get(f"/o/org-a/okrs/{okrs.child.pk}/").content.decode()
    card = html[html.index(f'id="kr-{okrs.linked.pk}"') :]
    assert "Measured from <strong>Change failure rate</strong> of" in card
    assert f'href="/o/org-a/streams/{okrs.web.pk}/dashboard/">Web delivery</a>' in card
    assert "Check in</summary>" not in card[: card.index("</article>")]


# --- Every OKR route: viewers read, may not write; another organization's ids are 404 ---


def write_routes(o: Okrs, check_in_id: int) -> dict[str, str]:
    return {
        "objective create": "/o/org-a/okrs/new/",
        "objective edit": f"/o/org-a/okrs/{o.parent.pk}/edit/",
        "objective delete": f"/o/org-a/okrs/{o.parent.pk}/delete/",
        "key result create": f"/o/org-a/okrs/{o.parent.pk}/key-results/new/",
        "key result edit": f"/o/org-a/okrs/key-results/{o.manual.pk}/edit/",
        "key result delete": f"/o/org-a/okrs/key-results/{o.manual.pk}/delete/",
        "check-in": f"/o/org-a/okrs/key-results/{o.manual.pk}/check-ins/",
        "check-in delete": f"/o/org-a/okrs/check-ins/{check_in_id}/delete/",
        "link stream": f"/o/org-a/okrs/{o.parent.pk}/value-streams/",
        "unlink stream": f"/o/org-a/okrs/{o.parent.pk}/value-streams/{o.stream.pk}/unlink/",
        "link journey": f"/o/org-a/okrs/{o.parent.pk}/journeys/",
        "unlink journey": f"/o/org-a/okrs/{o.parent.pk}/journeys/{o.journey.pk}/unlink/",
        "stream links objective": f"/o/org-a/streams/{o.stream.pk}/objectives/",
        "stream unlinks objective": (
            f"/o/org-a/streams/{o.stream.pk}/objectives/{o.parent.pk}/unlink/"
        ),
    }


def test_viewers_may_not_write(tenant_a):
    okrs = make_okrs(tenant_a)
    checked = check_in(tenant_a, okrs.manual, 4)
    viewer = client_for(tenant_a.viewer)
    for name, url in write_routes(okrs, checked.pk).items():
        assert viewer.post(url, {"value": 5, "target": okrs.web.pk}).status_code == 403, name
    for url in ("/o/org-a/okrs/new/", f"/o/org-a/okrs/{okrs.parent.pk}/edit/"):
        assert viewer.get(url).status_code == 403
    assert count(CheckIn, org=tenant_a.org, source="manual") == 1
    assert count(ObjectiveValueStream, org=tenant_a.org) == 2


def test_another_organizations_objects_are_404(tenant_a, tenant_b):
    make_okrs(tenant_a)
    theirs = make_okrs(tenant_b)
    their_check_in = check_in(tenant_b, theirs.manual, 4)
    editor = client_for(tenant_a.editor)
    reads = [f"/o/org-a/okrs/{theirs.parent.pk}/"]
    for url in reads:
        assert editor.get(url).status_code == 404
    for name, url in write_routes(theirs, their_check_in.pk).items():
        if name == "objective create":
            continue
        assert editor.post(url, {"value": 5}).status_code == 404, name
    # Org B's own URLs answer 404 to a member of A alone.
    assert editor.get("/o/org-b/okrs/").status_code == 404
    assert count(CheckIn, org=tenant_b.org, source="manual") == 1
    assert count(ObjectiveValueStream, org=tenant_b.org) == 2


# --- Objectives ---------------------------------------------------------------------


def test_an_editor_creates_an_objective_with_links_and_a_slug_from_its_title(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    form = editor.get(f"/o/org-a/okrs/new/?quarter={okrs.quarter}&parent={okrs.parent.pk}")
    assert form.status_code == 200
    assert f'<option value="{okrs.quarter}" selected>' in form.content.decode()
    response = editor.post(
        "/o/org-a/okrs/new/",
        {
            "title": "Fewer claims rejected",
            "slug": "",
            "quarter": okrs.quarter,
            "owner_email": " Lead@Example.com ",
            "parent": okrs.parent.pk,
            "value_streams": [okrs.stream.pk, okrs.web.pk],
            "journeys": [okrs.journey.pk],
        },
    )
    with organization_context(tenant_a.org.pk):
        created = Objective.objects.get(organization=tenant_a.org, slug="fewer-claims-rejected")
        assert created.parent == okrs.parent
        assert created.owner_email == "lead@example.com"
        assert set(created.value_streams.all()) == {okrs.stream, okrs.web}
        assert list(created.journeys.all()) == [okrs.journey]
    assert response.status_code == 302
    assert response["Location"] == f"/o/org-a/okrs/{created.pk}/"


def test_a_parent_of_another_organization_is_not_a_choice(tenant_a, tenant_b):
    okrs = make_okrs(tenant_a)
    theirs = make_okrs(tenant_b)
    response = client_for(tenant_a.editor).post(
        "/o/org-a/okrs/new/",
        {"title": "Sneaky", "quarter": okrs.quarter, "parent": theirs.parent.pk},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert count(Objective, org=tenant_a.org, title="Sneaky") == 0


def test_an_alignment_cycle_is_refused_with_the_services_message(tenant_a):
    okrs = make_okrs(tenant_a)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/{okrs.parent.pk}/edit/",
        {
            "title": "Pay claims much faster",
            "slug": "faster",
            "quarter": okrs.quarter,
            "parent": okrs.child.pk,
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "An objective cannot descend from itself." in html
    assert 'value="Pay claims much faster"' in html  # nothing typed is lost
    with organization_context(tenant_a.org.pk):
        okrs.parent.refresh_from_db()
    assert okrs.parent.parent_id is None and okrs.parent.title == "Pay claims faster"


def test_an_editor_edits_an_objective_and_its_links(tenant_a):
    okrs = make_okrs(tenant_a)
    edit = client_for(tenant_a.editor).get(f"/o/org-a/okrs/{okrs.parent.pk}/edit/")
    html = edit.content.decode()
    assert f'<option value="{okrs.stream.pk}" selected>Claims delivery</option>' in html
    # Not its own parent (ids of other tables' options may equal its own).
    parent_select = re.search(r'<select name="parent".*?</select>', html, re.S)[0]
    assert f'<option value="{okrs.parent.pk}"' not in parent_select
    assert "Pay claims faster" not in parent_select
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/{okrs.parent.pk}/edit/",
        {
            "title": "Pay claims faster",
            "slug": "faster",
            "quarter": quarter_shift(okrs.quarter, 1),
            "value_streams": [okrs.web.pk],
        },
    )
    assert response.status_code == 302
    with organization_context(tenant_a.org.pk):
        okrs.parent.refresh_from_db()
        assert okrs.parent.quarter == quarter_shift(okrs.quarter, 1)
        assert list(okrs.parent.value_streams.all()) == [okrs.web]
        assert not okrs.parent.journeys.exists()


def test_an_editor_deletes_an_objective_after_confirming(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    confirm = editor.get(f"/o/org-a/okrs/{okrs.parent.pk}/delete/").content.decode()
    assert "1 key result and their check-ins" in confirm
    assert "the 1 objective aligned to it becomes top-level" in confirm
    response = editor.post(f"/o/org-a/okrs/{okrs.parent.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == f"/o/org-a/okrs/?quarter={okrs.quarter}"
    assert count(Objective, org=tenant_a.org, slug="faster") == 0
    assert count(KeyResult, org=tenant_a.org, slug="trained") == 0
    htmx = editor.post(f"/o/org-a/okrs/{okrs.lone.pk}/delete/", **HTMX)
    assert htmx["HX-Redirect"] == f"/o/org-a/okrs/?quarter={okrs.quarter}"


# --- Key results --------------------------------------------------------------------


def kr_data(**overrides) -> dict:
    return {
        "title": "Claims reopened",
        "slug": "",
        "baseline": "12",
        "target": "5",
        "unit": "",
        "weight": "1",
        "measured_from": "",
        "metric_key": "",
        **overrides,
    }


def test_an_editor_adds_a_manual_key_result_with_a_target_below_its_baseline(tenant_a):
    okrs = make_okrs(tenant_a)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/", kr_data(unit="claims")
    )
    assert response.status_code == 302
    assert response["Location"] == f"/o/org-a/okrs/{okrs.lone.pk}/#key-results"
    with organization_context(tenant_a.org.pk):
        kr = KeyResult.objects.get(organization=tenant_a.org, objective=okrs.lone)
    assert (kr.slug, kr.baseline, kr.target, kr.unit, kr.metric_key) == (
        "claims-reopened",
        12,
        5,
        "claims",
        "",
    )


def test_adding_a_linked_key_result_with_htmx_swaps_the_key_results(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    form = editor.get(f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/", **HTMX).content.decode()
    assert form.lstrip().startswith('<div class="okr-kr-form" id="kr-form-new">')
    assert '<optgroup label="Value stream">' in form and '<optgroup label="Journey">' in form
    response = editor.post(
        f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/",
        kr_data(
            title="Flow time under 2 days",
            baseline="3",
            target="2",
            measured_from=f"value_stream:{okrs.web.pk}",
            metric_key="flow_time_median_days",
        ),
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#key-results"
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="key-results"')
    assert "Key result “Flow time under 2 days” was added." in html
    assert f'id="objective-{okrs.lone.pk}-progress" hx-swap-oob="true"' in html
    with organization_context(tenant_a.org.pk):
        kr = KeyResult.objects.get(organization=tenant_a.org, objective=okrs.lone)
    assert (kr.metric_value_stream, kr.metric_key, kr.unit) == (
        okrs.web,
        "flow_time_median_days",
        "days",  # the metric's unit, since none was given
    )


def test_a_metric_of_another_kind_of_subject_is_refused_on_the_form(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    data = kr_data(measured_from=f"journey:{okrs.journey.pk}", metric_key="flow_velocity")
    page = editor.post(f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/", data)
    assert page.status_code == 400
    html = page.content.decode()
    assert "&#x27;flow_velocity&#x27; is not a journey metric; use one of nps," in html
    assert 'value="Claims reopened"' in html  # nothing typed is lost
    inline = editor.post(f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/", data, **HTMX)
    assert inline.status_code == 200
    assert "is not a journey metric" in inline.content.decode()
    assert inline.content.decode().lstrip().startswith('<div class="okr-kr-form"')
    missing = editor.post(
        f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/",
        kr_data(measured_from=f"value_stream:{okrs.web.pk}"),
    )
    assert "Choose the metric of Web delivery to measure progress by." in missing.content.decode()
    same = editor.post(
        f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/", kr_data(baseline="5", target="5")
    )
    assert "The target must differ from the baseline." in same.content.decode()
    assert count(KeyResult, org=tenant_a.org, objective=okrs.lone) == 0


def test_an_editor_edits_and_deletes_a_key_result(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    form = editor.get(f"/o/org-a/okrs/key-results/{okrs.linked.pk}/edit/").content.decode()
    assert f'<option value="value_stream:{okrs.web.pk}" selected>' in form
    assert '<option value="change_failure_rate" selected>' in form
    response = editor.post(
        f"/o/org-a/okrs/key-results/{okrs.linked.pk}/edit/",
        kr_data(title="Fewer failed changes", baseline="15", target="8", unit="%"),
        **HTMX,
    )
    assert response.status_code == 200
    with organization_context(tenant_a.org.pk):
        okrs.linked.refresh_from_db()
    # Now manual: no metric, and no value until someone checks in.
    assert (okrs.linked.title, okrs.linked.target, okrs.linked.metric_key) == (
        "Fewer failed changes",
        8,
        "",
    )
    assert okrs.linked.metric_value_stream is None
    deleted = editor.post(f"/o/org-a/okrs/key-results/{okrs.linked.pk}/delete/", **HTMX)
    assert "Key result “Fewer failed changes” was deleted." in deleted.content.decode()
    assert count(KeyResult, org=tenant_a.org, pk=okrs.linked.pk) == 0


# --- Check-ins ----------------------------------------------------------------------


def test_a_check_in_with_htmx_swaps_the_row_and_the_objectives_progress(tenant_a):
    okrs = make_okrs(tenant_a)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/key-results/{okrs.manual.pk}/check-ins/",
        {"value": "4", "confidence": "7", "note": "Four through", "place": "board"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    row, oob = html.split("</li>", 1)
    assert row.lstrip().startswith(f'<li class="okr-kr" id="kr-{okrs.manual.pk}"')
    assert '<span class="okr-pct" data-testid="kr-percent">40%</span>' in row
    assert "Checked in: progress is now 40%." in row
    assert f'id="objective-{okrs.parent.pk}-progress" hx-swap-oob="true"' in oob
    assert '<span class="okr-pct" data-testid="objective-percent">40%</span>' in oob
    with organization_context(tenant_a.org.pk):
        made = CheckIn.objects.get(organization=tenant_a.org, key_result=okrs.manual)
        okrs.manual.refresh_from_db()
    assert (made.value, made.confidence, made.note, made.author) == (
        4,
        7,
        "Four through",
        tenant_a.editor,
    )
    assert okrs.manual.current_value == 4


def test_a_check_in_on_the_objective_page_swaps_the_card_with_its_history(tenant_a):
    okrs = make_okrs(tenant_a)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/key-results/{okrs.manual.pk}/check-ins/",
        {"value": "7.5", "place": "objective"},
        **HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith(f'<article class="okr-kr-card" id="kr-{okrs.manual.pk}"')
    assert "75%" in html and ">7.5 people<" in html
    assert "<svg" in html  # the chart, redrawn


def test_a_check_in_without_javascript_redirects_back(tenant_a):
    okrs = make_okrs(tenant_a)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/key-results/{okrs.manual.pk}/check-ins/", {"value": "3", "place": "board"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/o/org-a/okrs/?quarter={okrs.quarter}#kr-{okrs.manual.pk}"


def test_a_bad_check_in_shows_its_errors_and_keeps_what_was_typed(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/okrs/key-results/{okrs.manual.pk}/check-ins/"
    data = {"value": "lots", "confidence": "11", "note": "keep me", "place": "board"}
    inline = editor.post(url, data, **HTMX)
    assert inline.status_code == 200
    html = inline.content.decode()
    assert "Value: Enter a number." in html
    assert "Confidence: Ensure this value is less than or equal to 10." in html
    assert 'value="keep me"' in html and '<details class="okr-checkin" open>' in html
    page = editor.post(url, data)
    assert page.status_code == 400
    assert "Value: Enter a number." in page.content.decode()
    assert 'value="keep me"' in page.content.decode()
    assert count(CheckIn, org=tenant_a.org, source="manual") == 0


def test_a_check_in_on_a_linked_key_result_is_refused_with_the_reason(tenant_a):
    okrs = make_okrs(tenant_a)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/key-results/{okrs.linked.pk}/check-ins/",
        {"value": "9", "place": "board"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "&#x27;Change failure rate down&#x27; follows the metric change_failure_rate; "
        "its value is measured by the workers, not checked in." in html
    )
    assert count(CheckIn, org=tenant_a.org, source="manual") == 0


def test_an_editor_deletes_a_check_in_and_the_previous_one_counts_again(tenant_a):
    okrs = make_okrs(tenant_a)
    now = dt.datetime.now(dt.UTC)
    check_in(tenant_a, okrs.manual, 2, at=now - dt.timedelta(days=2))
    latest = check_in(tenant_a, okrs.manual, 6, at=now - dt.timedelta(days=1))
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/check-ins/{latest.pk}/delete/", **HTMX
    )
    assert response.status_code == 200
    assert '<span class="okr-pct" data-testid="kr-percent">20%</span>' in response.content.decode()
    with organization_context(tenant_a.org.pk):
        okrs.manual.refresh_from_db()
    assert okrs.manual.current_value == 2


def test_a_measured_value_cannot_be_deleted(tenant_a):
    okrs = make_okrs(tenant_a)
    with organization_context(tenant_a.org.pk):
        measured = CheckIn.objects.filter(organization=tenant_a.org, key_result=okrs.linked).first()
    response = client_for(tenant_a.editor).post(f"/o/org-a/okrs/check-ins/{measured.pk}/delete/")
    assert response.status_code == 302
    assert count(CheckIn, org=tenant_a.org, pk=measured.pk) == 1


# --- Links: the services ------------------------------------------------------------


def test_link_services_are_idempotent_and_recorded(tenant_a):
    okrs = make_okrs(tenant_a)
    org = tenant_a.org
    with organization_context(org.pk):
        first = services.objective_value_stream_link(
            organization=org, objective=okrs.lone, value_stream=okrs.web
        )
        again = services.objective_value_stream_link(
            organization=org, objective=okrs.lone, value_stream=okrs.web
        )
        assert first.pk == again.pk
        assert ObjectiveValueStream.history.filter(objective_id=okrs.lone.pk).count() == 1
        assert services.objective_value_stream_unlink(
            organization=org, objective=okrs.lone, value_stream=okrs.web
        )
        assert not services.objective_value_stream_unlink(
            organization=org, objective=okrs.lone, value_stream=okrs.web
        )
        history = ObjectiveValueStream.history.filter(objective_id=okrs.lone.pk)
        assert sorted(history.values_list("history_type", flat=True)) == ["+", "-"]

        services.objective_journey_link(organization=org, objective=okrs.lone, journey=okrs.journey)
        services.objective_journey_link(organization=org, objective=okrs.lone, journey=okrs.journey)
        assert ObjectiveJourney.objects.filter(objective=okrs.lone).count() == 1
        assert services.objective_journey_unlink(
            organization=org, objective=okrs.lone, journey=okrs.journey
        )
        assert not ObjectiveJourney.objects.filter(objective=okrs.lone).exists()


def test_link_services_refuse_another_organizations_objects(tenant_a, tenant_b):
    from django.core.exceptions import ValidationError

    okrs = make_okrs(tenant_a)
    theirs = make_okrs(tenant_b)
    with organization_context(tenant_a.org.pk), pytest.raises(ValidationError) as exc:
        services.objective_value_stream_link(
            organization=tenant_a.org, objective=okrs.lone, value_stream=theirs.web
        )
    assert exc.value.message_dict == {
        "value_stream": [f"No value stream with id {theirs.web.pk} in this organization."]
    }


# --- Links: from the objective's page -------------------------------------------------


def test_an_editor_links_and_unlinks_value_streams_and_journeys_on_the_objective_page(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    page = editor.get(f"/o/org-a/okrs/{okrs.lone.pk}/").content.decode()
    assert "Link a value stream" in page and "Not linked to a value stream or journey yet." in page
    base = f"/o/org-a/okrs/{okrs.lone.pk}"
    for _ in range(2):  # linking again changes nothing
        response = editor.post(f"{base}/value-streams/", {"target": okrs.web.pk}, **HTMX)
        assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="links"')
    assert "Value stream “Web delivery” is linked." in html
    assert 'data-value-stream="web"' in html
    assert count(ObjectiveValueStream, org=tenant_a.org, objective=okrs.lone) == 1

    response = editor.post(f"{base}/journeys/", {"target": okrs.journey.pk})
    assert response.status_code == 302 and response["Location"] == f"{base}/#links"
    assert count(ObjectiveJourney, org=tenant_a.org, objective=okrs.lone) == 1

    for _ in range(2):  # so does unlinking again
        editor.post(f"{base}/value-streams/{okrs.web.pk}/unlink/", **HTMX)
        editor.post(f"{base}/journeys/{okrs.journey.pk}/unlink/", **HTMX)
    assert count(ObjectiveValueStream, org=tenant_a.org, objective=okrs.lone) == 0
    assert count(ObjectiveJourney, org=tenant_a.org, objective=okrs.lone) == 0


def test_linking_another_organizations_stream_is_an_error_not_a_link(tenant_a, tenant_b):
    okrs = make_okrs(tenant_a)
    theirs = make_okrs(tenant_b)
    response = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/{okrs.lone.pk}/value-streams/", {"target": theirs.web.pk}, **HTMX
    )
    assert "Choose a value stream of this organization." in response.content.decode()
    empty = client_for(tenant_a.editor).post(
        f"/o/org-a/okrs/{okrs.lone.pk}/journeys/", {"target": ""}, **HTMX
    )
    assert "Choose a journey." in empty.content.decode()
    assert count(ObjectiveValueStream, org=tenant_a.org, objective=okrs.lone) == 0


# --- Links: from the value stream's page ---------------------------------------------


def test_the_value_stream_page_lists_its_objectives_with_progress(tenant_a):
    okrs = make_okrs(tenant_a)
    check_in(tenant_a, okrs.manual, 4)
    html = client_for(tenant_a.viewer).get(f"/o/org-a/streams/{okrs.stream.pk}/").content.decode()
    section = html[html.index('<section id="objectives"') :]
    section = section[: section.index("</section>")]
    assert 'data-objective="faster"' in section and 'data-objective="safer"' not in section
    assert '<td class="num">40%</td>' in section
    assert "Unlink" not in section and "Link objective" not in section


def test_an_editor_links_and_unlinks_an_objective_from_the_value_stream_page(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/streams/{okrs.web.pk}/"
    page = editor.get(f"{url}?okr_quarter={okrs.quarter}").content.decode()
    picker = page[page.index('id="link-objective"') :]
    picker = picker[: picker.index("</select>")]
    # Objectives of the chosen quarter not yet linked to the stream.
    assert "Members recommend us" in picker and "Pay claims faster" in picker
    assert "Ship safely" not in picker

    partial = editor.get(f"{url}?okr_quarter=2019-Q1", HTTP_HX_TARGET="objectives", **HTMX)
    assert partial.content.decode().lstrip().startswith('<section id="objectives"')
    assert "No other objective in 2019-Q1" in partial.content.decode()

    for _ in range(2):
        response = editor.post(
            f"{url}objectives/", {"target": okrs.lone.pk, "okr_quarter": okrs.quarter}, **HTMX
        )
    html = response.content.decode()
    assert "Objective “Members recommend us” is linked." in html
    assert 'data-objective="recommend"' in html
    assert count(ObjectiveValueStream, org=tenant_a.org, value_stream=okrs.web) == 2

    plain = editor.post(f"{url}objectives/{okrs.lone.pk}/unlink/", {"okr_quarter": okrs.quarter})
    assert plain.status_code == 302
    assert plain["Location"] == f"{url}?okr_quarter={okrs.quarter}#objectives"
    again = editor.post(f"{url}objectives/{okrs.lone.pk}/unlink/", **HTMX)
    assert again.status_code == 200
    assert count(ObjectiveValueStream, org=tenant_a.org, value_stream=okrs.web) == 1


def test_the_navigation_leads_to_the_board(tenant_a):
    html = client_for(tenant_a.viewer).get("/o/org-a/").content.decode()
    assert '<a href="/o/org-a/okrs/">OKRs</a>' in html


# --- Numbers at and past the ends of the range ---------------------------------------

RANGE = "Enter a number from -1e15 to 1e15."


def test_numbers_outside_the_range_are_refused_on_the_forms(tenant_a):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    new = f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/"
    page = editor.post(new, kr_data(baseline="-1e308", target="1e308", weight="1e16"))
    assert page.status_code == 400
    html = page.content.decode()
    assert html.count(RANGE) == 3, html  # baseline, target and weight
    assert 'value="Claims reopened"' in html  # nothing typed is lost
    assert count(KeyResult, org=tenant_a.org, objective=okrs.lone) == 0
    url = f"/o/org-a/okrs/key-results/{okrs.manual.pk}/check-ins/"
    inline = editor.post(url, {"value": "1e308", "place": "board"}, **HTMX)
    assert inline.status_code == 200
    assert f"Value: {RANGE}" in inline.content.decode()
    page = editor.post(url, {"value": "-1e16", "place": "board"})
    assert page.status_code == 400
    assert f"Value: {RANGE}" in page.content.decode()
    assert count(CheckIn, org=tenant_a.org, source="manual") == 0


@pytest.mark.parametrize(
    ("baseline", "target", "values", "percent"),
    [
        ("-1e15", "1e15", ["1e15"], "100%"),
        ("0", "1e-308", ["1e15"], "100%"),  # a target a hair from the baseline
        ("1e15", "-1e15", ["5e-324", "-1e15", "1e15"], "0%"),
        ("0", "5e-324", [], "—"),  # no check-in yet: only the baseline and the target
    ],
)
def test_the_extremes_of_the_range_show_on_the_board_and_the_objective_page(
    tenant_a, baseline, target, values, percent
):
    okrs = make_okrs(tenant_a)
    editor = client_for(tenant_a.editor)
    data = kr_data(title="Edge", baseline=baseline, target=target, weight="1e15")
    response = editor.post(f"/o/org-a/okrs/{okrs.lone.pk}/key-results/new/", data)
    assert response.status_code == 302
    with organization_context(tenant_a.org.pk):
        kr = KeyResult.objects.get(organization=tenant_a.org, objective=okrs.lone)
    for value in values:
        response = editor.post(
            f"/o/org-a/okrs/key-results/{kr.pk}/check-ins/", {"value": value, "place": "board"}
        )
        assert response.status_code == 302
    html = board(editor, f"?quarter={okrs.quarter}")
    card = html[html.index(f'id="kr-{kr.pk}"') :]
    assert f'data-testid="kr-percent">{percent}<' in card
    page = editor.get(f"/o/org-a/okrs/{okrs.lone.pk}/")
    assert page.status_code == 200
    assert 'aria-labelledby="kr' in page.content.decode()  # the history chart
