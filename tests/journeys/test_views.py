"""Journey pages: the list, the journey map with its emotion curve, and the htmx edits."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from journeys import selectors, services
from journeys.models import Journey, JourneyStage, Touchpoint
from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Product, ProductFamily, Team
from portfolio.tenancy import organization_context
from streams.models import Stage, ValueStream
from streams.services import stage_add, value_stream_save
from tests.conftest import Tenant, client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class Portfolio:
    """A small portfolio to draw journeys on: two teams' components, a product, and a
    value stream with two stages."""

    product: Product
    web: Component
    claims: Component
    vs: ValueStream
    vs_apply: Stage
    vs_assess: Stage


def make_portfolio(tenant: Tenant) -> Portfolio:
    org = tenant.org
    with organization_context(org.pk):
        layer = Layer.objects.filter(organization=org).first()
        digital = entity_save(Team(slug="digital", name="Digital team"), organization=org)
        claims_team = entity_save(Team(slug="claims", name="Claims team"), organization=org)
        family = entity_save(ProductFamily(slug="health", name="Health"), organization=org)
        product = entity_save(
            Product(slug="dental", name="Dental cover", family=family, layer=layer),
            organization=org,
        )
        web = entity_save(
            Component(slug="web", name="Member web", layer=layer, team=digital), organization=org
        )
        claims = entity_save(
            Component(slug="claims-engine", name="Claims engine", layer=layer, team=claims_team),
            organization=org,
        )
        vs = value_stream_save(
            organization=org, value_stream=ValueStream(slug="claims-vs", name="Claims handling")
        )
        vs_apply = stage_add(organization=org, value_stream=vs, name="Intake")
        vs_assess = stage_add(organization=org, value_stream=vs, name="Assessment")
    return Portfolio(product, web, claims, vs, vs_apply, vs_assess)


def make_journey(
    tenant: Tenant,
    *,
    slug: str = "claim",
    name: str = "Make a claim",
    persona: str = "Policyholder",
    stages: tuple[tuple[str, int | None], ...] = (
        ("Discover", 1),
        ("Apply", -1),
        ("Wait", None),
        ("Paid", 2),
    ),
    touchpoints_per_stage: int = 1,
    portfolio: Portfolio | None = None,
) -> Journey:
    org = tenant.org
    with organization_context(org.pk):
        journey = services.journey_save(
            organization=org,
            journey=Journey(
                slug=slug,
                name=name,
                persona=persona,
                product=portfolio.product if portfolio else None,
            ),
        )
        for stage_name, emotion in stages:
            stage = services.journey_stage_save(
                organization=org,
                stage=JourneyStage(
                    journey=journey,
                    name=stage_name,
                    emotion=emotion,
                    pain_points=[f"{stage_name} is slow"],
                    opportunities=[f"Faster {stage_name.lower()}"],
                ),
            )
            for i in range(touchpoints_per_stage):
                services.touchpoint_save(
                    organization=org,
                    touchpoint=Touchpoint(
                        stage=stage,
                        name=f"{stage_name} touchpoint {i}",
                        channel="web",
                        emotion=0,
                        value_stream_stage=portfolio.vs_apply if portfolio else None,
                    ),
                    components=[portfolio.web, portfolio.claims] if portfolio else [],
                )
    return journey


def stages_of(tenant: Tenant, journey: Journey) -> list[JourneyStage]:
    with organization_context(tenant.org.pk):
        return list(JourneyStage.objects.filter(journey=journey).order_by("position", "id"))


def flagged(tenant: Tenant, journey: Journey, flag: str) -> str:
    return next(s.name for s in stages_of(tenant, journey) if getattr(s, flag))


def columns_of(html: str) -> dict[str, str]:
    """Each stage column's markup, by the stage's slug (up to the next column)."""
    parts = re.split(r'data-stage="([\w-]+)"', html)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def queries(client: Client, url: str, **headers: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, **headers).status_code == 200
    return len(ctx.captured_queries)


# --- Every route: viewers read, may not write; another organization's ids are 404 ------


def routes(j: int, s: int, t: int) -> dict[str, tuple[str, str]]:
    """Each journey route with an id: (method, path)."""
    return {
        "map": ("get", f"/o/org-a/journeys/{j}/"),
        "edit": ("post", f"/o/org-a/journeys/{j}/edit/"),
        "delete": ("post", f"/o/org-a/journeys/{j}/delete/"),
        "stage add": ("post", f"/o/org-a/journeys/{j}/stages/new/"),
        "stage edit": ("post", f"/o/org-a/journeys/stages/{s}/edit/"),
        "stage delete": ("post", f"/o/org-a/journeys/stages/{s}/delete/"),
        "stage move": ("post", f"/o/org-a/journeys/stages/{s}/move/"),
        "stage flag": ("post", f"/o/org-a/journeys/stages/{s}/flag/"),
        "touchpoint add": ("post", f"/o/org-a/journeys/stages/{s}/touchpoints/new/"),
        "touchpoint edit": ("post", f"/o/org-a/journeys/touchpoints/{t}/edit/"),
        "touchpoint delete": ("post", f"/o/org-a/journeys/touchpoints/{t}/delete/"),
    }


def ids_of(tenant: Tenant, journey: Journey) -> tuple[int, int, int]:
    with organization_context(tenant.org.pk):
        stage = JourneyStage.objects.filter(journey=journey).first()
        touchpoint = Touchpoint.objects.filter(journey=journey).first()
    return journey.pk, stage.pk, touchpoint.pk


def test_another_organizations_journey_stage_and_touchpoint_answer_404(tenant_a, tenant_b):
    theirs = make_journey(tenant_b)
    before = ids_of(tenant_b, theirs)
    for who in (tenant_a.admin, tenant_a.editor):
        client = client_for(who)
        for what, (method, path) in routes(*before).items():
            for m in {method, "get"}:
                answer = getattr(client, m)(path, {"flag": "is_entry", "direction": "left"})
                assert answer.status_code in (404, 405), f"{what} {m}: {answer.status_code}"
                if m == method:
                    assert answer.status_code == 404, f"{what}: {answer.status_code}"
    # B's own slug, for A's members: 404 too; and nothing of B changed.
    assert client_for(tenant_a.admin).get("/o/org-b/journeys/").status_code == 404
    assert ids_of(tenant_b, theirs) == before
    assert [s.name for s in stages_of(tenant_b, theirs)] == ["Discover", "Apply", "Wait", "Paid"]


def test_viewer_reads_the_pages_but_every_write_is_403(tenant_a):
    journey = make_journey(tenant_a)
    viewer = client_for(tenant_a.viewer)
    assert viewer.get("/o/org-a/journeys/").status_code == 200
    assert viewer.post("/o/org-a/journeys/new/", {"name": "X"}).status_code == 403
    for what, (method, path) in routes(*ids_of(tenant_a, journey)).items():
        if what == "map":
            assert viewer.get(path).status_code == 200
            continue
        assert getattr(viewer, method)(path, {"name": "X"}).status_code == 403, what
    # The GET forms (edit pages for browsers without JavaScript) are editors' too.
    j, s, t = ids_of(tenant_a, journey)
    for path in (
        f"/o/org-a/journeys/{j}/edit/",
        f"/o/org-a/journeys/{j}/delete/",
        f"/o/org-a/journeys/stages/{s}/edit/",
        f"/o/org-a/journeys/stages/{s}/touchpoints/new/",
        f"/o/org-a/journeys/touchpoints/{t}/edit/",
    ):
        assert viewer.get(path).status_code == 403, path
    assert [s.name for s in stages_of(tenant_a, journey)] == ["Discover", "Apply", "Wait", "Paid"]


def test_people_outside_the_organization_get_404(tenant_a, outsider):
    journey = make_journey(tenant_a)
    client = client_for(outsider)
    assert client.get("/o/org-a/journeys/").status_code == 404
    assert client.get(f"/o/org-a/journeys/{journey.pk}/").status_code == 404


# --- The list ---------------------------------------------------------------------------


def test_list_shows_name_persona_product_and_counts(tenant_a):
    portfolio = make_portfolio(tenant_a)
    make_journey(tenant_a, portfolio=portfolio, touchpoints_per_stage=2)
    make_journey(tenant_a, slug="renew", name="Renew a policy", persona="Member", stages=())
    html = client_for(tenant_a.viewer).get("/o/org-a/journeys/").content.decode()
    row = re.search(r'<tr data-journey="claim">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    assert cells == ["Make a claim", "Policyholder", "Dental cover", "4", "8", "Dashboard"]
    row = re.search(r'<tr data-journey="renew">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    assert cells == ["Renew a policy", "Member", "—", "0", "0", "Dashboard"]
    # A viewer gets no form to create one.
    assert "New journey" not in html


def test_list_searches_name_and_persona(tenant_a):
    make_journey(tenant_a, slug="claim", name="Make a claim", persona="Policyholder")
    make_journey(tenant_a, slug="join", name="Join", persona="Prospect")
    client = client_for(tenant_a.viewer)
    html = client.get("/o/org-a/journeys/?q=CLAIM").content.decode()
    assert 'data-journey="claim"' in html
    assert 'data-journey="join"' not in html
    html = client.get("/o/org-a/journeys/?q=prospect").content.decode()
    assert 'data-journey="join"' in html
    assert 'data-journey="claim"' not in html
    html = client.get("/o/org-a/journeys/?q=nothing-like-it").content.decode()
    assert "No journey’s name or persona contains" in html  # noqa: RUF001


def test_list_answers_htmx_with_the_results_partial(tenant_a):
    make_journey(tenant_a)
    answer = client_for(tenant_a.viewer).get("/o/org-a/journeys/?q=claim", **HTMX)
    html = answer.content.decode()
    assert html.lstrip().startswith('<section id="journey-results"')
    assert "<html" not in html
    assert 'data-journey="claim"' in html


def test_empty_list_offers_to_start_from_a_template(tenant_a):
    html = client_for(tenant_a.editor).get("/o/org-a/journeys/").content.decode()
    assert "No customer journeys yet" in html
    assert 'href="/o/org-a/streams/templates/"' in html
    assert "Start from a template" in html
    assert "New journey" in html


def test_list_query_count_is_the_same_for_3_and_30_journeys(tenant_a):
    portfolio = make_portfolio(tenant_a)
    client = client_for(tenant_a.editor)
    stages = (("Discover", 1), ("Apply", -1))
    for i in range(3):
        make_journey(tenant_a, slug=f"j{i}", name=f"J{i}", stages=stages, portfolio=portfolio)
    few = queries(client, "/o/org-a/journeys/")
    for i in range(3, 30):
        make_journey(tenant_a, slug=f"j{i}", name=f"J{i}", stages=stages, portfolio=portfolio)
    assert queries(client, "/o/org-a/journeys/") == few
    assert queries(client, "/o/org-a/journeys/?q=J2&page=1") == few


def test_list_pages_through_1000_journeys(tenant_a):
    org = tenant_a.org
    with organization_context(org.pk):
        for i in range(1000):
            services.journey_save(
                organization=org, journey=Journey(slug=f"j{i:04}", name=f"Journey {i:04}")
            )
    client = client_for(tenant_a.viewer)
    first = queries(client, "/o/org-a/journeys/")
    html = client.get("/o/org-a/journeys/?page=40").content.decode()
    assert "Page 40 of 40 · 1000 journeys" in html
    assert html.count("<tr data-journey=") == 25
    assert 'data-journey="j0999"' in html
    assert queries(client, "/o/org-a/journeys/?page=40") == first


def test_editor_creates_a_journey_with_a_slug_made_from_the_name(tenant_a):
    portfolio = make_portfolio(tenant_a)
    answer = client_for(tenant_a.editor).post(
        "/o/org-a/journeys/new/",
        {"name": "Make a Claim", "slug": "", "persona": "Member", "product": portfolio.product.pk},
    )
    with organization_context(tenant_a.org.pk):
        journey = Journey.objects.get(organization=tenant_a.org)
    assert answer.status_code == 302
    assert answer["Location"] == f"/o/org-a/journeys/{journey.pk}/"
    assert (journey.slug, journey.persona, journey.product_id) == (
        "make-a-claim",
        "Member",
        portfolio.product.pk,
    )


def test_create_with_htmx_redirects_the_browser_to_the_new_map(tenant_a):
    answer = client_for(tenant_a.editor).post(
        "/o/org-a/journeys/new/", {"name": "Join", "slug": "join-us"}, **HTMX
    )
    with organization_context(tenant_a.org.pk):
        journey = Journey.objects.get(organization=tenant_a.org, slug="join-us")
    assert answer["HX-Redirect"] == f"/o/org-a/journeys/{journey.pk}/"


def test_create_refuses_another_organizations_product_and_a_taken_slug(tenant_a, tenant_b):
    theirs = make_portfolio(tenant_b).product
    make_journey(tenant_a, slug="claim")
    editor = client_for(tenant_a.editor)
    answer = editor.post("/o/org-a/journeys/new/", {"name": "X", "product": theirs.pk})
    assert answer.status_code == 400
    assert "Select a valid choice" in answer.content.decode()
    answer = editor.post("/o/org-a/journeys/new/", {"name": "X", "slug": "claim"}, **HTMX)
    html = answer.content.decode()
    assert answer.status_code == 200  # htmx swaps only 2xx answers: the form shows its errors
    assert html.lstrip().startswith('<section id="journey-create"')
    assert "slug &#x27;claim&#x27; is already used by another journey." in html
    with organization_context(tenant_a.org.pk):
        assert Journey.objects.filter(organization=tenant_a.org).count() == 1


# --- The journey map ---------------------------------------------------------------------


def test_map_shows_stages_in_order_with_flags_emotions_notes_and_touchpoints(tenant_a):
    portfolio = make_portfolio(tenant_a)
    journey = make_journey(tenant_a, portfolio=portfolio)
    html = client_for(tenant_a.viewer).get(f"/o/org-a/journeys/{journey.pk}/").content.decode()
    names = re.findall(r'<h2 class="jm-stage-name">([^<]+)</h2>', html)
    assert names == ["Discover", "Apply", "Wait", "Paid"]
    columns = columns_of(html)
    assert 'data-flag="is_entry"' in columns["discover"]
    assert 'data-flag="is_work_start"' in columns["apply"]
    assert 'data-flag="is_conversion"' in columns["paid"]
    assert "−1</strong> negative" in columns["apply"]  # noqa: RUF001
    assert "Emotion not scored" in columns["wait"]
    assert "Apply is slow" in columns["apply"]
    assert "Faster apply" in columns["apply"]
    # Each touchpoint: its channel, value-stream stage (linked), components and teams.
    assert "Apply touchpoint 0" in columns["apply"]
    assert f'href="/o/org-a/streams/{portfolio.vs.pk}/">Claims handling</a> › Intake' in html  # noqa: RUF001
    assert '<span class="chip">Claims engine</span><span class="chip">Member web</span>' in html
    assert "Claims team, Digital team" in html
    # Viewers read; they get no edit controls.
    assert "Add touchpoint" not in html
    assert "Edit journey" not in html
    assert "journey-board" in html


def test_map_shows_editors_the_edit_controls(tenant_a):
    journey = make_journey(tenant_a)
    html = client_for(tenant_a.editor).get(f"/o/org-a/journeys/{journey.pk}/").content.decode()
    assert "Edit journey" in html
    assert "+ Add touchpoint" in html
    assert "Add stage" in html
    assert "Make this the conversion stage" in html


def test_map_query_count_does_not_grow_with_touchpoints(tenant_a):
    portfolio = make_portfolio(tenant_a)
    few = make_journey(tenant_a, slug="few", portfolio=portfolio, touchpoints_per_stage=1)
    many = make_journey(
        tenant_a,
        slug="many",
        portfolio=portfolio,
        stages=tuple((f"Stage {i}", i % 5 - 2) for i in range(8)),
        touchpoints_per_stage=6,
    )
    client = client_for(tenant_a.editor)
    assert queries(client, f"/o/org-a/journeys/{few.pk}/") == queries(
        client, f"/o/org-a/journeys/{many.pk}/"
    )


def test_the_emotion_curve_has_one_point_per_scored_stage_and_gaps_for_the_others(tenant_a):
    journey = make_journey(tenant_a)  # emotions +1, -1, none, +2
    html = client_for(tenant_a.viewer).get(f"/o/org-a/journeys/{journey.pk}/").content.decode()
    svg = re.search(r'<svg class="emotion-curve".*?</svg>', html, re.S).group(0)
    points = re.findall(
        r'<circle class="emotion-point emotion-(-?\d)" cx="([\d.]+)" cy="([\d.]+)"', svg
    )
    assert [int(e) for e, _, _ in points] == [1, -1, 2]
    # One line through Discover and Apply; Wait is a gap; Paid stands alone.
    assert len(re.findall(r"<polyline ", svg)) == 1
    assert svg.count("not scored") == 1
    # Sized to the columns: 4 columns of 272px with 3 gaps of 16px; points at their middles.
    assert 'width="1136"' in svg
    assert [float(x) for _, x, _ in points] == [136.0, 424.0, 1000.0]
    assert "Apply: −1 (negative)" in svg  # noqa: RUF001


def test_emotion_curve_coordinates():
    stages = [
        JourneyStage(name="A", emotion=2),
        JourneyStage(name="B", emotion=0),
        JourneyStage(name="C", emotion=None),
        JourneyStage(name="D", emotion=-2),
        JourneyStage(name="E", emotion=-1),
    ]
    curve = selectors.emotion_curve(stages, column_width=100, gap=10, height=100, padding=10)
    assert curve.width == 5 * 100 + 4 * 10
    # +2 at the top (padding), -2 at the bottom, 20px per step.
    assert [(p.x, p.y) for p in curve.points] == [(50, 10), (160, 50), (380, 90), (490, 70)]
    assert curve.zero_y == 50
    assert curve.lines == ["50,10 160,50", "380,90 490,70"]
    assert [g.stage for g in curve.gaps] == ["C"]
    assert selectors.emotion_curve([]).points == []


def test_map_answers_htmx_with_its_body(tenant_a):
    journey = make_journey(tenant_a)
    answer = client_for(tenant_a.viewer).get(f"/o/org-a/journeys/{journey.pk}/", **HTMX)
    html = answer.content.decode()
    assert "<html" not in html
    assert 'id="journey-header"' in html
    assert 'id="journey-board"' in html


# --- Editing the journey -------------------------------------------------------------------


def test_editor_edits_the_journey_header_with_htmx(tenant_a, tenant_b):
    journey = make_journey(tenant_a)
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/journeys/{journey.pk}/edit/"
    form = editor.get(url, **HTMX).content.decode()
    assert form.lstrip().startswith('<header id="journey-header" class="jm-header jm-editing"')
    assert 'value="Make a claim"' in form
    answer = editor.post(url, {"name": "Claim", "slug": "claim", "persona": "Member"}, **HTMX)
    html = answer.content.decode()
    assert html.lstrip().startswith('<header id="journey-header" class="jm-header">')
    assert "<h1>Claim</h1>" in html
    # Another organization's product: a form error, the journey unchanged.
    theirs = make_portfolio(tenant_b).product
    answer = editor.post(url, {"name": "Y", "slug": "claim", "product": theirs.pk}, **HTMX)
    assert "Select a valid choice" in answer.content.decode()
    with organization_context(tenant_a.org.pk):
        journey.refresh_from_db()
    assert (journey.name, journey.persona, journey.product_id) == ("Claim", "Member", None)


def test_editor_edits_the_journey_without_javascript(tenant_a):
    journey = make_journey(tenant_a)
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/journeys/{journey.pk}/edit/"
    page = editor.get(url).content.decode()
    assert "<html" in page
    assert "Edit the journey Make a claim" in page
    answer = editor.post(url, {"name": "", "slug": "claim"})
    assert answer.status_code == 400
    answer = editor.post(url, {"name": "Claim it", "slug": "claim"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/o/org-a/journeys/{journey.pk}/"


def test_editor_deletes_the_journey(tenant_a):
    journey = make_journey(tenant_a)
    other = make_journey(tenant_a, slug="other", name="Other")
    editor = client_for(tenant_a.editor)
    confirm = editor.get(f"/o/org-a/journeys/{journey.pk}/delete/").content.decode()
    assert "Delete the journey “Make a claim”?" in confirm
    answer = editor.post(f"/o/org-a/journeys/{journey.pk}/delete/", **HTMX)
    assert answer["HX-Redirect"] == "/o/org-a/journeys/"
    answer = editor.post(f"/o/org-a/journeys/{other.pk}/delete/")
    assert answer.status_code == 302
    with organization_context(tenant_a.org.pk):
        assert not Journey.objects.filter(organization=tenant_a.org).exists()
        assert not Touchpoint.objects.filter(organization=tenant_a.org).exists()


# --- Editing stages ------------------------------------------------------------------------


def board_of(answer) -> str:
    """An htmx edit's answer: the board, retargeted to replace the old one."""
    assert answer.status_code == 200
    assert answer["HX-Retarget"] == "#journey-board"
    assert answer["HX-Reswap"] == "outerHTML"
    html = answer.content.decode()
    assert html.lstrip().startswith('<section id="journey-board"')
    return html


