"""The business rule script, run in node against stub ServiceNow objects: the
request it would send (endpoint, method, headers, body) and a signature
verified here with Python's hmac."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from itsm_align.integration.servicenow.settings import DEFAULT_EVENT_FIELDS

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "integration" / "servicenow" / "business_rule.js"
HARNESS = Path(__file__).parent / "js" / "harness.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) is not on PATH; "
                                                     "install Node.js 18+ to run the business rule test")
SYS_ID = "9d385017c611228701d22104cc95c371"
SECRET = "s3cr3t-\u00e9-key"
NOW = 1_795_000_000


def record(**overrides):
    rec = {
        "sys_id": {"value": SYS_ID, "type": "GUID"},
        "number": {"value": "INC0010001"},
        "sys_class_name": {"value": "incident", "choice": True, "display": "Incident"},
        "sys_mod_count": {"value": "3", "type": "integer"},
        "sys_updated_on": {"value": "2026-11-27 02:00:00", "type": "glide_date_time"},
        "sys_updated_by": {"value": "beth.anglin"},
        "short_description": {"value": "Checkout page fails \u2013 \"payment\" error"},
        "description": {"value": "line1\nline2"},
        "priority": {"value": "1", "choice": True, "display": "1 - Critical"},
        "state": {"value": "2", "choice": True, "display": "In Progress"},
        "assignment_group": {"value": "8a4dde73c6112278017a6a4baf547aa7", "type": "reference",
                             "display": "Service Desk"},
        "cmdb_ci": {"value": "", "type": "reference", "display": ""},
        "u_business_objective": {"value": "grow_revenue", "choice": True, "display": "Grow revenue"},
        "u_alignment_score": {"value": "72", "type": "integer"},
        "custom_col": {"value": "x"},
    }
    rec.update(overrides)
    return rec


def run(rec=None, properties=None, operation="update"):
    props = {"itsm_align.endpoint": "https://align.example.com/webhooks/servicenow",
             "itsm_align.secret": SECRET, "itsm_align.integration_user": "itsm.align"}
    if properties is not None:
        props.update(properties)
    payload = {"script": str(SCRIPT), "table": "incident", "operation": operation,
               "record": rec or record(), "properties": props,
               "guid": "0123456789abcdef0123456789abcdef", "now_ms": NOW * 1000 + 999}
    done = subprocess.run([NODE, str(HARNESS)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def expected_signature(secret: str, timestamp: str, body: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def test_stub_mac_matches_reference_vector():
    # the documented check value: key sample_key, data sample_data
    mac = base64.b64encode(hmac.new(b"sample_key", b"sample_data", hashlib.sha256).digest()).decode()
    assert mac == "4VWUI48lJvmGSF6MYmOVWA9c0hfu55Ur+3e+fUFFFr4="


def test_posts_signed_event_with_the_documented_body_and_headers():
    out = run()
    assert out["logs"] == []
    [req] = out["requests"]
    assert req["endpoint"] == "https://align.example.com/webhooks/servicenow"
    assert req["method"].lower() == "post"
    assert req["async"] is True
    headers = req["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-ITSM-Align-Event-Id"] == "0123456789abcdef0123456789abcdef"
    assert headers["X-ITSM-Align-Timestamp"] == str(NOW)
    body = req["body"]
    assert headers["X-ITSM-Align-Signature"] == expected_signature(SECRET, str(NOW), body)
    assert ": " not in body.split('"short_description"')[0]  # compact JSON
    event = json.loads(body)
    assert event == {
        "event_id": "0123456789abcdef0123456789abcdef",
        "operation": "update",
        "table": "incident",
        "sys_class_name": "incident",
        "sys_id": SYS_ID,
        "number": "INC0010001",
        "sys_mod_count": 3,
        "sys_updated_on": "2026-11-27 02:00:00",
        "sys_updated_by": "beth.anglin",
        "fields": {
            "short_description": "Checkout page fails \u2013 \"payment\" error",
            "description": "line1\nline2",
            "priority": "1",
            "state": "2",
            "assignment_group": "8a4dde73c6112278017a6a4baf547aa7",
            "cmdb_ci": "",
            "u_business_objective": "grow_revenue",
            "u_alignment_score": "72",
        },
        "display": {
            "priority": "1 - Critical",
            "state": "In Progress",
            "assignment_group": "Service Desk",
            "cmdb_ci": "",
            "u_business_objective": "Grow revenue",
        },
    }


def test_fields_property_selects_columns_and_skips_missing_ones():
    out = run(properties={"itsm_align.fields": " short_description , custom_col,no_such_col,,"})
    event = json.loads(out["requests"][0]["body"])
    assert event["fields"] == {"short_description": record()["short_description"]["value"],
                               "custom_col": "x"}
    assert event["display"] == {}


def test_default_field_list_matches_the_python_settings():
    text = SCRIPT.read_text()
    start = text.index("var DEFAULT_FIELDS = ")
    literal = text[start:text.index(";", start)]
    joined = "".join(part for part in literal.split("'")[1::2])
    assert tuple(joined.split(",")) == DEFAULT_EVENT_FIELDS


def test_insert_operation_and_fallback_from_mod_count():
    assert json.loads(run(operation="insert")["requests"][0]["body"])["operation"] == "insert"
    rec = record(sys_mod_count={"value": "0"})
    assert json.loads(run(rec, operation=None)["requests"][0]["body"])["operation"] == "insert"
    assert json.loads(run(operation=None)["requests"][0]["body"])["operation"] == "update"


def test_no_endpoint_sends_nothing_and_warns():
    out = run(properties={"itsm_align.endpoint": ""})
    assert out["requests"] == []
    assert out["logs"][0]["level"] == "warn" and "itsm_align.endpoint" in out["logs"][0]["message"]


def test_no_secret_sends_nothing_and_never_logs_a_secret():
    out = run(properties={"itsm_align.secret": ""})
    assert out["requests"] == []
    assert out["logs"][0]["level"] == "error" and "itsm_align.secret" in out["logs"][0]["message"]
    for entry in run()["logs"]:
        assert SECRET not in entry["message"]


def test_mid_server_property_routes_through_mid():
    out = run(properties={"itsm_align.mid_server": "mid01"})
    assert out["requests"][0]["mid"] == "mid01"
