"""Every request and answer of a representative session fits Atlassian's OpenAPI spec."""
from __future__ import annotations

import pytest
import requests
from atlassian import Jira
from atlassian.jira import JiraCloud

from itsm_align.sandbox.jira import CF_PREFIX, JiraSandbox
from tests.support.openapi import ExchangeMismatch, validate_jira_exchange, validate_recorded

ADF = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "why"}]}]}


def session(sb: JiraSandbox, jira: Jira) -> None:
    """What setup, the worker and back-fill do, plus a few errors."""
    email, token = sb.credentials
    auth = sb.credentials
    base = sb.url
    jira.myself()
    jira.get_all_fields()
    select = jira.post("rest/api/3/field", data={"name": "Business Objective", "type": CF_PREFIX + "select",
                                                 "searcherKey": CF_PREFIX + "multiselectsearcher"})["id"]
    score = jira.post("rest/api/3/field", data={"name": "Alignment Score", "type": CF_PREFIX + "float",
                                                "searcherKey": CF_PREFIX + "numberrange"})["id"]
    why = jira.post("rest/api/3/field", data={"name": "Alignment Rationale", "type": CF_PREFIX + "textarea",
                                              "searcherKey": CF_PREFIX + "textsearcher"})["id"]
    requests.post(f"{base}/rest/api/3/field", auth=auth, json={"name": "Bad", "type": CF_PREFIX + "float",
                                                               "searcherKey": CF_PREFIX + "textsearcher"})
    ctx = jira.get(f"rest/api/3/field/{select}/context")["values"][0]["id"]
    jira.post(f"rest/api/3/field/{score}/context", data={"name": "ITSM", "projectIds": ["10000"]})
    opts = jira.post(f"rest/api/3/field/{select}/context/{ctx}/option",
                     data={"options": [{"value": "Grow revenue", "disabled": False}, {"value": "Unaligned"}]})
    jira.put(f"rest/api/3/field/{select}/context/{ctx}/option",
             data={"options": [{"id": opts["options"][1]["id"], "value": "Unaligned", "disabled": False}]})
    jira.get(f"rest/api/3/field/{select}/context/{ctx}/option", params={"startAt": 0, "maxResults": 100})
    requests.post(f"{base}/rest/api/3/field/{select}/context/{ctx}/option", auth=auth,
                  json={"options": [{"value": "Grow revenue"}]})
    for fid in (select, score, why):
        jira.post(f"rest/api/3/screens/addToDefault/{fid}")
    keys = sb.seed(projects=("ITSM",), issues=3)
    jira.get(f"rest/api/3/issue/{keys[0]}", params={"fields": f"summary,{select},{score}", "expand": "changelog"})
    jira.issue(keys[0], fields="*all", expand="changelog")  # v2
    jira.put(f"rest/api/3/issue/{keys[0]}", data={"fields": {select: {"value": "Grow revenue"}, score: 80,
                                                             why: ADF}}, params={"notifyUsers": "false"})
    jira.update_issue_field(keys[1], {why: "plain on v2", score: 20}, notify_users=False)
    requests.put(f"{base}/rest/api/3/issue/{keys[0]}?notifyUsers=false", auth=auth, json={"fields": {score: "x"}})
    requests.get(f"{base}/rest/api/3/issue/NOPE-1", auth=auth)
    jira.get(f"rest/api/3/issue/{keys[0]}", params={"expand": "changelog"})
    page = jira.get("rest/api/3/search/jql", params={"jql": "project = ITSM ORDER BY key", "maxResults": 2,
                                                      "fields": f"summary,{score}"})
    jira.get("rest/api/3/search/jql", params={"jql": "project = ITSM ORDER BY key", "maxResults": 2,
                                              "fields": f"summary,{score}", "nextPageToken": page["nextPageToken"]})
    jira.post("rest/api/3/search/jql", data={"jql": f"cf[{score[12:]}] > 10", "fields": ["id", "key"],
                                             "maxResults": 5000})
    requests.get(f"{base}/rest/api/3/search/jql", params={"jql": "order by key"}, auth=auth)
    requests.get(f"{base}/rest/api/3/search", params={"jql": "project = ITSM"}, auth=auth)
    jira.post("rest/api/3/changelog/bulkfetch", data={"issueIdsOrKeys": keys, "fieldIds": [score]})
    cloud = JiraCloud(base, username=email, password=token, api_version=3)
    sb.hold_bulk()
    task = cloud.submit_bulk_edit(data={
        "selectedIssueIdsOrKeys": keys, "selectedActions": [score, select],
        "editedFieldsInput": {"clearableNumberFields": [{"fieldId": score, "value": 55.5}],
                              "singleSelectFields": [{"fieldId": select,
                                                      "option": {"optionId": int(opts["options"][0]["id"])}}]},
        "sendBulkNotification": False})["taskId"]
    cloud.get_bulk_operation_progress(task)
    sb.release_bulk()
    assert sb.bulk.wait_idle(5)
    cloud.get_bulk_operation_progress(task)
    requests.post(f"{base}/rest/api/3/bulk/issues/fields", auth=auth,
                  json={"selectedIssueIdsOrKeys": keys, "selectedActions": [], "editedFieldsInput": {}})
    jira.get("rest/api/3/project/ITSM")
    jira.put("rest/api/3/project/ITSM/properties/itsm-align.rollup", data={"score": 61, "objectives": {"A": 2}})
    jira.put("rest/api/3/project/ITSM/properties/itsm-align.rollup", data={"score": 62})
    jira.get("rest/api/3/project/ITSM/properties/itsm-align.rollup")
    jira.get("rest/api/3/project/ITSM/properties")
    jira.delete("rest/api/3/project/ITSM/properties/itsm-align.rollup")
    requests.get(f"{base}/rest/api/3/project/ITSM/properties/itsm-align.rollup", auth=auth)
    jira.post("rest/webhooks/1.0/webhook", data={"name": "n", "url": "http://127.0.0.1:9/x",
                                                 "events": ["jira:issue_updated"]})


def test_session_fits_the_spec(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    session(jira_sandbox, jira_client)
    log = [r for r in jira_sandbox.requests if not r.path.startswith("/rest/webhooks/1.0/")]
    assert len(log) >= 35
    statuses = {r.status for r in log}
    assert {200, 201, 204, 400, 404, 410} <= statuses
    problems = []
    for entry in log:
        try:
            validate_recorded(entry)
        except ExchangeMismatch as exc:
            problems.append(str(exc)[:2000])
    assert problems == []


def test_validator_catches_a_wrong_answer() -> None:
    with pytest.raises(ExchangeMismatch, match="accountId"):
        validate_jira_exchange("GET", "/rest/api/3/myself", 200, b"", {"accountId": 42})
    with pytest.raises(ExchangeMismatch):
        validate_jira_exchange("POST", "/rest/api/3/bulk/issues/fields", 201,
                               {"selectedIssueIdsOrKeys": ["A-1"]}, {"taskId": "1"})
    with pytest.raises(ExchangeMismatch):
        validate_jira_exchange("GET", "/rest/api/3/search/jql?jql=project%3DX", 200, b"",
                               {"issues": [], "isLast": "yes"})
    validate_jira_exchange("GET", "/rest/webhooks/1.0/webhook", 200, b"", [], allow_unknown_path=True)
