"""Report exports: the worker's task, the reports pages and the API (create, poll,
download), with the other-organization (404) and role (403) cases."""

from __future__ import annotations

import re
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from metrics.models import ExportStatus, QuarterlyReport, ReportExport, ReportFile
from metrics.reports import exports
from metrics.reports.data import quarterly_report_freeze
from metrics.tasks import report_export_build
from portfolio.models import KeyResult, Objective
from portfolio.okrs import local_today, quarter_of
from portfolio.tenancy import organization_context
from tests import api
from tests.conftest import client_for
from tests.metrics.report_history import add_late_item, build_history

pytestmark = pytest.mark.django_db

ALL = ["pdf", "xlsx", "csv"]


@pytest.fixture
def history(tenant_a):
    return build_history(tenant_a.org)


@pytest.fixture
def fast(monkeypatch):
    """Skip the PDF's layout where a test is not about it (WeasyPrint takes seconds)."""
    monkeypatch.setitem(exports.RENDERERS, "pdf", lambda data: b"%PDF-1.7 test")


def create(tenant, user=None, *, quarter="2026-Q3", formats=None, recompute=False, run=True):
    with organization_context(tenant.org.pk):
        export = exports.report_export_create(
            organization=tenant.org,
            user=user or tenant.editor,
            quarter=quarter,
            formats=formats,
            recompute=recompute,
        )
    if run:
        report_export_build.apply(args=[tenant.org.pk, export.pk])
    return reload(tenant, export)


def reload(tenant, export) -> ReportExport:
    with organization_context(tenant.org.pk):
        return ReportExport.objects.get(pk=export.pk)


def files(tenant, export) -> dict[str, tuple[str, bytes]]:
    with organization_context(tenant.org.pk):
        return {
            f.format: (f.filename, bytes(f.content))
            for f in ReportFile.objects.filter(organization=tenant.org, export_id=export.pk)
        }


# --- The task -----------------------------------------------------------------------------


def test_an_export_builds_every_format_from_the_frozen_figures(tenant_a, history):
    export = create(tenant_a)
    assert (export.status, export.progress, export.message) == (ExportStatus.DONE, 100, "")
    built = files(tenant_a, export)
    assert list(built) == ALL
    name, pdf = built["pdf"]
    assert name == "org-a-2026-Q3-report-definitions-2026.1.pdf" and pdf.startswith(b"%PDF")
    assert built["csv"][1].startswith(b"section,subject_type,subject,metric,unit,value")
    assert built["xlsx"][1].startswith(b"PK")  # a zip, as every XLSX is
    with organization_context(tenant_a.org.pk):
        report = QuarterlyReport.objects.get(organization=tenant_a.org, quarter="2026-Q3")
    assert export.frozen_at == report.frozen_at
    assert report.frozen_by == tenant_a.editor


def test_the_task_is_idempotent_and_rebuilds_after_a_killed_worker(tenant_a, history, fast):
    export = create(tenant_a, formats=["csv", "xlsx"])
    first = files(tenant_a, export)
    # A second delivery of a finished export does nothing.
    assert report_export_build.apply(args=[tenant_a.org.pk, export.pk]).get() is None
    assert files(tenant_a, export) == first
    # A worker killed mid-build leaves the export running with a partial file: the
    # redelivered task builds it again, with one file per format.
    with organization_context(tenant_a.org.pk):
        ReportExport.objects.filter(pk=export.pk).update(status=ExportStatus.RUNNING, progress=60)
        ReportFile.objects.filter(export_id=export.pk, format="xlsx").update(content=b"partial")
    assert report_export_build.apply(args=[tenant_a.org.pk, export.pk]).get() == ExportStatus.DONE
    assert files(tenant_a, export) == first
    with organization_context(tenant_a.org.pk):
        assert ReportFile.objects.filter(export_id=export.pk).count() == 2


def test_a_failing_build_marks_the_export_failed_and_keeps_no_file(tenant_a, history, monkeypatch):
    def broken(data):
        raise RuntimeError("the layout engine fell over")

    monkeypatch.setitem(exports.RENDERERS, "xlsx", broken)
    export = create(tenant_a, formats=["csv", "xlsx"])
    assert export.status == ExportStatus.FAILED
    assert export.message == exports.FAILED_MESSAGE
    assert export.finished_at is not None
    assert files(tenant_a, export) == {}


def frozen_report(tenant) -> QuarterlyReport | None:
    with organization_context(tenant.org.pk):
        return QuarterlyReport.objects.filter(organization=tenant.org, quarter="2026-Q3").first()


