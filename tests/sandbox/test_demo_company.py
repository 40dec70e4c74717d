"""The demo company (sandbox/demo_company.py + .yaml): seeded into both sandboxes
as the demo does, it has about 300 tickets with epics, parents and projects, the
"Business Area" field where the example rules look for it, and every step of
its people's activity plays against the seeded sandboxes."""
from __future__ import annotations

from typing import Iterator

import pytest

from itsm_align.sandbox.demo_company import BUSINESS_AREA_ID, DemoCompany
from itsm_align.sandbox.jira import JiraSandbox
from itsm_align.sandbox.servicenow import ServiceNowSandbox

OBJECTIVE_NAMES = {"revenue": "Grow online revenue", "compliance": "Stay compliant", "security": "Reduce security risk",
                   "reliability": "Keep the platform reliable", "cx": "Improve customer experience",
                   "cost": "Cut run costs", "productivity": "Make employees productive"}


@pytest.fixture
def seeded() -> Iterator[tuple[DemoCompany, JiraSandbox, ServiceNowSandbox, list[str], list[str]]]:
    company = DemoCompany.load()
    with JiraSandbox() as jira, ServiceNowSandbox() as sn:
        issues = company.seed_jira(jira)
        records = company.seed_servicenow(sn)
        yield company, jira, sn, issues, records


def test_about_300_tickets_across_projects_and_tables(seeded) -> None:
    company, jira, sn, issues, records = seeded
    assert len(issues) == company.issue_count() and len(records) == company.record_count()
    assert 270 <= len(issues) + len(records) <= 330
    assert {key.split("-")[0] for key in issues} == set(company.jira_projects)
    assert len(company.jira_projects) >= 5
    classes = {row["sys_class_name"] for row in sn.query("task")}
    assert {"incident", "problem", "change_request", "sc_req_item", "pm_project", "rm_story"} <= classes
    # nothing was sent: no webhook and no event endpoint exist yet
    assert jira.deliveries == [] and sn.events == []


def test_epics_have_children_and_projects_have_stories(seeded) -> None:
    _, jira, sn, issues, _ = seeded
    fields = {key: jira.issue(key)["fields"] for key in issues}
    epics = {key for key, f in fields.items() if f["issuetype"]["name"] == "Epic"}
    children = [key for key, f in fields.items() if f.get("parent")]
    assert len(epics) >= 15 and len(children) >= 60
    assert all(fields[key]["parent"]["key"] in epics for key in children)
    projects = {row["sys_id"] for row in sn.query("pm_project")}
    stories = sn.query("rm_story")
    assert stories and all(story.get("parent") in projects for story in stories)


def test_business_area_is_the_field_the_example_rules_read(seeded) -> None:
    _, jira, _, issues, _ = seeded
    assert jira.field_id("Business Area") == BUSINESS_AREA_ID
    assert any(jira.value(key, BUSINESS_AREA_ID) == "Checkout" for key in issues)


def test_every_activity_step_plays(seeded) -> None:
    company, jira, sn, issues, records = seeded
    jira.add_field("Business Objective", "select", options=list(OBJECTIVE_NAMES.values()))
    touched = [company.play(step, jira, sn, objective_names=OBJECTIVE_NAMES) for step in company.activity]
    assert len(touched) == len(company.activity) >= 15
    assert "LOYAL" in touched  # a project was created
    new_issues = [key for key in touched if "-" in key and key not in issues]
    new_records = [number for number in touched if "-" not in number and number != "LOYAL" and number not in records]
    assert new_issues and new_records
    overridden = company.jira_keys["ops-latency-epic"]
    assert jira.value(overridden, jira.field_id("Business Objective")) == "Grow online revenue"
