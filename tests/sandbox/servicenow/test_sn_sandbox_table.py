"""Table API of the ServiceNow sandbox, through PySNC and raw requests over HTTPS."""
from __future__ import annotations

from tests.support.fixtures import fixture_path
import json
import re

import pytest
import requests

from tests.fixtures.servicenow_sandbox import pysnc_client

DATA = fixture_path("servicenow")


def _links(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;rel="(\w+)"', header)}


def test_https_only_with_the_sandbox_ca(servicenow_sandbox):
    sn = servicenow_sandbox
    assert sn.url.startswith("https://127.0.0.1:")
    plain = requests.Session()
    plain.trust_env = False  # system CA bundle only: the throw-away CA is unknown to it
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{sn.url}/api/now/table/incident", auth=("admin", "admin"), timeout=5)
    r = sn.client_session().get(f"{sn.url}/api/now/table/incident", timeout=5)
    assert r.status_code == 200


def test_pysnc_pages_a_query_with_x_total_count(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.seed("incident", 230)
    client = pysnc_client(sn)
    gr = client.GlideRecord("incident", batch_size=100)
    gr.add_encoded_query("active=true^ORDERBYnumber")
    gr.fields = ["number", "short_description"]
    gr.query()
    numbers = [r.number for r in gr]
    assert len(numbers) == 230 == len(gr)
    assert numbers == sorted(numbers)
    lists = [r for r in sn.http_requests if r.method == "GET" and r.path == "/api/now/table/incident"]
    assert [r.args["sysparm_offset"] for r in lists] == ["0", "100", "200"]


def test_link_header_and_total_count_on_raw_paging(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.seed("incident", 25)
    s = sn.client_session()
    r = s.get(f"{sn.url}/api/now/v2/table/incident",
              params={"sysparm_limit": 10, "sysparm_offset": 10, "sysparm_fields": "number"})
    assert r.status_code == 200
    assert r.headers["X-Total-Count"] == "25"
    links = _links(r.headers["Link"])
    assert set(links) == {"first", "prev", "next", "last"}
    assert "sysparm_offset=0" in links["first"] and "sysparm_offset=0" in links["prev"]
    assert "sysparm_offset=20" in links["next"] and "sysparm_offset=20" in links["last"]
    assert all("sysparm_fields=number" in u and u.startswith(sn.url + "/api/now/v2/table/incident")
               for u in links.values())
    following = s.get(links["next"])
    assert len(following.json()["result"]) == 5
    assert "next" not in _links(following.headers["Link"])
    no_count = s.get(f"{sn.url}/api/now/table/incident", params={"sysparm_no_count": "true"})
    assert "X-Total-Count" not in no_count.headers


def test_v1_answers_404_for_an_empty_list_v2_and_latest_answer_200(servicenow_sandbox):
    sn = servicenow_sandbox
    s = sn.client_session()
    q = {"sysparm_query": "number=INC9999999"}
    v1 = s.get(f"{sn.url}/api/now/v1/table/incident", params=q)
    assert v1.status_code == 404
    assert v1.json() == {"error": {"message": "No Record found", "detail": (
        "Records matching query not found. Check query parameter or offset parameter")}, "status": "failure"}
    for path in ("/api/now/v2/table/incident", "/api/now/table/incident"):
        r = s.get(sn.url + path, params=q)
        assert (r.status_code, r.json()) == (200, {"result": []})


def test_values_are_strings_references_have_links_unless_excluded(servicenow_sandbox):
    sn = servicenow_sandbox
    group = sn.sys_id_of("sys_user_group", name="Network")
    rec = sn.insert("incident", {"short_description": "VPN down", "assignment_group": group,
                                 "impact": 1, "urgency": 2, "category": "network"})
    s = sn.client_session()
    one = s.get(f"{sn.url}/api/now/table/incident/{rec['sys_id']}").json()["result"]
    assert all(isinstance(v, (str, dict)) for v in one.values())
    assert one["impact"] == "1" and one["urgency"] == "2" and one["sys_mod_count"] == "0"
    assert one["assignment_group"] == {"link": f"{sn.url}/api/now/table/sys_user_group/{group}",
                                       "value": group}
    assert one["caller_id"] == ""  # empty reference: a plain empty string, as in the docs' examples
    bare = s.get(f"{sn.url}/api/now/table/incident/{rec['sys_id']}",
                 params={"sysparm_exclude_reference_link": "true"}).json()["result"]
    assert bare["assignment_group"] == group
    # same key set as a real incident of the documentation for the columns both share
    documented = json.loads((DATA / "table_api_get_incident_by_sys_id.json").read_text())["result"]
    for key in ("number", "short_description", "state", "priority", "assignment_group", "sys_class_name",
                "sys_mod_count", "sys_updated_on", "opened_by", "cmdb_ci", "business_service"):
        assert key in documented and key in one


def test_display_values_true_and_all(servicenow_sandbox):
    sn = servicenow_sandbox
    group = sn.sys_id_of("sys_user_group", name="Database")
    rec = sn.insert("incident", {"short_description": "Slow queries", "assignment_group": group,
                                 "priority": "2", "category": "database"})
    s = sn.client_session()
    url = f"{sn.url}/api/now/table/incident/{rec['sys_id']}"
    shown = s.get(url, params={"sysparm_display_value": "true", "sysparm_exclude_reference_link": "true",
                               "sysparm_fields": "priority,category,assignment_group,state"}).json()["result"]
    assert shown == {"priority": "2 - High", "category": "Database", "assignment_group": "Database",
                     "state": "New"}
    both = s.get(url, params={"sysparm_display_value": "all",
                              "sysparm_fields": "priority,assignment_group,short_description"}).json()["result"]
    assert both["priority"] == {"display_value": "2 - High", "value": "2"}
    assert both["short_description"] == {"display_value": "Slow queries", "value": "Slow queries"}
    assert both["assignment_group"] == {"display_value": "Database", "value": group,
                                        "link": f"{sn.url}/api/now/table/sys_user_group/{group}"}


def test_pysnc_reads_display_values(servicenow_sandbox):
    sn = servicenow_sandbox
    group = sn.sys_id_of("sys_user_group", name="Software")
    rec = sn.insert("incident", {"short_description": "App crash", "assignment_group": group})
    gr = pysnc_client(sn).GlideRecord("incident")
    assert gr.get(rec["sys_id"])
    assert gr.get_value("assignment_group") == group
    assert gr.get_display_value("assignment_group") == "Software"
    assert gr.get_display_value("state") == "New"


def test_sysparm_fields_and_dot_walking(servicenow_sandbox):
    sn = servicenow_sandbox
    caller = sn.sys_id_of("sys_user", user_name="abel.tuter")
    sn.insert("incident", {"short_description": "Printer", "caller_id": caller})
    r = sn.client_session().get(f"{sn.url}/api/now/table/incident",
                                params={"sysparm_fields": "number,caller_id.name,no_such_field",
                                        "sysparm_query": "caller_id.name=Abel Tuter"})
    assert r.json()["result"] == [{"number": "INC0010001", "caller_id.name": "Abel Tuter"}]


def test_patch_and_put_update_only_the_fields_sent(servicenow_sandbox):
    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "Before", "description": "keep me", "urgency": "3"})
    client = pysnc_client(sn)
    gr = client.GlideRecord("incident")
    assert gr.get(rec["sys_id"])
    gr.short_description = "After"
    gr.update()
    patch = sn.http_requests[-1]
    assert patch.method == "PATCH" and json.loads(patch.body) == {"short_description": "After"}
    stored = sn.record("incident", rec["sys_id"])
    assert stored["short_description"] == "After" and stored["description"] == "keep me"
    assert stored["sys_mod_count"] == "1" and stored["sys_updated_by"] == sn.integration_user

    s = sn.client_session()
    put = s.put(f"{sn.url}/api/now/table/incident/{rec['sys_id']}", json={"urgency": "1"})
    assert put.status_code == 200 and put.json()["result"]["urgency"] == "1"
    assert put.json()["result"]["description"] == "keep me"
    assert sn.record("incident", rec["sys_id"])["sys_mod_count"] == "2"


def test_an_update_that_changes_nothing_is_not_saved(servicenow_sandbox):
    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "Same"})
    r = sn.client_session().patch(f"{sn.url}/api/now/table/incident/{rec['sys_id']}",
                                  json={"short_description": "Same"})
    assert r.status_code == 200
    assert sn.record("incident", rec["sys_id"])["sys_mod_count"] == "0"


