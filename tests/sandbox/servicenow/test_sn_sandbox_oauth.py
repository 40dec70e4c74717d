"""OAuth 2.0 of the ServiceNow sandbox: /oauth_token.do and Bearer tokens."""
from __future__ import annotations

import requests


def _session(sn) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = sn.ca_pem_path
    return s


def test_password_grant_then_bearer_calls_then_refresh(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.add_oauth_client("itsm-align", "client-secret")
    s = _session(sn)
    token = s.post(f"{sn.url}/oauth_token.do", data={
        "grant_type": "password", "client_id": "itsm-align", "client_secret": "client-secret",
        "username": sn.integration_user, "password": sn.integration_password})
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1799
    rec = sn.insert("incident", {"short_description": "x"})
    url = f"{sn.url}/api/now/table/incident/{rec['sys_id']}"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert s.patch(url, json={"short_description": "y"}, headers=bearer).status_code == 200
    assert sn.record("incident", rec["sys_id"])["sys_updated_by"] == sn.integration_user

    sn.expire_oauth_tokens()
    expired = s.get(url, headers=bearer)
    assert expired.status_code == 401 and expired.json()["error"]["message"] == "User Not Authenticated"
    again = s.post(f"{sn.url}/oauth_token.do", data={
        "grant_type": "refresh_token", "client_id": "itsm-align", "client_secret": "client-secret",
        "refresh_token": body["refresh_token"]}).json()
    assert s.get(url, headers={"Authorization": f"Bearer {again['access_token']}"}).status_code == 200


def test_pysnc_password_grant_flow(servicenow_sandbox):
    from pysnc import ServiceNowClient, ServiceNowPasswordGrantFlow

    sn = servicenow_sandbox
    sn.add_oauth_client("itsm-align", "client-secret")
    sn.insert("incident", {"short_description": "x"})
    flow = ServiceNowPasswordGrantFlow(sn.integration_user, sn.integration_password, "itsm-align", "client-secret")
    client = ServiceNowClient(sn.url, flow, verify=sn.ca_pem_path)
    client.session.trust_env = False  # else REQUESTS_CA_BUNDLE replaces verify on API calls
    gr = client.GlideRecord("incident")
    gr.query()
    assert len(gr) == 1
    assert sn.http_requests[0].path == "/oauth_token.do"


def test_client_credentials_and_refusals(servicenow_sandbox):
    sn = servicenow_sandbox
    sn.add_oauth_client("machine", "m-secret", user=sn.integration_user)
    sn.add_oauth_client("no-user", "n-secret")
    s = _session(sn)
    ok = s.post(f"{sn.url}/oauth_token.do", data={"grant_type": "client_credentials", "client_id": "machine",
                                                   "client_secret": "m-secret"})
    assert ok.status_code == 200
    r = s.get(f"{sn.url}/api/now/table/incident", headers={"Authorization": f"Bearer {ok.json()['access_token']}"})
    assert r.status_code == 200
    wrong_secret = s.post(f"{sn.url}/oauth_token.do", data={"grant_type": "client_credentials",
                                                             "client_id": "machine", "client_secret": "nope"})
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    no_user = s.post(f"{sn.url}/oauth_token.do", data={"grant_type": "client_credentials",
                                                        "client_id": "no-user", "client_secret": "n-secret"})
    assert no_user.status_code == 401
    bad_password = s.post(f"{sn.url}/oauth_token.do", data={
        "grant_type": "password", "client_id": "machine", "client_secret": "m-secret",
        "username": "admin", "password": "wrong"})
    assert bad_password.status_code == 401 and bad_password.json()["error"] == "access_denied"
    odd = s.post(f"{sn.url}/oauth_token.do", data={"grant_type": "implicit", "client_id": "machine",
                                                    "client_secret": "m-secret"})
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_grant_type"
    forged = s.get(f"{sn.url}/api/now/table/incident", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
