"""fetch -> WorkItem; write sends one PATCH of only the changed columns, none
when nothing changed; a person's objective is never overwritten."""
from __future__ import annotations

import dataclasses
import json

import pytest

from itsm_align.integration.base import ConfigurationError, NotFound
from itsm_align.scoring.types import Nature, OutputValues, SetBy

from .conftest import writes

WANTED = OutputValues(objective="grow_revenue", score=72, rationale="Checkout is revenue", nature=Nature.REACTIVE)


def new_incident(sandbox, **values) -> str:
    rec = sandbox.insert("incident", {"short_description": "Checkout fails", "description": "500 on pay",
                                      "priority": "1", **values})
    return rec["sys_id"]


def test_fetch_maps_the_record(servicenow_sandbox, ready):
    group = servicenow_sandbox.query("sys_user_group")[0]
    sys_id = new_incident(servicenow_sandbox, assignment_group=group["sys_id"], time_worked="5400")
    mark = len(servicenow_sandbox.http_requests)
    item = ready.fetch(f"incident:{sys_id}")
    gets = servicenow_sandbox.http_requests[mark:]
    assert len(gets) == 1  # objective empty: no sys_audit look-up
    fields = gets[0].args["sysparm_fields"].split(",")
    assert {"short_description", "u_business_objective", "sys_mod_count"} <= set(fields)
    assert item.platform == "servicenow" and item.kind == "ticket"
    assert item.key.startswith("INC") and item.id == sys_id
    assert item.type == "incident" and item.project == "incident"
    assert item.summary == "Checkout fails" and item.description == "500 on pay"
    assert item.priority == "1 - Critical"
    assert item.assignment_group == group["name"]
    assert item.raw["assignment_group"] == group["sys_id"]
    assert item.current == OutputValues()
    assert item.effort == pytest.approx(1.5)  # time_worked 5400 s
    assert item.created is not None and item.created.tzinfo is not None


def test_fetch_asks_for_the_columns_rules_read(servicenow_sandbox, ready):
    ready.configure(fields_read=["summary", "fields.u_cost_center", "fields.caller_id.name", "fields.bad column"])
    sys_id = new_incident(servicenow_sandbox)
    mark = len(servicenow_sandbox.http_requests)
    ready.fetch(f"incident:{sys_id}")
    fields = servicenow_sandbox.http_requests[mark].args["sysparm_fields"].split(",")
    assert "u_cost_center" in fields and "caller_id.name" in fields
    assert "summary" not in fields and "bad column" not in fields


def test_fetch_by_number_and_unknown_record(servicenow_sandbox, ready):
    sys_id = new_incident(servicenow_sandbox)
    number = servicenow_sandbox.record("incident", sys_id)["number"]
    assert ready.fetch(number).id == sys_id
    with pytest.raises(NotFound) as info:
        ready.fetch("incident:" + "0" * 32)
    assert info.value.status == 404 and info.value.message
    with pytest.raises(ValueError, match="<table>:<sys_id>"):
        ready.fetch("not a key")


@pytest.mark.parametrize("table, kind, type_", [
    ("problem", "ticket", "problem"), ("change_request", "ticket", "change"),
    ("sc_req_item", "ticket", "service request"), ("rm_story", "ticket", "story"),
    ("pm_project", "project", "project"),
])
def test_types_of_task_children(servicenow_sandbox, ready, table, kind, type_):
    rec = servicenow_sandbox.insert(table, {"short_description": f"a {table}"})
    item = ready.fetch(f"{table}:{rec['sys_id']}")
    assert (item.kind, item.type) == (kind, type_)


def test_write_sends_only_changed_columns_once(servicenow_sandbox, ready):
    sys_id = new_incident(servicenow_sandbox)
    item = ready.fetch(f"incident:{sys_id}")
    mark = len(servicenow_sandbox.http_requests)
    answers: list = []
    ready.client.session.hooks["response"].append(lambda r, *a, **k: answers.append(r))
    result = ready.write(item, WANTED)
    [patch] = writes(servicenow_sandbox, since=mark)
    [answer] = answers
    assert answer.request.headers["X-no-response-body"] == "true" and answer.content == b""
    assert patch.method == "PATCH" and patch.path.endswith(f"/incident/{sys_id}")
    assert json.loads(patch.body) == {"u_business_objective": "grow_revenue", "u_alignment_score": "72",
                                      "u_alignment_rationale": "Checkout is revenue",
                                      "u_work_nature": "reactive"}
    assert set(result.changed) == set(json.loads(patch.body)) and result.requests == 1
    stored = servicenow_sandbox.record("incident", sys_id)
    assert stored["u_alignment_score"] == "72" and stored["sys_updated_by"] == servicenow_sandbox.integration_user

    again = ready.fetch(f"incident:{sys_id}")
    assert again.current.objective_set_by is SetBy.INTEGRATION
    mark = len(servicenow_sandbox.http_requests)
    assert ready.write(again, WANTED).changed == ()
    assert writes(servicenow_sandbox, since=mark) == []

    new_score = OutputValues(objective="grow_revenue", score=40.4, rationale="Checkout is revenue",
                             nature=Nature.REACTIVE)
    ready.write(again, new_score)
    [patch] = writes(servicenow_sandbox, since=mark)
    assert json.loads(patch.body) == {"u_alignment_score": "40"}