def test_post_201_delete_204_and_no_response_body(servicenow_sandbox):
    sn = servicenow_sandbox
    s = sn.client_session()
    created = s.post(f"{sn.url}/api/now/v2/table/problem", json={"short_description": "Root cause"})
    assert created.status_code == 201
    body = created.json()["result"]
    assert body["number"].startswith("PRB") and body["state"] == "101" and body["sys_class_name"] == "problem"
    quiet = s.patch(f"{sn.url}/api/now/table/problem/{body['sys_id']}", json={"short_description": "x"},
                    headers={"X-no-response-body": "true"})
    assert quiet.status_code == 200 and quiet.content == b""
    assert sn.record("problem", body["sys_id"])["short_description"] == "x"
    gone = s.delete(f"{sn.url}/api/now/table/problem/{body['sys_id']}")
    assert gone.status_code == 204
    assert sn.record("problem", body["sys_id"]) is None
    missing = s.get(f"{sn.url}/api/now/table/problem/{body['sys_id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No Record found"
    assert missing.json()["status"] == "failure"


def test_pysnc_insert_and_get_missing(servicenow_sandbox):
    sn = servicenow_sandbox
    client = pysnc_client(sn)
    gr = client.GlideRecord("change_request")
    gr.initialize()
    gr.short_description = "Patch routers"
    sys_id = gr.insert()
    assert sn.record("change_request", str(sys_id))["number"] == "CHG0030001"
    assert client.GlideRecord("change_request").get("0" * 32) is False


def test_error_envelope_for_auth_table_and_body(servicenow_sandbox):
    sn = servicenow_sandbox
    url = f"{sn.url}/api/now/table/incident"
    anon = sn.client_session()
    anon.auth = None
    r = anon.get(url)
    assert r.status_code == 401
    assert r.json() == {"error": {"message": "User Not Authenticated",
                                  "detail": "Required to provide Auth information"}, "status": "failure"}
    wrong = sn.client_session("admin", "not-the-password").get(url)
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "User Not Authenticated"
    person = sn.client_session("abel.tuter", "guess").get(url)  # no API credentials at all
    assert person.status_code == 401
    s = sn.client_session()
    bad_table = s.get(f"{sn.url}/api/now/table/no_such_table")
    assert bad_table.status_code == 400 and bad_table.json()["error"]["message"] == "Invalid table no_such_table"
    bad_json = s.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["message"] == "Exception while reading request"
    assert sn.requests[-1].status == 400


def test_query_on_task_returns_children_with_their_class(servicenow_sandbox):
    sn = servicenow_sandbox
    for table in ("incident", "problem", "change_request", "sc_req_item", "rm_story", "pm_project"):
        sn.insert(table, {"short_description": f"a {table}"})
    r = sn.client_session().get(f"{sn.url}/api/now/table/task",
                                params={"sysparm_fields": "number,sys_class_name,category"})
    rows = r.json()["result"]
    assert [row["sys_class_name"] for row in rows] == [
        "incident", "problem", "change_request", "sc_req_item", "rm_story", "pm_project"]
    assert all("category" not in row for row in rows)  # a task query shows task columns only
    assert {row["number"][:3] for row in rows} == {"INC", "PRB", "CHG", "RIT", "STR", "PRJ"}


@pytest.mark.parametrize("query,expected", [
    ("priority=1", {"A"}),
    ("priority!=1", {"B", "C", "D"}),
    ("priority=1^ORpriority=2", {"A", "B"}),
    ("priorityIN2,3", {"B", "C"}),
    ("priorityNOT IN2,3", {"A", "D"}),
    ("short_descriptionLIKEmail", {"A", "C"}),
    ("short_descriptionNOT LIKEmail", {"B", "D"}),
    ("short_descriptionSTARTSWITHmail", {"A"}),
    ("descriptionISEMPTY", {"B", "C", "D"}),
    ("descriptionISNOTEMPTY", {"A"}),
    ("priority>2", {"C", "D"}),
    ("priority>=2^priority<4", {"B", "C"}),
    ("priority<=1", {"A"}),
    ("opened_at>2026-01-02 00:00:00", {"C", "D"}),
    ("category=network^priority=1^NQcategory=database", {"A", "D"}),
    ("no_such_field=1", {"A", "B", "C", "D"}),  # an invalid field is silently ignored
    ("priority=1^no_such_field=1", {"A"}),
    ("u_alignment_score=5", {"A", "B", "C", "D"}),  # not defined yet: ignored too
])
def test_encoded_queries(servicenow_sandbox, query, expected):
    sn = servicenow_sandbox
    rows = [("A", "1", "Mail bounce", "details", "network", "2026-01-01 10:00:00"),
            ("B", "2", "VPN", "", "network", "2026-01-01 11:00:00"),
            ("C", "3", "Webmail slow", "", "software", "2026-01-03 09:00:00"),
            ("D", "4", "Disk", "", "database", "2026-01-04 09:00:00")]
    for name, prio, text, desc, cat, opened in rows:
        sn.insert("incident", {"correlation_id": name, "priority": prio, "short_description": text,
                               "description": desc, "category": cat, "opened_at": opened})
    r = sn.client_session().get(f"{sn.url}/api/now/table/incident",
                                params={"sysparm_query": query, "sysparm_fields": "correlation_id"})
    assert {row["correlation_id"] for row in r.json()["result"]} == expected


def test_orderby_and_orderbydesc_numeric_and_text(servicenow_sandbox):
    sn = servicenow_sandbox
    for prio, text in (("3", "b"), ("1", "c"), ("10", "a")):
        sn.insert("rm_story", {"story_points": prio, "short_description": text})
    s = sn.client_session()

    def order(q: str, field: str) -> list[str]:
        return [row[field] for row in s.get(f"{sn.url}/api/now/table/rm_story",
                                            params={"sysparm_query": q, "sysparm_fields": field}).json()["result"]]

    assert order("ORDERBYstory_points", "story_points") == ["1", "3", "10"]  # numbers, not text
    assert order("ORDERBYDESCstory_points", "story_points") == ["10", "3", "1"]
    assert order("ORDERBYshort_description", "short_description") == ["a", "b", "c"]


def test_concurrent_writes_are_all_counted(servicenow_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "start"})
    url = f"{sn.url}/api/now/table/incident/{rec['sys_id']}"

    def write(i: int) -> int:
        return sn.client_session().patch(url, json={"short_description": f"w{i}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(write, range(24)))
    assert statuses == [200] * 24
    assert sn.record("incident", rec["sys_id"])["sys_mod_count"] == "24"