def test_editor_adds_renames_scores_and_deletes_a_stage(tenant_a):
    journey = make_journey(tenant_a, stages=(("Discover", None),), touchpoints_per_stage=0)
    editor = client_for(tenant_a.editor)
    html = board_of(
        editor.post(f"/o/org-a/journeys/{journey.pk}/stages/new/", {"name": "Apply"}, **HTMX)
    )
    assert re.findall(r'<h2 class="jm-stage-name">([^<]+)</h2>', html) == ["Discover", "Apply"]
    # The header's counts come along, swapped out of band.
    assert '<header id="journey-header" class="jm-header" hx-swap-oob="true">' in html
    assert "<dt>Stages</dt><dd>2</dd>" in html
    apply = stages_of(tenant_a, journey)[1]

    url = f"/o/org-a/journeys/stages/{apply.pk}/edit/"
    form = editor.get(url, **HTMX).content.decode()
    assert form.lstrip().startswith(f'<li class="jm-stage jm-editing" id="stage-{apply.pk}"')
    html = board_of(
        editor.post(
            url,
            {
                "name": "Apply online",
                "emotion": "-2",
                "pain_points": "Too many fields\r\n\r\n  Lost progress  \n",
                "opportunities": "Prefill from the policy",
            },
            **HTMX,
        )
    )
    assert "Apply online" in html
    assert 'class="emotion-point emotion--2"' in html
    apply = stages_of(tenant_a, journey)[1]
    assert (apply.name, apply.emotion) == ("Apply online", -2)
    assert apply.pain_points == ["Too many fields", "Lost progress"]
    assert apply.opportunities == ["Prefill from the policy"]
    # The form shows the lists one per line again.
    assert "Too many fields\nLost progress</textarea>" in editor.get(url, **HTMX).content.decode()

    # An emotion out of range is a form error, in place.
    answer = editor.post(url, {"name": "Apply", "emotion": "3"}, **HTMX)
    assert answer.status_code == 200
    assert "Select a valid choice" in answer.content.decode()
    assert "HX-Retarget" not in answer

    html = board_of(editor.post(f"/o/org-a/journeys/stages/{apply.pk}/delete/", **HTMX))
    assert re.findall(r'<h2 class="jm-stage-name">([^<]+)</h2>', html) == ["Discover"]


