"""The ``driver`` fixture: the contract suite runs once per platform.

Each platform contributes ``tests/contract/<platform>_driver.py`` (see
driver.py); a platform whose driver module does not exist yet is skipped
with a reason instead of failing.
"""
from __future__ import annotations

import importlib
from typing import Iterator

import pytest

from .driver import Driver

#: "jira-datacenter": the Jira driver on the sandbox's Data Center mode
PLATFORMS = ("jira", "jira-datacenter", "servicenow")


@pytest.fixture(params=PLATFORMS)
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    platform = request.param.split("-")[0]
    try:
        module = importlib.import_module(f"tests.contract.{platform}_driver")
    except ModuleNotFoundError as error:
        if error.name != f"tests.contract.{platform}_driver":
            raise
        pytest.skip(f"no contract driver for {platform} yet (tests/contract/{platform}_driver.py)")
    yield from module.make_driver(request)
