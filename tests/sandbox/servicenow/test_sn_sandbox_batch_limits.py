"""Batch API, rate-limit rules and injected faults of the ServiceNow sandbox."""
from __future__ import annotations

from tests.support.fixtures import fixture_path
import base64
import json
import time

from tests.fixtures.servicenow_sandbox import pysnc_client

DATA = fixture_path("servicenow")


def _item(rid: str, method: str, url: str, body: dict | None = None) -> dict:
    item = {"id": rid, "method": method, "url": url,
            "headers": [{"name": "Content-Type", "value": "application/json"},
                        {"name": "Accept", "value": "application/json"}]}
    if body is not None:
        item["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return item


def test_batch_runs_items_in_order_and_leaves_the_rest_unserviced(servicenow_sandbox):
    sn = servicenow_sandbox
    ids = sn.seed("incident", 5)
    sn.batch_max_items = 3
    items = [_item(str(i), "PATCH", f"/api/now/table/incident/{sid}", {"short_description": f"b{i}"})
             for i, sid in enumerate(ids)]
    r = sn.client_session().post(f"{sn.url}/api/now/v1/batch",
                                 json={"batch_request_id": "7", "rest_requests": items})
    assert r.status_code == 200
    data = r.json()
    documented = json.loads((DATA / "batch_api_response.json").read_text())
    assert set(data) == set(documented)
    assert set(data["serviced_requests"][0]) == set(documented["serviced_requests"][0])
    assert data["batch_request_id"] == "7"
    assert [x["id"] for x in data["serviced_requests"]] == ["0", "1", "2"]
    assert data["unserviced_requests"] == ["3", "4"]
    first = data["serviced_requests"][0]
    assert first["status_code"] == 200 and first["status_text"] == "OK"
    assert json.loads(base64.b64decode(first["body"]))["result"]["short_description"] == "b0"
    assert [sn.record("incident", s)["short_description"] for s in ids[:3]] == ["b0", "b1", "b2"]
    assert sn.record("incident", ids[3])["short_description"] != "b3"
    assert len(sn.http_requests) == 1 and sum(r.via_batch for r in sn.requests) == 3


def test_batch_time_budget_cuts_the_batch(servicenow_sandbox):
    sn = servicenow_sandbox
    ids = sn.seed("incident", 2)
    sn.batch_time_budget = 0  # already over budget before the first item
    r = sn.client_session().post(f"{sn.url}/api/now/v1/batch", json={"batch_request_id": "1", "rest_requests": [
        _item("a", "GET", f"/api/now/table/incident/{ids[0]}"),
        _item("b", "GET", f"/api/now/table/incident/{ids[1]}")]})
    assert r.json()["serviced_requests"] == [] and r.json()["unserviced_requests"] == ["a", "b"]


def test_batch_item_errors_and_bad_items(servicenow_sandbox):
    sn = servicenow_sandbox
    bad_body = _item("x", "POST", "/api/now/table/incident")
    bad_body["body"] = "***"
    r = sn.client_session().post(f"{sn.url}/api/now/v1/batch", json={"batch_request_id": "2", "rest_requests": [
        _item("missing", "GET", "/api/now/table/incident/" + "0" * 32),
        _item("created", "POST", "/api/now/table/incident", {"short_description": "via batch"}),
        bad_body, {"id": "no-url"}]})
    by_id = {x["id"]: x for x in r.json()["serviced_requests"]}
    assert by_id["missing"]["status_code"] == 404
    assert json.loads(base64.b64decode(by_id["missing"]["body"]))["error"]["message"] == "No Record found"
    assert by_id["created"]["status_code"] == 201 and by_id["created"]["status_text"] == "Created"
    assert by_id["x"]["status_code"] == 400 and by_id["no-url"]["status_code"] == 400
    not_a_list = sn.client_session().post(f"{sn.url}/api/now/v1/batch", json={"rest_requests": "nope"})
    assert not_a_list.status_code == 400 and not_a_list.json()["status"] == "failure"


def test_pysnc_update_multiple_resends_unserviced_items(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.seed("incident", 12)
    sn.batch_max_items = 5
    gr = pysnc_client(sn).GlideRecord("incident")
    gr.query()
    for rec in gr:
        rec.short_description = "bulk"
    assert gr.update_multiple()
    assert all(r["short_description"] == "bulk" for r in sn.query("incident"))
    batches = [r for r in sn.http_requests if r.path == "/api/now/v1/batch"]
    assert len(batches) == 3  # 5 + 5 + 2: PySNC resent the unserviced ones


def test_rate_limit_rule_answers_429_with_headers_and_documented_body(servicenow_sandbox):
    sn = servicenow_sandbox
    rule = sn.set_rate_limit(100, user=sn.integration_user)
    s = sn.client_session()
    for _ in range(100):
        ok = s.get(f"{sn.url}/api/now/table/incident", params={"sysparm_limit": 1})
        assert ok.status_code == 200
    assert ok.headers["X-RateLimit-Limit"] == "100" and ok.headers["X-RateLimit-Rule"] == rule.sys_id
    denied = s.get(f"{sn.url}/api/now/table/incident")
    assert denied.status_code == 429
    assert denied.json() == json.loads((DATA / "error_429_rate_limit_exceeded.json").read_text())
    reset = int(denied.headers["X-RateLimit-Reset"])
    assert reset % 3600 == 0 and reset > time.time()
    assert 1 <= int(denied.headers["Retry-After"]) <= 3600
    assert "X-RateLimit-Remaining" not in denied.headers
    # another user is not under the rule
    assert sn.client_session("admin").get(f"{sn.url}/api/now/table/incident").status_code == 200


def test_rate_limit_window_follows_the_clock(servicenow_sandbox_factory):
    now = [7200.0 * 1000]
    sn = servicenow_sandbox_factory(clock=lambda: now[0])
    sn.set_rate_limit(1)
    s = sn.client_session()
    assert s.get(f"{sn.url}/api/now/table/incident").status_code == 200
    denied = s.get(f"{sn.url}/api/now/table/incident")
    assert denied.status_code == 429 and denied.headers["Retry-After"] == "3600"
    now[0] += 3600  # next hour: a fresh window
    assert s.get(f"{sn.url}/api/now/table/incident").status_code == 200


def test_injected_faults(servicenow_sandbox):
    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "x"})
    s = sn.client_session()
    url = f"{sn.url}/api/now/table/incident/{rec['sys_id']}"
    sn.inject(method="PATCH", status=429)  # node queue full: no Retry-After
    sn.inject(path_regex=r"/incident/", method="PATCH", status=429, retry_after=7)
    sn.inject(path_regex=r"/incident/", method="PATCH", status=503, count=2)
    queue_full = s.patch(url, json={"short_description": "y"})
    assert queue_full.status_code == 429 and "Retry-After" not in queue_full.headers
    assert queue_full.json()["status"] == "failure"
    limited = s.patch(url, json={"short_description": "y"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert [s.patch(url, json={"short_description": "y"}).status_code for _ in range(3)] == [503, 503, 200]
    assert sn.record("incident", rec["sys_id"])["short_description"] == "y"
    assert s.get(url).status_code == 200  # GETs never matched


def test_pysnc_retries_get_after_injected_503(servicenow_sandbox):
    sn = servicenow_sandbox
    rec = sn.insert("incident", {"short_description": "x"})
    sn.inject(path_regex=r"/api/now/table/incident/", method="GET", status=503, count=1)
    gr = pysnc_client(sn).GlideRecord("incident")
    assert gr.get(rec["sys_id"])
    assert [r.status for r in sn.http_requests] == [503, 200]


def test_injected_fault_hits_a_batch_item(servicenow_sandbox):
    sn = servicenow_sandbox
    ids = sn.seed("incident", 2)
    sn.inject(path_regex=ids[1], method="PATCH", status=500)
    r = sn.client_session().post(f"{sn.url}/api/now/v1/batch", json={"batch_request_id": "3", "rest_requests": [
        _item("1", "PATCH", f"/api/now/table/incident/{ids[0]}", {"short_description": "ok"}),
        _item("2", "PATCH", f"/api/now/table/incident/{ids[1]}", {"short_description": "fails"})]})
    assert [x["status_code"] for x in r.json()["serviced_requests"]] == [200, 500]
    assert sn.record("incident", ids[1])["short_description"] != "fails"


def test_request_log_can_be_cleared(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.client_session().get(f"{sn.url}/api/now/table/incident")
    assert [r.status for r in sn.requests] == [200]
    assert sn.requests[0].user == sn.integration_user
    sn.clear_requests()
    assert sn.requests == [] and sn.http_requests == []