def test_a_failed_export_freezes_nothing(tenant_a, history, monkeypatch):
    def broken(data):
        raise RuntimeError("the layout engine fell over")

    monkeypatch.setitem(exports.RENDERERS, "pdf", broken)
    failed = create(tenant_a, formats=["csv", "pdf"])
    assert failed.status == ExportStatus.FAILED
    assert frozen_report(tenant_a) is None
    assert failed.frozen_at is None
    # Once the cause is gone, the next export computes the quarter from the events as
    # they are then (not from figures the failed one left) and freezes them.
    add_late_item(tenant_a.org, history["claims"])
    monkeypatch.setitem(exports.RENDERERS, "pdf", lambda data: b"%PDF-1.7 test")
    done = create(tenant_a, formats=["csv", "pdf"])
    assert done.status == ExportStatus.DONE
    report = frozen_report(tenant_a)
    assert report.frozen_at == done.frozen_at
    assert b"flow,value_stream,claims,flow_velocity,items,3,1,2" in files(tenant_a, done)["csv"][1]
    # A recompute that fails keeps the frozen figures it would have replaced.
    monkeypatch.setitem(exports.RENDERERS, "pdf", broken)
    create(tenant_a, tenant_a.admin, formats=["pdf"], recompute=True)
    assert frozen_report(tenant_a).frozen_at == report.frozen_at


def test_an_export_draws_the_figures_another_export_froze_meanwhile(
    tenant_a, history, fast, monkeypatch
):
    build, racer = exports._files_build, {}

    def racing(organization, export, report):
        if not racer:  # while the first files are built, another export freezes Q3
            add_late_item(tenant_a.org, history["claims"])
            with organization_context(tenant_a.org.pk):
                racer["report"] = quarterly_report_freeze(
                    organization=tenant_a.org, quarter="2026-Q3"
                )
        build(organization, export, report)

    monkeypatch.setattr(exports, "_files_build", racing)
    export = create(tenant_a, formats=["csv"])
    assert export.status == ExportStatus.DONE
    assert export.frozen_at == racer["report"].frozen_at == frozen_report(tenant_a).frozen_at
    # The files show the frozen figures (with the late item), not the ones first drawn.
    assert (
        b"flow,value_stream,claims,flow_velocity,items,3,1,2" in files(tenant_a, export)["csv"][1]
    )


def test_an_objective_titled_with_dollar_signs_exports_as_text(tenant_a, history):
    """matplotlib would read $...$ as mathtext: a title or unit is text, never parsed."""
    with organization_context(tenant_a.org.pk):
        Objective.objects.filter(pk=history["faster"].pk).update(title="Cut cost by $x^$")
        KeyResult.objects.filter(pk=history["trained"].pk).update(unit="$x^$")
    export = create(tenant_a, formats=["pdf"])
    assert export.status == ExportStatus.DONE, export.message
    text = "\n".join(
        p.extract_text() for p in PdfReader(BytesIO(files(tenant_a, export)["pdf"][1])).pages
    )
    assert "Cut cost by $x^$" in text


def test_an_export_reuses_frozen_figures_unless_it_recomputes(tenant_a, history, fast):
    first = create(tenant_a, formats=["csv"])
    add_late_item(tenant_a.org, history["claims"])
    again = create(tenant_a, formats=["csv"])
    assert files(tenant_a, again)["csv"][1] == files(tenant_a, first)["csv"][1]
    assert again.frozen_at == first.frozen_at
    recomputed = create(tenant_a, tenant_a.admin, formats=["csv"], recompute=True)
    assert recomputed.frozen_at > first.frozen_at
    assert (
        b"flow,value_stream,claims,flow_velocity,items,3,1,2"
        in files(tenant_a, recomputed)["csv"][1]
    )


def test_only_an_admin_may_recompute(tenant_a, history):
    for user in (tenant_a.editor, tenant_a.viewer):
        with pytest.raises(exports.PermissionDenied, match=exports.RECOMPUTE_ROLE_MESSAGE):
            create(tenant_a, user, recompute=True, run=False)


# --- Pages --------------------------------------------------------------------------------


def page(org="org-a") -> str:
    return reverse("reports", kwargs={"org_slug": org})


