"""Jira connection settings that would leak the API token are refused with the fix."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from itsm_align.integration.jira.settings import JiraSettings


def test_http_to_another_host_is_refused_unless_explicitly_allowed() -> None:
    with pytest.raises(ValidationError) as refused:
        JiraSettings(url="http://jira.example.com", email="a@example.com", api_token="t")
    message = str(refused.value)
    assert "travel in clear" in message and "allow_insecure_http: true" in message
    allowed = JiraSettings(url="http://jira.example.com", email="a@example.com", api_token="t",
                           allow_insecure_http=True)
    assert allowed.url == "http://jira.example.com"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:2990/jira", "https://acme.atlassian.net/"])
def test_https_and_this_machine_are_accepted(url: str) -> None:
    assert JiraSettings(url=url, email="a@example.com", api_token="t").url == url.rstrip("/")
