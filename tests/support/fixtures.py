"""Where the public reference data the tests read lives: ``tests/fixtures/``
(captured Jira webhook deliveries, ServiceNow documentation examples, the Jira
OpenAPI spec; provenance and licences in ``tests/fixtures/README.md``).

The suite reads nothing outside the repository, so a public clone with nothing
beside it runs every test."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_path(*parts: str) -> Path:
    """A path inside ``tests/fixtures/``; fails with a clear message when it is missing."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test fixture {path} is missing: restore it from git (tests/fixtures/README.md "
                                "says where each file comes from)")
    return path
