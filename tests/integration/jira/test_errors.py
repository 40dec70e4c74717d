"""Errors keep Jira's message and map to the hierarchy; secrets never leak."""
from __future__ import annotations

import logging

import pytest
import requests
import responses

from itsm_align.integration.base import (ConfigurationError, MemoryStore, NotFound, PlatformError, RateLimited,
                                         TransientError)
from itsm_align.integration.jira import JiraAdapter
from itsm_align.integration.jira.client import error_from_response
from itsm_align.scoring.types import Nature, OutputValues, SetBy
from tests.contract.jira_driver import OBJECTIVES, WEBHOOK_SECRET, JiraDriver, jira_settings


def values(score: int = 60) -> OutputValues:
    return OutputValues("revenue", score, "Grow online revenue: errors", Nature.PROACTIVE, SetBy.INTEGRATION)


def test_per_issue_rate_limit_is_per_item_with_retry_after(jira: JiraDriver) -> None:
    key = jira.create_ticket("Hot issue")
    item = jira.adapter.fetch(key)
    jira.sandbox.inject(path_regex=f"/issue/{key}$", method="PUT", status=429, retry_after=7,
                        reason="jira-per-issue-on-write")
    with pytest.raises(RateLimited) as caught:
        jira.adapter.write(item, values())
    error = caught.value
    assert error.per_item is True and error.retryable
    assert error.retry_after == 7.0
    assert error.reason == "jira-per-issue-on-write"
    assert error.status == 429


def test_burst_rate_limit_is_not_per_item(jira: JiraDriver) -> None:
    key = jira.create_ticket("Busy site")
    jira.sandbox.inject(path_regex="/issue/", method="GET", status=429, retry_after=2)
    with pytest.raises(RateLimited) as caught:
        jira.adapter.fetch(key)
    assert caught.value.per_item is False and caught.value.reason == "jira-burst-based"


def test_real_per_issue_limit_of_the_sandbox(jira: JiraDriver) -> None:
    """No injection: 21 writes to one issue within 2 s hit Jira's per-issue limit."""
    key = jira.create_ticket("Hammered")
    item = jira.adapter.fetch(key)
    with pytest.raises(RateLimited) as caught:
        for n in range(25):
            jira.adapter.write(item, values(score=n))
    assert caught.value.per_item and caught.value.retry_after is not None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(jira: JiraDriver, status: int) -> None:
    key = jira.create_ticket("Flaky")
    jira.sandbox.inject(path_regex="/issue/", status=status)
    with pytest.raises(TransientError) as caught:
        jira.adapter.fetch(key)
    assert caught.value.status == status and caught.value.retryable


def test_a_missing_issue_is_not_found_with_jiras_text(jira: JiraDriver) -> None:
    with pytest.raises(NotFound) as caught:
        jira.adapter.fetch("ITSM-999")
    assert "Issue does not exist" in str(caught.value) or "not" in caught.value.message.lower()
    assert caught.value.status == 404 and not caught.value.retryable


def test_a_bad_value_keeps_jiras_field_errors(jira: JiraDriver) -> None:
    key = jira.create_ticket("Bad value")
    with pytest.raises(PlatformError) as caught:
        jira.adapter.client.put(f"rest/api/2/issue/{key}", {"fields": {jira.ids.score: "seventy"}})
    assert jira.ids.score in caught.value.message
    assert caught.value.status == 400


def test_unreachable_jira_is_transient(jira_sandbox) -> None:
    settings = jira_settings(jira_sandbox, url="http://127.0.0.1:9")
    adapter = JiraAdapter(settings, MemoryStore())
    with pytest.raises(TransientError, match="http://127.0.0.1:9 refused the connection") as refused:
        adapter.fetch("ITSM-1")
    assert refused.value.unreachable == "refused" and "check jira.url" in refused.value.message.lower()


def test_retry_after_as_http_date() -> None:
    """The one narrow path the sandbox does not produce: Retry-After as an HTTP date."""
    with responses.RequestsMock() as mock:
        mock.get("https://jira.example/rest/api/2/issue/X-1", status=429,
                 headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT", "RateLimit-Reason": "jira-quota-tenant-based"},
                 json={"errorMessages": ["Too many requests"], "errors": {}})
        response = requests.get("https://jira.example/rest/api/2/issue/X-1")
    error = error_from_response(response)
    assert isinstance(error, RateLimited) and not error.per_item
    assert error.retry_after > 3600 and "Too many requests" in str(error)


def test_wrong_credentials_say_what_to_check_and_never_show_the_token(jira_sandbox, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token = "wrong-token-d41d8cd98f00b204"
    adapter = JiraAdapter(jira_settings(jira_sandbox, api_token=token), MemoryStore())
    with pytest.raises(ConfigurationError) as caught:
        adapter.fetch("ITSM-1")
    assert caught.value.status == 401
    assert "jira.api_token" in str(caught.value)
    assert token not in str(caught.value) and token not in repr(caught.value.body)
    assert token not in caplog.text
    assert token not in repr(adapter.settings)


def test_secrets_never_reach_the_logs(jira_sandbox, webhook_receiver, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings = jira_settings(jira_sandbox)
    adapter = JiraAdapter(settings, MemoryStore(), public_url=webhook_receiver.url)
    adapter.setup(OBJECTIVES)
    key = jira_sandbox.create_issue("ITSM", "Logged session")
    adapter.write(adapter.fetch(key), values())
    jira_sandbox.inject(path_regex="/issue/", status=503)
    with pytest.raises(TransientError) as caught:
        adapter.fetch(key)
    logged = caplog.text + str(caught.value)
    assert "rest/webhooks/1.0/webhook" in logged or "customfield" in logged  # debug logging was on
    for secret in (settings.api_token.get_secret_value(), WEBHOOK_SECRET):
        assert secret not in logged
    assert jira_sandbox.webhooks()[0]["secret"] == WEBHOOK_SECRET  # it did reach Jira
