"""Admin webhooks: registration, payload shape, signature, filters and retries."""
from __future__ import annotations

import hashlib
import hmac
import json

import requests
from atlassian import Jira

from itsm_align.sandbox.jira import JiraSandbox
from tests.fixtures.jira_sandbox import WebhookReceiver

SECRET = "s3cret-for-tests"


def register(jira_client: Jira, url: str, jql: str | None = "project = ITSM", secret: str | None = SECRET,
             events: tuple[str, ...] = ("jira:issue_created", "jira:issue_updated", "project_created",
                                        "project_updated")) -> dict:
    body = {"name": "itsm-align", "url": url, "events": list(events), "excludeBody": False}
    if jql:
        body["filters"] = {"issue-related-events-section": jql}
    if secret:
        body["secret"] = secret
    return jira_client.post("rest/webhooks/1.0/webhook", data=body)


def test_register_list_and_delete(jira_client: Jira, jira_sandbox: JiraSandbox,
                                  webhook_receiver: WebhookReceiver) -> None:
    created = register(jira_client, f"{webhook_receiver.url}/webhooks/jira")
    assert created["url"] == f"{webhook_receiver.url}/webhooks/jira"
    assert created["filters"] == {"issue-related-events-section": "project = ITSM"}
    assert "secret" not in created and created["self"].endswith(created["self"].rsplit("/", 1)[1])
    listed = jira_client.get("rest/webhooks/1.0/webhook")
    assert [h["name"] for h in listed] == ["itsm-align"]
    hook_id = created["self"].rsplit("/", 1)[1]
    jira_client.delete(f"rest/webhooks/1.0/webhook/{hook_id}")
    assert jira_client.get("rest/webhooks/1.0/webhook") == []


def test_invalid_registration_is_400(jira_sandbox: JiraSandbox) -> None:
    url = f"{jira_sandbox.url}/rest/webhooks/1.0/webhook"
    resp = requests.post(url, auth=jira_sandbox.credentials,
                         json={"name": "", "url": "ftp://nowhere", "events": [],
                               "filters": {"issue-related-events-section": "project = "}})
    assert resp.status_code == 400
    assert set(resp.json()["errors"]) == {"name", "url", "events", "filters"}
    assert jira_sandbox.webhooks() == []


