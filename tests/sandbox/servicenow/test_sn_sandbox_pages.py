"""The ServiceNow sandbox's web pages over HTTPS (sandbox/servicenow/pages.py):
sign-in, form guards, the platform's own URLs, and updates made as the person.
The browser walk-through is tests/e2e/test_sandbox_pages_browser.py."""
from __future__ import annotations

import json
import re

import requests


def browser_session(sn) -> requests.Session:  # type: ignore[no-untyped-def]
    session = requests.Session()
    session.trust_env = False
    session.verify = sn.ca_pem_path
    return session


def signed_in(sn) -> requests.Session:  # type: ignore[no-untyped-def]
    session = browser_session(sn)
    answer = session.post(f"{sn.url}/sandbox/login", data={"login": "admin", "password": sn.admin_password})
    assert answer.url.endswith("/sandbox/list/incident"), answer.text
    return session


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_signed_out_pages_ask_to_sign_in_and_the_api_is_unchanged(servicenow_sandbox) -> None:  # type: ignore[no-untyped-def]
    session = browser_session(servicenow_sandbox)
    answer = session.get(f"{servicenow_sandbox.url}/sandbox/list/task", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/sandbox/login?next=")
    assert session.get(f"{servicenow_sandbox.url}/api/now/table/incident").status_code == 401
    token = session.post(f"{servicenow_sandbox.url}/oauth_token.do", data={"grant_type": "password"})
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"
    assert [r.path for r in servicenow_sandbox.requests] == ["/api/now/table/incident", "/oauth_token.do"]


def test_sign_in_refuses_the_integration_user_and_wrong_passwords(servicenow_sandbox) -> None:  # type: ignore[no-untyped-def]
    session = browser_session(servicenow_sandbox)
    for login, password, why in (("admin", "nope", "invalid"),
                                 (servicenow_sandbox.integration_user, servicenow_sandbox.integration_password,
                                  "is the integration user")):
        answer = session.post(f"{servicenow_sandbox.url}/sandbox/login", data={"login": login, "password": password})
        assert answer.status_code == 401 and why in answer.text


def test_the_platforms_own_urls_land_on_the_pages(servicenow_sandbox) -> None:  # type: ignore[no-untyped-def]
    first = servicenow_sandbox.insert("incident", {"short_description": "Email not syncing"})
    servicenow_sandbox.insert("incident", {"short_description": "VPN drops"})
    session = signed_in(servicenow_sandbox)
    opened = session.get(f"{servicenow_sandbox.url}/incident.do", params={"sys_id": first["sys_id"]})
    assert opened.url.endswith(f"/sandbox/record/incident/{first['sys_id']}") and "Email not syncing" in opened.text
    listed = session.get(f"{servicenow_sandbox.url}/task_list.do", params={"sysparm_query": "numberININC0010001"})
    assert re.findall(r'data-number="([^"]+)"', listed.text) == ["INC0010001"]
    assert session.get(f"{servicenow_sandbox.url}/incident.do?sys_id=-1").url.endswith("/sandbox/new/incident")
    assert session.get(f"{servicenow_sandbox.url}/task.do?sys_id={first['sys_id']}").url.endswith(
        f"/sandbox/record/incident/{first['sys_id']}")  # a record opens in its own class


def test_an_update_is_the_persons_and_posts_the_event(servicenow_sandbox, event_receiver) -> None:  # type: ignore[no-untyped-def]
    sn = servicenow_sandbox
    sn.set_property("itsm_align.endpoint", event_receiver.url)
    record = sn.insert("incident", {"short_description": "Checkout slow"})
    event_receiver.wait_for(1)
    session = signed_in(sn)
    url = f"{sn.url}/sandbox/record/incident/{record['sys_id']}"
    token = csrf(session.get(url).text)
    assert session.post(url, data={"short_description": "Hacked"}).status_code == 403
    answer = session.post(url, data={"csrf": token, "short_description": "Checkout slow",
                                     "description": "p95 at 4 s since the release"})
    assert "Updated Description. The business rule posted an event" in answer.text
    body = json.loads(event_receiver.wait_for(2)[1].body)
    assert (body["operation"], body["sys_updated_by"]) == ("update", "admin")
    audit = sn.query("sys_audit", f"documentkey={record['sys_id']}^fieldname=description")
    assert [(a["user"], a["newvalue"]) for a in audit] == [("admin", "p95 at 4 s since the release")]
    assert not [r for r in sn.requests if r.path.startswith("/sandbox")]  # not API requests
