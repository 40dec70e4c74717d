"""ServiceNow events (our business rule's contract) through the real app."""
from __future__ import annotations

import json
import time

import pytest

from .conftest import post_servicenow, servicenow_event


def test_signed_event_is_stored(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    event = servicenow_event()
    response = post_servicenow(client, event)
    assert response.status_code == 202, response.data
    (row,) = inbox.rows()
    assert row.item_key == f"incident:{event['sys_id']}" and row.version == 3
    assert row.delivery_id == event["event_id"] and row.event_type == "servicenow:update"
    kept = json.loads(inbox.payload(row.id))
    assert kept["key"] == row.item_key and kept["version"] == 3 and kept["action"] == "upsert"
    assert counters.get("servicenow", "accepted") == 1


def test_project_record_is_a_project(client, inbox) -> None:  # type: ignore[no-untyped-def]
    post_servicenow(client, servicenow_event(table="pm_project", sys_class_name="pm_project"))
    assert inbox.rows()[0].subject == "project"


def test_stale_and_future_timestamps_are_401(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    old = post_servicenow(client, servicenow_event(), timestamp=int(time.time()) - 301)
    future = post_servicenow(client, servicenow_event(), timestamp=int(time.time()) + 301)
    assert (old.status_code, future.status_code) == (401, 401)
    assert "stale" in old.json["reason"]
    assert inbox.rows() == [] and counters.get("servicenow", "rejected", "signature_stale") == 2


def test_forged_or_missing_signature_is_401(client, inbox) -> None:  # type: ignore[no-untyped-def]
    assert post_servicenow(client, servicenow_event(), secret="wrong").status_code == 401
    assert post_servicenow(client, servicenow_event(), signature="").status_code == 401
    assert inbox.rows() == []


def test_reused_event_id_is_200_and_nothing_new(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    event = servicenow_event()
    assert post_servicenow(client, event).status_code == 202
    again = post_servicenow(client, event)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert len(inbox.rows()) == 1 and counters.get("servicenow", "duplicate") == 1


def test_older_sys_mod_count_than_processed_is_dropped(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    key = "incident:9d385017c611228701d22104cc95c371"
    inbox.record_version("servicenow", key, 7)
    older = post_servicenow(client, servicenow_event(sys_mod_count=6))
    same = post_servicenow(client, servicenow_event(sys_mod_count=7))
    newer = post_servicenow(client, servicenow_event(sys_mod_count=8))
    assert older.status_code == 200 and "older" in older.json["reason"]
    assert (same.status_code, newer.status_code) == (202, 202)
    assert [row.version for row in inbox.rows()] == [7, 8]
    assert counters.get("servicenow", "ignored", "older_version") == 1


@pytest.mark.parametrize("change,reason", [
    ({"event_id": None}, "event_id"),
    ({"table": ""}, "table"),
    ({"sys_id": 5}, "sys_id"),
    ({"sys_mod_count": "three"}, "sys_mod_count"),
    ({"operation": None}, "operation"),
])
def test_bad_shape_is_400(client, inbox, change, reason) -> None:  # type: ignore[no-untyped-def]
    event = servicenow_event(**change)
    response = post_servicenow(client, event, event_id_header="")
    assert response.status_code == 400 and reason in response.json["reason"]
    assert inbox.rows() == []


def test_event_id_header_must_match_body(client, inbox) -> None:  # type: ignore[no-untyped-def]
    response = post_servicenow(client, servicenow_event(), event_id_header="0" * 32)
    assert response.status_code == 400 and "does not match" in response.json["reason"]


def test_malformed_json_is_400(client) -> None:  # type: ignore[no-untyped-def]
    response = post_servicenow(client, b"{not json")
    assert response.status_code == 400 and "not JSON" in response.json["reason"]


def test_unknown_operation_is_ignored(client, inbox, counters) -> None:  # type: ignore[no-untyped-def]
    response = post_servicenow(client, servicenow_event(operation="query"))
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert inbox.rows() == [] and counters.get("servicenow", "ignored", "unknown_event") == 1


def test_raw_event_body_is_kept_when_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from itsm_align.webhooks.app import create_app
    from itsm_align.webhooks.settings import ServiceSettings

    from .conftest import SN_SECRET

    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", inbox_keep_body=True)
    app = create_app(service=settings, secrets={"servicenow": SN_SECRET})
    event = servicenow_event()
    assert post_servicenow(app.test_client(), event).status_code == 202
    inbox = app.extensions["itsm_align"].inbox
    (row,) = inbox.rows()
    assert json.loads(inbox.payload(row.id)) == event
