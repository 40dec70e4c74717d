"""Every field a delivery puts in the inbox is bounded and typed before use:
oversized, non-numeric or out-of-range values are a 400 with the reason, on
SQLite and on PostgreSQL; one bad row never fails another request; the size
limit is the same with and without chunked transfer encoding."""
from __future__ import annotations

import io
import json
import time

import pytest

from itsm_align.webhooks.app import create_app
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.inbox import Inbox, _Slot
from itsm_align.webhooks.signatures import jira_signature

from .conftest import JIRA_SECRET, SN_SECRET, jira_fixture, post_jira, post_servicenow, servicenow_event

UPDATED = "issue_updated_generic.json"


@pytest.fixture
def store_app(db_url: str):  # type: ignore[no-untyped-def]
    """The app on SQLite and on a real PostgreSQL (the column sizes differ in what they enforce)."""
    app = create_app(service=ServiceSettings(database_url=db_url, max_body_bytes=64 * 1024, coalesce_seconds=0.0),
                     secrets={"jira": JIRA_SECRET, "servicenow": SN_SECRET})
    yield app
    app.extensions["itsm_align"].inbox.engine.dispose()


def test_a_400_digit_timestamp_is_a_400_not_an_overflow(store_app) -> None:  # type: ignore[no-untyped-def]
    client, inbox = store_app.test_client(), store_app.extensions["itsm_align"].inbox
    response = post_servicenow(client, servicenow_event(), timestamp=10 ** 400)
    assert response.status_code == 400
    assert "unix seconds" in response.json["reason"]
    assert inbox.rows() == []


@pytest.mark.parametrize("count", [2 ** 63, 2 ** 64 + 5, -1, "9" * 400, 1.5, True, "12abc"])
def test_sys_mod_count_out_of_range_or_not_whole_is_400(store_app, count) -> None:  # type: ignore[no-untyped-def]
    client, inbox = store_app.test_client(), store_app.extensions["itsm_align"].inbox
    response = post_servicenow(client, servicenow_event(sys_mod_count=count))
    assert response.status_code == 400, response.data
    assert "sys_mod_count" in response.json["reason"]
    assert inbox.rows() == []


def test_the_largest_sys_mod_count_is_stored(store_app) -> None:  # type: ignore[no-untyped-def]
    client, inbox = store_app.test_client(), store_app.extensions["itsm_align"].inbox
    assert post_servicenow(client, servicenow_event(sys_mod_count=2 ** 63 - 1)).status_code == 202
    assert inbox.rows()[0].version == 2 ** 63 - 1


def test_a_delivery_id_longer_than_the_column_is_400(store_app) -> None:  # type: ignore[no-untyped-def]
    client, inbox = store_app.test_client(), store_app.extensions["itsm_align"].inbox
    response = post_jira(client, jira_fixture(UPDATED), delivery_id="d" * 201)
    assert response.status_code == 400
    assert "delivery id is 201 characters long; at most 200" in response.json["reason"]
    assert post_jira(client, jira_fixture(UPDATED), delivery_id="d" * 200).status_code == 202
    assert len(inbox.rows()) == 1


def test_a_long_record_key_is_400(store_app) -> None:  # type: ignore[no-untyped-def]
    client, inbox = store_app.test_client(), store_app.extensions["itsm_align"].inbox
    response = post_servicenow(client, servicenow_event(sys_id="a" * 300))
    assert response.status_code == 400 and "item key" in response.json["reason"]
    assert inbox.rows() == []


def _chunked(client, body: bytes):  # type: ignore[no-untyped-def]
    return client.post("/webhooks/jira", input_stream=io.BytesIO(body),
                       environ_overrides={"wsgi.input_terminated": True},
                       headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                                "X-Hub-Signature": jira_signature(JIRA_SECRET, body),
                                "X-Atlassian-Webhook-Identifier": f"chunked-{len(body)}"})


def _padded(size: int) -> bytes:
    event = json.loads(jira_fixture(UPDATED))
    event["pad"] = ""
    base = len(json.dumps(event).encode())
    event["pad"] = "x" * (size - base)
    body = json.dumps(event).encode()
    assert len(body) == size
    return body


def test_the_size_limit_is_the_same_chunked_or_not(client, inbox, settings) -> None:  # type: ignore[no-untyped-def]
    limit = settings.max_body_bytes
    exactly = _padded(limit)
    assert _chunked(client, exactly).status_code == 202
    assert post_jira(client, exactly, delivery_id="sized-exact").status_code == 202
    over = _padded(limit + 1)
    assert _chunked(client, over).status_code == 413
    assert post_jira(client, over, delivery_id="sized-over").status_code == 413
    assert len(inbox.rows()) == 2


def test_one_bad_row_in_a_group_commit_does_not_fail_the_others(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'inbox.sqlite3'}")
    box = Inbox(engine)
    writer = box._group_writer()

    def row(delivery: str, version: int | None = None) -> tuple:
        return ("jira", delivery, "SHOP-1", "ticket", "upsert", "jira:issue_updated", version, b"{}",
                time.time(), "pending", 0, time.time())

    bad = _Slot(row("bad", version=2 ** 64))  # SQLite cannot bind it: the batch statement fails
    good = _Slot(row("good-1"))
    writer.queue.put(bad)
    writer.queue.put(good)
    assert writer.insert(row("good-2")) is True  # this request leads the commit of all three
    assert good.finished and good.inserted and good.error is None
    assert bad.finished and isinstance(bad.error, OverflowError)
    assert sorted(r.delivery_id for r in box.rows()) == ["good-1", "good-2"]
    engine.dispose()


def test_a_bad_signature_is_a_warning_naming_the_platform_and_the_sender(client, inbox, counters, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.INFO, logger="itsm_align.webhooks")
    response = post_jira(client, jira_fixture(UPDATED), delivery_id="forged", secret="not-the-secret")
    assert response.status_code == 401
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "jira webhook from 127.0.0.1 refused" in record.getMessage()
    assert "jira.webhook_secret" in record.getMessage() and JIRA_SECRET not in caplog.text
    assert counters.get("jira", "rejected", "signature_mismatch") == 1 and inbox.rows() == []
