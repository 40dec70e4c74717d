"""A platform that cannot be reached is named with the URL and the likely fix:
refused, no such host, TLS and no answer each get their own message, and the
CLI's retry policy gives up at once on the first two."""
from __future__ import annotations

import socket

import pytest
import requests

from itsm_align.integration.base import ConfigurationError, TransientError
from itsm_align.integration.jira.adapter import JiraAdapter
from itsm_align.integration.base import MemoryStore
from itsm_align.integration.jira.settings import JiraSettings
from itsm_align.integration.reach import connection_error
from itsm_align.integration.retry import call_with_retry
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.settings import ServiceNowSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_is_said_at_once_not_retried_for_half_a_minute() -> None:
    adapter = JiraAdapter(JiraSettings(url=f"http://127.0.0.1:{closed_port()}", email="a@example.com",
                                       api_token="t"), MemoryStore())
    waits: list[float] = []
    with pytest.raises(TransientError) as refused:
        call_with_retry(lambda: adapter.fetch("SHOP-1"), sleep=waits.append)
    assert waits == []  # not retried
    assert refused.value.unreachable == "refused" and "nothing listens on 127.0.0.1" in refused.value.message


def test_no_answer_is_a_timeout_naming_the_setting_to_raise() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        adapter = JiraAdapter(JiraSettings(url=f"http://127.0.0.1:{port}", email="a@example.com", api_token="t",
                                           timeout=0.5), MemoryStore())
        with pytest.raises(TransientError) as slow:
            adapter.fetch("SHOP-1")
    assert slow.value.unreachable == "timeout"
    assert f"no answer from http://127.0.0.1:{port} within" in slow.value.message and "jira.timeout" in slow.value.message


def test_an_untrusted_certificate_is_a_configuration_error_naming_ca_bundle(servicenow_sandbox) -> None:
    adapter = ServiceNowAdapter(ServiceNowSettings(instance=servicenow_sandbox.url, user="u", password="p"),
                                MemoryStore())  # no ca_bundle: the sandbox's private CA is not trusted
    with pytest.raises(ConfigurationError) as tls:
        adapter.fetch("incident:" + "1" * 32)
    assert tls.value.unreachable == "tls" and not tls.value.retryable
    assert "servicenow.ca_bundle" in tls.value.message and servicenow_sandbox.url in tls.value.message


def test_a_host_that_does_not_resolve_names_the_host_and_the_setting() -> None:
    """Built from the exception requests raises (a real lookup would need DNS)."""
    cause = socket.gaierror(-2, "Name or service not known")
    error = requests.exceptions.ConnectionError(cause)
    made = connection_error("jira", "https://acme.atlasian.net", error)
    assert made.unreachable == "dns" and made.retryable
    assert made.message.startswith("acme.atlasian.net does not resolve: check jira.url")
