"""search/jql: the JQL subset, nextPageToken paging, caps, and the old /search."""
from __future__ import annotations

import time

import pytest
import requests
from atlassian import Jira

from itsm_align.sandbox.jira import JiraSandbox


def search(sb: JiraSandbox, jql: str, **params: object) -> requests.Response:
    return requests.get(f"{sb.url}/rest/api/3/search/jql", params={"jql": jql, **params}, auth=sb.credentials)


def keys(resp: requests.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [i["key"] for i in resp.json()["issues"]]


@pytest.fixture
def populated(jira_sandbox: JiraSandbox, jira_alignment_fields: dict[str, str]) -> dict[str, str]:
    f = jira_alignment_fields
    jira_sandbox.add_project("OPS", "Operations")
    jira_sandbox.create_issue("ITSM", "Printer on fire")                                   # ITSM-1
    jira_sandbox.create_issue("ITSM", "Renew certificates", fields={
        f["Business Objective"]: {"value": "Grow revenue"}, f["Alignment Score"]: 80})     # ITSM-2
    jira_sandbox.create_issue("ITSM", "Archive logs", fields={
        f["Business Objective"]: {"value": "Reduce cost"}, f["Alignment Score"]: 55})      # ITSM-3
    jira_sandbox.create_issue("OPS", "Patch servers", issuetype="Bug", fields={
        f["Alignment Score"]: 71})                                                         # OPS-1
    return f


def test_jql_subset(jira_sandbox: JiraSandbox, populated: dict[str, str]) -> None:
    f = populated
    n = f["Alignment Score"].removeprefix("customfield_")
    b = f["Business Objective"].removeprefix("customfield_")
    order = "ORDER BY key ASC"
    cases = {
        f"project = ITSM {order}": ["ITSM-1", "ITSM-2", "ITSM-3"],
        f"project in (ITSM, OPS) AND cf[{n}] > 70 {order}": ["ITSM-2", "OPS-1"],
        "key = ITSM-2": ["ITSM-2"],
        f"cf[{b}] is EMPTY {order}": ["ITSM-1", "OPS-1"],
        f"cf[{b}] is not EMPTY {order}": ["ITSM-2", "ITSM-3"],
        '"Business Objective" = "Grow revenue"': ["ITSM-2"],
        f'"Business Objective" = "Reduce cost" OR project = OPS {order}': ["ITSM-3", "OPS-1"],
        "updated >= -30d AND project = OPS": ["OPS-1"],
        'updated >= "2024-01-01" AND issuetype = Bug': ["OPS-1"],
        f'project = ITSM AND NOT (cf[{n}] <= 60 OR cf[{n}] is EMPTY)': ["ITSM-2"],
        'summary ~ "certif" ': ["ITSM-2"],
        f"project = ITSM ORDER BY cf[{n}] DESC": ["ITSM-2", "ITSM-3", "ITSM-1"],
        "project = ITSM ORDER BY created DESC": ["ITSM-3", "ITSM-2", "ITSM-1"],
        f"key in (ITSM-1, OPS-1) {order}": ["ITSM-1", "OPS-1"],
        f"project not in (ITSM) {order}": ["OPS-1"],
    }
    for jql, expected in cases.items():
        assert keys(search(jira_sandbox, jql, fields="key")) == expected, jql


@pytest.mark.parametrize(("jql", "message"), [
    ("order by key desc", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."),
    ("", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."),
    ("Nonsense = 1", "Field 'Nonsense' does not exist or you do not have permission to view it."),
    ("project = ", "Error in the JQL Query: Expecting either a value, list or function but got '<EOF>'. (line 1, character 11)"),
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ('updated >= "yesterday-ish" AND project = ITSM', None),
    ("project = ITSM AND", None),
])
def test_bad_jql_is_400(jira_sandbox: JiraSandbox, populated: dict[str, str], jql: str, message: str | None) -> None:
    resp = search(jira_sandbox, jql)
    assert resp.status_code == 400
    body = resp.json()
    assert body["errors"] == {} and len(body["errorMessages"]) == 1
    if message:
        assert body["errorMessages"] == [message]


def test_default_fields_are_ids_only(jira_sandbox: JiraSandbox, populated: dict[str, str]) -> None:
    body = search(jira_sandbox, "project = OPS").json()
    assert body == {"issues": [{"id": jira_sandbox.issue("OPS-1")["id"]}], "isLast": True}


def test_paging_with_next_page_token(jira_client: Jira, jira_sandbox: JiraSandbox) -> None:
    created = jira_sandbox.seed(projects=("PAGE",), issues=25)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = jira_client.enhanced_jql("project = PAGE ORDER BY key ASC", fields=["summary"], limit=10,
                                        nextPageToken=token)
        seen += [i["key"] for i in page["issues"]]
        pages += 1
        assert "total" not in page
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert pages == 3 and seen == created


def test_paging_is_stable_when_matching_issues_change(jira_sandbox: JiraSandbox) -> None:
    fid = jira_sandbox.add_field("Alignment Score", "float")
    jira_sandbox.seed(projects=("PAGE",), issues=6)
    jql = f"project = PAGE AND cf[{fid[12:]}] is EMPTY ORDER BY key"
    first = search(jira_sandbox, jql, maxResults=3, fields="key").json()
    for issue in first["issues"]:  # write back as a back-fill would: they no longer match
        jira_sandbox.edit_issue_as(None, issue["key"], {fid: 1})
    second = search(jira_sandbox, jql, maxResults=3, fields="key", nextPageToken=first["nextPageToken"]).json()
    assert [i["key"] for i in second["issues"]] == ["PAGE-4", "PAGE-5", "PAGE-6"]


def test_max_results_caps(jira_sandbox: JiraSandbox) -> None:
    jira_sandbox.seed(projects=("BIG",), issues=5100)
    ids_only = search(jira_sandbox, "project = BIG", maxResults=10000).json()
    assert len(ids_only["issues"]) == 5000 and ids_only["isLast"] is False
    with_fields = search(jira_sandbox, "project = BIG", maxResults=10000, fields="summary").json()
    assert len(with_fields["issues"]) == 100


def test_token_from_another_query_or_garbage_is_400(jira_sandbox: JiraSandbox) -> None:
    jira_sandbox.seed(projects=("PAGE",), issues=3)
    token = search(jira_sandbox, "project = PAGE", maxResults=1).json()["nextPageToken"]
    assert search(jira_sandbox, "project = ITSM", nextPageToken=token).status_code == 400
    assert search(jira_sandbox, "project = PAGE", nextPageToken="%%%").status_code == 400


def test_post_search_jql(jira_sandbox: JiraSandbox, populated: dict[str, str]) -> None:
    resp = requests.post(f"{jira_sandbox.url}/rest/api/3/search/jql", auth=jira_sandbox.credentials,
                         json={"jql": "project = OPS", "fields": ["summary", populated["Alignment Score"]],
                               "maxResults": 5})
    assert resp.status_code == 200
    issue = resp.json()["issues"][0]
    assert issue["key"] == "OPS-1" and issue["fields"] == {"summary": "Patch servers",
                                                            populated["Alignment Score"]: 71.0}


def test_old_search_is_gone_on_cloud(jira_sandbox: JiraSandbox) -> None:
    for version in (2, 3):
        for method in ("GET", "POST"):
            resp = requests.request(method, f"{jira_sandbox.url}/rest/api/{version}/search",
                                    params={"jql": "project = ITSM"}, auth=jira_sandbox.credentials)
            assert resp.status_code == 410
            assert "/rest/api/3/search/jql" in resp.json()["errorMessages"][0]


def test_data_center_search_pages_with_start_at() -> None:
    with JiraSandbox(deployment="datacenter") as dc:
        dc.seed(projects=("DC",), issues=7)
        jira = Jira(dc.url, token=dc.pat)
        first = jira.jql("project = DC ORDER BY key", start=0, limit=5, fields="summary")
        second = jira.jql("project = DC ORDER BY key", start=5, limit=5, fields="summary")
        assert first["total"] == 7 and len(first["issues"]) == 5 and len(second["issues"]) == 2
        assert second["issues"][-1]["key"] == "DC-7"


def test_seed_twenty_thousand_is_searchable(jira_sandbox: JiraSandbox) -> None:
    started = time.perf_counter()
    created = jira_sandbox.seed(projects=("A", "B"), issues=20_000)
    print(f"seeded 20,000 issues in {time.perf_counter() - started:.2f}s")
    assert len(created) == 20_000 and len(set(created)) == 20_000
    page = search(jira_sandbox, "project in (A, B)", maxResults=5000).json()
    assert len(page["issues"]) == 5000 and not page["isLast"]
