"""Screens as real sites configure them: own schemes per project, Jira's 400 for a
field off the edit screen (PUT and bulk edit), team-managed projects; every answer
checked against Atlassian's OpenAPI spec."""
from __future__ import annotations

import requests

from itsm_align.sandbox.jira import JiraSandbox
from tests.support.openapi import validate_recorded

REFUSED = "Field '{0}' cannot be set. It is not on the appropriate screen, or unknown."


def test_a_project_on_its_own_screens_refuses_fields_off_its_edit_screen(jira_sandbox: JiraSandbox) -> None:
    sb, auth = jira_sandbox, jira_sandbox.credentials
    sb.add_project("PAY", "Payments", screens="own")
    fid = sb.add_field("Alignment Score", "float", searcher="numberrange")  # on the Default Screen only
    itsm, pay = sb.create_issue("ITSM", "Printer"), sb.create_issue("PAY", "Refund", issuetype="Bug")
    ok = requests.put(f"{sb.url}/rest/api/3/issue/{itsm}", auth=auth, json={"fields": {fid: 5}})
    refused = requests.put(f"{sb.url}/rest/api/3/issue/{pay}", auth=auth, json={"fields": {fid: 5}})
    assert ok.status_code == 204
    assert refused.status_code == 400 and refused.json() == {"errorMessages": [], "errors": {fid: REFUSED.format(fid)}}

    task = requests.post(f"{sb.url}/rest/api/3/bulk/issues/fields", auth=auth, json={
        "selectedIssueIdsOrKeys": [pay], "selectedActions": [fid],
        "editedFieldsInput": {"clearableNumberFields": [{"fieldId": fid, "value": 7}]},
        "sendBulkNotification": False}).json()["taskId"]
    assert sb.bulk.wait_idle(5)
    progress = requests.get(f"{sb.url}/rest/api/3/bulk/queue/{task}", auth=auth).json()
    assert list(progress["failedAccessibleIssues"].values()) == [[REFUSED.format(fid)]]

    # the project's scheme, its mappings, screen schemes, screens, tabs and fields
    pid = sb.issue(pay)["fields"]["project"]["id"]
    schemes = requests.get(f"{sb.url}/rest/api/3/issuetypescreenscheme/project", auth=auth,
                           params={"projectId": [pid, "10000"]}).json()["values"]
    names = {v["issueTypeScreenScheme"]["name"] for v in schemes}
    assert names == {"PAY: Scrum Issue Type Screen Scheme", "Default Issue Type Screen Scheme"}
    own = next(v["issueTypeScreenScheme"]["id"] for v in schemes if v["projectIds"] == [pid])
    mapping = requests.get(f"{sb.url}/rest/api/3/issuetypescreenscheme/mapping", auth=auth,
                           params={"issueTypeScreenSchemeId": own}).json()["values"]
    assert {m["issueTypeId"] for m in mapping} == {"default", "10002"}
    bug_scheme = next(m["screenSchemeId"] for m in mapping if m["issueTypeId"] == "10002")
    (scheme,) = requests.get(f"{sb.url}/rest/api/3/screenscheme", auth=auth, params={"id": bug_scheme}).json()["values"]
    screen = scheme["screens"]["default"]
    assert scheme["name"] == "PAY: Scrum Bug Screen Scheme"
    (shown,) = requests.get(f"{sb.url}/rest/api/3/screens", auth=auth, params={"id": screen}).json()["values"]
    assert shown["name"] == "PAY: Scrum Bug Screen"
    (tab,) = requests.get(f"{sb.url}/rest/api/3/screens/{screen}/tabs", auth=auth).json()
    added = requests.post(f"{sb.url}/rest/api/3/screens/{screen}/tabs/{tab['id']}/fields", auth=auth,
                          json={"fieldId": fid})
    assert added.status_code == 200 and added.json() == {"id": fid, "name": "Alignment Score"}
    again = requests.post(f"{sb.url}/rest/api/3/screens/{screen}/tabs/{tab['id']}/fields", auth=auth,
                          json={"fieldId": fid})
    assert again.status_code == 400
    assert requests.put(f"{sb.url}/rest/api/3/issue/{pay}", auth=auth, json={"fields": {fid: 5}}).status_code == 204
    assert fid in [f["id"] for f in requests.get(f"{sb.url}/rest/api/3/screens/{screen}/tabs/{tab['id']}/fields",
                                                 auth=auth).json()]
    assert requests.get(f"{sb.url}/rest/api/3/project/search", auth=auth,
                        params={"keys": ["PAY"], "expand": "issueTypes"}).json()["values"][0]["style"] == "classic"
    for entry in sb.requests:
        validate_recorded(entry)


def test_a_team_managed_project_has_no_screens_and_refuses_global_fields(jira_sandbox: JiraSandbox) -> None:
    sb, auth = jira_sandbox, jira_sandbox.credentials
    sb.add_project("TEAM", "Growth squad", team_managed=True)
    fid = sb.add_field("Alignment Score", "float", searcher="numberrange")
    key = sb.create_issue("TEAM", "Experiment")
    project = requests.get(f"{sb.url}/rest/api/3/project/TEAM", auth=auth).json()
    assert project["simplified"] is True and project["style"] == "next-gen"
    refused = requests.put(f"{sb.url}/rest/api/3/issue/{key}", auth=auth, json={"fields": {fid: 5}})
    assert refused.status_code == 400 and refused.json()["errors"] == {fid: REFUSED.format(fid)}
    assert requests.put(f"{sb.url}/rest/api/3/issue/{key}", auth=auth,
                        json={"fields": {"summary": "Experiment 2"}}).status_code == 204
    none = requests.get(f"{sb.url}/rest/api/3/issuetypescreenscheme/project", auth=auth,
                        params={"projectId": project["id"]}).json()
    assert none["values"] == []  # "Only issue type screen schemes used in classic projects are returned."
    for entry in sb.requests:
        validate_recorded(entry)
