"""Every request the adapter sends in a representative session fits Jira's OpenAPI spec."""
from __future__ import annotations

from itsm_align.scoring.types import Nature, OutputValues, SetBy
from tests.contract.jira_driver import JiraDriver
from tests.support.openapi import validate_recorded


def test_every_request_of_a_session_fits_the_spec(jira: JiraDriver) -> None:
    adapter = jira.adapter
    keys = [jira.create_ticket(f"Spec check {n}", "plain words") for n in range(6)]
    item = adapter.fetch(keys[0])
    adapter.write(item, OutputValues("revenue", 72, "Grow online revenue (72): spec", Nature.PROACTIVE,
                                     SetBy.INTEGRATION))
    jira.person_sets_objective(keys[1], "cost")
    adapter.fetch(keys[1])  # objective set: reads who set it
    pages = list(adapter.backfill("project = ITSM ORDER BY key ASC", page_size=2))
    items = [i for page, _ in pages for i in page]
    adapter.write_many([(i, OutputValues("risk", 40, "Reduce operational risk (40): spec", Nature.REACTIVE,
                                         SetBy.INTEGRATION)) for i in items])
    adapter.write_project_rollup("ITSM", {"score": 55.5, "items": 3, "share": {"revenue": 0.5}})
    adapter.setup(jira.objectives)  # second set-up: reads only

    checked = 0
    for entry in jira.sandbox.requests:
        if entry.path.startswith("/rest/webhooks/1.0/"):
            continue  # the admin webhook API is not part of the platform spec
        validate_recorded(entry)
        checked += 1
    methods = {(e.method, e.path.split("/")[4] if e.path.count("/") > 3 else e.path) for e in jira.sandbox.requests}
    assert checked >= 20
    assert ("POST", "bulk") in methods and ("POST", "search") in methods and ("PUT", "issue") in methods
