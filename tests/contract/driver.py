"""What the contract suite needs from a platform: one driver per platform.

A driver owns a running sandbox and an adapter connected to it, and can act
on the platform "as a person" and inspect it, so tests/contract/ can state
one behaviour for every adapter (issue 4: "One contract, two platforms").

Each platform provides ``tests/contract/<platform>_driver.py`` with a
generator function ``make_driver(request: pytest.FixtureRequest) ->
Iterator[Driver]`` (use ``request.getfixturevalue`` for the sandbox fixture;
clean up after the ``yield``). The adapter must already be set up
(fields/choices created) and configured with ``objectives``.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from itsm_align.integration.base import PlatformAdapter
from itsm_align.scoring.types import Objective, OutputValues


@runtime_checkable
class Driver(Protocol):
    #: the adapter under test, connected to the sandbox, set up and configured
    adapter: PlatformAdapter
    #: at least two objectives; the adapter knows them
    objectives: Sequence[Objective]
    #: a query for ``adapter.backfill`` that finds exactly the tickets this
    #: driver created (JQL / encoded query)
    backfill_query: str

    def create_ticket(self, summary: str, description: str = "", **fields: Any) -> str:
        """Create a ticket as a person; return the key the adapter uses (``fetch``)."""

    def person_sets_objective(self, key: str, objective_id: str) -> None:
        """A person (not the integration account) sets the objective field."""

    def last_event(self, key: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The latest webhook/event delivery about ``key``: (payload, headers)."""

    def output_fields(self, key: str) -> OutputValues:
        """What the platform holds in our four fields now (objective as an
        objective id or UNALIGNED; ``objective_set_by`` is not compared)."""

    def write_requests(self) -> int:
        """How many write requests (POST/PUT/PATCH/DELETE) the adapter has sent so far."""

    def fail_next(self, status: int, message: str, count: int = 1) -> None:
        """The next ``count`` requests from the adapter get ``status`` with
        ``message`` as the platform's own error text."""
