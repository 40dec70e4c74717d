"""The ServiceNow side of the contract suite: ServiceNowAdapter against the
ServiceNow sandbox (PySNC over HTTPS with the sandbox CA pinned).

Keys: ``create_ticket`` returns the record number (what ``WorkItem.key``
holds); ``fetch`` accepts it as well as the ``<table>:<sys_id>`` key events carry.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from itsm_align.integration.base import MemoryStore
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.integration.servicenow.mapping import output_values
from itsm_align.integration.servicenow.settings import ServiceNowColumns, ServiceNowSettings
from itsm_align.scoring.types import Objective, OutputValues

OBJECTIVES = (
    Objective("revenue", "Grow online revenue", 5, owner="CFO"),
    Objective("cost", "Cut IT cost", 3),
    Objective("risk", "Reduce operational risk", 4),
)
WEBHOOK_SECRET = "contract-webhook-secret-5e1b"
PERSON = "pat.person"
TAG = "itsm-align-contract"


class ServiceNowDriver:
    def __init__(self, sandbox: Any, receiver_url: str) -> None:
        self.sandbox = sandbox
        self.objectives = OBJECTIVES
        self.settings = ServiceNowSettings(
            instance=sandbox.url, user=sandbox.integration_user, password=sandbox.integration_password,
            ca_bundle=sandbox.ca_pem_path, webhook_secret=WEBHOOK_SECRET)
        self.adapter = ServiceNowAdapter(self.settings, state=MemoryStore())
        self.adapter.setup(self.objectives)
        self.adapter.configure(objectives=self.objectives)
        sandbox.add_user(PERSON, name="Pat Person")
        sandbox.set_property("itsm_align.endpoint", receiver_url)
        sandbox.set_property("itsm_align.secret", WEBHOOK_SECRET)
        sandbox.set_property("itsm_align.integration_user", sandbox.integration_user)
        self.backfill_query = f"descriptionSTARTSWITH{TAG}"
        self._sys_ids: dict[str, str] = {}

    def create_ticket(self, summary: str, description: str = "", **fields: Any) -> str:
        values = {"short_description": summary, "description": f"{TAG} {description}".strip(), **fields}
        rec = self.sandbox.insert("incident", values, as_user=PERSON)
        self._sys_ids[rec["number"]] = rec["sys_id"]
        return rec["number"]

    def person_sets_objective(self, key: str, objective_id: str) -> None:
        self.sandbox.update_as(PERSON, "incident", self._sys_ids[key], {"u_business_objective": objective_id})

    def last_event(self, key: str) -> tuple[dict[str, Any], dict[str, str]]:
        sys_id = self._sys_ids[key]
        self.sandbox.wait_events_idle()
        mine = [e for e in self.sandbox.events if e.payload.get("sys_id") == sys_id]
        assert mine, f"no event was posted for {key}"
        return dict(mine[-1].payload), dict(mine[-1].headers)

    def output_fields(self, key: str) -> OutputValues:
        rec = self.sandbox.record("incident", self._sys_ids[key]) or {}
        return output_values({k: {"value": v} for k, v in rec.items()}, ServiceNowColumns())

    def write_requests(self) -> int:
        return sum(1 for r in self.sandbox.http_requests
                   if r.method != "GET" and r.user == self.sandbox.integration_user)

    def fail_next(self, status: int, message: str, count: int = 1) -> None:
        self.sandbox.inject(status=status, count=count, message=message)


def make_driver(request: pytest.FixtureRequest) -> Iterator[ServiceNowDriver]:
    sandbox = request.getfixturevalue("servicenow_sandbox")
    receiver = request.getfixturevalue("event_receiver")
    yield ServiceNowDriver(sandbox, receiver.url)
