"""Authentication, myself, and the Data Center mode of the Jira sandbox."""
from __future__ import annotations

import requests
from atlassian import Jira

from itsm_align.sandbox.jira import JiraSandbox


def test_myself_through_atlassian_client(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    me = jira_client.myself()
    assert me["accountId"] == jira_sandbox.api_user.account_id
    assert me["accountType"] == "atlassian"
    assert me["emailAddress"] == jira_sandbox.credentials[0]
    v3 = requests.get(f"{jira_sandbox.url}/rest/api/3/myself", auth=jira_sandbox.credentials)
    assert v3.status_code == 200 and v3.json()["accountId"] == me["accountId"]


def test_missing_or_wrong_credentials_get_401(jira_sandbox: JiraSandbox) -> None:
    url = f"{jira_sandbox.url}/rest/api/3/myself"
    anonymous = requests.get(url)
    wrong = requests.get(url, auth=(jira_sandbox.credentials[0], "not-the-token"))
    for resp in (anonymous, wrong):
        assert resp.status_code == 401
        assert resp.json() == {"errorMessages": ["Client must be authenticated to access this resource."],
                               "errors": {}}
    # A bearer token is Data Center only.
    bearer = requests.get(url, headers={"Authorization": f"Bearer {jira_sandbox.pat}"})
    assert bearer.status_code == 401


def test_credentials_never_logged(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    jira_client.myself()
    entry = jira_sandbox.requests[-1]
    assert entry.headers["Authorization"] == "Basic <redacted>"
    assert jira_sandbox.credentials[1] not in repr(entry)


def test_non_admin_cannot_create_fields(jira_sandbox: JiraSandbox) -> None:
    jira_sandbox.add_user("Pat Person", "pat@example.com", api_token="pat-token")
    resp = requests.post(f"{jira_sandbox.url}/rest/api/3/field", auth=("pat@example.com", "pat-token"),
                         json={"name": "X", "type": "com.atlassian.jira.plugin.system.customfieldtypes:float"})
    assert resp.status_code == 403
    assert resp.json()["errorMessages"]


def test_unknown_resource_is_404_with_jira_body(jira_sandbox: JiraSandbox) -> None:
    resp = requests.get(f"{jira_sandbox.url}/rest/api/3/nothing-here", auth=jira_sandbox.credentials)
    assert resp.status_code == 404
    assert resp.json()["errorMessages"][0].startswith("null for uri:")


def test_data_center_mode_pat_and_v2_only() -> None:
    with JiraSandbox(deployment="datacenter") as dc:
        key = dc.create_issue("ITSM", "Disk full")
        jira = Jira(dc.url, token=dc.pat)
        assert jira.myself()["name"] == dc.user_ref() == "itsm-align"  # Data Center: user names, no accountId
        page = jira.jql("project = ITSM", start=0, limit=10)
        assert page["total"] == 1 and page["startAt"] == 0
        assert page["issues"][0]["key"] == key
        assert requests.get(f"{dc.url}/rest/api/3/myself",
                            headers={"Authorization": f"Bearer {dc.pat}"}).status_code == 404


def test_invalid_deployment_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="cloud"):
        JiraSandbox(deployment="server")
