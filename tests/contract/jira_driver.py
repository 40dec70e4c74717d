"""The Jira side of the contract suite: JiraAdapter against the Jira sandbox.

``JiraDriver`` is also what tests/integration/jira/ build on: a sandbox, the adapter set
up on it (fields, options, screen, admin webhook to a local receiver) and
person-side actions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from itsm_align.integration.base import MemoryStore
from itsm_align.integration.jira import JiraAdapter, JiraSettings
from itsm_align.sandbox.jira import Fault, JiraError, JiraSandbox
from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Nature, Objective, OutputValues
from tests.fixtures.jira_sandbox import jira_credentials

OBJECTIVES = (
    Objective("revenue", "Grow online revenue", 5, owner="CFO"),
    Objective("cost", "Cut IT cost", 3),
    Objective("risk", "Reduce operational risk", 4),
)
WEBHOOK_SECRET = "contract-webhook-secret-7f3a"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: POSTs that only read (search, changelog)
READ_POSTS = ("/search/jql", "/changelog/bulkfetch")


@dataclass(eq=False)
class _MessageFault(Fault):
    """An injected failure carrying our own error text (Jira's body shape)."""

    message: str = ""

    def error(self) -> JiraError | None:
        return JiraError(self.status or 500, [self.message])


def jira_settings(sandbox: JiraSandbox, **overrides: Any) -> JiraSettings:
    """Settings logging in as the integration account in the sandbox's mode (Cloud / Data Center)."""
    values: dict[str, Any] = dict(url=sandbox.url, webhook_secret=WEBHOOK_SECRET, jql="project = ITSM",
                                  **jira_credentials(sandbox))
    values.update(overrides)
    return JiraSettings(**values)


def is_write(method: str, path: str) -> bool:
    return method in WRITE_METHODS and not path.endswith(READ_POSTS)


class JiraDriver:
    def __init__(self, sandbox: JiraSandbox, receiver_url: str, *, objectives=OBJECTIVES,
                 fields_read: Any = None, **settings: Any) -> None:
        self.sandbox = sandbox
        self.objectives = tuple(objectives)
        self.settings = jira_settings(sandbox, **settings)
        self.state = MemoryStore()
        self.adapter = JiraAdapter(self.settings, self.state, objectives=self.objectives,
                                   fields_read=fields_read, public_url=receiver_url)
        self.steps = self.adapter.setup(self.objectives)
        self.ids = self.adapter.fields.output_ids()
        self.backfill_query = "project = ITSM ORDER BY key ASC"
        self.person = sandbox.add_user("Pat Person", "pat@example.com")

    # ---- acting as people --------------------------------------------------------
    def create_ticket(self, summary: str, description: str = "", **fields: Any) -> str:
        issuetype = fields.pop("issuetype", "Task")
        return self.sandbox.create_issue("ITSM", summary, description, issuetype=issuetype, fields=fields or None,
                                         as_user=self.person)

    def option_name(self, objective_id: str) -> str:
        if objective_id == UNALIGNED:
            return UNALIGNED_NAME
        return next(o.name for o in self.objectives if o.id == objective_id)

    def person_sets_objective(self, key: str, objective_id: str) -> None:
        self.sandbox.edit_issue_as(self.person, key, {self.ids.objective: {"value": self.option_name(objective_id)}})

    # ---- looking at the platform ---------------------------------------------------
    def last_event(self, key: str) -> tuple[dict[str, Any], dict[str, str]]:
        self.sandbox.wait_for_deliveries(1, timeout=10, predicate=lambda d: d.issue_key == key)
        found = [d for d in self.sandbox.deliveries if d.issue_key == key]
        return found[-1].payload, dict(found[-1].headers)

    def output_fields(self, key: str) -> OutputValues:
        fields = self.sandbox.issue(key, 2)["fields"]
        objective = (fields.get(self.ids.objective) or {}).get("value")
        by_name = {o.name: o.id for o in self.objectives} | {UNALIGNED_NAME: UNALIGNED}
        nature = (fields.get(self.ids.nature) or {}).get("value")
        score = fields.get(self.ids.score)
        return OutputValues(objective=by_name.get(objective, objective) if objective else None,
                            score=float(score) if score is not None else None,
                            rationale=fields.get(self.ids.rationale),
                            nature=Nature(nature.lower()) if nature else None)

    def write_requests(self) -> int:
        return sum(1 for r in self.sandbox.requests if is_write(r.method, r.path))

    def fail_next(self, status: int, message: str, count: int = 1) -> None:
        self.sandbox.faults.add(_MessageFault(status=status, count=count, message=message))


def make_driver(request: pytest.FixtureRequest) -> Iterator[JiraDriver]:
    """``jira``: Jira Cloud; ``jira-datacenter``: the same contract on Jira Data Center."""
    datacenter = str(getattr(request, "param", "jira")).endswith("datacenter")
    sandbox = request.getfixturevalue("_jira_dc_sandbox_server" if datacenter else "jira_sandbox")
    if datacenter:
        sandbox.reset()
    receiver = request.getfixturevalue("webhook_receiver")
    driver = JiraDriver(sandbox, receiver.url)
    try:
        yield driver
    finally:
        driver.adapter.close()
