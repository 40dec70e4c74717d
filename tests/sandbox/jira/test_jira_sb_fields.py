"""Custom fields, contexts, options and the default screen."""
from __future__ import annotations

import pytest
import requests
from atlassian import Jira

from itsm_align.sandbox.jira import CF_PREFIX, JiraSandbox

VALID_PAIRS = [
    ("float", "numberrange"), ("float", "exactnumber"), ("select", "multiselectsearcher"),
    ("multiselect", "multiselectsearcher"), ("textarea", "textsearcher"), ("textfield", "textsearcher"),
    ("labels", "labelsearcher"),
]


@pytest.mark.parametrize(("kind", "searcher"), VALID_PAIRS)
def test_create_field_with_valid_searcher(jira_client: Jira, kind: str, searcher: str) -> None:
    created = jira_client.create_custom_field(f"My {kind}", CF_PREFIX + kind, CF_PREFIX + searcher)
    number = int(created["id"].removeprefix("customfield_"))
    assert created["id"].startswith("customfield_100")
    assert created["key"] == created["id"]
    assert created["clauseNames"] == [f"cf[{number}]", f"My {kind}"]
    assert created["schema"]["custom"] == CF_PREFIX + kind and created["schema"]["customId"] == number
    assert created["custom"] is True and created["searchable"] is True
    listed = {f["id"]: f for f in jira_client.get_all_fields()}
    assert listed[created["id"]]["name"] == f"My {kind}"


@pytest.mark.parametrize(("kind", "searcher"), [("float", "textsearcher"), ("select", "numberrange"),
                                                ("textarea", "multiselectsearcher")])
def test_bad_type_searcher_pair_is_400(jira_sandbox: JiraSandbox, kind: str, searcher: str) -> None:
    resp = requests.post(f"{jira_sandbox.url}/rest/api/3/field", auth=jira_sandbox.credentials,
                         json={"name": "Broken", "type": CF_PREFIX + kind, "searcherKey": CF_PREFIX + searcher})
    assert resp.status_code == 400
    body = resp.json()
    assert "is not valid for custom field type" in body["errorMessages"][0]
    assert body["errors"] == {}
    assert not [f for f in jira_sandbox.svc.site.fields.values() if f.name == "Broken"]


