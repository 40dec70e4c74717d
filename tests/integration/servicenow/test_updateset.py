"""The update set: one <unload> with a sys_remote_update_set and sys_update_xml
rows whose payloads hold the dictionary entries, choices, business rule and
system properties. Parsed back with xml.etree."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from itsm_align.integration.servicenow import updateset
from itsm_align.integration.servicenow.settings import ServiceNowSettings
from itsm_align.scoring.types import Objective

ROOT = Path(__file__).resolve().parents[3]
OBJECTIVES = [Objective("revenue", "Grow online revenue", 5), Objective("cost", "Cut run costs & <waste>", 2)]
SETTINGS = ServiceNowSettings(instance="https://acme.service-now.com", user="itsm.align",
                              password="not-in-the-file", webhook_secret="nor-this-one")


@pytest.fixture
def parsed(tmp_path):
    path = tmp_path / "itsm-align.xml"
    rows = updateset.write(str(path), SETTINGS, OBJECTIVES, "https://align.example.com/webhooks/servicenow")
    root = ET.parse(path).getroot()
    payloads = {row.findtext("name"): ET.fromstring(row.findtext("payload"))
                for row in root.findall("sys_update_xml")}
    return path, rows, root, payloads


def test_shape(parsed):
    path, rows, root, payloads = parsed
    assert root.tag == "unload"
    [remote] = root.findall("sys_remote_update_set")
    set_id = remote.findtext("sys_id")
    assert len(set_id) == 32 and remote.findtext("state") == "loaded"
    entries = root.findall("sys_update_xml")
    assert len(entries) == rows == 4 + 2 + 1 + 4
    for row in entries:
        assert row.findtext("remote_update_set") == set_id
        assert row.findtext("action") == "INSERT_OR_UPDATE"
        assert ET.fromstring(row.findtext("payload")).tag == "record_update"
    text = path.read_text()
    assert "not-in-the-file" not in text and "nor-this-one" not in text


def test_dictionary_entries(parsed):
    payloads = parsed[3]
    types = {}
    for element in ("u_business_objective", "u_alignment_score", "u_alignment_rationale", "u_work_nature"):
        record = payloads[f"sys_dictionary_task_{element}"].find("sys_dictionary/sys_dictionary")
        assert record.findtext("name") == "task" and record.findtext("element") == element
        types[element] = (record.findtext("internal_type"), record.findtext("choice"))
    assert types == {"u_business_objective": ("string", "1"), "u_alignment_score": ("integer", "0"),
                     "u_alignment_rationale": ("string", "0"), "u_work_nature": ("string", "1")}


def test_choices(parsed):
    payloads = parsed[3]
    rows = payloads["sys_choice_task_u_business_objective"].findall("sys_choice/sys_choice")
    assert {r.findtext("value"): r.findtext("label") for r in rows} == {
        "revenue": "Grow online revenue", "cost": "Cut run costs & <waste>", "unaligned": "Unaligned"}
    assert all(r.findtext("inactive") == "false" and r.findtext("name") == "task" for r in rows)
    natures = payloads["sys_choice_task_u_work_nature"].findall("sys_choice/sys_choice")
    assert {r.findtext("value") for r in natures} == {"proactive", "reactive"}


def test_business_rule(parsed):
    payloads = parsed[3]
    [rule] = [p.find("sys_script") for p in payloads.values() if p.find("sys_script") is not None]
    assert rule.findtext("collection") == "task" and rule.findtext("when") == "async"
    assert rule.findtext("action_insert") == "true" and rule.findtext("action_update") == "true"
    assert rule.findtext("action_delete") == "false" and rule.findtext("active") == "true"
    assert rule.findtext("condition") == \
        "current.sys_updated_by != gs.getProperty('itsm_align.integration_user')"
    script = (ROOT / "integration" / "servicenow" / "business_rule.js").read_text()
    assert rule.findtext("script") == script


def test_properties(parsed):
    payloads = parsed[3]
    props = {p.findtext("name"): p for p in
             (x.find("sys_properties") for x in payloads.values()) if p is not None}
    assert set(props) == {"itsm_align.endpoint", "itsm_align.secret", "itsm_align.fields",
                          "itsm_align.integration_user"}
    assert props["itsm_align.endpoint"].findtext("value") == "https://align.example.com/webhooks/servicenow"
    assert props["itsm_align.secret"].findtext("type") == "password2"
    assert props["itsm_align.secret"].findtext("value") == ""
    assert props["itsm_align.integration_user"].findtext("value") == "itsm.align"
    assert props["itsm_align.fields"].findtext("value").split(",")[0] == "short_description"


def test_sys_ids_are_stable_across_exports(tmp_path):
    a = updateset.build(SETTINGS, OBJECTIVES, "https://x/webhooks/servicenow")
    b = updateset.build(SETTINGS, OBJECTIVES, "https://x/webhooks/servicenow")
    ids = lambda root: [r.findtext("sys_id") for r in root.findall("sys_update_xml")]  # noqa: E731
    assert ids(a) == ids(b) and len(set(ids(a))) == len(ids(a))
