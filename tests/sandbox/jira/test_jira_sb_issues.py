"""Issue read and edit: value type checks, API versions, changelog."""
from __future__ import annotations

import requests
from atlassian import Jira

from itsm_align.sandbox.jira import JiraSandbox

ADF = {"type": "doc", "version": 1,
       "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Because it grows revenue"}]}]}


def put(sb: JiraSandbox, key: str, fields: dict, version: int = 3, **params: str) -> requests.Response:
    return requests.put(f"{sb.url}/rest/api/{version}/issue/{key}", params={"notifyUsers": "false", **params},
                        auth=sb.credentials, json={"fields": fields})


def test_get_issue_v2_plain_v3_adf(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    key = jira_sandbox.create_issue("ITSM", "Printer on fire", "Line one\nLine two")
    v2 = jira_client.issue(key)
    assert v2["key"] == key and v2["fields"]["summary"] == "Printer on fire"
    assert v2["fields"]["description"] == "Line one\nLine two"
    assert v2["fields"]["project"]["key"] == "ITSM" and v2["fields"]["issuetype"]["name"] == "Task"
    v3 = requests.get(f"{jira_sandbox.url}/rest/api/3/issue/{key}", auth=jira_sandbox.credentials).json()
    assert v3["fields"]["description"]["type"] == "doc"
    texts = [c["content"][0]["text"] for c in v3["fields"]["description"]["content"]]
    assert texts == ["Line one", "Line two"]
    only = requests.get(f"{jira_sandbox.url}/rest/api/3/issue/{key}", params={"fields": "summary"},
                        auth=jira_sandbox.credentials).json()
    assert list(only["fields"]) == ["summary"]
    by_id = requests.get(f"{jira_sandbox.url}/rest/api/3/issue/{v2['id']}", auth=jira_sandbox.credentials)
    assert by_id.json()["key"] == key


def test_unknown_issue_is_404(jira_sandbox: JiraSandbox) -> None:
    resp = requests.get(f"{jira_sandbox.url}/rest/api/3/issue/ITSM-999", auth=jira_sandbox.credentials)
    assert resp.status_code == 404
    assert resp.json() == {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                           "errors": {}}


def test_edit_every_value_kind(jira_client: Jira, jira_sandbox: JiraSandbox,
                               jira_alignment_fields: dict[str, str]) -> None:
    f = jira_alignment_fields
    key = jira_sandbox.create_issue("ITSM", "Renew certificates")
    options = {o["value"]: o["id"] for o in jira_sandbox.options(f["Work Nature"])}
    resp = put(jira_sandbox, key, {f["Business Objective"]: {"value": "Grow revenue"},
                                   f["Work Nature"]: {"id": options["Proactive"]},
                                   f["Alignment Score"]: 72.5,
                                   f["Alignment Rationale"]: ADF,
                                   "labels": ["aligned", "q3"]})
    assert resp.status_code == 204 and resp.content == b""
    assert jira_sandbox.value(key, f["Business Objective"]) == "Grow revenue"
    assert jira_sandbox.value(key, f["Work Nature"]) == "Proactive"
    assert jira_sandbox.value(key, f["Alignment Score"]) == 72.5
    assert jira_sandbox.value(key, f["Alignment Rationale"]) == "Because it grows revenue"
    assert jira_sandbox.value(key, "labels") == ["aligned", "q3"]
    # v2 takes textarea as a plain string, through the atlassian client.
    jira_client.update_issue_field(key, {f["Alignment Rationale"]: "Plain words"}, notify_users=False)
    assert jira_sandbox.value(key, f["Alignment Rationale"]) == "Plain words"
    # null clears.
    assert put(jira_sandbox, key, {f["Alignment Score"]: None}).status_code == 204
    assert jira_sandbox.value(key, f["Alignment Score"]) is None


def test_wrong_values_are_400_per_field_and_change_nothing(jira_sandbox: JiraSandbox,
                                                          jira_alignment_fields: dict[str, str]) -> None:
    f = jira_alignment_fields
    key = jira_sandbox.create_issue("ITSM", "Renew certificates")
    resp = put(jira_sandbox, key, {f["Business Objective"]: {"value": "World peace"},
                                   f["Alignment Score"]: "high",
                                   f["Alignment Rationale"]: "plain string on v3",
                                   "customfield_99999": 1})
    assert resp.status_code == 400
    body = resp.json()
    assert body["errorMessages"] == []
    assert body["errors"] == {
        f["Business Objective"]: "Option value 'World peace' is not valid",
        f["Alignment Score"]: "'high' is an invalid number",
        f["Alignment Rationale"]: "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
        "customfield_99999": "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
    }
    v2 = put(jira_sandbox, key, {f["Alignment Rationale"]: ADF}, version=2)
    assert v2.status_code == 400 and v2.json()["errors"][f["Alignment Rationale"]] == "Operation value must be a string"
    assert jira_sandbox.issue(key)["changelog"]["total"] == 0


def test_disabled_option_cannot_be_set(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Business Objective"]
    option = next(o for o in jira_sandbox.options(fid) if o["value"] == "Reduce cost")
    with jira_sandbox.svc.lock:
        jira_sandbox.svc.site.fields[fid].option_by_id(option["id"]).disabled = True
    key = jira_sandbox.create_issue("ITSM", "Archive logs")
    by_value = put(jira_sandbox, key, {fid: {"value": "Reduce cost"}})
    by_id = put(jira_sandbox, key, {fid: {"id": option["id"]}})
    assert by_value.status_code == 400 and by_id.status_code == 400
    assert by_id.json()["errors"][fid] == f"Option id '{option['id']}' is not valid"


def test_multiselect_values(jira_sandbox: JiraSandbox) -> None:
    fid = jira_sandbox.add_field("Objectives", "multiselect", options=("A", "B", "C"))
    key = jira_sandbox.create_issue("ITSM", "Mixed")
    assert put(jira_sandbox, key, {fid: [{"value": "A"}, {"value": "C"}]}).status_code == 204
    assert jira_sandbox.value(key, fid) == ["A", "C"]
    assert put(jira_sandbox, key, {fid: {"value": "A"}}).status_code == 400


def test_changelog_records_author_and_items(jira_client: Jira, jira_sandbox: JiraSandbox,
                                            jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Business Objective"]
    key = jira_sandbox.create_issue("ITSM", "Renew certificates")
    person = jira_sandbox.add_user("Bob Person", "bob@example.com")
    jira_sandbox.edit_issue_as(person, key, {fid: {"value": "Reduce cost"}})
    jira_client.update_issue_field(key, {fid: {"value": "Grow revenue"}}, notify_users=False)
    histories = jira_client.issue(key, expand="changelog")["changelog"]["histories"]
    assert [h["author"]["accountId"] for h in histories] == [jira_sandbox.api_user.account_id, person.account_id]
    options = {o["value"]: o["id"] for o in jira_sandbox.options(fid)}
    assert histories[0]["items"] == [{"field": "Business Objective", "fieldtype": "custom", "fieldId": fid,
                                      "from": options["Reduce cost"], "fromString": "Reduce cost",
                                      "to": options["Grow revenue"], "toString": "Grow revenue"}]
    paged = jira_client.get(f"rest/api/3/issue/{key}/changelog")
    assert paged["total"] == 2 and paged["values"][0]["author"]["accountId"] == person.account_id


def test_same_value_edit_changes_nothing(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Alignment Score"]
    key = jira_sandbox.create_issue("ITSM", "Renew certificates")
    assert put(jira_sandbox, key, {fid: 40}).status_code == 204
    updated = jira_sandbox.issue(key)["fields"]["updated"]
    assert put(jira_sandbox, key, {fid: 40.0}).status_code == 204
    issue = jira_sandbox.issue(key)
    assert issue["changelog"]["total"] == 1 and issue["fields"]["updated"] == updated


def test_update_verbs_and_return_issue(jira_sandbox: JiraSandbox) -> None:
    key = jira_sandbox.create_issue("ITSM", "Tag me")
    resp = requests.put(f"{jira_sandbox.url}/rest/api/2/issue/{key}", params={"returnIssue": "true"},
                        auth=jira_sandbox.credentials,
                        json={"update": {"labels": [{"add": "one"}, {"add": "two"}, {"remove": "one"}]}})
    assert resp.status_code == 200 and resp.json()["fields"]["labels"] == ["two"]
    bad = requests.put(f"{jira_sandbox.url}/rest/api/2/issue/{key}", auth=jira_sandbox.credentials,
                       json={"update": {"labels": [{"frobnicate": "x"}]}})
    assert bad.status_code == 400


def test_notify_users_false_needs_admin(jira_sandbox: JiraSandbox) -> None:
    jira_sandbox.add_user("Pat Person", "pat@example.com", api_token="pat-token")
    key = jira_sandbox.create_issue("ITSM", "Quiet please")
    resp = requests.put(f"{jira_sandbox.url}/rest/api/3/issue/{key}?notifyUsers=false",
                        auth=("pat@example.com", "pat-token"), json={"fields": {"summary": "Loud"}})
    assert resp.status_code == 403
    ok = requests.put(f"{jira_sandbox.url}/rest/api/3/issue/{key}", auth=("pat@example.com", "pat-token"),
                      json={"fields": {"summary": "Loud"}})
    assert ok.status_code == 204 and jira_sandbox.issue(key)["fields"]["summary"] == "Loud"


def test_bulk_changelog_fetch(jira_client: Jira, jira_sandbox: JiraSandbox,
                              jira_alignment_fields: dict[str, str]) -> None:
    f = jira_alignment_fields
    keys = [jira_sandbox.create_issue("ITSM", f"Issue {n}") for n in range(3)]
    for n, key in enumerate(keys):
        jira_sandbox.edit_issue_as(None, key, {f["Alignment Score"]: n, "summary": f"Renamed {n}"})
        jira_sandbox.edit_issue_as(None, key, {f["Alignment Score"]: n + 10})
    first = jira_client.post("rest/api/3/changelog/bulkfetch",
                             data={"issueIdsOrKeys": keys, "fieldIds": [f["Alignment Score"]], "maxResults": 4})
    assert sum(len(c["changeHistories"]) for c in first["issueChangeLogs"]) == 4
    assert all(i["fieldId"] == f["Alignment Score"] for c in first["issueChangeLogs"]
               for h in c["changeHistories"] for i in h["items"])
    rest = jira_client.post("rest/api/3/changelog/bulkfetch",
                            data={"issueIdsOrKeys": keys, "fieldIds": [f["Alignment Score"]], "maxResults": 4,
                                  "nextPageToken": first["nextPageToken"]})
    assert sum(len(c["changeHistories"]) for c in rest["issueChangeLogs"]) == 2
    assert "nextPageToken" not in rest


def test_create_and_delete_over_rest(jira_client: Jira, jira_sandbox: JiraSandbox,
                                     jira_alignment_fields: dict[str, str]) -> None:
    fid = jira_alignment_fields["Alignment Score"]
    created = jira_client.create_issue(fields={"project": {"key": "ITSM"}, "summary": "From the API",
                                               "issuetype": {"name": "Bug"}, "description": "text", fid: 5})
    assert created["key"] == "ITSM-1" and created["self"].endswith(f"/issue/{created['id']}")
    assert jira_sandbox.value("ITSM-1", fid) == 5 and jira_sandbox.value("ITSM-1", "description") == "text"
    bad = requests.post(f"{jira_sandbox.url}/rest/api/3/issue", auth=jira_sandbox.credentials,
                        json={"fields": {"project": {"key": "NOPE"}, "issuetype": {"name": "Bug"},
                                         "description": "plain on v3"}})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"project", "summary", "description"}
    assert requests.delete(f"{jira_sandbox.url}/rest/api/3/issue/ITSM-1",
                           auth=jira_sandbox.credentials).status_code == 204
    assert requests.get(f"{jira_sandbox.url}/rest/api/3/issue/ITSM-1",
                        auth=jira_sandbox.credentials).status_code == 404