def test_a_blank_stage_name_is_a_form_error(tenant_a):
    journey = make_journey(tenant_a, stages=())
    answer = client_for(tenant_a.editor).post(
        f"/o/org-a/journeys/{journey.pk}/stages/new/", {"name": ""}, **HTMX
    )
    assert "This field is required" in board_of(answer)
    # Without JavaScript: the form on a page of its own.
    answer = client_for(tenant_a.editor).post(
        f"/o/org-a/journeys/{journey.pk}/stages/new/", {"name": ""}
    )
    assert answer.status_code == 400
    assert "This field is required" in answer.content.decode()
    assert stages_of(tenant_a, journey) == []


def test_moving_stages_reorders_them_and_default_flags_follow(tenant_a):
    journey = make_journey(tenant_a)  # Discover, Apply, Wait, Paid
    editor = client_for(tenant_a.editor)
    discover = stages_of(tenant_a, journey)[0]
    move = f"/o/org-a/journeys/stages/{discover.pk}/move/"
    html = board_of(editor.post(move, {"direction": "right"}, **HTMX))
    assert re.findall(r'<h2 class="jm-stage-name">([^<]+)</h2>', html) == [
        "Apply",
        "Discover",
        "Wait",
        "Paid",
    ]
    # Nobody set the flags on purpose: entry is the first stage, work start the second.
    assert flagged(tenant_a, journey, "is_entry") == "Apply"
    assert flagged(tenant_a, journey, "is_work_start") == "Discover"
    board_of(editor.post(move, {"direction": "left"}, **HTMX))
    board_of(editor.post(move, {"direction": "left"}, **HTMX))  # already first: stays
    assert [s.name for s in stages_of(tenant_a, journey)] == ["Discover", "Apply", "Wait", "Paid"]
    assert flagged(tenant_a, journey, "is_entry") == "Discover"
    # Without JavaScript: a redirect back to the map.
    answer = editor.post(move, {"direction": "right"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/o/org-a/journeys/{journey.pk}/"


def test_setting_a_flag_moves_it_to_the_stage_and_it_stays_there(tenant_a):
    journey = make_journey(tenant_a)
    editor = client_for(tenant_a.editor)
    wait = stages_of(tenant_a, journey)[2]
    html = board_of(
        editor.post(f"/o/org-a/journeys/stages/{wait.pk}/flag/", {"flag": "is_conversion"}, **HTMX)
    )
    assert flagged(tenant_a, journey, "is_conversion") == "Wait"
    assert 'data-flag="is_conversion"' in columns_of(html)["wait"]
    assert 'data-flag="is_conversion"' not in columns_of(html)["paid"]
    # Set on purpose, it stays put when the stages move around it.
    paid = stages_of(tenant_a, journey)[3]
    board_of(
        editor.post(f"/o/org-a/journeys/stages/{paid.pk}/move/", {"direction": "left"}, **HTMX)
    )
    assert flagged(tenant_a, journey, "is_conversion") == "Wait"
    # A flag that does not exist is refused.
    answer = editor.post(f"/o/org-a/journeys/stages/{wait.pk}/flag/", {"flag": "is_x"}, **HTMX)
    assert "Choose the entry, work start or conversion flag." in board_of(answer)


# --- Editing touchpoints ---------------------------------------------------------------------


def test_editor_adds_a_touchpoint_with_components_and_a_value_stream_stage(tenant_a):
    portfolio = make_portfolio(tenant_a)
    journey = make_journey(tenant_a, touchpoints_per_stage=0)
    apply = stages_of(tenant_a, journey)[1]
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/journeys/stages/{apply.pk}/touchpoints/new/"
    form = editor.get(url, **HTMX).content.decode()
    # The value-stream stages are grouped by value stream; the stage is preselected.
    assert '<optgroup label="Claims handling">' in form
    assert f'<option value="{apply.pk}" selected>Apply</option>' in form
    assert "Member web (Digital team)" in form
    html = board_of(
        editor.post(
            url,
            {
                "name": "Online claim form",
                "stage": apply.pk,
                "channel": "app",
                "emotion": "-1",
                "value_stream_stage": portfolio.vs_assess.pk,
                "components": [portfolio.web.pk, portfolio.claims.pk],
            },
            **HTMX,
        )
    )
    assert "Online claim form" in html
    assert "Claims handling</a> › Assessment" in html  # noqa: RUF001
    with organization_context(tenant_a.org.pk):
        tp = Touchpoint.objects.get(organization=tenant_a.org, name="Online claim form")
        assert (tp.stage_id, tp.journey_id, tp.channel, tp.emotion) == (
            apply.pk,
            journey.pk,
            "app",
            -1,
        )
        assert sorted(tp.components.values_list("slug", flat=True)) == ["claims-engine", "web"]


def test_touchpoint_forms_refuse_another_organizations_ids(tenant_a, tenant_b):
    make_portfolio(tenant_a)
    theirs = make_portfolio(tenant_b)
    their_journey = make_journey(tenant_b, portfolio=theirs)
    their_stage = stages_of(tenant_b, their_journey)[0]
    journey = make_journey(tenant_a)
    other_journey = make_journey(tenant_a, slug="other", name="Other")
    apply = stages_of(tenant_a, journey)[1]
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/journeys/stages/{apply.pk}/touchpoints/new/"
    base = {"name": "Sneaky", "stage": apply.pk, "channel": "web"}
    for field, value in (
        ("components", [theirs.web.pk]),
        ("value_stream_stage", theirs.vs_apply.pk),
        ("stage", their_stage.pk),
        # A stage of another journey of the same organization is refused too.
        ("stage", stages_of(tenant_a, other_journey)[0].pk),
    ):
        answer = editor.post(url, {**base, field: value}, **HTMX)
        html = answer.content.decode()
        assert answer.status_code == 200, field
        assert "HX-Retarget" not in answer, field
        assert "Select a valid choice" in html, field
        assert html.lstrip().startswith('<div class="jm-tp jm-editing"'), field
    answer = editor.post(url, {**base, "components": [theirs.web.pk]})
    assert answer.status_code == 400
    with organization_context(tenant_a.org.pk):
        assert not Touchpoint.objects.filter(name="Sneaky").exists()


def test_editor_edits_a_touchpoint_in_place_and_deletes_it(tenant_a):
    portfolio = make_portfolio(tenant_a)
    journey = make_journey(tenant_a, portfolio=portfolio)
    apply = stages_of(tenant_a, journey)[1]
    with organization_context(tenant_a.org.pk):
        tp = Touchpoint.objects.get(stage=apply)
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/journeys/touchpoints/{tp.pk}/edit/"
    form = editor.get(url, **HTMX).content.decode()
    assert form.lstrip().startswith(f'<div class="jm-tp jm-editing" id="touchpoint-{tp.pk}"')
    assert re.search(
        rf'<input type="checkbox" name="components" value="{portfolio.web.pk}"[^>]*checked', form
    )
    answer = editor.post(
        url,
        {
            "name": "Call the claims line",
            "stage": apply.pk,
            "channel": "phone",
            "emotion": "2",
            "value_stream_stage": "",
            "components": [portfolio.claims.pk],
        },
        **HTMX,
    )
    html = answer.content.decode()
    assert "HX-Retarget" not in answer  # the card swaps itself
    assert html.lstrip().startswith(f'<li class="jm-tp" id="touchpoint-{tp.pk}"')
    assert "Call the claims line" in html
    assert "Phone" in html
    assert "Claims team" in html
    assert "Digital team" not in html

    # Moved to another stage: the board is redrawn.
    wait = stages_of(tenant_a, journey)[2]
    answer = editor.post(
        url, {"name": "Call", "stage": wait.pk, "channel": "phone", "components": []}, **HTMX
    )
    board_of(answer)
    with organization_context(tenant_a.org.pk):
        tp.refresh_from_db()
        assert (tp.stage_id, tp.components.count()) == (wait.pk, 0)

    answer = editor.post(f"/o/org-a/journeys/touchpoints/{tp.pk}/delete/", **HTMX)
    html = answer.content.decode()
    # Nothing for the card (it is gone), the header with the new counts out of band.
    assert answer.status_code == 200
    assert html.lstrip().startswith('<header id="journey-header" class="jm-header" hx-swap-oob')
    assert "<dt>Touchpoints</dt><dd>3</dd>" in html
    with organization_context(tenant_a.org.pk):
        assert not Touchpoint.objects.filter(pk=tp.pk).exists()


def test_touchpoint_forms_work_without_javascript(tenant_a):
    journey = make_journey(tenant_a, touchpoints_per_stage=0)
    apply = stages_of(tenant_a, journey)[1]
    editor = client_for(tenant_a.editor)
    url = f"/o/org-a/journeys/stages/{apply.pk}/touchpoints/new/"
    page = editor.get(url).content.decode()
    assert "<html" in page
    assert "hx-disable" in page
    answer = editor.post(url, {"name": "", "stage": apply.pk, "channel": "web"})
    assert answer.status_code == 400
    answer = editor.post(url, {"name": "Letter", "stage": apply.pk, "channel": "letter"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/o/org-a/journeys/{journey.pk}/"
