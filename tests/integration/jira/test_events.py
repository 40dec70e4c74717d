"""Webhook payloads -> Event: the real captures, the sandbox's own deliveries, bad input."""
from __future__ import annotations

from tests.support.fixtures import fixture_path
import json

import pytest

from itsm_align.integration.base import MemoryStore
from itsm_align.integration.jira import JiraAdapter, JiraSettings
from itsm_align.scoring.types import Nature, OutputValues, SetBy
from tests.contract.jira_driver import JiraDriver

CAPTURES = fixture_path("jira", "webhooks")
#: file -> (action, subject, key, actor, changed fields) as the capture really is
EXPECTED = {
    "comment_created.json": ("ignore", "ticket", "", None, None),
    "comment_deleted.json": ("ignore", "ticket", "INDEV-28", None, None),
    "comment_updated.json": ("ignore", "ticket", "INDEV-28", None, None),
    "epic_created.json": ("upsert", "ticket", "DTP-1", "5b912e21fa38ae2c896099ae", "description"),
    "issue_created.json": ("upsert", "ticket", "BBCOM-1398", "jira_test", "Epic Link"),
    "issue_updated_commented-changed.json": ("upsert", "ticket", "BBCOM-956", "correct_user", "Start date"),
    "issue_updated_commented.json": ("upsert", "ticket", "BBCOM-956", "jira_test", None),
    "issue_updated_description-update.json": ("upsert", "ticket", "INDEV-131", "5c07f55ba1b46046f530e0f3",
                                              "description"),
    "issue_updated_generic.json": ("upsert", "ticket", "BBCOM-1233", "jira_test", "status"),
    "issue_updated_issue-assigned.json": ("upsert", "ticket", "INDEV-242", "5c07f55ba1b46046f530e0f3", "assignee"),
    "issue_updated_move-issue.json": ("upsert", "ticket", "INDEV-130", "5c07f55ba1b46046f530e0f3", "issuetype"),
    "issue_updated_rank-changed.json": ("upsert", "ticket", "INDEV-259", "5c07f55ba1b46046f530e0f3",
                                        "customfield_10019"),
    "issue_updated_status-changed.json": ("upsert", "ticket", "INDEV-6", "5bcede20b3e37a158c364fef", "status"),
    "issuelink_created.json": ("ignore", "ticket", "", None, None),
    "issuelink_created_relates.json": ("ignore", "ticket", "", None, None),
    "issuelink_deleted.json": ("ignore", "ticket", "", None, None),
    "project_created.json": ("upsert", "project", None, None, None),
}


@pytest.fixture
def offline() -> JiraAdapter:
    """An adapter that must not need the network to parse events (account id given)."""
    settings = JiraSettings(url="http://127.0.0.1:9", email="bot@example.com", api_token="t",
                            account_id="5b10a2844c20165700ede2ff")
    return JiraAdapter(settings, MemoryStore())


