"""OAuth 2.0 client: the token comes from /oauth_token.do through our own
session (pinned CA) and is sent as a Bearer token, renewed once when the
instance refuses it. The first tests use a transport stub (``responses``) to
look at the exact requests; the sandbox ones prove it over the wire."""
from __future__ import annotations

import pytest
import responses

from itsm_align.integration.base import ConfigurationError
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.settings import ServiceNowSettings

INSTANCE = "https://acme.service-now.com"
SYS_ID = "9d385017c611228701d22104cc95c371"
RECORD = {"result": {"sys_id": SYS_ID, "number": "INC0010001", "sys_class_name": "incident",
                     "short_description": "x", "u_business_objective": ""}}


@responses.activate
def test_client_credentials_token_used_as_bearer():
    responses.post(f"{INSTANCE}/oauth_token.do", json={"access_token": "tok-1", "expires_in": 1800})
    responses.get(f"{INSTANCE}/api/now/table/incident/{SYS_ID}", json=RECORD)
    adapter = ServiceNowAdapter(ServiceNowSettings(instance=INSTANCE, client_id="cid", client_secret="csecret",
                                                   integration_user="svc.itsm_align"))
    for _ in range(2):
        assert adapter.fetch(f"incident:{SYS_ID}").key == "INC0010001"
    token_calls = [c for c in responses.calls if c.request.url.endswith("/oauth_token.do")]
    assert len(token_calls) == 1  # cached until it expires
    assert "grant_type=client_credentials" in token_calls[0].request.body
    assert "Authorization" not in token_calls[0].request.headers
    gets = [c for c in responses.calls if "/api/now/table/" in c.request.url]
    assert all(c.request.headers["Authorization"] == "Bearer tok-1" for c in gets)


@responses.activate
def test_refused_client_is_a_configuration_error_without_the_secret():
    responses.post(f"{INSTANCE}/oauth_token.do", status=401,
                   json={"error": {"message": "access_denied", "detail": "bad client"}, "status": "failure"})
    adapter = ServiceNowAdapter(ServiceNowSettings(instance=INSTANCE, client_id="cid", client_secret="csecret",
                                                   integration_user="svc.itsm_align"))
    with pytest.raises(ConfigurationError) as info:
        adapter.fetch(f"incident:{SYS_ID}")
    assert "access_denied" in str(info.value) and "csecret" not in str(info.value)


def test_no_credentials_is_refused_clearly():
    with pytest.raises(ConfigurationError, match="user \\+ password"):
        ServiceNowAdapter(ServiceNowSettings(instance=INSTANCE))


def test_client_credentials_without_a_user_name_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="integration_user is required with OAuth client credentials"):
        ServiceNowSettings(instance=INSTANCE, client_id="cid", client_secret="csecret")
    settings = ServiceNowSettings(instance=INSTANCE, client_id="cid", client_secret="csecret",
                                  integration_user="svc.itsm_align")
    assert settings.own_user == "svc.itsm_align"


def test_http_instance_is_refused():
    with pytest.raises(ValueError, match="https://"):
        ServiceNowSettings(instance="http://acme.service-now.com", user="u", password="p")


# ---------------------------------------------------------------- against the sandbox
def test_sandbox_client_credentials_and_token_renewal(servicenow_sandbox, make_settings):
    servicenow_sandbox.add_oauth_client("itsm-align", "oauth-client-secret", user=servicenow_sandbox.integration_user)
    adapter = ServiceNowAdapter(make_settings(
        user=None, password=None, integration_user=servicenow_sandbox.integration_user,
        client_id="itsm-align", client_secret="oauth-client-secret"))
    sys_id = servicenow_sandbox.insert("incident", {"short_description": "via OAuth"})["sys_id"]
    assert adapter.fetch(f"incident:{sys_id}").summary == "via OAuth"
    servicenow_sandbox.expire_oauth_tokens()  # revoked early: renewed once, transparently
    assert adapter.fetch(f"incident:{sys_id}").summary == "via OAuth"
    api = [r for r in servicenow_sandbox.http_requests if "/api/now/" in r.path]
    assert [r.status for r in api] == [200, 401, 200]
    assert {r.user for r in api if r.status == 200} == {servicenow_sandbox.integration_user}
    assert sum(1 for r in servicenow_sandbox.http_requests if r.path == "/oauth_token.do") == 2


def test_sandbox_password_grant(servicenow_sandbox, make_settings):
    servicenow_sandbox.add_oauth_client("itsm-align", "oauth-client-secret")
    adapter = ServiceNowAdapter(make_settings(client_id="itsm-align", client_secret="oauth-client-secret"))
    sys_id = servicenow_sandbox.insert("incident", {"short_description": "password grant"})["sys_id"]
    assert adapter.fetch(f"incident:{sys_id}").id == sys_id


def test_sandbox_wrong_client_secret(servicenow_sandbox, make_settings):
    servicenow_sandbox.add_oauth_client("itsm-align", "oauth-client-secret", user=servicenow_sandbox.integration_user)
    adapter = ServiceNowAdapter(make_settings(
        user=None, password=None, integration_user=servicenow_sandbox.integration_user,
        client_id="itsm-align", client_secret="not-the-secret"))
    with pytest.raises(ConfigurationError) as info:
        adapter.fetch("incident:" + "1" * 32)
    assert "invalid_client" in str(info.value) and "not-the-secret" not in str(info.value)
