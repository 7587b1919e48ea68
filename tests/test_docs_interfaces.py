"""docs/interfaces.md held to the code: every management command of the project has a
section naming its arguments and nothing else is documented as one; every path the
page names is a route, and every operation of the API is in its table."""

from __future__ import annotations

import re
from argparse import Action
from pathlib import Path

from django.conf import settings
from django.core.management import BaseCommand, get_commands, load_command_class
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator

BASE_DIR = Path(settings.BASE_DIR)
DOC = BASE_DIR / "docs" / "interfaces.md"
# The project's apps that may hold management commands.
APPS = ("portfolio", "streams", "journeys", "metrics")


def project_commands() -> dict[str, str]:
    """Every command module of the project's apps, by command name, with its app."""
    found: dict[str, str] = {}
    for app in APPS:
        for module in sorted((BASE_DIR / app / "management" / "commands").glob("*.py")):
            if not module.name.startswith("_"):
                found[module.stem] = app
    return found


def section(text: str, heading: str) -> str:
    """The text under the level-2 ``heading``, up to the next level-2 heading."""
    parts = re.split(rf"^## {re.escape(heading)}\n", text, flags=re.M)
    assert len(parts) == 2, f"docs/interfaces.md has no one '## {heading}'"
    return re.split(r"^## ", parts[1], flags=re.M)[0]


def documented_commands() -> dict[str, str]:
    """The ``### `name``` sections of "Management commands", each with its text."""
    commands = section(DOC.read_text(encoding="utf-8"), "Management commands")
    found: dict[str, str] = {}
    for name, body in re.findall(r"^### `([^`]+)`\n(.*?)(?=^### |\Z)", commands, re.M | re.S):
        assert name not in found, f"two sections for {name}"
        found[name] = body
    return found


def added_arguments(name: str, app: str) -> list[Action]:
    """The arguments the project gives a command: those of its parser that the nearest
    command class outside the project (BaseCommand, or Django's migrate) lacks."""
    command = load_command_class(app, name)
    outside = next(
        cls
        for cls in type(command).__mro__
        if issubclass(cls, BaseCommand) and cls.__module__.split(".")[0] not in APPS
    )
    inherited = {action.dest for action in outside().create_parser("throughline", name)._actions}
    parser = command.create_parser("throughline", name)
    return [action for action in parser._actions if action.dest not in inherited]


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_every_command_of_the_project_is_documented():
    commands = project_commands()
    assert {"kpis", "import_events", "import_model", "create_org"} <= set(commands)
    missing = sorted(set(commands) - set(documented_commands()))
    assert missing == [], f"docs/interfaces.md has no section for {missing}"


def test_every_documented_command_exists():
    commands = project_commands()
    unknown = sorted(set(documented_commands()) - set(commands))
    assert unknown == [], f"docs/interfaces.md documents commands that do not exist: {unknown}"
    # And manage.py runs the project's module under that name (not Django's).
    registered = get_commands()
    assert {name: registered.get(name) for name in commands} == commands


def test_each_command_section_shows_how_to_run_it_and_names_its_arguments():
    documented = documented_commands()
    for name, app in project_commands().items():
        text = documented[name]
        assert f"bin/throughline {name}" in text, name
        for action in added_arguments(name, app):
            if action.option_strings:
                assert any(mentions(text, option) for option in action.option_strings), (
                    f"{name}: {'/'.join(action.option_strings)} is not documented"
                )
            else:
                word = action.metavar or action.dest.upper()
                assert mentions(text, word), f"{name}: the argument {word} is not documented"
            for choice in action.choices or ():
                assert mentions(text, str(choice)), f"{name}: {choice} is not documented"


def expand(path: str) -> list[str]:
    """``/a/{b,c}/`` as ``/a/b/`` and ``/a/c/``."""
    found = re.search(r"\{([^{}]*)\}", path)
    if found is None:
        return [path]
    head, tail = path[: found.start()], path[found.end() :]
    return [p for option in found[1].split(",") for p in expand(head + option + tail)]


def documented_paths() -> dict[str, str]:
    """Every path the page names in inline code (outside code blocks), expanded, with
    the table row or paragraph it is in."""
    text = re.sub(r"^```.*?^```", "", DOC.read_text(encoding="utf-8"), flags=re.M | re.S)
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\|)|\n\n", text):
        for span in re.findall(r"`(/[^`\s]*)`", block):
            for path in expand(span.split("?", 1)[0]):
                found.setdefault(path, "")
                found[path] += block
    return found


def test_every_path_the_page_names_is_a_route():
    paths = documented_paths()
    assert "/api/v1/orgs/<slug>/kpis/" in paths
    unrouted = []
    for path in paths:
        try:
            resolve(re.sub(r"<[^>]+>", "1", path))
        except Resolver404:
            unrouted.append(path)
    assert unrouted == []


def test_every_operation_of_the_api_is_in_the_table_with_its_methods():
    documented = documented_paths()
    schema = SchemaGenerator().get_schema(public=True)
    missing = []
    for path, operations in schema["paths"].items():
        named = re.sub(r"\{org_slug\}", "<slug>", path)
        named = re.sub(r"\{\w*id\}", "<id>", named)
        row = documented.get(named)
        if row is None:
            missing.append(path)
            continue
        for method in operations:
            if method != "parameters" and not mentions(row, method.upper()):
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_the_readme_sends_readers_to_the_page():
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    commands = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/interfaces.md" in commands
