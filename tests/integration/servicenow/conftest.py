"""Fixtures for the ServiceNow adapter tests: settings pointing at the sandbox
(pinned CA, integration user), an adapter, and one with set-up done."""
from __future__ import annotations

from typing import Callable

import pytest

from itsm_align.integration.base import MemoryStore
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.settings import ServiceNowSettings
from itsm_align.scoring.types import Objective

OBJECTIVES = (
    Objective("grow_revenue", "Grow online revenue", 5),
    Objective("cut_cost", "Cut run cost", 3),
    Objective("compliance", "Stay compliant", 4),
)


@pytest.fixture
def objectives() -> tuple[Objective, ...]:
    return OBJECTIVES


@pytest.fixture
def make_settings(servicenow_sandbox) -> Callable[..., ServiceNowSettings]:
    def make(**overrides: object) -> ServiceNowSettings:
        values: dict[str, object] = dict(
            instance=servicenow_sandbox.url, user=servicenow_sandbox.integration_user,
            password=servicenow_sandbox.integration_password, ca_bundle=servicenow_sandbox.ca_pem_path,
            webhook_secret="hook-secret-value")
        values.update(overrides)
        return ServiceNowSettings(**values)
    return make


@pytest.fixture
def settings(make_settings) -> ServiceNowSettings:
    return make_settings()


@pytest.fixture
def adapter(settings) -> ServiceNowAdapter:
    return ServiceNowAdapter(settings, state=MemoryStore())


@pytest.fixture
def ready(adapter, objectives) -> ServiceNowAdapter:
    """An adapter whose instance has our columns and choices."""
    adapter.setup(objectives)
    adapter.configure(objectives=objectives)
    return adapter


def writes(sandbox, *, since: int = 0) -> list:
    """Write requests that crossed the wire after index ``since`` of the log."""
    return [r for r in sandbox.http_requests[since:] if r.method != "GET"]
