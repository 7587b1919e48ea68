"""The event CSV formats as users read them (streams.formats): on the import page, in the
example files it offers and in docs/formats.md, held to what the importer accepts."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from metrics.definitions import METRICS, Subject, keys_for
from metrics.engine import kpis_for_period
from metrics.reports.csv import COLUMNS as REPORT_COLUMNS
from portfolio.model_io import ModelImportError, model_import, model_parse
from portfolio.models import Organization
from portfolio.tenancy import organization_context
from streams import formats
from streams.formats import FORMATS, kind_markdown
from streams.ingest import KINDS, _max_length, _one_of, _required, _time_check, events_import
from streams.models import EventKind, ValueStream
from streams.services import value_stream_save
from tests.conftest import client_for
from tests.journeys.helpers import build_journey

BASE_DIR = Path(settings.BASE_DIR)
DOCS = BASE_DIR / "docs" / "formats.md"


def test_every_kind_is_described_with_the_importers_columns_in_its_order():
    assert list(FORMATS) == list(KINDS) == list(EventKind.values)
    for kind, fmt in FORMATS.items():
        assert tuple(c.name for c in fmt.columns) == KINDS[kind].columns
        assert fmt.header == ",".join(KINDS[kind].columns)


@pytest.mark.parametrize("kind", list(KINDS))
def test_required_columns_times_values_and_lengths_are_the_importers_checks(kind):
    spec, fmt = KINDS[kind], FORMATS[kind]
    checks = "\n".join(spec.checks)
    for column in fmt.columns:
        name = column.name
        is_time = name in spec.times
        assert (column.type == formats.TIME) == is_time, name
        # Required: the importer refuses it empty; else it accepts it empty.
        refuses_empty = _required(name) in spec.checks or _time_check(name) in spec.checks
        assert column.required == refuses_empty, name
        if is_time and not column.required:
            assert _time_check(name, required=False) in spec.checks, name
        if column.values and column.type == "one of":
            assert _one_of(name, column.values) in spec.checks, name
        elif column.values:
            # The state: a category, or else a mapped tool status; the message lists them.
            assert ", ".join(column.values) in checks, name
        if column.max_length:
            assert _max_length(name, column.max_length) in spec.checks, name
        else:
            assert f"{name} is %s characters long" not in checks, name


def test_docs_formats_md_shows_every_kind_as_the_import_page_does():
    text = DOCS.read_text()
    for fmt in FORMATS.values():
        section = kind_markdown(fmt)
        assert section in text, f"docs/formats.md should hold, exactly:\n\n{section}"


@pytest.fixture
def org_with_model(tenant_a) -> Organization:
    """A fresh organization's own value stream and journey, named unlike the docs'."""
    org = tenant_a.org
    with organization_context(org.pk):
        value_stream_save(organization=org, value_stream=ValueStream(slug="dental", name="Dental"))
        value_stream_save(organization=org, value_stream=ValueStream(slug="zeta", name="Zeta"))
    build_journey(org, slug="claim")
    return org


def example_url(slug: str, kind: str) -> str:
    return reverse(f"event_example_{kind}", kwargs={"org_slug": slug})


@pytest.mark.django_db
def test_each_example_downloads_and_imports_into_the_organization_as_it_is(
    tenant_a, org_with_model
):
    client = client_for(tenant_a.editor)
    for kind in FORMATS:  # in dependency order
        answer = client.get(example_url("org-a", kind))
        assert answer.status_code == 200
        assert answer["Content-Type"] == "text/csv; charset=utf-8"
        assert answer["Content-Disposition"] == f'attachment; filename="{kind}-example.csv"'
        body = answer.content.decode()
        assert body.splitlines()[0] == FORMATS[kind].header
        # The organization's own slugs, not the docs' placeholders.
        assert "claims" not in body and "make-a-claim" not in body
        with organization_context(org_with_model.pk):
            result = events_import(organization=org_with_model, kind=kind, rows=io.StringIO(body))
        assert result.created == len(FORMATS[kind].example), kind
    flow_items = client.get(example_url("org-a", "flow_items")).content.decode()
    assert ",dental," in flow_items
    journey_events = client.get(example_url("org-a", "journey_events")).content.decode()
    assert ",claim,stage_entered," in journey_events and ",submit,form" in journey_events


@pytest.mark.django_db
def test_examples_are_the_editors_another_organizations_and_unknown_kinds_are_404(
    tenant_a, tenant_b
):
    assert client_for(tenant_a.viewer).get(example_url("org-a", "flow_items")).status_code == 403
    editor = client_for(tenant_a.editor)
    assert editor.get(example_url("org-b", "flow_items")).status_code == 404
    assert editor.get("/o/org-a/streams/import/example/stories.csv").status_code == 404


@pytest.mark.django_db
def test_the_import_page_shows_each_kinds_columns_docs_and_example(tenant_a, org_with_model):
    page = client_for(tenant_a.editor).get(reverse("event_import", kwargs={"org_slug": "org-a"}))
    assert page.status_code == 200
    html = page.content.decode()
    for kind, fmt in FORMATS.items():
        assert f'id="format-{kind}"' in html
        assert f"docs/formats.md#{kind}" in html
        assert f'href="{example_url("org-a", kind)}"' in html
        section = html.split(f'id="format-{kind}"', 1)[1].split("</details>", 1)[0]
        for column in fmt.columns:
            assert f"<code>{column.name}</code>" in section
    assert "CONTRACT.md" not in html


def test_the_docs_model_json_example_imports_into_a_fresh_organization(db):
    text = DOCS.read_text()
    example = re.search(r"<!-- model-example -->\n```json\n(.*?)\n```", text, re.S)[1]
    org = Organization.objects.create(slug="docs-model", name="Docs model")
    with organization_context(org.pk):
        summary = model_import(organization=org, data=model_parse(example.encode()))
    assert summary.counts["objectives"]["created"] == 1


# One object of each place in the model, holding only an unknown key: the importer
# then names the keys it requires ("required, but missing") and every key it allows.
PROBE = {
    "teams": [{"zz": 1}],
    "product_families": [{"zz": 1, "products": [{"zz": 1}]}],
    "components": [{"zz": 1}],
    "value_streams": [{"zz": 1, "stages": [{"zz": 1}]}],
    "journeys": [{"zz": 1, "stages": [{"zz": 1, "touchpoints": [{"zz": 1}]}]}],
    "objectives": [{"zz": 1, "key_results": [{"zz": 1, "metric": {"zz": 1}}]}],
}


def test_the_docs_model_keys_are_the_ones_the_importer_requires_and_allows(db):
    org = Organization.objects.create(slug="docs-keys", name="Docs keys")
    with organization_context(org.pk), pytest.raises(ModelImportError) as caught:
        model_import(organization=org, data=PROBE)
    importer: dict[str, tuple[set[str], set[str]]] = {}
    for message in caught.value.errors:
        if found := re.match(r"(.+)\.zz: unknown key; expected one of (.+)$", message):
            place = re.sub(r"\[0\]", "[]", found[1])
            required = {
                m[1]
                for m in (
                    re.match(rf"{re.escape(found[1])}\.(\w+): required, but missing$", e)
                    for e in caught.value.errors
                )
                if m
            }
            allowed = set(found[2].split(", "))
            importer[place] = (required, allowed - required)
    table = DOCS.read_text().split("<!-- model-keys -->", 1)[1].split("\n\n", 1)[0]
    documented = {}
    for row in table.splitlines()[3:]:
        place, required, optional = (cell.strip() for cell in row.strip("|").split("|"))
        documented[place.strip("`")] = (
            set(re.findall(r"`(\w+)`", required)),
            set(re.findall(r"`(\w+)`", optional)),
        )
    assert documented == importer


@pytest.mark.django_db
def test_the_docs_kpis_example_has_the_keys_kpis_gives(tenant_a, org_with_model):
    text = DOCS.read_text()
    example = json.loads(re.search(r"<!-- kpis-example -->\n```json\n(.*?)\n```", text, re.S)[1])
    import datetime as dt

    with organization_context(org_with_model.pk):
        real = kpis_for_period(
            organization=org_with_model, date_from=dt.date(2026, 7, 1), date_to=dt.date(2026, 9, 30)
        )
    assert set(example) == set(real)
    assert set(next(iter(example["value_streams"].values()))) == set(keys_for(Subject.VALUE_STREAM))
    assert set(next(iter(example["journeys"].values()))) == set(keys_for(Subject.JOURNEY))
    for key, metric in METRICS.items():
        assert f"| `{key}` | {metric.unit} |" in text, key


def test_the_docs_report_csv_header_is_the_reports():
    assert f"```csv\n{','.join(REPORT_COLUMNS)}\n" in DOCS.read_text()


def _user_facing_texts() -> dict[str, str]:
    texts = {"README.md": (BASE_DIR / "README.md").read_text()}
    for path in [*(BASE_DIR / "docs").glob("*.md"), *(BASE_DIR / "templates").rglob("*.html")]:
        texts[str(path.relative_to(BASE_DIR))] = path.read_text()
    return texts


# Documents that live outside the repository: no file of the repository may send a
# reader (or a developer) to them. docs/metrics.md, docs/formats.md and
# docs/interfaces.md hold what they said.
OUTSIDE_DOCUMENTS = ("CONTRACT.md", "DOMAIN.md", "STYLE.md", "../shared")
# The tests that search for those names, and so must spell them.
SEARCHING_TESTS = {"tests/streams/test_formats.py", "tests/metrics/test_docs_examples.py"}


def test_no_user_facing_text_points_at_files_outside_the_repository():
    from django.core.management import get_commands, load_command_class
    from drf_spectacular.generators import SchemaGenerator

    texts = _user_facing_texts()
    for name, app in get_commands().items():
        if not app.startswith("django.") and not app.startswith("rest_framework"):
            texts[f"manage.py {name}"] = str(load_command_class(app, name).help)
    texts["the OpenAPI schema"] = json.dumps(SchemaGenerator().get_schema(public=True))
    found = [
        f"{where}: {needle}"
        for where, text in texts.items()
        for needle in OUTSIDE_DOCUMENTS
        if needle in text
    ]
    assert found == []


def _tracked_files() -> dict[str, bytes]:
    """Every file git tracks in the repository, by its path, with its content."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
    )
    names = [name for name in listed.stdout.decode().split("\0") if name]
    assert "README.md" in names and "docs/metrics.md" in names
    # A file deleted in the work tree but not yet in the index is no longer there.
    return {name: (BASE_DIR / name).read_bytes() for name in names if (BASE_DIR / name).is_file()}


