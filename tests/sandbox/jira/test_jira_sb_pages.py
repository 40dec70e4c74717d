"""The Jira sandbox's web pages over HTTP (sandbox/jira/pages.py): sign-in, the
guards on every form, the platform's own URLs, and changes made as the person.
The browser walk-through is tests/e2e/test_sandbox_pages_browser.py."""
from __future__ import annotations

import json
import re

import pytest
import requests


def signed_in(jira, email: str | None = None, token: str | None = None) -> requests.Session:  # type: ignore[no-untyped-def]
    session = requests.Session()
    answer = session.post(f"{jira.url}/sandbox/login", data={"login": email or jira.ADMIN_EMAIL,
                                                              "password": token or jira.ADMIN_TOKEN})
    assert answer.status_code == 200 and answer.url.endswith("/sandbox/issues"), answer.text
    return session


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_signed_out_pages_ask_to_sign_in_and_the_api_is_unchanged(jira_sandbox) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(f"{jira_sandbox.url}/sandbox/issues?project=ITSM", allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/sandbox/login?next=%2Fsandbox%2Fissues%3Fproject%3DITSM"
    assert requests.get(f"{jira_sandbox.url}/rest/api/3/myself").status_code == 401
    missing = requests.get(f"{jira_sandbox.url}/rest/api/3/nothing", auth=jira_sandbox.credentials)
    assert missing.status_code == 404 and "errorMessages" in missing.json()
    assert [r.path for r in jira_sandbox.requests] == ["/rest/api/3/myself", "/rest/api/3/nothing"]


@pytest.mark.parametrize("login,password,why", [
    ("admin@example.com", "wrong", "Wrong email or API token."),
    ("itsm-align@example.com", "sandbox-api-token", "is the integration"),
])
def test_sign_in_refuses_wrong_tokens_and_the_integration_account(jira_sandbox, login, password, why) -> None:  # type: ignore[no-untyped-def]
    answer = requests.post(f"{jira_sandbox.url}/sandbox/login", data={"login": login, "password": password})
    assert answer.status_code == 401 and why in answer.text
    assert "Set-Cookie" not in answer.headers


def test_forms_need_the_session_token_and_this_site_as_origin(jira_sandbox) -> None:  # type: ignore[no-untyped-def]
    key = jira_sandbox.create_issue("ITSM", "Printer on fire")
    session = signed_in(jira_sandbox)
    token = csrf(session.get(f"{jira_sandbox.url}/sandbox/browse/{key}").text)
    url = f"{jira_sandbox.url}/sandbox/browse/{key}/edit"
    assert session.post(url, data={"summary": "Hacked"}).status_code == 403
    assert session.post(url, data={"summary": "Hacked", "csrf": token},
                        headers={"Origin": "http://evil.example"}).status_code == 403
    assert jira_sandbox.issue(key)["fields"]["summary"] == "Printer on fire"
    ok = session.post(url, data={"summary": "Printer on fire, floor 3", "csrf": token})
    assert ok.status_code == 200 and jira_sandbox.issue(key)["fields"]["summary"] == "Printer on fire, floor 3"


def test_the_platforms_own_urls_land_on_the_pages(jira_sandbox) -> None:  # type: ignore[no-untyped-def]
    key = jira_sandbox.create_issue("ITSM", "Printer on fire")
    jira_sandbox.create_issue("ITSM", "VPN drops every hour")
    session = signed_in(jira_sandbox)
    assert session.get(f"{jira_sandbox.url}/browse/{key}").url.endswith(f"/sandbox/browse/{key}")
    assert session.get(f"{jira_sandbox.url}/projects/ITSM").url.endswith("/sandbox/issues?project=ITSM")
    listed = session.get(f"{jira_sandbox.url}/issues/", params={"jql": f"key in ({key}) ORDER BY key"})
    assert listed.url.endswith("/sandbox/issues?jql=key+in+%28ITSM-1%29+ORDER+BY+key")
    assert re.findall(r'data-key="([^"]+)"', listed.text) == [key]
    wrong = session.get(f"{jira_sandbox.url}/sandbox/issues", params={"jql": "summary ~"})
    assert 'class="problem"' in wrong.text


def test_changes_are_the_persons_and_send_the_webhooks(jira_sandbox, jira_alignment_fields,  # type: ignore[no-untyped-def]
                                                       webhook_receiver) -> None:
    jira_sandbox.add_webhook(f"{webhook_receiver.url}/webhooks/jira")
    session = signed_in(jira_sandbox)
    token = csrf(session.get(f"{jira_sandbox.url}/sandbox/create").text)
    created = session.post(f"{jira_sandbox.url}/sandbox/create", data={
        "csrf": token, "project": "ITSM", "issuetype": "Incident", "summary": "Mail server down",
        "description": "Since 09:40"})
    assert created.url.endswith("/sandbox/browse/ITSM-1") and "sent to 1 listener" in created.text
    objective = jira_alignment_fields["Business Objective"]
    session.post(f"{jira_sandbox.url}/sandbox/browse/ITSM-1/objective", data={"csrf": token, "objective": "Reduce cost"})
    bodies = [json.loads(r.body) for r in webhook_receiver.wait_for(2)]
    admin = jira_sandbox.admin_user.account_id
    assert [(b["webhookEvent"], b["user"]["accountId"]) for b in bodies] == [
        ("jira:issue_created", admin), ("jira:issue_updated", admin)]
    assert bodies[1]["changelog"]["items"][0]["fieldId"] == objective
    assert jira_sandbox.value("ITSM-1", objective) == "Reduce cost"
    page = session.get(f"{jira_sandbox.url}/sandbox/browse/ITSM-1").text
    assert "set by Alice Admin" in page
    again = session.post(f"{jira_sandbox.url}/sandbox/browse/ITSM-1/objective",
                         data={"csrf": token, "objective": "Reduce cost"})
    assert "Nothing changed" in again.text
    assert not [r for r in jira_sandbox.requests if r.path.startswith("/sandbox")]  # not REST requests
