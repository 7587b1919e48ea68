"""Counts agree with their nouns: "1 item", "2 items", never "1 items".

Two walks over the project's own text, templates and Python f-strings, each finding
a value followed, within two words, by a fixed plural noun ("{{ n }} items",
"{{ n }} value streams", f"{n} errors"). Such a noun must follow its count through
``pluralize`` or ``ngettext``; the few values that are not counts, or never 1, are
listed below with the reason.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings

from metrics.engine import flow_item_facts_refresh
from portfolio.tenancy import organization_context
from streams.models import FlowItem, FlowTransition, ValueStream
from streams.services import value_stream_save
from tests.conftest import client_for
from tests.test_templates import project_templates

BASE = Path(settings.BASE_DIR)
# The product's code (bench/ is a developer's benchmark, not the product).
PY_ROOTS = ["config", "journeys", "metrics", "portfolio", "streams"]

# Words ending in s that are not plural nouns: small words, and the verbs that follow
# a name in the product's messages ("{name} contains", "{{ quarter }} matches").
NOT_PLURAL = {"is", "was", "has", "does", "as", "its", "this", "thus", "us", "yes", "plus", "vs"}
NOT_PLURAL |= {"contains", "exists", "holds", "looks", "makes", "matches", "needs"}
NOT_PLURAL |= {"overrides", "reports", "starts", "feeds", "gives", "shows"}

# A value, then up to two words, then a plural-looking word; between them spaces and
# inline tags only ("{{ n }}</span><span>members"), since a block tag ("</dd></div>
# <div><dt>Stages") starts another phrase.
_INLINE = r"</?(?:a|span|small|strong|em|b|i|abbr|code|mark)\b[^>]*>"
_GAP = rf"(?:\s|&nbsp;|{_INLINE})+"
_TEMPLATE_COUNT = re.compile(
    r"\{\{\s*(?P<expr>[^}]+?)\s*\}\}"
    rf"(?P<words>(?:{_GAP}[A-Za-z-]+){{0,2}}{_GAP}(?P<noun>[A-Za-z]+s))\b(?!\{{\{{)"
)
_PY_COUNT = re.compile(r"^(?P<words>(?:\s+[A-Za-z-]+){0,2}\s+(?P<noun>[A-Za-z]+s))\b")

JULY = dt.datetime(2026, 7, 6, 9, tzinfo=dt.UTC)
INVITATION = "templates/portfolio/email/invitation.txt"
# (file, expression) -> why its noun does not follow it.
NOT_COUNTS = {
    ("templates/journeys/dashboard.html", "choice.kind"): "a word: quarter, month",
    ("templates/metrics/report.html", "quarter"): "a quarter's name",
    ("templates/metrics/report.html", "dora_report_year"): "a year",
    ("templates/metrics/report.html", 'date_to|date:"j F Y"'): "a date",
    ("templates/metrics/report.html", 'previous_to|date:"Y-m-d"'): "a date",
    ("templates/metrics/report.html", "definitions_version"): "a version",
    ("templates/portfolio/okr_board.html", "quarter"): "a quarter's name",
    ("templates/portfolio/okr_objective.html", "objective.quarter"): "a quarter's name",
    ("templates/portfolio/invitation_accept.html", "invitation.email"): "an address",
    ("templates/portfolio/members.html", "new_invitation.invitation.email"): "an address",
    (INVITATION, 'invitation.invited_by.email|default:"An admin"'): "an address",
    (INVITATION, "invitation.organization.name"): "a name",
    ("templates/streams/dashboard.html", "report_year"): "a year",
    ("templates/streams/overview.html", "report_year"): "a year",
    ("templates/streams/templates.html", "organization.name"): "a name",
    ("templates/streams/webhooks.html", "organization.name"): "a name",
    ("templates/streams/map.html", "stream.name"): "a name",
    ("journeys/delivery_views.py", "MIN_RESPONSES_TO_RANK"): "a constant, 3",
    ("streams/webhooks/github.py", "number"): "a pull request's number",
    ("portfolio/org_io.py", "FORMAT"): "a format's name",
    # Numbers with decimals ("1.5 days"), written as such, take the plural.
    ("journeys/delivery_views.py", "value:,.1f"): "a decimal number",
    ("streams/webhooks/apply.py", "age / 3600:.1f"): "a decimal number",
    # Only ever more than one.
    ("portfolio/org_io.py", "len(errors)"): "one error is shown as itself",
    ("portfolio/model_io.py", "len(errors)"): "one error is shown as itself",
    ("portfolio/management/commands/import_model.py", "len(exc.errors)"): (
        "one error is shown as itself"
    ),
    ("portfolio/management/commands/import_org.py", "len(exc.errors)"): (
        "one error is shown as itself"
    ),
    ("streams/dashboard_views.py", "days"): "only past the limit of MAX_CUSTOM_DAYS",
    ("metrics/management/commands/export_report.py", "len(content):,"): "a file's bytes",
    ("portfolio/management/commands/export_org.py", "path.stat().st_size:,"): "a file's bytes",
    ("streams/webhook_views.py", "length"): "over the 1 MiB limit",
    ("streams/webhook_views.py", "MAX_BODY_BYTES"): "1 MiB",
    ("portfolio/request_limits.py", "limit"): "a size in bytes, megabytes at least",
    ("portfolio/org_io.py", "len(value)"): "past a limit of at least 1",
    ("streams/webhooks/receive.py", "len(delivery_id)"): "past a limit of at least 1",
    ("streams/webhooks/payload.py", "len(value)"): "past a limit of at least 1",
    ("streams/webhooks/payload.py", "limit"): "a column's length, 500 characters",
    ("streams/webhooks/payload.py", "len(digits.lstrip('-'))"): "only past 40 digits",
    ("streams/formats.py", "self.max_length"): "a column's length, never 1",
    ("metrics/reports/xlsx.py", "data['quarter']"): "a quarter's name",
    ("portfolio/text_input.py", "name"): "a name: 'the body', 'the file'",
}


def _plural(noun: str) -> bool:
    return noun.lower() not in NOT_PLURAL and not noun.endswith("ss")


def template_offenders() -> list[str]:
    found = []
    for path in project_templates() + sorted((BASE / "templates").rglob("*.txt")):
        name = str(path.relative_to(BASE))
        text = path.read_text()
        for m in _TEMPLATE_COUNT.finditer(text):
            # Only the text between the value and the noun: a gap must not span a tag
            # such as {% if %} (a different sentence) or another value.
            if "{%" in m["words"] or "{{" in m["words"] or not _plural(m["noun"]):
                continue
            if (name, m["expr"]) in NOT_COUNTS:
                continue
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{name}:{line}: {{{{ {m['expr']} }}}}{m['words']}")
    return found


def python_offenders() -> list[str]:
    found = []
    for root in PY_ROOTS:
        for path in sorted((BASE / root).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = str(path.relative_to(BASE))
            source = path.read_text()
            for node in ast.walk(ast.parse(source)):
                if not isinstance(node, ast.JoinedStr):
                    continue
                for value, after in zip(node.values, node.values[1:], strict=False):
                    if not isinstance(value, ast.FormattedValue):
                        continue
                    if not isinstance(after, ast.Constant) or not isinstance(after.value, str):
                        continue
                    m = _PY_COUNT.match(after.value)
                    if m is None or not _plural(m["noun"]):
                        continue
                    expr = ast.get_source_segment(source, value)[1:-1]
                    if (name, expr) in NOT_COUNTS:
                        continue
                    found.append(f"{name}:{node.lineno}: {{{expr}}}{m['words']}")
    return found


def test_the_walks_find_a_count_before_a_plural_noun():
    """The patterns themselves: what they must catch, and what they must leave."""
    caught = [
        "{{ page.paginator.count }} journeys",
        "({{ n }} value streams)",
        '<span class="num">{{ counts.members }}</span><span class="label">members</span>',
        "{{ n }} pending invitations",
    ]
    left = [
        "{{ n }} item{{ n|pluralize }}",
        "{{ n }} response{{ n|pluralize }} in the period",
        "{{ quarter }} is over",
        "{{ n }} of {% if x %}items",
    ]
    for text in caught:
        m = _TEMPLATE_COUNT.search(text)
        assert m and _plural(m["noun"]) and "{%" not in m["words"], text
    for text in left:
        m = _TEMPLATE_COUNT.search(text)
        assert not (m and _plural(m["noun"]) and "{%" not in m["words"]), text
    assert _PY_COUNT.match(" errors (above)")["noun"] == "errors"
    assert _PY_COUNT.match(" bad rows")["noun"] == "rows"


def test_no_template_writes_a_count_before_a_fixed_plural():
    assert template_offenders() == [], "use {{ n }} noun{{ n|pluralize }}"


def test_no_python_string_writes_a_count_before_a_fixed_plural():
    assert python_offenders() == [], "use ngettext"


def _python_strings(path: Path) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_text_hedges_with_a_parenthesized_plural():
    """ "touchpoint(s)" where the count is known: pluralize it instead."""
    hedge = re.compile(r"[a-z]\(s\)")
    found = []
    for path in project_templates() + sorted((BASE / "templates").rglob("*.txt")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if hedge.search(line):
                found.append(f"{path.relative_to(BASE)}:{number}")
    for root in PY_ROOTS:
        for path in sorted((BASE / root).rglob("*.py")):
            found += [
                f"{path.relative_to(BASE)}:{number}"
                for number, text in _python_strings(path)
                if hedge.search(text)
            ]
    assert found == []


def test_every_listed_exception_is_still_there():
    """A stale exception would let a new count through under an old name."""
    texts = {name: (BASE / name).read_text() for name in {name for name, _ in NOT_COUNTS}}
    missing = [
        (name, expr)
        for name, expr in NOT_COUNTS
        if f"{{{{ {expr} }}}}" not in texts[name] and f"{{{expr}}}" not in texts[name]
    ]
    assert missing == []


@pytest.mark.django_db
def test_pages_with_a_count_of_one_say_it_in_the_singular(tenant_a):
    """The walk's promise on rendered pages: organization A has one admin, one editor
    and one viewer (three members, no invitation); a stream with one item done."""
    client = client_for(tenant_a.viewer)
    home = client.get("/o/org-a/").content.decode()
    for count, label in (
        (3, "members"),
        (1, "admin"),
        (1, "editor"),
        (1, "viewer"),
        (0, "pending invitations"),
    ):
        assert f'<span class="num">{count}</span><span class="label">{label}</span>' in home
    org = tenant_a.org
    with organization_context(org.pk):
        stream = value_stream_save(organization=org, value_stream=ValueStream(slug="s", name="S"))
        item = FlowItem.objects.create(
            organization=org, value_stream=stream, key="K-1", type="feature", created_at=JULY
        )
        FlowTransition.objects.create(organization=org, item=item, at=JULY, state="done")
        flow_item_facts_refresh(organization=org, item_ids=[item.pk])
    q3 = "period=quarter&from=2026-07-01"
    html = client.get(f"/o/org-a/streams/{stream.pk}/dashboard/?{q3}").content.decode()
    assert "1 of 1 item</td>" in html
    assert "0 of 0 deployments</td>" in html