def test_every_capture_is_covered() -> None:
    assert sorted(p.name for p in CAPTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_captured_payloads_parse(offline: JiraAdapter, name: str) -> None:
    payload = json.loads((CAPTURES / name).read_text(encoding="utf-8"))
    action, subject, key, actor, first_change = EXPECTED[name]
    event = offline.parse_event(payload, {"X-Atlassian-Webhook-Identifier": "abc"})
    assert (event.action, event.subject) == (action, subject)
    assert event.event_type == payload["webhookEvent"]
    assert event.key == (payload["project"]["key"] if key is None else key)
    assert event.actor == actor
    if first_change is not None:
        assert event.changed_fields[0] == first_change
    assert event.objective_set_by_person is False
    assert offline.is_own_echo(event) is False
    assert offline.requests_sent == 0  # account id configured: no network on the hot path


@pytest.mark.parametrize("payload, reason", [
    ([1, 2], "not a JSON object"),
    ({}, "no 'webhookEvent'"),
    ({"webhookEvent": ""}, "no 'webhookEvent'"),
    ({"webhookEvent": "jira:issue_updated", "issue": {"id": "1"}}, "without issue.key"),
    ({"webhookEvent": "jira:issue_deleted", "issue": "ITSM-1"}, "without issue.key"),
    ({"webhookEvent": "project_updated", "project": {"id": 3}}, "without project.key"),
])
def test_payloads_not_shaped_like_jira_are_refused_with_a_reason(offline: JiraAdapter, payload, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        offline.parse_event(payload, {})


def test_delete_events(offline: JiraAdapter) -> None:
    issue = offline.parse_event({"webhookEvent": "jira:issue_deleted", "issue": {"key": "ITSM-9"}}, {})
    project = offline.parse_event({"webhookEvent": "project_deleted", "project": {"key": "OPS"}}, {})
    assert (issue.action, issue.subject, issue.key) == ("delete", "ticket", "ITSM-9")
    assert (project.action, project.subject, project.key) == ("delete", "project", "OPS")


def test_old_changelog_without_field_id_is_mapped_by_display_name(jira: JiraDriver) -> None:
    adapter = jira.adapter
    payload = {"webhookEvent": "jira:issue_updated", "timestamp": "2019-2-27 15:40:35,494", "level": "silly",
               "user": {"accountId": jira.sandbox.api_user.account_id}, "issue": {"key": "ITSM-1"},
               "changelog": {"items": [{"field": "Alignment Score", "fieldtype": "custom", "from": None,
                                        "to": "70"}]}}
    event = adapter.parse_event(payload, {})
    assert event.changed_fields == (jira.ids.score,)
    assert event.actor_is_integration
    assert adapter.is_own_echo(event)


def test_our_own_write_comes_back_as_an_echo_and_a_persons_edit_does_not(jira: JiraDriver) -> None:
    adapter = jira.adapter
    key = jira.create_ticket("Card payments fail at checkout")
    created = adapter.parse_event(*jira.last_event(key))
    assert created.action == "upsert" and not adapter.is_own_echo(created)

    adapter.write(adapter.fetch(key), OutputValues("revenue", 90, "Grow online revenue (90): checkout",
                                                   Nature.REACTIVE, SetBy.INTEGRATION))
    jira.sandbox.wait_for_deliveries(2, timeout=10, predicate=lambda d: d.issue_key == key)
    echo = adapter.parse_event(*jira.last_event(key))
    assert echo.actor_is_integration
    assert set(echo.changed_fields) == set(jira.ids.all())
    assert adapter.is_own_echo(echo)

    jira.person_sets_objective(key, "cost")
    jira.sandbox.wait_for_deliveries(3, timeout=10, predicate=lambda d: d.issue_key == key)
    override = adapter.parse_event(*jira.last_event(key))
    assert override.objective_set_by_person
    assert not adapter.is_own_echo(override)


def test_our_account_changing_other_fields_is_not_an_echo(jira: JiraDriver) -> None:
    adapter = jira.adapter
    event = adapter.parse_event({"webhookEvent": "jira:issue_updated", "issue": {"key": "ITSM-1"},
                                 "user": {"accountId": jira.sandbox.api_user.account_id},
                                 "changelog": {"items": [{"field": "summary", "fieldId": "summary"},
                                                         {"field": "x", "fieldId": jira.ids.score}]}}, {})
    assert not adapter.is_own_echo(event)
    no_changelog = adapter.parse_event({"webhookEvent": "jira:issue_updated", "issue": {"key": "ITSM-1"},
                                        "user": {"accountId": jira.sandbox.api_user.account_id}}, {})
    assert not adapter.is_own_echo(no_changelog)


def test_parse_event_works_while_jira_is_unreachable() -> None:
    """The account lookup (GET /myself) failing must not fail ingest."""
    settings = JiraSettings(url="http://127.0.0.1:9", email="bot@example.com", api_token="t")
    adapter = JiraAdapter(settings, MemoryStore())
    payload = {"webhookEvent": "jira:issue_updated", "issue": {"key": "ITSM-1"}, "user": {"accountId": "abc"},
               "changelog": {"items": [{"field": "Alignment Score", "fieldId": "customfield_1"}]}}
    event = adapter.parse_event(payload, {})
    assert event.key == "ITSM-1" and not event.actor_is_integration
    assert adapter.is_own_echo(event) is False
    assert adapter.requests_sent == 0  # refused connections never got an answer


def test_the_account_is_looked_up_once(jira: JiraDriver) -> None:
    adapter = JiraAdapter(jira.settings, MemoryStore())
    payload = {"webhookEvent": "jira:issue_updated", "issue": {"key": "ITSM-1"},
               "user": {"accountId": jira.sandbox.api_user.account_id}}
    jira.sandbox.clear_requests()
    for _ in range(5):
        assert adapter.parse_event(payload, {}).actor_is_integration
    assert [r.path for r in jira.sandbox.requests] == ["/rest/api/3/myself"]
