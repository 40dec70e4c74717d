"""The business rule the sandbox runs: signed events per the event contract."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket

import pytest

SECRET = "s3cret-for-tests"


def _expected_signature(secret: str, ts: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).digest()).decode()


@pytest.fixture
def wired(servicenow_sandbox, event_receiver):
    servicenow_sandbox.set_property("itsm_align.endpoint", event_receiver.url)
    servicenow_sandbox.set_property("itsm_align.secret", SECRET)
    return servicenow_sandbox, event_receiver


def test_contract_signature_check_value():
    from itsm_align.sandbox.servicenow import sign
    assert base64.b64encode(hmac.new(b"sample_key", b"sample_data", hashlib.sha256).digest()).decode() == \
        "4VWUI48lJvmGSF6MYmOVWA9c0hfu55Ur+3e+fUFFFr4="
    assert sign("k", "1", b"{}") == _expected_signature("k", "1", b"{}")


def test_person_insert_posts_a_signed_event_per_the_contract(wired):
    sn, receiver = wired
    group = sn.sys_id_of("sys_user_group", name="Network")
    rec = sn.insert("incident", {"short_description": "VPN down", "assignment_group": group,
                                 "category": "network", "priority": "2"}, as_user="abel.tuter")
    [post] = receiver.wait_for(1)
    [event] = sn.wait_for_events(1)
    assert post.path == "/webhooks/servicenow" and event.status == 200
    h = {k.lower(): v for k, v in post.headers.items()}
    assert h["content-type"] == "application/json"
    ts = h["x-itsm-align-timestamp"]
    assert re.fullmatch(r"\d+", ts)
    assert hmac.compare_digest(h["x-itsm-align-signature"], _expected_signature(SECRET, ts, post.body))
    body = json.loads(post.body)
    assert post.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()  # compact
    assert h["x-itsm-align-event-id"] == body["event_id"] and re.fullmatch(r"[0-9a-f]{32}", body["event_id"])
    assert body["operation"] == "insert" and body["table"] == "incident" and body["sys_class_name"] == "incident"
    assert body["sys_id"] == rec["sys_id"] and body["number"] == rec["number"]
    assert body["sys_mod_count"] == 0 and body["sys_updated_by"] == "abel.tuter"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["sys_updated_on"])
    fields = body["fields"]
    assert fields["short_description"] == "VPN down" and fields["assignment_group"] == group
    assert fields["priority"] == "2" and fields["category"] == "network"
    assert "u_business_objective" not in fields  # not a column (yet): skipped
    assert all(isinstance(v, str) for v in fields.values())
    assert body["display"]["assignment_group"] == "Network" and body["display"]["priority"] == "2 - High"
    assert body["display"]["category"] == "Network"
    assert "short_description" not in body["display"]  # only reference and choice columns


def test_updates_count_up_and_say_who(wired):
    sn, receiver = wired
    rec = sn.insert("problem", {"short_description": "p"})
    sn.update_as("beth.anglin", "problem", rec["sys_id"], {"short_description": "p2"})
    sn.client_session("admin").patch(f"{sn.url}/api/now/table/task/{rec['sys_id']}", json={"urgency": "1"})
    posts = receiver.wait_for(3)
    bodies = [json.loads(p.body) for p in posts]
    assert [b["operation"] for b in bodies] == ["insert", "update", "update"]
    assert [b["sys_mod_count"] for b in bodies] == [0, 1, 2]
    assert [b["sys_updated_by"] for b in bodies] == ["admin", "beth.anglin", "admin"]
    assert bodies[2]["table"] == "problem"  # the record's own table, even when written through task
    assert len({b["event_id"] for b in bodies}) == 3


def test_integration_user_writes_post_nothing_unless_the_condition_is_off(wired):
    sn, receiver = wired
    rec = sn.insert("incident", {"short_description": "x"})
    receiver.wait_for(1)
    s = sn.client_session()  # the integration user
    s.patch(f"{sn.url}/api/now/table/incident/{rec['sys_id']}", json={"short_description": "by integration"})
    assert sn.rule_runs[-1].outcome == "skipped_condition"
    sn.business_rule_condition_enabled = False
    s.patch(f"{sn.url}/api/now/table/incident/{rec['sys_id']}", json={"short_description": "again"})
    posts = receiver.wait_for(2)
    assert len(posts) == 2
    assert json.loads(posts[1].body)["sys_updated_by"] == sn.integration_user
    assert [r.outcome for r in sn.rule_runs] == ["posted", "skipped_condition", "posted"]


def test_no_endpoint_no_event_and_no_event_for_non_task_tables(servicenow_sandbox, event_receiver):
    sn = servicenow_sandbox
    sn.insert("incident", {"short_description": "x"})
    assert sn.rule_runs[-1].outcome == "no_endpoint" and sn.events == []
    sn.set_property("itsm_align.endpoint", event_receiver.url)
    sn.client_session("admin").post(f"{sn.url}/api/now/table/sys_user_group", json={"name": "New team"})
    sn.insert("sc_req_item", {"short_description": "laptop"})
    [post] = event_receiver.wait_for(1)
    assert json.loads(post.body)["table"] == "sc_req_item"


def test_fields_property_chooses_the_fields(wired):
    sn, receiver = wired
    sn.set_property("itsm_align.fields", "short_description, state ,no_such_column")
    sn.insert("change_request", {"short_description": "c"})
    body = json.loads(receiver.wait_for(1)[0].body)
    assert body["fields"] == {"short_description": "c", "state": "-5"}
    assert body["display"] == {"state": "New"}


def test_receiver_failures_are_recorded_not_retried(wired):
    sn, receiver = wired
    receiver.statuses = [500]
    sn.insert("incident", {"short_description": "x"})
    [event] = sn.wait_for_events(1)
    assert event.status == 500 and "receiver told to fail" in event.response_body
    assert len(receiver.received) == 1


def test_unreachable_endpoint_is_recorded(servicenow_sandbox):
    sn = servicenow_sandbox
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sn.set_property("itsm_align.endpoint", f"http://127.0.0.1:{port}/webhooks/servicenow")
    sn.insert("incident", {"short_description": "x"})
    [event] = sn.wait_for_events(1)
    assert event.status is None and "ConnectionError" in (event.error or "")


def test_timestamp_and_updated_on_follow_the_sandbox_clock(servicenow_sandbox_factory, event_receiver):
    sn = servicenow_sandbox_factory(clock=lambda: 1_700_000_000.0)
    sn.set_property("itsm_align.endpoint", event_receiver.url)
    sn.insert("incident", {"short_description": "x"})
    [post] = event_receiver.wait_for(1)
    assert post.headers["X-ITSM-Align-Timestamp"] == "1700000000"
    assert json.loads(post.body)["sys_updated_on"] == "2023-11-14 22:13:20"
    # no secret set: signed with the empty key, still a valid HMAC
    assert post.headers["X-ITSM-Align-Signature"] == _expected_signature("", "1700000000", post.body)


def test_wait_for_events_times_out_with_a_reason(servicenow_sandbox):
    with pytest.raises(TimeoutError, match="itsm_align.endpoint"):
        servicenow_sandbox.wait_for_events(1, timeout=0.05)


def test_parallel_event_workers_deliver_everything(servicenow_sandbox_factory, event_receiver):
    sn = servicenow_sandbox_factory(event_workers=3)
    sn.set_property("itsm_align.endpoint", event_receiver.url)
    rec = sn.insert("incident", {"short_description": "0"})
    for i in range(1, 12):
        sn.update_as("abel.tuter", "incident", rec["sys_id"], {"short_description": str(i)})
    events = sn.wait_for_events(12)
    assert sorted(e.payload["sys_mod_count"] for e in events) == list(range(12))
    assert all(e.status == 200 and e.answered_at >= e.queued_at for e in events)