def test_an_editor_starts_an_export_and_watches_it_finish(
    tenant_a, history, fast, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a.editor)
    answer = client.get(page())
    assert answer.status_code == 200
    body = answer.content.decode()
    assert 'data-testid="report-form"' in body
    assert '<option value="2026-Q3"' in body
    assert 'name="recompute"' not in body  # admins only
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(page(), {"quarter": "2026-Q3"})
    export = ReportExport.objects.get(organization=tenant_a.org)
    status_url = reverse("report_export", kwargs={"org_slug": "org-a", "export_id": export.pk})
    assert answer.status_code == 302 and answer["Location"] == status_url
    partial = client.get(status_url, headers={"HX-Request": "true"}).content.decode()
    assert partial.strip().startswith('<section id="report-status"')
    assert 'data-status="done"' in partial and "hx-trigger" not in partial
    for fmt in ALL:
        assert reverse(f"report_download_{fmt}", args=["org-a", export.pk]) in partial
    listing = client.get(page()).content.decode()
    assert "frozen since" in listing


def test_a_running_export_page_polls(tenant_a, history):
    export = create(tenant_a, run=False)
    url = reverse("report_export", kwargs={"org_slug": "org-a", "export_id": export.pk})
    body = client_for(tenant_a.viewer).get(url).content.decode()
    assert 'data-status="queued"' in body and 'hx-trigger="every 1s"' in body


def test_viewers_download_but_may_not_start_or_recompute(tenant_a, history, fast):
    export = create(tenant_a)
    viewer = client_for(tenant_a.viewer)
    body = viewer.get(page()).content.decode()
    assert 'data-testid="report-form"' not in body
    assert viewer.post(page(), {"quarter": "2026-Q3"}).status_code == 403
    answer = viewer.get(reverse("report_download_csv", args=["org-a", export.pk]))
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == (
        'attachment; filename="org-a-2026-Q3-report-definitions-2026.1.csv"'
    )
    assert answer.content == files(tenant_a, export)["csv"][1]
    editor = client_for(tenant_a.editor)
    assert editor.post(page(), {"quarter": "2026-Q3", "recompute": "on"}).status_code == 403
    assert ReportExport.objects.filter(organization=tenant_a.org).count() == 1


