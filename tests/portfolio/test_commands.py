"""Management commands: create_org, seed_demo, provision_db, and settings checks."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from portfolio.models import Membership, Organization, Role
from portfolio.tenancy import organization_context

pytestmark = pytest.mark.django_db


def test_create_org_creates_the_org_and_its_admin_who_can_sign_in(client):
    call_command(
        "create_org",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "a@example.com",
        "--admin-password",
        "S3cure-pass-123",
        "--time-zone",
        "Europe/Berlin",
    )
    org = Organization.objects.get(slug="acme")
    assert (org.name, org.time_zone) == ("Acme", "Europe/Berlin")
    with organization_context(org.pk):
        assert Membership.objects.get(organization=org).role == Role.ADMIN
    answer = client.post(
        "/accounts/login/", {"username": "a@example.com", "password": "S3cure-pass-123"}
    )
    assert answer.status_code == 302
    assert client.get("/o/acme/").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "Bad Slug",
                "--name",
                "X",
                "--admin-email",
                "a@example.com",
                "--admin-password",
                "S3cure-pass-123",
            ],
            "lowercase",
        ),
        (
            ["ok", "--name", "X", "--admin-email", "nope", "--admin-password", "S3cure-pass-123"],
            "valid email",
        ),
        (["ok", "--name", "X", "--admin-email", "b@example.com"], "a password is needed"),
        (
            ["ok", "--name", "X", "--admin-email", "b@example.com", "--admin-password", "123"],
            "too short",
        ),
        (
            [
                "ok",
                "--name",
                "X",
                "--admin-email",
                "b@example.com",
                "--admin-password",
                "S3cure-pass-123",
                "--time-zone",
                "Mars/Base",
            ],
            "time zone",
        ),
    ],
)
def test_create_org_rejects_bad_input_and_changes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_org", *args)
    assert not Organization.objects.exists()


def test_create_org_refuses_a_taken_slug(tenant_a):
    with pytest.raises(CommandError, match="The slug 'org-a' is taken"):
        call_command(
            "create_org",
            "org-a",
            "--name",
            "Again",
            "--admin-email",
            "z@example.com",
            "--admin-password",
            "S3cure-pass-123",
        )


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": "x" * 64 + "-a-long-random-production-secret-key",
        "ALLOWED_HOSTS": "throughline.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_DEBUG": "false", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
