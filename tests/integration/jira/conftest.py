"""Fixtures for the Jira adapter tests: everything over real sockets against the sandbox."""
from __future__ import annotations

from typing import Iterator

import pytest

from itsm_align.sandbox.jira import JiraSandbox
from tests.contract.jira_driver import JiraDriver


@pytest.fixture
def jira(jira_sandbox, webhook_receiver) -> Iterator[JiraDriver]:
    """The sandbox with our fields set up (adapter ``jira.adapter``), a person
    ``jira.person`` and the admin webhook pointing at ``webhook_receiver``."""
    driver = JiraDriver(jira_sandbox, webhook_receiver.url)
    yield driver
    driver.adapter.close()


@pytest.fixture
def jira_any(jira_site, webhook_receiver) -> Iterator[JiraDriver]:
    """Like ``jira``, once on Jira Cloud and once on Jira Data Center."""
    driver = JiraDriver(jira_site, webhook_receiver.url)
    yield driver
    driver.adapter.close()


@pytest.fixture(scope="module")
def _dc_server() -> Iterator[JiraSandbox]:
    sandbox = JiraSandbox(deployment="datacenter").start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def jira_sandbox_dc(_dc_server: JiraSandbox) -> Iterator[JiraSandbox]:
    """A Jira Data Center sandbox (PAT auth, /rest/api/2/search with startAt), fresh per test."""
    _dc_server.reset()
    yield _dc_server
