"""Errors keep ServiceNow's message; 429 with and without Retry-After; 5xx and
connection errors are retryable; the pinned CA wins over REQUESTS_CA_BUNDLE;
secrets never reach logs or error messages."""
from __future__ import annotations
from tests.support.clock import FakeClock

import base64
import logging
import socket

import certifi
import pytest

from itsm_align.integration.base import (
    ConfigurationError, PlatformError, RateLimited, TransientError,
)
from itsm_align.integration.retry import call_with_retry
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.scoring.types import Nature, OutputValues


def incident(sandbox) -> str:
    return sandbox.insert("incident", {"short_description": "Disk full"})["sys_id"]


def test_429_with_retry_after(servicenow_sandbox, ready):
    sys_id = incident(servicenow_sandbox)
    servicenow_sandbox.inject(path_regex="/incident/", method="GET", status=429, retry_after=7)
    with pytest.raises(RateLimited) as info:
        ready.fetch(f"incident:{sys_id}")
    error = info.value
    assert error.retry_after == 7.0 and error.retryable and error.status == 429
    assert "Rate limit exceeded" in error.message


def test_429_without_retry_after_from_a_full_node_queue(servicenow_sandbox, ready):
    sys_id = incident(servicenow_sandbox)
    item = ready.fetch(f"incident:{sys_id}")
    servicenow_sandbox.inject(path_regex="/incident/", method="PATCH", status=429)
    with pytest.raises(RateLimited) as info:
        ready.write(item, OutputValues(score=50))
    assert info.value.retry_after is None
    assert "queue" in info.value.message
    assert servicenow_sandbox.record("incident", sys_id)["u_alignment_score"] == ""


def test_write_retried_by_the_policy_honours_retry_after(servicenow_sandbox, ready):
    sys_id = incident(servicenow_sandbox)
    item = ready.fetch(f"incident:{sys_id}")
    servicenow_sandbox.inject(path_regex="/incident/", method="PATCH", status=429, retry_after=3)
    servicenow_sandbox.inject(path_regex="/incident/", method="PATCH", status=503)
    clock = FakeClock()
    ready.gate.clock = clock.time  # the gate's Retry-After window passes as the policy "sleeps"
    result = call_with_retry(lambda: ready.write(item, OutputValues(score=50)), sleep=clock.sleep)
    waits = clock.waits
    assert result.changed == ("u_alignment_score",)
    assert len(waits) == 2 and waits[0] >= 3.0
    assert servicenow_sandbox.record("incident", sys_id)["u_alignment_score"] == "50"


@pytest.mark.parametrize("status, kind", [(500, TransientError), (503, TransientError),
                                          (403, ConfigurationError), (400, ConfigurationError)])
def test_error_message_is_preserved(servicenow_sandbox, ready, status, kind):
    sys_id = incident(servicenow_sandbox)
    item = ready.fetch(f"incident:{sys_id}")
    servicenow_sandbox.inject(path_regex="/incident/", method="PATCH", status=status,
                              message=f"Instance says no ({status})")
    with pytest.raises(kind) as info:
        ready.write(item, OutputValues(score=50, nature=Nature.PROACTIVE))
    error = info.value
    assert isinstance(error, PlatformError) and error.status == status
    assert f"Instance says no ({status})" in error.message
    assert "Injected fault" in error.message  # error.detail kept too
    assert error.method == "PATCH" and "/incident/" in (error.url or "")


def test_unknown_choice_value_keeps_the_platform_text(servicenow_sandbox, ready):
    sys_id = incident(servicenow_sandbox)
    with pytest.raises(ConfigurationError) as info:
        ready.write(ready.fetch(f"incident:{sys_id}"), OutputValues(objective="no_such_objective"))
    assert "no_such_objective" in str(info.value) or "choice" in str(info.value).lower()


def test_bad_password_is_a_configuration_error(servicenow_sandbox, make_settings):
    adapter = ServiceNowAdapter(make_settings(password="wrong-password"))
    with pytest.raises(ConfigurationError) as info:
        adapter.fetch("incident:" + "1" * 32)
    assert info.value.status == 401 and "servicenow.user/password" in str(info.value)


def test_unreachable_instance_is_transient(make_settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    adapter = ServiceNowAdapter(make_settings(instance=f"https://127.0.0.1:{port}", timeout=5))
    with pytest.raises(TransientError) as info:
        adapter.fetch("incident:" + "1" * 32)
    assert info.value.retryable and info.value.unreachable == "refused"
    assert f"https://127.0.0.1:{port} refused the connection" in info.value.message
    assert "servicenow.instance" in info.value.message


def test_ca_bundle_from_config_beats_requests_ca_bundle(servicenow_sandbox, adapter, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # unrelated public CAs
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    sys_id = incident(servicenow_sandbox)
    assert adapter.fetch(f"incident:{sys_id}").id == sys_id


def test_environment_cannot_add_trust_either(servicenow_sandbox, make_settings, monkeypatch):
    # no ca_bundle configured: only the system CAs count, even if the env names the sandbox CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", servicenow_sandbox.ca_pem_path)
    adapter = ServiceNowAdapter(make_settings(ca_bundle=None))
    with pytest.raises(ConfigurationError) as info:
        adapter.fetch("incident:" + "1" * 32)
    assert "ca_bundle" in info.value.message and not info.value.retryable


def test_secrets_never_logged_or_in_errors(servicenow_sandbox, make_settings, objectives, caplog):
    caplog.set_level(logging.DEBUG)
    password = servicenow_sandbox.integration_password
    good = ServiceNowAdapter(make_settings(webhook_secret="very-secret-hook-key"))
    bad = ServiceNowAdapter(make_settings(password="wrong-but-secret-pw"))
    messages: list[str] = [repr(good.settings), str(good.settings)]
    good.setup(objectives)
    sys_id = incident(servicenow_sandbox)
    item = good.fetch(f"incident:{sys_id}")
    servicenow_sandbox.inject(path_regex="/incident/", method="PATCH", status=429, retry_after=1)
    clock = FakeClock()
    good.gate.clock = clock.time
    call_with_retry(lambda: good.write(item, OutputValues(score=1)), sleep=clock.sleep)
    for adapter in (bad, good):
        servicenow_sandbox.inject(path_regex="/incident/", status=500)
        try:
            adapter.fetch(f"incident:{sys_id}")
        except PlatformError as exc:
            messages += [str(exc), repr(exc), repr(exc.body)]
    text = caplog.text + "\n".join(messages)
    assert "retrying" in caplog.text  # the retry was logged...
    basic = base64.b64encode(f"{servicenow_sandbox.integration_user}:{password}".encode()).decode()
    for secret in (password, "wrong-but-secret-pw", "very-secret-hook-key", basic):
        assert secret not in text  # ...but no secret, anywhere