def test_person_override_is_respected(servicenow_sandbox, ready):
    sys_id = new_incident(servicenow_sandbox)
    ready.write(ready.fetch(f"incident:{sys_id}"), WANTED)
    servicenow_sandbox.update_as("admin", "incident", sys_id, {"u_business_objective": "compliance"})
    item = ready.fetch(f"incident:{sys_id}")
    assert item.current.objective == "compliance"
    assert item.current.objective_set_by is SetBy.PERSON
    mark = len(servicenow_sandbox.http_requests)
    result = ready.write(item, OutputValues(objective="cut_cost", score=10, rationale="x", nature=Nature.PROACTIVE))
    [patch] = writes(servicenow_sandbox, since=mark)
    assert "u_business_objective" not in json.loads(patch.body)
    assert "u_business_objective" not in result.changed
    assert servicenow_sandbox.record("incident", sys_id)["u_business_objective"] == "compliance"


def test_rationale_is_trimmed_to_the_column(servicenow_sandbox, make_settings, objectives):
    from itsm_align.integration.servicenow.adapter import ServiceNowAdapter

    adapter = ServiceNowAdapter(make_settings(rationale_length=60))
    adapter.setup(objectives)
    sys_id = new_incident(servicenow_sandbox)
    long = "word " * 100
    adapter.write(adapter.fetch(f"incident:{sys_id}"), OutputValues(rationale=long))
    stored = servicenow_sandbox.record("incident", sys_id)["u_alignment_rationale"]
    assert len(stored) == 60 and stored.endswith("…")
    mark = len(servicenow_sandbox.http_requests)
    assert adapter.write(adapter.fetch(f"incident:{sys_id}"), OutputValues(rationale=long)).changed == ()
    assert writes(servicenow_sandbox, since=mark) == []


def test_write_before_setup_says_to_run_setup(servicenow_sandbox, adapter, objectives):
    adapter.setup([objectives[1]])  # choice grow_revenue missing
    sys_id = new_incident(servicenow_sandbox)
    with pytest.raises(ConfigurationError) as info:
        adapter.write(adapter.fetch(f"incident:{sys_id}"), WANTED)
    assert "setup servicenow" in str(info.value)
    assert info.value.status == 400


def test_project_of_a_task_under_a_pm_project(servicenow_sandbox, ready):
    project = servicenow_sandbox.insert("pm_project", {"short_description": "New web shop"})
    sys_id = new_incident(servicenow_sandbox, parent=project["sys_id"])
    item = ready.fetch(f"incident:{sys_id}")
    assert item.project == project["number"] and item.parent == project["number"]
    assert ready.fetch(f"pm_project:{project['sys_id']}").project == project["number"]


def test_project_rollup_written_to_pm_project(servicenow_sandbox, ready):
    from itsm_align.scoring.rollup import ProjectRollup

    project = servicenow_sandbox.insert("pm_project", {"short_description": "New web shop"})
    rollup = ProjectRollup(score=63.6, effort_share={"grow_revenue": 0.7, "unaligned": 0.3},
                           item_count=5, total_effort=20.0, reactive_share=0.2)
    ready.write_project_rollup(f"pm_project:{project['sys_id']}", rollup)
    stored = servicenow_sandbox.record("pm_project", project["sys_id"])
    assert stored["u_business_objective"] == "grow_revenue"
    assert stored["u_alignment_score"] == "64"
    assert stored["u_work_nature"] == "proactive"
    assert "5 items" in stored["u_alignment_rationale"] and "70%" in stored["u_alignment_rationale"]
    mark = len(servicenow_sandbox.http_requests)
    ready.write_project_rollup(project["sys_id"], rollup)  # bare sys_id, unchanged: no write
    assert writes(servicenow_sandbox, since=mark) == []
    as_dict = dataclasses.asdict(rollup)  # what the worker passes, with the project number
    ready.write_project_rollup(project["number"], as_dict)
    assert writes(servicenow_sandbox, since=mark) == []


def test_our_own_value_needs_no_audit_look_up_but_a_persons_change_does(servicenow_sandbox, ready):
    sys_id = new_incident(servicenow_sandbox)
    ready.write(ready.fetch(f"incident:{sys_id}"), WANTED)
    mark = len(servicenow_sandbox.http_requests)
    item = ready.fetch(f"incident:{sys_id}")
    assert len(servicenow_sandbox.http_requests) - mark == 1  # the record only: it holds what we wrote
    assert item.current.objective_set_by is SetBy.INTEGRATION

    servicenow_sandbox.update_as("admin", "incident", sys_id, {"u_business_objective": "cut_cost"})
    mark = len(servicenow_sandbox.http_requests)
    item = ready.fetch(f"incident:{sys_id}")
    requested = [r.path for r in servicenow_sandbox.http_requests[mark:]]
    assert len(requested) == 2 and "sys_audit" in requested[1]  # not our value: sys_audit says who
    assert item.current.objective == "cut_cost" and item.current.objective_set_by is SetBy.PERSON