def test_missing_name_or_unknown_type_is_400(jira_sandbox: JiraSandbox) -> None:
    url = f"{jira_sandbox.url}/rest/api/3/field"
    no_name = requests.post(url, auth=jira_sandbox.credentials, json={"type": CF_PREFIX + "float"})
    assert no_name.status_code == 400 and "name" in no_name.json()["errors"]
    odd = requests.post(url, auth=jira_sandbox.credentials, json={"name": "X", "type": "float"})
    assert odd.status_code == 400 and "type" in odd.json()["errors"]
    malformed = requests.post(url, auth=jira_sandbox.credentials, data=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["errorMessages"]


def _select(jira_client: Jira) -> tuple[str, str]:
    fid = jira_client.create_custom_field("Business Objective", CF_PREFIX + "select",
                                          CF_PREFIX + "multiselectsearcher")["id"]
    contexts = jira_client.get(f"rest/api/3/field/{fid}/context")
    assert contexts["total"] == 1 and contexts["isLast"] is True
    ctx = contexts["values"][0]
    assert ctx["isGlobalContext"] is True and ctx["isAnyIssueType"] is True
    return fid, ctx["id"]


def test_options_create_list_rename_disable(jira_client: Jira) -> None:
    fid, cid = _select(jira_client)
    url = f"rest/api/3/field/{fid}/context/{cid}/option"
    created = jira_client.post(url, data={"options": [{"value": "Grow revenue", "disabled": False},
                                                      {"value": "Reduce cost"}]})["options"]
    assert [o["value"] for o in created] == ["Grow revenue", "Reduce cost"]
    assert all(o["disabled"] is False and o["id"].isdigit() for o in created)
    renamed = jira_client.put(url, data={"options": [{"id": created[0]["id"], "value": "Grow ARR"},
                                                     {"id": created[1]["id"], "disabled": True}]})["options"]
    assert renamed == [{"id": created[0]["id"], "value": "Grow ARR", "disabled": False},
                       {"id": created[1]["id"], "value": "Reduce cost", "disabled": True}]
    listed = jira_client.get(url)
    assert listed["total"] == 2 and listed["isLast"] is True and listed["startAt"] == 0
    assert [(o["value"], o["disabled"]) for o in listed["values"]] == [("Grow ARR", False), ("Reduce cost", True)]
    second = jira_client.get(url, params={"startAt": 1, "maxResults": 1})
    assert [o["value"] for o in second["values"]] == ["Reduce cost"] and second["isLast"] is True


def test_v2_option_helper_of_atlassian_client(jira_client: Jira) -> None:
    fid, cid = _select(jira_client)
    created = jira_client.add_custom_field_option(fid, cid, ["Proactive", "Reactive"])
    assert [o["value"] for o in created["options"]] == ["Proactive", "Reactive"]


def test_duplicate_option_and_too_many_options_are_400(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    fid, cid = _select(jira_client)
    url = f"{jira_sandbox.url}/rest/api/3/field/{fid}/context/{cid}/option"
    auth = jira_sandbox.credentials
    assert requests.post(url, auth=auth, json={"options": [{"value": "A"}]}).status_code == 200
    dup = requests.post(url, auth=auth, json={"options": [{"value": "a"}]})
    assert dup.status_code == 400 and "already exists" in dup.json()["errorMessages"][0]
    twice = requests.post(url, auth=auth, json={"options": [{"value": "B"}, {"value": "B"}]})
    assert twice.status_code == 400
    many = requests.post(url, auth=auth, json={"options": [{"value": f"o{n}"} for n in range(1001)]})
    assert many.status_code == 400 and "1000" in many.json()["errorMessages"][0]
    assert [o["value"] for o in jira_sandbox.options(fid)] == ["A"]
    unknown = requests.put(url, auth=auth, json={"options": [{"id": "999999", "value": "Z"}]})
    assert unknown.status_code == 400


def test_options_on_non_option_field_and_unknown_context(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    number = jira_client.create_custom_field("Alignment Score", CF_PREFIX + "float", CF_PREFIX + "numberrange")["id"]
    ctx = jira_client.get(f"rest/api/3/field/{number}/context")["values"][0]["id"]
    resp = requests.get(f"{jira_sandbox.url}/rest/api/3/field/{number}/context/{ctx}/option",
                        auth=jira_sandbox.credentials)
    assert resp.status_code == 400
    fid, _ = _select(jira_client)
    missing = requests.get(f"{jira_sandbox.url}/rest/api/3/field/{fid}/context/1/option",
                           auth=jira_sandbox.credentials)
    assert missing.status_code == 404


def test_second_global_context_is_refused(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    fid, _ = _select(jira_client)
    resp = requests.post(f"{jira_sandbox.url}/rest/api/3/field/{fid}/context", auth=jira_sandbox.credentials,
                         json={"name": "Another global"})
    assert resp.status_code == 400
    scoped = jira_client.post(f"rest/api/3/field/{fid}/context",
                              data={"name": "ITSM only", "projectIds": [jira_sandbox.svc.site.projects["ITSM"].id]})
    assert scoped["name"] == "ITSM only" and scoped["id"].isdigit()
    assert jira_client.get(f"rest/api/3/field/{fid}/context", params={"isGlobalContext": "false"})["total"] == 1


def test_field_not_on_screen_cannot_be_set(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    fid = jira_client.create_custom_field("Alignment Score", CF_PREFIX + "float", CF_PREFIX + "numberrange")["id"]
    key = jira_sandbox.create_issue("ITSM", "VPN down")
    resp = requests.put(f"{jira_sandbox.url}/rest/api/3/issue/{key}?notifyUsers=false",
                        auth=jira_sandbox.credentials, json={"fields": {fid: 50}})
    assert resp.status_code == 400
    assert resp.json() == {"errorMessages": [], "errors": {
        fid: f"Field '{fid}' cannot be set. It is not on the appropriate screen, or unknown."}}
    assert jira_client.post(f"rest/api/3/screens/addToDefault/{fid}") == {}
    assert jira_sandbox.on_screen(fid)
    again = requests.post(f"{jira_sandbox.url}/rest/api/3/screens/addToDefault/{fid}", auth=jira_sandbox.credentials)
    assert again.status_code == 404  # "field not found or already present" per the spec
    tab_fields = jira_client.get("rest/api/3/screens/1/tabs/10000/fields")
    assert fid in [f["id"] for f in tab_fields]
    jira_client.update_issue_field(key, {fid: 50}, notify_users=False)
    assert jira_sandbox.value(key, fid) == 50.0


def test_editmeta_lists_screen_fields_and_enabled_options(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    shown = jira_sandbox.add_field("Work Nature", "select", options=("Proactive", "Reactive"))
    hidden = jira_sandbox.add_field("Hidden", "float", on_screen=False)
    key = jira_sandbox.create_issue("ITSM", "Meta")
    meta = jira_client.get(f"rest/api/3/issue/{key}/editmeta")["fields"]
    assert shown in meta and hidden not in meta and "summary" in meta
    assert [o["value"] for o in meta[shown]["allowedValues"]] == ["Proactive", "Reactive"]
