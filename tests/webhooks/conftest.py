"""Helpers for the webhook service tests: an app on a temporary SQLite file,
and deliveries signed for real (``check_jira`` / ``post_servicenow``)."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from itsm_align.webhooks.app import create_app
from tests.support.fixtures import fixture_path
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.signatures import jira_signature, servicenow_signature

JIRA_WEBHOOKS = fixture_path("jira", "webhooks")
JIRA_SECRET = "jira-webhook-secret-for-tests"
SN_SECRET = "servicenow-webhook-secret-for-tests"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each contract test runs on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(database_url=f"sqlite:///{tmp_path / 'service.sqlite3'}", max_body_bytes=64 * 1024,
                           coalesce_seconds=0.0)


@pytest.fixture
def app(settings: ServiceSettings):  # type: ignore[no-untyped-def]
    return create_app(service=settings, secrets={"jira": JIRA_SECRET, "servicenow": SN_SECRET})


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def inbox(app):  # type: ignore[no-untyped-def]
    return app.extensions["itsm_align"].inbox


@pytest.fixture
def counters(app):  # type: ignore[no-untyped-def]
    return app.extensions["itsm_align"].counters


def post_jira(client, body: bytes, *, delivery_id: str | None = None, secret: str = JIRA_SECRET,
              signature: str | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """POST a Jira delivery signed with a real HMAC (or the given signature)."""
    sent = {"Content-Type": "application/json",
            "X-Hub-Signature": signature if signature is not None else jira_signature(secret, body)}
    if delivery_id is not None:
        sent["X-Atlassian-Webhook-Identifier"] = delivery_id
    sent.update(headers or {})
    return client.post("/webhooks/jira", data=body, headers=sent)


def jira_fixture(name: str) -> bytes:
    return (JIRA_WEBHOOKS / name).read_bytes()


def servicenow_event(**overrides: Any) -> dict[str, Any]:
    """An event body exactly as our business rule sends it."""
    event = {
        "event_id": uuid.uuid4().hex, "operation": "update", "table": "incident",
        "sys_class_name": "incident", "sys_id": "9d385017c611228701d22104cc95c371",
        "number": "INC0010001", "sys_mod_count": 3, "sys_updated_on": "2026-11-27 02:00:00",
        "sys_updated_by": "beth.anglin",
        "fields": {"short_description": "Checkout page times out", "priority": "2"},
        "display": {"priority": "2 - High"},
    }
    event.update(overrides)
    return event


def post_servicenow(client, event: dict[str, Any] | bytes, *, secret: str = SN_SECRET,
                    timestamp: int | None = None, signature: str | None = None,
                    event_id_header: str | None = None):  # type: ignore[no-untyped-def]
    body = event if isinstance(event, bytes) else json.dumps(event, separators=(",", ":")).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-ITSM-Align-Timestamp": ts,
               "X-ITSM-Align-Signature": signature if signature is not None else servicenow_signature(secret, ts, body)}
    if event_id_header is not None:
        headers["X-ITSM-Align-Event-Id"] = event_id_header
    elif isinstance(event, dict):
        headers["X-ITSM-Align-Event-Id"] = event["event_id"]
    return client.post("/webhooks/servicenow", data=body, headers=headers)
