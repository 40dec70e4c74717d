"""Bulk field edit with task polling."""
from __future__ import annotations

import json

import requests
from atlassian.jira import JiraCloud

from itsm_align.sandbox.jira import JiraSandbox
from tests.fixtures.jira_sandbox import WebhookReceiver

ADF = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "why"}]}]}


def cloud(sb: JiraSandbox) -> JiraCloud:
    email, token = sb.credentials
    return JiraCloud(sb.url, username=email, password=token, api_version=3)


def edit_body(keys: list[str], f: dict[str, str], option_id: str, score: float) -> dict:
    return {
        "selectedIssueIdsOrKeys": keys,
        "selectedActions": [f["Alignment Score"], f["Business Objective"], f["Alignment Rationale"]],
        "editedFieldsInput": {
            "clearableNumberFields": [{"fieldId": f["Alignment Score"], "value": score}],
            "singleSelectFields": [{"fieldId": f["Business Objective"], "option": {"optionId": int(option_id)}}],
            "richTextFields": [{"fieldId": f["Alignment Rationale"], "richText": {"adfValue": ADF}}],
        },
        "sendBulkNotification": False,
    }


def test_bulk_edit_runs_then_completes(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str],
                                       webhook_receiver: WebhookReceiver) -> None:
    f = jira_alignment_fields
    keys = jira_sandbox.seed(projects=("ITSM",), issues=3)
    jira_sandbox.add_webhook(webhook_receiver.url, events=("jira:issue_updated",))
    option = next(o["id"] for o in jira_sandbox.options(f["Business Objective"]) if o["value"] == "Grow revenue")
    client = cloud(jira_sandbox)
    jira_sandbox.hold_bulk()
    task_id = client.submit_bulk_edit(data=edit_body(keys + ["ITSM-999"], f, option, 88))["taskId"]
    assert client.get_bulk_operation_progress(task_id)["status"] in {"ENQUEUED", "RUNNING"}
    assert jira_sandbox.value(keys[0], f["Alignment Score"]) is None  # held: nothing written yet
    jira_sandbox.release_bulk()
    assert jira_sandbox.bulk.wait_idle(timeout=5)
    done = client.get_bulk_operation_progress(task_id)
    assert done["status"] == "COMPLETE" and done["progressPercent"] == 100
    ids = [int(jira_sandbox.issue(k)["id"]) for k in keys]
    assert done["processedAccessibleIssues"] == ids
    assert done["invalidOrInaccessibleIssueCount"] == 1 and done["failedAccessibleIssues"] == {}
    assert done["totalIssueCount"] == 4 and done["submittedBy"]["accountId"] == jira_sandbox.api_user.account_id
    for key in keys:
        assert jira_sandbox.value(key, f["Alignment Score"]) == 88
        assert jira_sandbox.value(key, f["Business Objective"]) == "Grow revenue"
        assert jira_sandbox.value(key, f["Alignment Rationale"]) == "why"
    payloads = [json.loads(r.body) for r in webhook_receiver.wait_for(3)]
    assert {p["issue"]["key"] for p in payloads} == set(keys)
    assert all(p["bulkOperationMetaData"]["taskId"] == task_id for p in payloads)
    assert all(p["user"]["accountId"] == jira_sandbox.api_user.account_id for p in payloads)


def test_running_status_is_visible(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str]) -> None:
    f = jira_alignment_fields
    keys = jira_sandbox.seed(projects=("ITSM",), issues=2)
    option = jira_sandbox.options(f["Business Objective"])[0]["id"]
    client = cloud(jira_sandbox)
    jira_sandbox.hold_bulk()
    task_id = client.submit_bulk_edit(data=edit_body(keys, f, option, 10))["taskId"]
    assert jira_sandbox.bulk.wait_until(lambda tasks: tasks[task_id].status == "RUNNING")
    progress = client.get_bulk_operation_progress(task_id)
    assert progress["status"] == "RUNNING" and progress["progressPercent"] == 0 and "started" in progress
    jira_sandbox.release_bulk()
    assert jira_sandbox.bulk.wait_idle(5)
    assert client.get_bulk_operation_progress(task_id)["status"] == "COMPLETE"


