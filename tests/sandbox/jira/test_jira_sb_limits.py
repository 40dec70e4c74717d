"""Per-issue write limit, burst limit and injected faults."""
from __future__ import annotations

import pytest
import requests

from itsm_align.sandbox.jira import JiraSandbox


def test_per_issue_write_limit_answers_429() -> None:
    with JiraSandbox(per_issue_limits=((3, 60.0),)) as sb:
        key = sb.create_issue("ITSM", "Hot issue")
        other = sb.create_issue("ITSM", "Calm issue")
        url = f"{sb.url}/rest/api/3/issue/{key}"
        statuses = [requests.put(url, auth=sb.credentials, json={"fields": {"summary": f"v{n}"}}).status_code
                    for n in range(4)]
        assert statuses == [204, 204, 204, 429]
        limited = sb.requests[-1]
        assert limited.response_headers["RateLimit-Reason"] == "jira-per-issue-on-write"
        assert 1 <= int(limited.response_headers["Retry-After"]) <= 60
        assert limited.response_headers["X-RateLimit-Limit"] == "3"
        assert limited.response_headers["X-RateLimit-Remaining"] == "0"
        assert "X-RateLimit-Reset" in limited.response_headers
        assert limited.response_json["errorMessages"]
        assert sb.issue(key)["fields"]["summary"] == "v2"  # the limited write changed nothing
        # Only that issue is limited; reads are not writes.
        assert requests.put(f"{sb.url}/rest/api/3/issue/{other}", auth=sb.credentials,
                            json={"fields": {"summary": "ok"}}).status_code == 204
        assert requests.get(url, auth=sb.credentials).status_code == 200


def test_default_per_issue_limit_is_jiras(jira_sandbox: JiraSandbox) -> None:
    assert jira_sandbox.svc.issue_limiter.windows == ((20, 2.0), (100, 30.0))
    limiter = jira_sandbox.svc.issue_limiter
    assert all(limiter.hit("x", now=100.0 + n * 0.01) is None for n in range(20))
    wait, limit = limiter.hit("x", now=100.5)
    assert limit == 20 and 1.4 < wait <= 1.6


def test_burst_limit_per_endpoint() -> None:
    with JiraSandbox(burst_limits={"GET": 2}) as sb:
        url = f"{sb.url}/rest/api/3/myself"
        statuses = [requests.get(url, auth=sb.credentials).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert sb.requests[-1].response_headers["RateLimit-Reason"] == "jira-burst-based"
        assert requests.post(f"{sb.url}/rest/api/3/search/jql", auth=sb.credentials,
                             json={"jql": "project = ITSM"}).status_code == 200


def test_injected_faults(jira_sandbox: JiraSandbox) -> None:
    key = jira_sandbox.create_issue("ITSM", "Unlucky")
    url = f"{jira_sandbox.url}/rest/api/3/issue/{key}"
    jira_sandbox.inject(path_regex=r"/issue/", method="PUT", status=503, count=2)
    jira_sandbox.inject(path_regex=r"/myself", status=429, retry_after=7, reason="jira-quota-tenant-based")
    assert requests.get(url, auth=jira_sandbox.credentials).status_code == 200  # GET does not match
    puts = [requests.put(url, auth=jira_sandbox.credentials, json={"fields": {"summary": "x"}}) for _ in range(3)]
    assert [p.status_code for p in puts] == [503, 503, 204]
    assert puts[0].json() == {"errorMessages": ["Service unavailable"], "errors": {}}
    limited = requests.get(f"{jira_sandbox.url}/rest/api/3/myself", auth=jira_sandbox.credentials)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7" and limited.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert requests.get(f"{jira_sandbox.url}/rest/api/3/myself", auth=jira_sandbox.credentials).status_code == 200


def test_injected_latency_only(jira_sandbox: JiraSandbox) -> None:
    fault = jira_sandbox.inject(path_regex="/myself", status=None, latency=0.05)
    assert requests.get(f"{jira_sandbox.url}/rest/api/3/myself", auth=jira_sandbox.credentials).status_code == 200
    assert fault.hits == 1


def test_inject_refuses_statuses_it_cannot_simulate(jira_sandbox: JiraSandbox) -> None:
    with pytest.raises(ValueError, match="429"):
        jira_sandbox.inject(status=404)


def test_reset_forgets_everything(jira_sandbox: JiraSandbox) -> None:
    jira_sandbox.add_field("Score", "float")
    jira_sandbox.create_issue("ITSM", "Temporary")
    jira_sandbox.add_webhook("http://127.0.0.1:9/none", events=("project_created",))
    jira_sandbox.inject(status=500, count=5)
    jira_sandbox.reset()
    assert jira_sandbox.requests == [] and jira_sandbox.deliveries == [] and jira_sandbox.webhooks() == []
    with pytest.raises(KeyError):
        jira_sandbox.issue("ITSM-1")
    assert requests.get(f"{jira_sandbox.url}/rest/api/3/myself", auth=jira_sandbox.credentials).status_code == 200
    assert jira_sandbox.create_issue("ITSM", "Fresh") == "ITSM-1"
