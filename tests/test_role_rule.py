"""One rule says who may edit and who may administer: ``may_edit`` and
``may_administer`` in portfolio.models (next to ``Role`` and ``role_at_least``),
exposed to templates as ``can_edit``/``can_admin`` by a context processor.
Nothing else compares roles itself, so the rule cannot drift between pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portfolio.models import Membership, Role, may_administer, may_edit

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "portfolio" / "models.py"
CODE_DIRS = ("portfolio", "streams", "metrics", "journeys", "config")

# A role compared by hand: `role == Role.ADMIN`, `!= Role.VIEWER`, `== "admin"`,
# or role_at_least() called with a fixed role where may_edit/may_administer say it.
PY_RULES = (
    re.compile(r"[!=]=\s*Role\.\w+"),
    re.compile(r"Role\.\w+\s*[!=]="),
    re.compile(r"""[!=]=\s*["'](admin|editor|viewer)["']"""),
    re.compile(r"role_at_least\([^)]*Role\.\w+"),
    re.compile(r"def _can_edit\b"),
)
# Templates ask can_edit / can_admin, never the membership's role.
TEMPLATE_RULES = (
    re.compile(r"membership\.role\s*[!=]="),
    re.compile(r"""[!=]=\s*["'](admin|editor|viewer)["']"""),
    re.compile(r"\bis_admin\b"),
)


def _offences(paths: list[Path], rules: tuple[re.Pattern, ...]) -> list[str]:
    found = []
    for path in paths:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if any(rule.search(line) for rule in rules):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def test_no_role_comparison_outside_its_home() -> None:
    py = [
        p
        for d in CODE_DIRS
        for p in sorted((ROOT / d).rglob("*.py"))
        if p != HOME and "migrations" not in p.parts
    ]
    assert _offences(py, PY_RULES) == []


def test_templates_ask_can_edit_and_can_admin() -> None:
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert _offences(templates, TEMPLATE_RULES) == []


@pytest.mark.parametrize(
    ("role", "edit", "administer"),
    [(Role.VIEWER, False, False), (Role.EDITOR, True, False), (Role.ADMIN, True, True)],
)
def test_the_rule(role: str, edit: bool, administer: bool) -> None:
    membership = Membership(role=role)
    assert (may_edit(membership), may_administer(membership)) == (edit, administer)
    assert (may_edit(role), may_administer(role)) == (edit, administer)
    assert (may_edit(None), may_administer(None)) == (False, False)
