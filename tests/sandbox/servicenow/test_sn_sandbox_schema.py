"""sys_dictionary, sys_choice, sys_properties and sys_audit in the ServiceNow sandbox."""
from __future__ import annotations

from tests.fixtures.servicenow_sandbox import pysnc_client


def _add_column(s, url, **fields):
    return s.post(f"{url}/api/now/table/sys_dictionary", json={"name": "task", **fields})


def test_a_column_exists_only_once_defined_then_on_task_and_every_child(servicenow_sandbox):
    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "x"})
    s = sn.client_session("admin")
    url = f"{sn.url}/api/now/table/incident/{rec['sys_id']}"
    before = s.patch(url, json={"u_alignment_score": "80", "short_description": "y"})
    assert before.status_code == 200  # unknown column: silently ignored, the rest is written
    assert "u_alignment_score" not in before.json()["result"]
    assert before.json()["result"]["short_description"] == "y"

    created = _add_column(s, sn.url, element="u_alignment_score", internal_type="integer",
                          column_label="Alignment score")
    assert created.status_code == 201
    assert created.json()["result"]["element"] == "u_alignment_score"
    assert s.patch(url, json={"u_alignment_score": "80"}).json()["result"]["u_alignment_score"] == "80"
    for table in ("task", "problem", "change_request", "sc_req_item", "rm_story", "pm_project"):
        row = s.get(f"{sn.url}/api/now/table/{table}", params={"sysparm_limit": 1}).json()
        assert table == "task" or row["result"] == []  # only the incident exists
    problem = sn.insert("problem", {"short_description": "p", "u_alignment_score": 7})
    assert sn.record("problem", problem["sys_id"])["u_alignment_score"] == "7"
    hits = s.get(f"{sn.url}/api/now/table/task", params={"sysparm_query": "u_alignment_score>=50",
                                                          "sysparm_fields": "number"}).json()["result"]
    assert hits == [{"number": rec["number"]}]
    bad_int = s.patch(url, json={"u_alignment_score": "high"})
    assert bad_int.status_code == 400 and "integer" in bad_int.json()["error"]["detail"]


def test_dictionary_rows_are_queryable_and_validated(servicenow_sandbox):
    sn = servicenow_sandbox
    s = sn.client_session("admin")
    rows = s.get(f"{sn.url}/api/now/table/sys_dictionary",
                 params={"sysparm_query": "name=task^element=short_description"}).json()["result"]
    assert len(rows) == 1 and rows[0]["internal_type"] == "string"
    assert _add_column(s, sn.url, element="u_work_nature", choice="1").status_code == 201
    dup = _add_column(s, sn.url, element="u_work_nature", choice="1")
    assert dup.status_code == 400 and "already exists" in dup.json()["error"]["detail"]
    bad = s.post(f"{sn.url}/api/now/table/sys_dictionary", json={"name": "nope", "element": "u_x"})
    assert bad.status_code == 400 and bad.json()["status"] == "failure"
    bad_name = _add_column(s, sn.url, element="U X")
    assert bad_name.status_code == 400 and "not a valid column name" in bad_name.json()["error"]["detail"]


