"""Each metric is declared once, in metrics.definitions: its family, unit, label, short
label, digits and which way is better. Everything else reads the declaration: the key
lists of a family, the labels pages, reports and forms print, the digits they show."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from metrics import definitions
from metrics.definitions import METRICS, Family, Subject

ROOT = Path(settings.BASE_DIR)
# Everything a label could be written in again: the project's Python, outside the
# declaration itself, the tests (which assert what pages print) and migrations.
SKIPPED_DIRS = {".venv", "tests", "migrations", "node_modules", ".git", "bench"}


def project_python() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.py")
        if not SKIPPED_DIRS & set(p.relative_to(ROOT).parts)
        and p != ROOT / "metrics" / "definitions.py"
    )


def test_every_metric_declares_what_it_is():
    for key, metric in METRICS.items():
        assert metric.key == key
        assert isinstance(metric.family, Family)
        assert metric.label and metric.short_label
        assert len(metric.short_label) <= len(metric.label), key
        assert isinstance(metric.digits, int) and 0 <= metric.digits <= 3, key
        assert metric.unit and metric.better


def test_a_metrics_subject_follows_from_its_family():
    assert {m.family for m in METRICS.values() if m.subject == Subject.VALUE_STREAM} == {
        Family.FLOW,
        Family.DORA,
    }
    assert {m.family for m in METRICS.values() if m.subject == Subject.JOURNEY} == {Family.JOURNEY}


def test_the_family_key_lists_derive_from_the_declaration():
    for family, keys in [
        (Family.FLOW, definitions.FLOW_KEYS),
        (Family.DORA, definitions.DORA_KEYS),
        (Family.JOURNEY, definitions.JOURNEY_KEYS),
    ]:
        assert keys == tuple(k for k, m in METRICS.items() if m.family == family)
    assert definitions.DORA_KEYS == (
        "deployment_frequency_per_day",
        "lead_time_for_changes_median_hours",
        "change_failure_rate",
        "time_to_restore_median_hours",
    )


def test_every_other_module_reads_the_family_lists_rather_than_declaring_them():
    from journeys import dashboard_views as journey_dashboard
    from metrics import engine, journey_kpis
    from metrics.reports import data, pdf, xlsx
    from portfolio import okr_views
    from streams import dashboard_views

    seen = 0
    modules = (engine, journey_kpis, journey_dashboard, dashboard_views, data, pdf, xlsx, okr_views)
    for module in modules:
        for name in ("FLOW_KEYS", "DORA_KEYS", "JOURNEY_KEYS"):
            if hasattr(module, name):
                seen += 1
                assert getattr(module, name) is getattr(definitions, name), (module, name)
    assert seen >= 6


def test_labels_are_declared_once():
    labels = [m.label for m in METRICS.values()]
    assert len(labels) == len(set(labels))


def test_no_module_outside_the_declaration_writes_a_metrics_label():
    """A label (or short label) written as a string anywhere else is a second
    declaration that can drift from the first: "Flow time (median)" beside "Flow time,
    median". Read it from METRICS instead."""
    declared = {m.label for m in METRICS.values()} | {m.short_label for m in METRICS.values()}
    files = project_python()
    assert len(files) > 50
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and node.value in declared:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert offenders == []


def test_no_module_guesses_a_metrics_family_from_its_name():
    """The family is declared: a key's prefix ("flow_", "deployment") is not it."""
    offenders = []
    for path in project_python():
        text = path.read_text()
        for guess in ('startswith("flow_")', "startswith('flow_')"):
            if guess in text:
                offenders.append(f"{path.relative_to(ROOT)}: {guess}")
    assert offenders == []


def _shown_keys() -> list[tuple[str, tuple[str, ...]]]:
    from journeys import delivery_views
    from metrics.reports import data
    from portfolio import okr_views
    from streams import dashboard_views

    return [
        ("streams HEADLINE_KEYS", dashboard_views.HEADLINE_KEYS),
        ("streams DORA_KEYS", dashboard_views.DORA_KEYS),
        ("streams OVERVIEW_KEYS", dashboard_views.OVERVIEW_KEYS),
        ("journeys DELIVERY_KEYS", delivery_views.DELIVERY_KEYS),
        ("okr LINKED_STREAM_KEYS", okr_views.LINKED_STREAM_KEYS),
        ("okr LINKED_JOURNEY_KEYS", okr_views.LINKED_JOURNEY_KEYS),
        ("report SUMMARY_STREAM_KEYS", data.SUMMARY_STREAM_KEYS),
        ("report SUMMARY_JOURNEY_KEYS", data.SUMMARY_JOURNEY_KEYS),
    ]


@pytest.mark.parametrize(("name", "keys"), _shown_keys())
def test_every_key_a_view_shows_is_declared(name, keys):
    assert keys, name
    assert [k for k in keys if k not in METRICS] == [], name
    assert len(set(keys)) == len(keys), name