def test_bulk_validation_errors(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str]) -> None:
    f = jira_alignment_fields
    url = f"{jira_sandbox.url}/rest/api/3/bulk/issues/fields"
    auth = jira_sandbox.credentials
    option = jira_sandbox.options(f["Business Objective"])[0]["id"]
    too_many = edit_body([f"ITSM-{n}" for n in range(1001)], f, option, 1)
    resp = requests.post(url, auth=auth, json=too_many)
    assert resp.status_code == 400 and "1000" in resp.json()["errors"][0]["message"]
    not_selected = edit_body(["ITSM-1"], f, option, 1)
    not_selected["selectedActions"] = [f["Alignment Score"]]
    resp = requests.post(url, auth=auth, json=not_selected)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["message"].startswith(
        "The following editedFieldInput values are not listed as selectedActions :")
    bad_option = edit_body(["ITSM-1"], f, "424242", 1)
    assert requests.post(url, auth=auth, json=bad_option).status_code == 400
    assert jira_sandbox.bulk.tasks == {}
    missing = requests.get(f"{jira_sandbox.url}/rest/api/3/bulk/queue/1", auth=auth)
    assert missing.status_code == 404 and missing.json()["errors"][0]["message"]


def test_field_off_screen_fails_per_issue(jira_sandbox: JiraSandbox) -> None:
    fid = jira_sandbox.add_field("Hidden Score", "float", on_screen=False)
    keys = jira_sandbox.seed(projects=("ITSM",), issues=1)
    client = cloud(jira_sandbox)
    task_id = client.submit_bulk_edit(data={
        "selectedIssueIdsOrKeys": keys, "selectedActions": [fid],
        "editedFieldsInput": {"clearableNumberFields": [{"fieldId": fid, "value": 3}]}})["taskId"]
    assert jira_sandbox.bulk.wait_idle(5)
    done = client.get_bulk_operation_progress(task_id)
    issue_id = jira_sandbox.issue(keys[0])["id"]
    assert done["processedAccessibleIssues"] == [] and list(done["failedAccessibleIssues"]) == [issue_id]
    assert jira_sandbox.value(keys[0], fid) is None


def test_labels_modes(jira_sandbox: JiraSandbox) -> None:
    keys = jira_sandbox.seed(projects=("ITSM",), issues=1, fields=lambda n: {"labels": ["a", "b"]})
    client = cloud(jira_sandbox)
    for mode, labels, expected in [("ADD", ["c"], ["a", "b", "c"]), ("REMOVE", ["a"], ["b", "c"]),
                                   ("REPLACE", ["z"], ["z"]), ("REMOVE_ALL", [], [])]:
        client.submit_bulk_edit(data={
            "selectedIssueIdsOrKeys": keys, "selectedActions": ["labels"],
            "editedFieldsInput": {"labelsFields": [{"fieldId": "labels", "bulkEditMultiSelectFieldOption": mode,
                                                    "labels": [{"name": x} for x in labels]}]}})
        assert jira_sandbox.bulk.wait_idle(5)
        assert jira_sandbox.value(keys[0], "labels") == expected, mode


def test_at_most_five_tasks_run_at_once(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str]) -> None:
    f = jira_alignment_fields
    keys = jira_sandbox.seed(projects=("ITSM",), issues=1)
    client = cloud(jira_sandbox)
    jira_sandbox.hold_bulk()
    ids = [client.submit_bulk_edit(data={
        "selectedIssueIdsOrKeys": keys, "selectedActions": [f["Alignment Score"]],
        "editedFieldsInput": {"clearableNumberFields": [{"fieldId": f["Alignment Score"], "value": n}]}})["taskId"]
        for n in range(6)]
    tasks = [jira_sandbox.bulk.tasks[i] for i in ids]
    assert jira_sandbox.bulk.wait_until(lambda _: sum(t.status == "RUNNING" for t in tasks) == 5)
    assert sum(t.status == "ENQUEUED" for t in tasks) == 1
    jira_sandbox.release_bulk()
    assert jira_sandbox.bulk.wait_idle(5)
    assert all(t.status == "COMPLETE" for t in tasks)
