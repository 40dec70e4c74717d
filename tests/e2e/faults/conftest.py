"""The fault suite's stacks: real ``serve``/``worker`` processes against the
ServiceNow sandbox, on SQLite or on PostgreSQL (with Redis wake-ups, 2
``serve`` and 3 ``worker`` processes: the scaled-out shape)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from .stack import FaultStack


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Where the stack keeps its inbox, and the process shape that goes with it:
    SQLite = the embedded default (1 ``serve``); PostgreSQL = scaled out (2
    ``serve`` behind a load balancer, 3 ``worker`` processes, Redis)."""
    if request.param == "sqlite":
        return {"name": "sqlite", "database_url": f"sqlite:///{tmp_path / 'service.sqlite3'}", "serves": 1,
                "workers": 1, "redis_url": None}
    return {"name": "postgresql", "database_url": request.getfixturevalue("postgres_url"), "serves": 2,
            "workers": 3, "redis_url": request.getfixturevalue("redis_server")}


@pytest.fixture
def fault_stack(tmp_path: Path) -> Iterator[Callable[..., FaultStack]]:
    """Start a :class:`FaultStack` (``make(database_url=..., ...)``); every process
    it started is stopped at teardown, whatever happened."""
    made: list[FaultStack] = []

    def make(**options: object) -> FaultStack:
        stack = FaultStack(tmp_path, **options)  # type: ignore[arg-type]
        made.append(stack)
        return stack.start()

    yield make
    for stack in made:
        stack.close()
