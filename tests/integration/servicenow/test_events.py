"""Event bodies from the business rule -> Event; own echoes recognised; the
sandbox's rule posts events the adapter parses."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from itsm_align.integration.servicenow.events import parse_event, split_key
from itsm_align.scoring.types import OutputValues

SYS_ID = "9d385017c611228701d22104cc95c371"


def body(**overrides):
    event = {"event_id": "0123456789abcdef0123456789abcdef", "operation": "update", "table": "incident",
             "sys_class_name": "incident", "sys_id": SYS_ID, "number": "INC0010001", "sys_mod_count": 3,
             "sys_updated_on": "2026-11-27 02:00:00", "sys_updated_by": "beth.anglin",
             "fields": {"short_description": "x"}, "display": {}}
    event.update(overrides)
    return event


def test_update_event(adapter):
    event = adapter.parse_event(body(), {})
    assert (event.platform, event.action, event.subject) == ("servicenow", "upsert", "ticket")
    assert event.key == f"incident:{SYS_ID}" and event.event_type == "servicenow:update"
    assert event.version == 3 and event.actor == "beth.anglin"
    assert event.changed_fields is None and not event.actor_is_integration
    assert not adapter.is_own_echo(event)


def test_own_user_is_an_echo(adapter, servicenow_sandbox):
    event = adapter.parse_event(body(sys_updated_by=servicenow_sandbox.integration_user), {})
    assert event.actor_is_integration and adapter.is_own_echo(event)


def test_project_and_other_operations(adapter):
    assert adapter.parse_event(body(table="pm_project", sys_class_name="pm_project"), {}).subject == "project"
    assert adapter.parse_event(body(operation="insert", sys_mod_count="0"), {}).version == 0
    assert adapter.parse_event(body(operation="delete"), {}).action == "delete"
    assert adapter.parse_event(body(operation="query"), {}).action == "ignore"


@pytest.mark.parametrize("payload, reason", [
    ([], "JSON object"),
    (body(table=None), "table"),
    (body(table="Bad Table"), "table"),
    (body(sys_id="INC001"), "sys_id"),
    (body(operation=None), "operation"),
    (body(sys_mod_count="three"), "sys_mod_count"),
    (body(sys_mod_count=-1), "negative"),
    (body(sys_mod_count=True), "sys_mod_count"),
    (body(fields=[]), "fields"),
    (body(display="x"), "display"),
])
def test_malformed_bodies_say_what_is_wrong(payload, reason):
    with pytest.raises(ValueError, match=reason):
        parse_event(payload, {})


def test_split_key():
    assert split_key(f"incident:{SYS_ID}") == ("incident", SYS_ID)
    with pytest.raises(ValueError):
        split_key("incident")


def test_sandbox_rule_event_round_trip(servicenow_sandbox, ready, event_receiver):
    secret = "hook-secret-value"
    servicenow_sandbox.set_property("itsm_align.endpoint", event_receiver.url)
    servicenow_sandbox.set_property("itsm_align.secret", secret)
    servicenow_sandbox.set_property("itsm_align.integration_user", servicenow_sandbox.integration_user)
    rec = servicenow_sandbox.insert("incident", {"short_description": "Portal down"})
    [post] = event_receiver.wait_for(1)
    headers = {k.lower(): v for k, v in post.headers.items()}
    mac = hmac.new(secret.encode(), headers["x-itsm-align-timestamp"].encode() + b"." + post.body,
                   hashlib.sha256).digest()
    assert headers["x-itsm-align-signature"] == base64.b64encode(mac).decode()
    event = ready.parse_event(json.loads(post.body), headers)
    assert event.key == f"incident:{rec['sys_id']}" and event.action == "upsert"
    assert not ready.is_own_echo(event)
    # our write does not come back (the rule's condition) ...
    ready.write(ready.fetch(event.key), OutputValues(score=12))
    servicenow_sandbox.wait_events_idle()
    assert len(event_receiver.received) == 1
    # ... and with the condition off, it comes back recognised as our echo
    servicenow_sandbox.business_rule_condition_enabled = False
    item = ready.fetch(event.key)
    ready.write(item, OutputValues(score=13))
    posts = event_receiver.wait_for(2)
    echo = ready.parse_event(json.loads(posts[1].body), {})
    assert echo.actor_is_integration and ready.is_own_echo(echo)
    assert echo.version is not None and event.version is not None and echo.version > event.version