def test_person_edit_delivers_signed_payload(jira_client: Jira, jira_sandbox: JiraSandbox,
                                             webhook_receiver: WebhookReceiver,
                                             jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Business Objective"]
    register(jira_client, f"{webhook_receiver.url}/webhooks/jira")
    key = jira_sandbox.create_issue("ITSM", "Renew certificates")
    person = jira_sandbox.add_user("Bob Person", "bob@example.com")
    jira_sandbox.edit_issue_as(person, key, {fid: {"value": "Grow revenue"}})
    got = webhook_receiver.wait_for(2)
    created, updated = got
    for req in got:
        assert req.path == "/webhooks/jira"
        expected = "sha256=" + hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(req.headers["X-Hub-Signature"], expected)
        assert req.headers["X-Atlassian-Webhook-Flow"] == "Primary"
        assert "X-Atlassian-Webhook-Retry" not in req.headers
    assert created.headers["X-Atlassian-Webhook-Identifier"] != updated.headers["X-Atlassian-Webhook-Identifier"]
    payload = json.loads(updated.body)
    assert payload["webhookEvent"] == "jira:issue_updated"
    assert payload["issue_event_type_name"] == "issue_generic"
    assert isinstance(payload["timestamp"], int)
    assert payload["user"]["accountId"] == person.account_id and payload["user"]["accountType"] == "atlassian"
    assert payload["issue"]["key"] == key and "/rest/api/2/issue/" in payload["issue"]["self"]
    assert payload["issue"]["fields"][fid]["value"] == "Grow revenue"
    option_id = payload["issue"]["fields"][fid]["id"]
    assert payload["changelog"]["items"] == [{"field": "Business Objective", "fieldtype": "custom", "fieldId": fid,
                                              "from": None, "fromString": None, "to": option_id,
                                              "toString": "Grow revenue"}]
    assert json.loads(created.body)["webhookEvent"] == "jira:issue_created"
    deliveries = jira_sandbox.wait_for_deliveries(2)
    assert [d.state for d in deliveries] == ["delivered", "delivered"]


def test_api_write_by_integration_account_comes_back(jira_client: Jira, jira_sandbox: JiraSandbox,
                                                     webhook_receiver: WebhookReceiver,
                                                     jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Alignment Score"]
    key = jira_sandbox.create_issue("ITSM", "Renew certificates")
    register(jira_client, webhook_receiver.url, events=("jira:issue_updated",))
    jira_client.update_issue_field(key, {fid: 64}, notify_users=False)
    payload = json.loads(webhook_receiver.wait_for(1)[0].body)
    assert payload["user"]["accountId"] == jira_client.myself()["accountId"]
    assert payload["changelog"]["items"][0]["fieldId"] == fid
    assert payload["changelog"]["items"][0]["toString"] == "64"
    jira_client.update_issue_field(key, {fid: 64}, notify_users=False)  # no change: no webhook
    assert len(jira_sandbox.wait_for_deliveries(1)) == 1 and len(jira_sandbox.deliveries) == 1


def test_jql_filter_selects_issues(jira_client: Jira, jira_sandbox: JiraSandbox,
                                   webhook_receiver: WebhookReceiver) -> None:
    jira_sandbox.add_project("OPS", "Operations")
    register(jira_client, webhook_receiver.url, jql="project = OPS", events=("jira:issue_created",))
    jira_sandbox.create_issue("ITSM", "Not for us")
    ops_key = jira_sandbox.create_issue("OPS", "For us")
    got = webhook_receiver.wait_for(1)
    assert [json.loads(r.body)["issue"]["key"] for r in got] == [ops_key]
    assert [d.issue_key for d in jira_sandbox.deliveries] == [ops_key]


def test_retries_keep_identifier_and_count(jira_client: Jira, jira_sandbox: JiraSandbox,
                                           webhook_receiver: WebhookReceiver) -> None:
    register(jira_client, webhook_receiver.url, events=("jira:issue_created",))
    webhook_receiver.respond_with(500, 429, 200)
    jira_sandbox.create_issue("ITSM", "Flaky receiver")
    got = webhook_receiver.wait_for(3)
    assert len({r.headers["X-Atlassian-Webhook-Identifier"] for r in got}) == 1
    assert [r.headers.get("X-Atlassian-Webhook-Retry") for r in got] == [None, "1", "2"]
    assert len({r.body for r in got}) == 1
    delivery = jira_sandbox.wait_for_deliveries(1)[0]
    assert delivery.state == "delivered" and [a.status for a in delivery.attempts] == [500, 429, 200]


def test_client_errors_are_not_retried(jira_client: Jira, jira_sandbox: JiraSandbox,
                                       webhook_receiver: WebhookReceiver) -> None:
    register(jira_client, webhook_receiver.url, events=("jira:issue_created",))
    webhook_receiver.respond_with(401)
    jira_sandbox.create_issue("ITSM", "Rejected")
    delivery = jira_sandbox.wait_for_deliveries(1)[0]
    assert delivery.state == "failed" and [a.status for a in delivery.attempts] == [401]
    assert len(webhook_receiver.received) == 1


def test_unreachable_receiver_gives_up_after_five_retries(jira_sandbox: JiraSandbox) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    jira_sandbox.add_webhook(f"http://127.0.0.1:{port}/hook", events=("jira:issue_created",))
    jira_sandbox.create_issue("ITSM", "Nobody home")
    delivery = jira_sandbox.wait_for_deliveries(1, timeout=10)[0]
    assert delivery.state == "failed"
    assert [a.retry for a in delivery.attempts] == [0, 1, 2, 3, 4, 5]
    assert all(a.status is None and a.error for a in delivery.attempts)


def test_events_of_one_issue_arrive_in_order(jira_sandbox: JiraSandbox, webhook_receiver: WebhookReceiver,
                                             jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Alignment Score"]
    jira_sandbox.add_webhook(webhook_receiver.url, events=("jira:issue_updated",))
    key = jira_sandbox.create_issue("ITSM", "Busy")
    webhook_receiver.respond_with(503)  # the first is retried, the rest must wait for it
    for n in range(5):
        jira_sandbox.edit_issue_as(None, key, {fid: n + 1})
    jira_sandbox.wait_for_deliveries(5)
    delivered = [json.loads(r.body)["changelog"]["items"][0]["toString"] for r in webhook_receiver.received
                 if r.status == 200]
    assert delivered == ["1", "2", "3", "4", "5"]


def test_project_events(jira_sandbox: JiraSandbox, webhook_receiver: WebhookReceiver) -> None:
    jira_sandbox.add_webhook(webhook_receiver.url, events=("project_created", "project_updated"), secret=SECRET)
    jira_sandbox.add_project("NEW", "New things")
    jira_sandbox.update_project("NEW", name="Newer things")
    got = webhook_receiver.wait_for(2)
    payloads = [json.loads(r.body) for r in got]
    assert [p["webhookEvent"] for p in payloads] == ["project_created", "project_updated"]
    assert payloads[1]["project"]["key"] == "NEW" and payloads[1]["project"]["name"] == "Newer things"
    assert "/rest/api/2/project/" in payloads[0]["project"]["self"]


def test_project_update_over_rest_sends_project_updated(jira_client: Jira, jira_sandbox: JiraSandbox,
                                                        webhook_receiver: WebhookReceiver) -> None:
    jira_sandbox.add_webhook(webhook_receiver.url, events=("project_updated",))
    project = jira_client.put("rest/api/3/project/ITSM", data={"name": "IT Services"})
    assert project["name"] == "IT Services"
    assert json.loads(webhook_receiver.wait_for(1)[0].body)["project"]["name"] == "IT Services"


def test_issue_deleted_event(jira_sandbox: JiraSandbox, webhook_receiver: WebhookReceiver) -> None:
    key = jira_sandbox.create_issue("ITSM", "Short-lived")
    jira_sandbox.add_webhook(webhook_receiver.url, events=("jira:issue_deleted",))
    jira_sandbox.delete_issue(key)
    payload = json.loads(webhook_receiver.wait_for(1)[0].body)
    assert payload["webhookEvent"] == "jira:issue_deleted" and payload["issue"]["key"] == key


def test_reset_cancels_pending_retries(jira_sandbox: JiraSandbox, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.default_status = 503
    jira_sandbox.add_webhook(webhook_receiver.url, events=("jira:issue_created",))
    jira_sandbox.create_issue("ITSM", "Never accepted")
    webhook_receiver.wait_for(1)
    delivery = jira_sandbox.deliveries[0]
    jira_sandbox.reset()
    assert jira_sandbox.deliveries == []
    assert delivery.state == "cancelled" and len(delivery.attempts) < 6  # retries abandoned, not run out
