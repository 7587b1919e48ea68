"""The project's templates: Django's one-line comment syntax ``{# #}`` does not span
lines, so a comment written across lines is printed on the page as text."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

TEMPLATE_ROOTS = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]] + [
    p for p in Path(settings.BASE_DIR).glob("*/templates") if p.is_dir()
]


def project_templates() -> list[Path]:
    return sorted({p for root in TEMPLATE_ROOTS for p in root.rglob("*.html")})


def test_there_are_templates_to_check():
    assert len(project_templates()) > 20


def test_no_one_line_comment_spans_lines():
    offenders = []
    for path in project_templates():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            # Every {# must close on its own line; {% comment %} is for longer notes.
            if re.search(r"\{#(?:(?!#\}).)*$", line):
                offenders.append(f"{path.relative_to(settings.BASE_DIR)}:{number}")
    assert offenders == [], "use {% comment %} for a comment over several lines"