def test_no_tracked_file_points_at_files_outside_the_repository():
    """Code comments, docstrings, tests, bench/ and docs included: the repository
    stands on its own."""
    found = []
    for name, content in sorted(_tracked_files().items()):
        if name in SEARCHING_TESTS:
            continue
        for number, line in enumerate(content.splitlines(), start=1):
            found += [
                f"{name}:{number}: {needle}"
                for needle in OUTSIDE_DOCUMENTS
                if needle.encode() in line
            ]
    assert found == [], "\n".join(found)


def _anchors(doc: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file: lower case,
    punctuation dropped, spaces to '-'."""
    text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.M | re.S)
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-") for text in headings}


def test_every_pointer_into_the_docs_leads_to_a_heading():
    """``docs/metrics.md#roll-up`` in a comment, ``(formats.md#event-csvs)`` or
    ``(#roll-up)`` in a page: each names a file of docs/ and a heading it has."""
    pointers: set[tuple[str, str, str]] = set()
    for name, content in _tracked_files().items():
        text = content.decode("utf-8", errors="replace")
        pointers |= {
            (name, f"docs/{m[0]}.md", m[1]) for m in re.findall(r"docs/(\w+)\.md#([\w-]+)", text)
        }
        if name.startswith("docs/") and name.endswith(".md"):
            pointers |= {
                (name, f"docs/{m[0]}.md", m[1])
                for m in re.findall(r"\]\((\w+)\.md#([\w-]+)\)", text)
            }
        if name.endswith(".md"):
            pointers |= {(name, name, m) for m in re.findall(r"\]\(#([\w-]+)\)", text)}
    assert ("metrics/engine.py", "docs/metrics.md", "roll-up") in pointers
    anchors: dict[str, set[str]] = {}
    broken = []
    for where, doc, anchor in sorted(pointers):
        if doc not in anchors:
            anchors[doc] = _anchors(BASE_DIR / doc) if (BASE_DIR / doc).is_file() else set()
        if anchor not in anchors[doc]:
            broken.append(f"{where}: {doc}#{anchor}")
    assert broken == []