def test_choice_columns_only_take_defined_values(servicenow_sandbox):
    sn = servicenow_sandbox
    s = sn.client_session("admin")
    assert _add_column(s, sn.url, element="u_business_objective", internal_type="string", choice="1",
                       column_label="Business objective").status_code == 201
    rec = sn.insert("incident", {"short_description": "x"})
    url = f"{sn.url}/api/now/table/incident/{rec['sys_id']}"
    refused = s.patch(url, json={"u_business_objective": "grow_revenue"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Invalid choice value"
    assert "grow_revenue" in refused.json()["error"]["detail"]
    assert sn.record("incident", rec["sys_id"])["u_business_objective"] == ""  # nothing written

    choice = s.post(f"{sn.url}/api/now/table/sys_choice", json={
        "name": "task", "element": "u_business_objective", "value": "grow_revenue",
        "label": "Grow revenue", "sequence": "10", "language": "en", "inactive": "false"})
    assert choice.status_code == 201
    ok = s.patch(url, json={"u_business_objective": "grow_revenue"},
                 params={"sysparm_display_value": "all"})
    assert ok.status_code == 200
    assert ok.json()["result"]["u_business_objective"] == {"display_value": "Grow revenue",
                                                           "value": "grow_revenue"}
    assert s.patch(url, json={"u_business_objective": ""}).status_code == 200  # -- None -- is always fine
    # an inactive choice still exists (removed objectives keep their values readable)
    s.patch(f"{sn.url}/api/now/table/sys_choice/{choice.json()['result']['sys_id']}", json={"inactive": "true"})
    assert s.patch(url, json={"u_business_objective": "grow_revenue"}).status_code == 200
    assert sn.display_value("incident", rec["sys_id"], "u_business_objective") == "Grow revenue"
    missing = s.post(f"{sn.url}/api/now/table/sys_choice", json={"name": "task", "element": "u_business_objective"})
    assert missing.status_code == 400 and "value" in missing.json()["error"]["detail"]


def test_base_choice_columns_validate_too(servicenow_sandbox):
    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "x"})
    r = sn.client_session().patch(f"{sn.url}/api/now/table/incident/{rec['sys_id']}", json={"state": "42"})
    assert r.status_code == 400 and "incident.state" in r.json()["error"]["detail"]


def test_schema_tables_need_admin(servicenow_sandbox_factory):
    sn = servicenow_sandbox_factory(integration_user_admin=False)
    r = sn.client_session().post(f"{sn.url}/api/now/table/sys_dictionary",
                                 json={"name": "task", "element": "u_alignment_score"})
    assert r.status_code == 403
    assert r.json()["error"]["message"] == "Operation Failed"
    assert sn.client_session("admin").post(f"{sn.url}/api/now/table/sys_dictionary", json={
        "name": "task", "element": "u_alignment_score"}).status_code == 201


def test_properties_and_users_through_the_api_and_pysnc(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.set_property("itsm_align.endpoint", "http://127.0.0.1:9/webhooks/servicenow")
    gr = pysnc_client(sn, "admin").GlideRecord("sys_properties")
    gr.add_query("name", "itsm_align.endpoint")
    gr.query()
    assert gr.next() and gr.value == "http://127.0.0.1:9/webhooks/servicenow"
    assert sn.get_property("itsm_align.integration_user") == sn.integration_user
    users = sn.client_session().get(f"{sn.url}/api/now/table/sys_user",
                                    params={"sysparm_query": f"user_name={sn.integration_user}"}).json()
    assert len(users["result"]) == 1


def test_audit_records_who_changed_which_field(servicenow_sandbox):
    sn = servicenow_sandbox
    s = sn.client_session("admin")
    _add_column(s, sn.url, element="u_business_objective", choice="2")
    rec = sn.insert("incident", {"short_description": "x"}, as_user="beth.anglin")
    sn.update_as("david.loo", "incident", rec["sys_id"], {"u_business_objective": "cut_costs"})
    rows = s.get(f"{sn.url}/api/now/table/sys_audit", params={
        "sysparm_query": f"documentkey={rec['sys_id']}^fieldname=u_business_objective"}).json()["result"]
    assert len(rows) == 1
    assert rows[0]["user"] == "david.loo" and rows[0]["newvalue"] == "cut_costs"
    assert rows[0]["oldvalue"] == "" and rows[0]["tablename"] == "incident"
    assert rows[0]["record_checkpoint"] == "1"


def test_person_actions_are_validated_like_api_writes(servicenow_sandbox):
    import pytest

    from itsm_align.sandbox.servicenow import WriteRejected

    sn = servicenow_sandbox
    with pytest.raises(WriteRejected, match="not a choice of incident.category"):
        sn.insert("incident", {"short_description": "x", "category": "astrology"})
    assert sn.query("incident") == []
    rec = sn.insert("incident", {"short_description": "x"})
    with pytest.raises(WriteRejected, match="No Record found"):
        sn.update_as("beth.anglin", "problem", rec["sys_id"], {"short_description": "y"})  # wrong table
    assert sn.display_value("incident", rec["sys_id"], "sys_class_name") == "Incident"
