"""setup: columns and choices on task, idempotent, dry run, rename and removal."""
from __future__ import annotations

import pytest

from itsm_align.scoring.types import Objective

from .conftest import writes


def dictionary(sandbox) -> dict[str, dict[str, str]]:
    return {r["element"]: r for r in sandbox.query("sys_dictionary", "name=task^elementSTARTSWITHu_")}


def choices(sandbox, element: str) -> dict[str, dict[str, str]]:
    return {r["value"]: r for r in sandbox.query("sys_choice", f"name=task^element={element}")}


def test_setup_creates_columns_and_choices(servicenow_sandbox, adapter, objectives):
    steps = adapter.setup(objectives)
    assert all(s.done and s.needed for s in steps)
    cols = dictionary(servicenow_sandbox)
    assert cols["u_business_objective"]["choice"] == "1"
    assert cols["u_alignment_score"]["internal_type"] == "integer"
    assert cols["u_alignment_rationale"]["max_length"] == "255"
    assert cols["u_work_nature"]["choice"] == "1"
    objs = choices(servicenow_sandbox, "u_business_objective")
    assert {v: r["label"] for v, r in objs.items()} == {
        "grow_revenue": "Grow online revenue", "cut_cost": "Cut run cost",
        "compliance": "Stay compliant", "unaligned": "Unaligned"}
    natures = choices(servicenow_sandbox, "u_work_nature")
    assert {v: r["label"] for v, r in natures.items()} == {"proactive": "Proactive", "reactive": "Reactive"}


def test_second_run_writes_nothing(servicenow_sandbox, adapter, objectives):
    adapter.setup(objectives)
    mark = len(servicenow_sandbox.http_requests)
    steps = adapter.setup(objectives)
    assert writes(servicenow_sandbox, since=mark) == []
    assert not any(s.needed for s in steps)
    assert len(servicenow_sandbox.http_requests) - mark == 2  # one GET for columns, one for choices


def test_dry_run_changes_nothing_and_lists_the_plan(servicenow_sandbox, adapter, objectives):
    mark = len(servicenow_sandbox.http_requests)
    steps = adapter.setup(objectives, dry_run=True)
    assert writes(servicenow_sandbox, since=mark) == []
    assert dictionary(servicenow_sandbox) == {}
    assert [s.action for s in steps].count("create column") == 4
    assert all(s.needed and not s.done for s in steps)
    assert "task.u_business_objective=grow_revenue" in {s.target for s in steps}


def test_rename_updates_label_and_removal_deactivates(servicenow_sandbox, adapter, objectives):
    adapter.setup(objectives)
    renamed = [Objective("grow_revenue", "Grow revenue online and in store", 5), objectives[2]]
    steps = adapter.setup(renamed)
    by_target = {s.target: s for s in steps}
    assert by_target["task.u_business_objective=grow_revenue"].action == "rename choice"
    assert by_target["task.u_business_objective=cut_cost"].action == "deactivate choice"
    objs = choices(servicenow_sandbox, "u_business_objective")
    assert objs["grow_revenue"]["label"] == "Grow revenue online and in store"
    assert objs["cut_cost"]["inactive"] == "true"  # kept, never deleted
    assert objs["cut_cost"]["label"] == "Cut run cost"
    assert objs["compliance"]["inactive"] in ("", "false")
    # bringing it back reactivates the same choice
    adapter.setup(objectives)
    assert choices(servicenow_sandbox, "u_business_objective")["cut_cost"]["inactive"] == "false"
    mark = len(servicenow_sandbox.http_requests)
    adapter.setup(objectives)
    assert writes(servicenow_sandbox, since=mark) == []


@pytest.mark.parametrize("bad, message", [
    ([Objective("unaligned", "Nothing", 1)], "reserved"),
    ([Objective("a", "A", 1), Objective("a", "B", 1)], "twice"),
])
def test_bad_objectives_are_refused_before_any_request(servicenow_sandbox, adapter, bad, message):
    mark = len(servicenow_sandbox.http_requests)
    with pytest.raises(ValueError, match=message):
        adapter.setup(bad)
    assert len(servicenow_sandbox.http_requests) == mark
