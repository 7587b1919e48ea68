"""bin/throughline runs the management commands in the project's environment, from any
directory, with their output and exit status as manage.py gives them."""

import os
import subprocess
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "bin" / "throughline"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The system's PATH and none of the virtual environment's: as a new user's shell.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_lists_the_commands_from_another_directory(tmp_path: Path):
    done = run("help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("kpis", "import_events", "export_report", "seed_demo", "create_org"):
        assert command in done.stdout
    # Nothing but the command's own output on stdout (it may be redirected to a file).
    assert done.stdout.startswith("\nType 'throughline help <subcommand>'")


def test_a_failing_command_keeps_its_message_and_exit_status(tmp_path: Path):
    done = run("no_such_command", cwd=tmp_path)
    assert done.returncode == 1
    assert "Unknown command: 'no_such_command'" in done.stderr


def test_file_arguments_are_relative_to_the_callers_directory(tmp_path: Path):
    missing = run("import_org", "nothere.json", cwd=tmp_path)
    assert missing.returncode == 1
    assert "nothere.json: cannot read the file (No such file or directory)" in missing.stderr
    # The same name in the caller's directory is the file read: it gets as far as its format.
    (tmp_path / "nothere.json").write_text("{}")
    found = run("import_org", "nothere.json", cwd=tmp_path)
    assert found.returncode == 1
    assert "No such file" not in found.stderr
    assert "format" in found.stderr, found.stderr
