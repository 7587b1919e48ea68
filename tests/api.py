"""Helpers for API tests: URLs under one organization, JSON requests, slugs of a page."""

from __future__ import annotations

from typing import Any

from django.test import Client


def url(path: str, org: str = "org-a") -> str:
    return f"/api/v1/orgs/{org}/{path}"


def send(client: Client, method: str, path: str, data: Any = None, org: str = "org-a") -> Any:
    return getattr(client, method)(url(path, org), data, content_type="application/json")


def get(client: Client, path: str, org: str = "org-a", **params: Any) -> Any:
    return client.get(url(path, org), params)


def slugs(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.json()
    return [row["slug"] for row in answer.json()["results"]]