def test_an_admin_recomputes_from_the_page(
    tenant_a, history, fast, django_capture_on_commit_callbacks
):
    admin = client_for(tenant_a.admin)
    assert 'name="recompute"' in admin.get(page()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(page(), {"quarter": "2026-Q3", "recompute": "on"})
    export = ReportExport.objects.get(organization=tenant_a.org)
    assert export.recompute and export.status == ExportStatus.DONE


def test_a_quarter_in_progress_is_computed_not_frozen_wherever_the_export_is_read(
    tenant_a, history, fast
):
    """As the PDF says: a quarter's figures are frozen only once it has ended."""
    current = quarter_of(local_today(tenant_a.org))
    export = create(tenant_a, quarter=current, formats=["xlsx"])
    assert export.status == ExportStatus.DONE
    viewer = client_for(tenant_a.viewer)
    url = reverse("report_export", kwargs={"org_slug": "org-a", "export_id": export.pk})
    done = re.search(r'data-testid="report-done">(.*?)</div>', viewer.get(url).content.decode())[1]
    assert "computed" in done and "were frozen" not in done
    listing = viewer.get(page()).content.decode()
    assert "Frozen quarters" not in listing
    row = re.search(rf"<td>{current}</td>\s*<td>(.*?)</td>", listing)[1]
    assert row.startswith("to date, computed") and "frozen since" not in row
    status = api.get(viewer, f"reports/{export.pk}/").json()
    assert status["in_progress"] is True
    summary = load_workbook(BytesIO(files(tenant_a, export)["xlsx"][1]))["Summary"]
    labels = [row[0].value for row in summary.iter_rows(min_row=3, max_row=14)]
    assert "Computed at (UTC)" in labels and "Computed by" in labels
    assert not [label for label in labels if label and label.startswith("Frozen")]
    # A finished quarter's are frozen, and say so.
    finished = create(tenant_a, quarter="2026-Q3", formats=["csv"])
    assert api.get(viewer, f"reports/{finished.pk}/").json()["in_progress"] is False
    finished_url = reverse("report_export", kwargs={"org_slug": "org-a", "export_id": finished.pk})
    assert "were frozen" in viewer.get(finished_url).content.decode()


def test_the_page_refuses_a_future_quarter(tenant_a, history):
    answer = client_for(tenant_a.editor).post(page(), {"quarter": "2999-Q1"})
    assert answer.status_code == 400
    assert "2999-Q1 has not started yet" in answer.content.decode()
    assert not ReportExport.objects.filter(organization=tenant_a.org).exists()


def test_another_organizations_exports_answer_404(tenant_a, tenant_b, history, fast):
    export = create(tenant_a)
    client = client_for(tenant_b.admin)
    assert client.get(page("org-a")).status_code == 404
    for url in (
        reverse("report_export", args=["org-b", export.pk]),
        reverse("report_download_pdf", args=["org-b", export.pk]),
    ):
        assert client.get(url).status_code == 404


def test_a_download_before_the_file_exists_answers_404(tenant_a, history):
    export = create(tenant_a, run=False)
    url = reverse("report_download_pdf", args=["org-a", export.pk])
    assert client_for(tenant_a.viewer).get(url).status_code == 404


# --- API ----------------------------------------------------------------------------------


def test_the_api_creates_polls_and_downloads(
    tenant_a, history, fast, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a.editor)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.send(client, "post", "reports/", {"quarter": "2026-Q3", "formats": ["csv"]})
    assert answer.status_code == 202, answer.json()
    created = answer.json()
    assert (created["quarter"], created["formats"], created["recompute"]) == (
        "2026-Q3",
        ["csv"],
        False,
    )
    assert answer["Location"] == created["status_url"]
    assert created["status_url"].endswith(f"/api/v1/orgs/org-a/reports/{created['id']}/")
    status = client_for(tenant_a.viewer).get(created["status_url"]).json()
    assert (status["status"], status["progress"], status["requested_by"]) == (
        "done",
        100,
        tenant_a.editor.email,
    )
    assert list(status["downloads"]) == ["csv"]
    file = client_for(tenant_a.viewer).get(status["downloads"]["csv"], HTTP_ACCEPT="text/csv")
    assert file.status_code == 200
    assert file["Content-Type"] == "text/csv; charset=utf-8"
    assert file["Content-Disposition"].startswith("attachment; filename=")
    assert file.content.startswith(b"section,subject_type,subject,metric")
    listing = api.get(client_for(tenant_a.viewer), "reports/").json()
    assert [e["id"] for e in listing["results"]] == [created["id"]]


def test_the_api_defaults_to_every_format(tenant_a, history, fast):
    answer = api.send(client_for(tenant_a.admin), "post", "reports/", {"quarter": "2026-Q3"})
    assert answer.status_code == 202
    assert answer.json()["formats"] == ALL


def test_the_api_answers_409_for_a_file_not_built_yet(tenant_a, history):
    export = create(tenant_a, run=False)
    answer = api.get(client_for(tenant_a.viewer), f"reports/{export.pk}/download/pdf/")
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "The export is queued; poll its status URL until it is done."
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"quarter": "2026-Q5"}, "quarter", "'2026-Q5' is not a quarter such as 2026-Q3."),
        (
            {"quarter": "2999-Q1"},
            "quarter",
            "2999-Q1 has not started yet (it starts on 2999-01-01)",
        ),
        ({"quarter": "2026-Q3", "formats": ["docx"]}, "formats", '"docx" is not a valid choice.'),
        ({"quarter": "2026-Q3", "formats": []}, "formats", "This list may not be empty."),
        ({}, "quarter", "This field is required."),
    ],
)
def test_the_api_answers_400_to_bad_input(tenant_a, history, body, field, message):
    answer = api.send(client_for(tenant_a.editor), "post", "reports/", body)
    assert answer.status_code == 400
    assert list(answer.json()) == [field]
    assert message in str(answer.json()[field])
    assert not ReportExport.objects.filter(organization=tenant_a.org).exists()


def test_the_api_roles(tenant_a, history, fast):
    body = {"quarter": "2026-Q3", "formats": ["csv"]}
    assert api.send(client_for(tenant_a.viewer), "post", "reports/", body).status_code == 403
    recompute = {**body, "recompute": True}
    answer = api.send(client_for(tenant_a.editor), "post", "reports/", recompute)
    assert answer.status_code == 403
    assert answer.json() == {"detail": exports.RECOMPUTE_ROLE_MESSAGE}
    assert api.send(client_for(tenant_a.admin), "post", "reports/", recompute).status_code == 202


def test_the_api_answers_404_for_another_organization(tenant_a, tenant_b, history, fast):
    export = create(tenant_a, formats=["csv"])
    other = client_for(tenant_b.admin)
    assert api.get(other, "reports/").status_code == 404
    assert api.send(other, "post", "reports/", {"quarter": "2026-Q3"}).status_code == 404
    for path in (f"reports/{export.pk}/", f"reports/{export.pk}/download/csv/"):
        assert api.get(other, path, org="org-b").status_code == 404
        assert api.get(other, path).status_code == 404


def test_the_schema_documents_the_report_endpoints(db):
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in ("/reports/:", "/reports/{id}/:", "/reports/{export_id}/download/xlsx/:"):
        assert f"/api/v1/orgs/{{org_slug}}{path}" in schema
    assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in schema
