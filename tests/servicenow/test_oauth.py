"""OAuth 2.0 client: the token comes from /oauth_token.do through our own
session and is sent as a Bearer token. The sandbox has no OAuth endpoint, so
this one narrow path uses a transport stub (``responses``)."""
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
    adapter = ServiceNowAdapter(ServiceNowSettings(instance=INSTANCE, client_id="cid", client_secret="csecret"))
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
    adapter = ServiceNowAdapter(ServiceNowSettings(instance=INSTANCE, client_id="cid", client_secret="csecret"))
    with pytest.raises(ConfigurationError) as info:
        adapter.fetch(f"incident:{SYS_ID}")
    assert "access_denied" in str(info.value) and "csecret" not in str(info.value)


def test_no_credentials_is_refused_clearly():
    with pytest.raises(ConfigurationError, match="user \\+ password"):
        ServiceNowAdapter(ServiceNowSettings(instance=INSTANCE))


def test_http_instance_is_refused():
    with pytest.raises(ValueError, match="https://"):
        ServiceNowSettings(instance="http://acme.service-now.com", user="u", password="p")
