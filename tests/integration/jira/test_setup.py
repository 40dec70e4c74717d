"""``setup``: fields, options in step with the objectives, screen, admin webhook; idempotent."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from itsm_align.integration.base import ConfigurationError, MemoryStore
from itsm_align.integration.jira import JiraAdapter
from itsm_align.scoring.types import Objective
from tests.contract.jira_driver import OBJECTIVES, WEBHOOK_SECRET, JiraDriver, is_write, jira_settings

PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"


def writes(sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests if is_write(r.method, r.path)]


def enabled(sandbox, field_id: str) -> list[str]:
    return [o["value"] for o in sandbox.options(field_id) if not o.get("disabled")]


def test_setup_creates_fields_options_screen_and_webhook(jira_sandbox, webhook_receiver) -> None:
    adapter = JiraAdapter(jira_settings(jira_sandbox), MemoryStore(), public_url=webhook_receiver.url + "/")
    steps = adapter.setup(OBJECTIVES)
    assert all(s.done for s in steps if s.needed)
    fields = {f["name"]: f for f in adapter.client.get("rest/api/3/field") if f.get("custom")}
    expected = {"Business Objective": ("select", "multiselectsearcher"), "Alignment Score": ("float", "numberrange"),
                "Alignment Rationale": ("textarea", "textsearcher"), "Work Nature": ("select", "multiselectsearcher")}
    for name, (kind, _searcher) in expected.items():
        assert fields[name]["schema"]["custom"] == PREFIX + kind
        assert jira_sandbox.on_screen(fields[name]["id"])
    assert fields["Alignment Score"]["searchable"] is True
    objective = fields["Business Objective"]["id"]
    assert enabled(jira_sandbox, objective) == [o.name for o in OBJECTIVES] + ["Unaligned"]
    assert enabled(jira_sandbox, fields["Work Nature"]["id"]) == ["Proactive", "Reactive"]

    (hook,) = jira_sandbox.webhooks()
    assert hook["url"] == webhook_receiver.url + "/webhooks/jira"
    assert set(hook["events"]) == {"jira:issue_created", "jira:issue_updated", "jira:issue_deleted",
                                   "project_created", "project_updated", "project_deleted"}
    assert hook["filters"]["issue-related-events-section"] == "project = ITSM"
    assert hook["secret"] == WEBHOOK_SECRET

    # the registered webhook really delivers, signed with the secret
    key = jira_sandbox.create_issue("ITSM", "Signed delivery")
    (received,) = webhook_receiver.wait_for(1)
    assert received.path == "/webhooks/jira"
    digest = hmac.new(WEBHOOK_SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["X-Hub-Signature"] == f"sha256={digest}"
    assert key.encode() in received.body


def test_a_second_run_changes_nothing(jira: JiraDriver) -> None:
    jira.sandbox.clear_requests()
    steps = jira.adapter.setup(jira.objectives)
    assert writes(jira.sandbox) == []
    assert steps and not any(s.needed for s in steps)


def test_a_second_run_with_a_fresh_state_store_changes_nothing_either(jira: JiraDriver, webhook_receiver) -> None:
    """Another machine (no remembered option ids) finds everything by name and asks
    Jira which screens hold the fields. Only the webhook is updated once: its
    secret cannot be read back to compare."""
    other = JiraAdapter(jira.settings, MemoryStore(), public_url=webhook_receiver.url)
    jira.sandbox.clear_requests()
    other.setup(jira.objectives)
    assert [w for w in writes(jira.sandbox) if not w[1].startswith("/rest/webhooks/")] == []
    assert len(jira.sandbox.webhooks()) == 1
    jira.sandbox.clear_requests()
    other.setup(jira.objectives)
    assert writes(jira.sandbox) == []


def test_dry_run_prints_the_plan_and_changes_nothing(jira_sandbox, webhook_receiver) -> None:
    adapter = JiraAdapter(jira_settings(jira_sandbox), MemoryStore(), public_url=webhook_receiver.url)
    steps = adapter.setup(OBJECTIVES, dry_run=True)
    assert writes(jira_sandbox) == []
    assert not any(s.done for s in steps)
    actions = [(s.action, s.target) for s in steps]
    assert ("create field", "Business Objective") in actions
    assert ("add option", "Business Objective: Unaligned") in actions
    assert ("add option", "Work Nature: Reactive") in actions
    assert ("put fields on screen", "Default Screen (1)") in actions
    assert ("register webhook", webhook_receiver.url + "/webhooks/jira") in actions
    assert not [f for f in adapter.client.get("rest/api/3/field") if f.get("custom")]
    assert jira_sandbox.webhooks() == []


def test_dry_run_on_a_set_up_site_plans_only_the_differences(jira: JiraDriver) -> None:
    renamed = [Objective("revenue", "Grow digital revenue", 5), *jira.objectives[1:]]
    jira.sandbox.clear_requests()
    steps = jira.adapter.setup(renamed, dry_run=True)
    assert writes(jira.sandbox) == []
    assert [(s.action, s.target) for s in steps if s.needed] == [
        ("rename option", "Business Objective: Grow online revenue -> Grow digital revenue")]


def test_objectives_renamed_added_and_removed(jira: JiraDriver) -> None:
    field = jira.ids.objective
    before = {o["value"]: o["id"] for o in jira.sandbox.options(field)}
    key = jira.create_ticket("Webshop search is slow")
    jira.person_sets_objective(key, "revenue")

    changed = [Objective("revenue", "Grow digital revenue", 5),  # renamed: same id
               Objective("cost", "Cut IT cost", 3),  # unchanged
               Objective("people", "Keep good people", 2)]  # new; "risk" removed
    steps = jira.adapter.setup(changed)
    options = {o["value"]: o for o in jira.sandbox.options(field)}
    assert options["Grow digital revenue"]["id"] == before["Grow online revenue"]  # renamed in place
    assert "Grow online revenue" not in options
    assert options["Reduce operational risk"]["disabled"] is True  # disabled, never deleted
    assert options["Keep good people"]["disabled"] is False
    assert options["Unaligned"]["disabled"] is False
    assert {(s.action, s.target) for s in steps if s.done} == {
        ("rename option", "Business Objective: Grow online revenue -> Grow digital revenue"),
        ("disable option", "Business Objective: Reduce operational risk"),
        ("add option", "Business Objective: Keep good people")}
    # the issue holding the renamed option shows the new name and still maps to the objective
    assert jira.sandbox.value(key, field) == "Grow digital revenue"
    jira.adapter.configure(objectives=changed)
    assert jira.adapter.fetch(key).current.objective == "revenue"

    # the objective comes back: its old option is enabled again, not duplicated
    jira.adapter.setup([*changed, Objective("risk", "Reduce operational risk", 4)])
    options = {o["value"]: o for o in jira.sandbox.options(field)}
    assert options["Reduce operational risk"]["disabled"] is False
    assert len([o for o in jira.sandbox.options(field) if o["value"] == "Reduce operational risk"]) == 1


def test_a_field_of_the_wrong_type_stops_setup_with_advice(jira_sandbox) -> None:
    jira_sandbox.add_field("Alignment Score", "textfield")
    adapter = JiraAdapter(jira_settings(jira_sandbox), MemoryStore())
    with pytest.raises(ConfigurationError, match="jira.fields.score"):
        adapter.setup(OBJECTIVES)
    assert writes(jira_sandbox) == []


def test_without_public_url_the_webhook_step_says_what_to_set(jira_sandbox) -> None:
    adapter = JiraAdapter(jira_settings(jira_sandbox), MemoryStore())
    steps = adapter.setup(OBJECTIVES)
    (webhook,) = [s for s in steps if "webhook" in s.action]
    assert not webhook.done and "service.public_url" in webhook.detail
    assert jira_sandbox.webhooks() == []


def test_datacenter_setup_uses_api_v2_and_is_idempotent(jira_sandbox_dc) -> None:
    from itsm_align.integration.jira import JiraSettings

    settings = JiraSettings(url=jira_sandbox_dc.url, deployment="datacenter", api_token=jira_sandbox_dc.pat)
    adapter = JiraAdapter(settings, MemoryStore())  # no public_url: webhook step skipped
    adapter.setup(OBJECTIVES)
    assert all(r.path.startswith(("/rest/api/2/", "/rest/webhooks/")) for r in jira_sandbox_dc.requests)
    objective = jira_sandbox_dc.field_id("Business Objective")
    assert enabled(jira_sandbox_dc, objective) == [o.name for o in OBJECTIVES] + ["Unaligned"]
    jira_sandbox_dc.clear_requests()
    adapter.setup(OBJECTIVES)
    assert writes(jira_sandbox_dc) == []


def test_a_changed_filter_or_secret_updates_the_one_webhook(jira: JiraDriver, webhook_receiver) -> None:
    (hook,) = jira.sandbox.webhooks()
    narrower = jira_settings(jira.sandbox, jql="project = ITSM AND issuetype = Bug")
    adapter = JiraAdapter(narrower, jira.state, public_url=webhook_receiver.url)
    steps = adapter.setup(jira.objectives)
    assert [(s.action, s.done) for s in steps if s.needed] == [("update webhook", True)]
    (updated,) = jira.sandbox.webhooks()
    assert updated["self"] == hook["self"]
    assert updated["filters"]["issue-related-events-section"] == "project = ITSM AND issuetype = Bug"

    rotated = jira_settings(jira.sandbox, jql="project = ITSM AND issuetype = Bug", webhook_secret="rotated-secret")
    steps = JiraAdapter(rotated, jira.state, public_url=webhook_receiver.url).setup(jira.objectives)
    assert [s.action for s in steps if s.needed] == ["update webhook"]
    (updated,) = jira.sandbox.webhooks()
    assert updated["secret"] == "rotated-secret"
    assert all("rotated-secret" not in s.detail for s in steps)
