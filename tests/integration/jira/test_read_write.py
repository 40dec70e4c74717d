"""fetch / write / project rollup against the sandbox: only what is needed, only what changed."""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from itsm_align.integration.base import ConfigurationError, MemoryStore
from itsm_align.integration.jira import JiraAdapter
from itsm_align.integration.jira.adapter import TEXTAREA_LIMIT
from itsm_align.scoring.types import UNALIGNED, Nature, OutputValues, SetBy
from tests.contract.jira_driver import OBJECTIVES, JiraDriver, jira_settings


def values(objective: str = "revenue", score: float = 72, rationale: str = "Grow online revenue (72): shop",
           nature: Nature = Nature.PROACTIVE, set_by: SetBy = SetBy.INTEGRATION) -> OutputValues:
    return OutputValues(objective, score, rationale, nature, set_by)


def puts(jira: JiraDriver) -> list:
    return [r for r in jira.sandbox.requests if r.method == "PUT" and "/issue/" in r.path]


def test_fetch_maps_the_issue(jira: JiraDriver) -> None:
    points = jira.sandbox.add_field("Story Points", "float")
    labels_key = jira.sandbox.create_issue("ITSM", "Add Apple Pay", "so *customers* can pay faster",
                                           issuetype="Story", fields={"labels": ["shop", "payments"], points: 5},
                                           as_user=jira.person)
    adapter = JiraAdapter(jira_settings(jira.sandbox, effort_field="Story Points"), jira.state,
                          objectives=OBJECTIVES)
    item = adapter.fetch(labels_key)
    assert (item.platform, item.kind, item.key, item.project, item.type) == ("jira", "ticket", labels_key, "ITSM",
                                                                            "story")
    assert item.summary == "Add Apple Pay"
    assert "customers" in item.description
    assert item.labels == ("shop", "payments")
    assert item.effort == 5.0
    assert item.reporter == "Pat Person"
    assert item.created is not None and item.created.tzinfo is not None
    assert item.raw[points] == 5
    assert item.current == OutputValues()


def test_fetch_asks_only_for_the_fields_rules_read(jira: JiraDriver) -> None:
    key = jira.create_ticket("Only some fields")
    jira.adapter.configure(fields_read={"summary", "labels", "fields.customfield_10099"})
    jira.sandbox.clear_requests()
    jira.adapter.fetch(key)
    (get,) = [r for r in jira.sandbox.requests if r.method == "GET" and r.path.endswith(f"/issue/{key}")]
    asked = set(parse_qs(get.query)["fields"][0].split(","))
    assert asked == {"summary", "labels", "customfield_10099", "issuetype", "project", "parent", *jira.ids.all()}


def test_write_sends_only_changed_fields_with_notify_users_off(jira: JiraDriver) -> None:
    key = jira.create_ticket("Checkout slow")
    jira.adapter.write(jira.adapter.fetch(key), values())
    jira.sandbox.clear_requests()
    result = jira.adapter.write(jira.adapter.fetch(key), values(score=72.0, nature=Nature.REACTIVE))
    (put,) = puts(jira)
    assert put.path == f"/rest/api/2/issue/{key}"
    assert parse_qs(put.query)["notifyUsers"] == ["false"]
    assert put.json == {"fields": {jira.ids.nature: {"value": "Reactive"}}}  # 72 == 72.0: not sent
    assert result.changed == (jira.ids.nature,) and result.requests == 1


def test_unaligned_and_rationale_limits(jira: JiraDriver) -> None:
    key = jira.create_ticket("Long story")
    long_text = "word " * 10_000
    jira.adapter.write(jira.adapter.fetch(key), values(UNALIGNED, 0, long_text))
    assert jira.sandbox.value(key, jira.ids.objective) == "Unaligned"
    stored = jira.sandbox.value(key, jira.ids.rationale)
    assert len(stored) <= TEXTAREA_LIMIT and stored.startswith("word word")
    jira.sandbox.clear_requests()
    again = jira.adapter.write(jira.adapter.fetch(key), values(UNALIGNED, 0, long_text))
    assert again.changed == () and puts(jira) == []


def test_a_persons_objective_is_never_written_over(jira: JiraDriver) -> None:
    key = jira.create_ticket("Person decides")
    jira.person_sets_objective(key, "risk")
    item = jira.adapter.fetch(key)
    assert item.current.objective == "risk" and item.current.objective_set_by == SetBy.PERSON
    jira.sandbox.clear_requests()
    jira.adapter.write(item, values("revenue", 88))  # even if the assessment forgot the override
    (put,) = puts(jira)
    assert jira.ids.objective not in put.json["fields"]
    assert jira.sandbox.value(key, jira.ids.objective) == "Reduce operational risk"
    # and our own later write keeps it INTEGRATION-free: the person stays the setter
    assert jira.adapter.fetch(key).current.objective_set_by == SetBy.PERSON


def test_objective_set_by_us_reads_back_as_integration(jira: JiraDriver) -> None:
    key = jira.create_ticket("We decide")
    jira.adapter.write(jira.adapter.fetch(key), values())
    assert jira.adapter.fetch(key).current.objective_set_by == SetBy.INTEGRATION
    jira.person_sets_objective(key, "cost")
    jira.adapter.write(jira.adapter.fetch(key), values("cost", 50, set_by=SetBy.PERSON))
    assert jira.adapter.fetch(key).current.objective_set_by == SetBy.PERSON


def test_a_field_missing_from_the_screen_says_to_run_setup(jira_sandbox) -> None:
    for name, kind, options in (("Business Objective", "select", [o.name for o in OBJECTIVES] + ["Unaligned"]),
                                ("Alignment Score", "float", []), ("Alignment Rationale", "textarea", []),
                                ("Work Nature", "select", ["Proactive", "Reactive"])):
        jira_sandbox.add_field(name, kind, options=options, on_screen=(name != "Alignment Score"))
    adapter = JiraAdapter(jira_settings(jira_sandbox), MemoryStore(), objectives=OBJECTIVES)
    key = jira_sandbox.create_issue("ITSM", "No screen")
    with pytest.raises(ConfigurationError) as caught:
        adapter.write(adapter.fetch(key), values())
    assert "appropriate screen" in str(caught.value)  # Jira's own words
    assert "itsm-align setup jira" in str(caught.value)
    assert caught.value.status == 400


def test_project_fetch_and_rollup_property(jira: JiraDriver) -> None:
    item = jira.adapter.fetch("ITSM", "project")
    assert (item.kind, item.key, item.summary) == ("project", "ITSM", "IT Service Management")
    rollup = {"score": 61.5, "items": 12, "effort_share": {"revenue": 0.5, UNALIGNED: 0.25},
              "reactive_share": 0.4, "nature": Nature.REACTIVE}
    jira.adapter.write_project_rollup("ITSM", rollup)
    stored = jira.sandbox.project_property("ITSM", "itsm-align.alignment")
    assert stored == {**rollup, "nature": "reactive"}
    assert jira.adapter.write(item, values()).changed == ()  # projects keep no custom fields
