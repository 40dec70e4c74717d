"""Captured Jira deliveries through the real app, signed for real."""
from __future__ import annotations

import hashlib
import io
import json

import pytest

from itsm_align.webhooks.app import StartupError, create_app
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.signatures import jira_signature

from tests.support.prometheus import sample

from .conftest import JIRA_SECRET, JIRA_WEBHOOKS, jira_fixture, post_jira

IGNORED = {"comment_created.json", "comment_deleted.json", "comment_updated.json",
           "issuelink_created.json", "issuelink_created_relates.json", "issuelink_deleted.json"}
FIXTURES = sorted(p.name for p in JIRA_WEBHOOKS.glob("*.json"))


def test_every_captured_delivery_is_covered() -> None:
    assert len(FIXTURES) == 17 and IGNORED <= set(FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_captured_delivery_outcome(client, inbox, counters, name: str) -> None:  # type: ignore[no-untyped-def]
    body = jira_fixture(name)
    response = post_jira(client, body, delivery_id=f"id-{name}")
    payload = json.loads(body)
    rows = inbox.rows()
    if name in IGNORED:
        assert response.status_code == 200
        assert response.json["status"] == "ignored"
        assert rows == []
        assert counters.get("jira", "ignored", payload["webhookEvent"]) == 1
    else:
        assert response.status_code == 202, response.data
        assert len(rows) == 1
        row = rows[0]
        assert row.delivery_id == f"id-{name}" and row.event_type == payload["webhookEvent"]
        assert row.state == "pending"
        kept = json.loads(inbox.payload(row.id))  # the normalised event, not the 0.5-25 KB body
        assert kept["delivery_id"] == f"id-{name}" and kept["event_type"] == payload["webhookEvent"]
        assert kept["body_bytes"] == len(body)
        if name == "project_created.json":
            assert row.subject == "project" and row.item_key.endswith("DTP")
        else:
            assert row.subject == "ticket" and row.item_key == payload["issue"]["key"]
        assert counters.get("jira", "accepted") == 1


def test_forged_signature_is_401_and_nothing_stored(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    body = jira_fixture("issue_created.json")
    forged = post_jira(client, body, delivery_id="forged", secret="not-the-secret")
    missing = client.post("/webhooks/jira", data=body, headers={"X-Atlassian-Webhook-Identifier": "m"})
    tampered = post_jira(client, body.replace(b"issue_created", b"issue_createdX", 1), delivery_id="t",
                         signature=jira_signature(JIRA_SECRET, body))  # signature of the original body
    assert [forged.status_code, missing.status_code, tampered.status_code] == [401, 401, 401]
    assert "does not match" in forged.json["reason"] and "missing" in missing.json["reason"]
    assert inbox.rows() == []
    assert counters.get("jira", "rejected", "signature_mismatch") == 2
    assert counters.get("jira", "rejected", "signature_missing") == 1


def test_replay_is_200_and_stores_nothing_new(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    body = jira_fixture("issue_updated_generic.json")
    first = post_jira(client, body, delivery_id="d-1")
    again = post_jira(client, body, delivery_id="d-1", headers={"X-Atlassian-Webhook-Retry": "1"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json["status"] == "duplicate"
    assert len(inbox.rows()) == 1 and counters.get("jira", "duplicate") == 1


def test_without_identifier_the_body_hash_dedupes(client, inbox) -> None:  # type: ignore[no-untyped-def]
    body = jira_fixture("issue_updated_generic.json")
    assert post_jira(client, body).status_code == 202
    assert post_jira(client, body).status_code == 200
    (row,) = inbox.rows()
    assert row.delivery_id == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("body,reason", [
    (b'{"webhookEvent": "jira:issue_updated", ', "not JSON"),
    (b"\xff\xfe not utf-8", "not JSON"),
    (b'["jira:issue_updated"]', "JSON object"),
    (b'{"issue": {"key": "A-1"}}', "webhookEvent"),
    (b'{"webhookEvent": "jira:issue_updated", "issue": {"id": "1"}}', "issue.key"),
    (b'{"webhookEvent": "project_created", "project": "DTP"}', "project.key"),
])
def test_malformed_is_400_with_a_reason(client, inbox, counters, body: bytes, reason: str) -> None:  # type: ignore[no-untyped-def]
    response = post_jira(client, body, delivery_id="bad")
    assert response.status_code == 400
    assert reason in response.json["reason"]
    assert inbox.rows() == [] and counters.get("jira", "rejected", "malformed") == 1


def test_oversized_is_413_before_anything_else(client, inbox, counters, settings) -> None:  # type: ignore[no-untyped-def]
    body = b'{"webhookEvent":"jira:issue_updated","pad":"' + b"x" * settings.max_body_bytes + b'"}'
    response = post_jira(client, body, delivery_id="big", signature="sha256=forged")
    assert response.status_code == 413
    assert inbox.rows() == [] and counters.get("jira", "rejected", "too_large") == 1


def test_oversized_stream_without_content_length_is_413(client, inbox, settings) -> None:  # type: ignore[no-untyped-def]
    body = b"x" * (settings.max_body_bytes + 10)
    response = client.post("/webhooks/jira", input_stream=io.BytesIO(body),
                           environ_overrides={"wsgi.input_terminated": True},
                           headers={"X-Hub-Signature": "sha256=00", "Transfer-Encoding": "chunked"})
    assert response.status_code == 413
    assert inbox.rows() == []


def test_unknown_event_type_is_200_ignored_and_counted(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"webhookEvent": "jira:something_new", "timestamp": 1}).encode()
    response = post_jira(client, body, delivery_id="u")
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert inbox.rows() == [] and counters.get("jira", "ignored", "unknown_event") == 1
    metrics = client.get("/metrics").data.decode()
    assert sample(metrics, "itsm_align_webhooks_total", platform="jira", outcome="ignored",
                  reason="unknown_event") == 1


def test_healthz_reports_inbox_depth(client) -> None:  # type: ignore[no-untyped-def]
    post_jira(client, jira_fixture("issue_created.json"), delivery_id="h")
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["inbox"]["pending"] == 1 and health.json["status"] == "ok"


def test_no_secret_while_signatures_required_fails_at_start_up(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StartupError, match="jira.webhook_secret is not set"):
        create_app(service=settings, secrets={"jira": None})


def test_signature_can_be_switched_off_explicitly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", require_signature=False)
    client = create_app(service=settings, secrets={"jira": None}).test_client()
    response = client.post("/webhooks/jira", data=jira_fixture("issue_created.json"),
                           headers={"X-Atlassian-Webhook-Identifier": "unsigned"})
    assert response.status_code == 202


def test_servicenow_route_absent_when_not_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    client = create_app(service=settings, secrets={"jira": JIRA_SECRET}).test_client()
    assert client.post("/webhooks/servicenow", data=b"{}").status_code == 404


def test_raw_bodies_are_kept_byte_for_byte_when_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", inbox_keep_body=True)
    app = create_app(service=settings, secrets={"jira": JIRA_SECRET})
    body = jira_fixture("issue_updated_generic.json")
    response = post_jira(app.test_client(), body, delivery_id="kept-1")
    assert response.status_code == 202
    inbox = app.extensions["itsm_align"].inbox
    (row,) = inbox.rows()
    assert inbox.payload(row.id) == body
