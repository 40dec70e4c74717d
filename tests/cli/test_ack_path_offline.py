"""The acknowledgement never waits on the platform: the service's first
delivery after start-up is stored without a request to Jira, even when Jira
is unreachable; what the ack path needs to drop our own echoes it learns in
the background."""
from __future__ import annotations

from pathlib import Path

from itsm_align.cli.compose import build_app
from itsm_align.cli.config import parse_config
from itsm_align.webhooks.signatures import jira_signature
from tests.support.fixtures import fixture_path

CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
rules: []
jira:
  url: {url}
  email: integration@example.com
  api_token: not-needed-here
  webhook_secret: ack-secret
service:
  database_url: sqlite:///{db}
"""


def deliver(app, name: str) -> int:  # type: ignore[no-untyped-def]
    body = fixture_path("jira", "webhooks", name).read_bytes()
    response = app.test_client().post("/webhooks/jira", data=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature": jira_signature("ack-secret", body),
        "X-Atlassian-Webhook-Identifier": f"ack-{name}"})
    return response.status_code


def test_the_first_delivery_is_acknowledged_without_asking_jira(jira_sandbox, tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(url=jira_sandbox.url, db=tmp_path / "a.sqlite3"))
    jira_sandbox.clear_requests()
    app = build_app(config, warm=False)
    assert deliver(app, "issue_updated_generic.json") == 202
    assert jira_sandbox.requests == []  # no GET /myself, no GET /field on the ack path
    assert len(app.extensions["itsm_align"].inbox.rows()) == 1


def test_an_unreachable_jira_does_not_delay_or_fail_the_ack(tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(url="http://127.0.0.1:9", db=tmp_path / "b.sqlite3"))
    app = build_app(config, warm=False)
    assert deliver(app, "issue_updated_generic.json") == 202
    assert deliver(app, "issue_created.json") == 202
    assert len(app.extensions["itsm_align"].inbox.rows()) == 2
