"""backfill pages by sys_id (resumable), write_many goes through the Batch API
(unserviced items resent, per-item failures reported), and the request budget."""
from __future__ import annotations


import pytest

from itsm_align.integration.base import MemoryStore
from itsm_align.scoring.types import Assessment, Nature, OutputValues, SetBy, WorkItem
from itsm_align.integration.backfill import resume_key, run_backfill

from .conftest import writes


def assess(item: WorkItem) -> Assessment:
    """A stand-in for the engine: deterministic values from the record."""
    revenue = "Checkout" in item.summary or "portal" in item.summary
    return Assessment(item_key=item.key, platform="servicenow",
                      objective="grow_revenue" if revenue else "unaligned",
                      score=80 if revenue else 10, nature=Nature.REACTIVE,
                      rationale="customer-facing" if revenue else "no rule matched")


def test_pages_cover_every_record_once_with_resume_tokens(servicenow_sandbox, ready):
    ids = servicenow_sandbox.seed("incident", 230)
    mark = len(servicenow_sandbox.http_requests)
    pages = list(ready.backfill("active=true", page_size=100, table="incident"))
    assert [len(items) for items, _ in pages] == [100, 100, 30]
    assert pages[-1][1] is None and all(token for _, token in pages[:-1])
    seen = [item.id for items, _ in pages for item in items]
    assert sorted(seen) == sorted(ids)
    assert len(servicenow_sandbox.http_requests) - mark == 3  # nothing set yet: no audit look-ups
    # resuming after the first page yields exactly the rest
    rest = [item.id for items, _ in ready.backfill("active=true", resume=pages[0][1], page_size=100,
                                                   table="incident") for item in items]
    assert rest == seen[100:]


def test_keyset_paging_is_stable_while_records_leave_the_query(servicenow_sandbox, ready):
    servicenow_sandbox.seed("incident", 120)
    seen: list[str] = []
    for items, _ in ready.backfill("u_business_objectiveISEMPTY", page_size=50, table="incident"):
        seen += [i.id for i in items]
        ready.write_many([(i, OutputValues(objective="unaligned")) for i in items])
    assert len(seen) == len(set(seen)) == 120


def test_write_many_uses_the_batch_api_and_resends_unserviced(servicenow_sandbox, ready):
    ids = servicenow_sandbox.seed("incident", 120)
    items = [i for page, _ in ready.backfill(page_size=200, table="incident") for i in page]
    servicenow_sandbox.batch_max_items = 45  # the instance services 45 per batch request
    mark = len(servicenow_sandbox.http_requests)
    results = ready.write_many([(i, assess(i).output()) for i in items])
    sent = writes(servicenow_sandbox, since=mark)
    assert {r.path for r in sent} == {"/api/now/v1/batch"}
    assert len(sent) == 3  # 120 items: 45 + 45 + 30 serviced, unserviced ones resent
    assert all(r.changed and r.error is None for r in results)
    assert sum(r.requests for r in results) == 3
    assert ready.last_failures == []
    stored = servicenow_sandbox.record("incident", ids[0])
    assert stored["u_alignment_score"] in ("80", "10") and stored["u_work_nature"] == "reactive"
    # unchanged items cost nothing
    fresh = [i for page, _ in ready.backfill(page_size=200, table="incident") for i in page]
    mark = len(servicenow_sandbox.http_requests)
    results = ready.write_many([(i, assess(i).output()) for i in fresh])
    assert writes(servicenow_sandbox, since=mark) == [] and all(r.changed == () for r in results)


def test_per_item_failures_are_reported(servicenow_sandbox, ready):
    ids = servicenow_sandbox.seed("incident", 10)
    items = [i for page, _ in ready.backfill(page_size=100, table="incident") for i in page]
    victim = items[3]
    servicenow_sandbox.inject(path_regex=f"/incident/{victim.id}", method="PATCH", status=500,
                              message="Transaction cancelled")
    results = ready.write_many([(i, OutputValues(score=55)) for i in items])
    failed = [r for r in results if r.error]
    assert [r.key for r in failed] == [victim.key]
    assert "Transaction cancelled" in failed[0].error
    [(key, error)] = ready.last_failures
    assert key == victim.key and error.retryable and error.status == 500
    assert sum(1 for r in results if r.changed) == 9
    assert servicenow_sandbox.record("incident", victim.id)["u_alignment_score"] == ""
    assert len(ids) == 10


def test_backfill_reads_who_set_the_objective_with_one_audit_query_per_page(servicenow_sandbox, ready):
    ids = servicenow_sandbox.seed("incident", 6)
    items = [i for page, _ in ready.backfill(page_size=100, table="incident") for i in page]
    ready.write_many([(i, OutputValues(objective="grow_revenue")) for i in items])
    servicenow_sandbox.update_as("admin", "incident", ids[2], {"u_business_objective": "compliance"})
    mark = len(servicenow_sandbox.http_requests)
    [(page, _)] = list(ready.backfill(page_size=100, table="incident"))
    assert len(servicenow_sandbox.http_requests) - mark == 2  # the page + one sys_audit query
    by_id = {i.id: i.current.objective_set_by for i in page}
    assert by_id[ids[2]] is SetBy.PERSON
    assert {v for k, v in by_id.items() if k != ids[2]} == {SetBy.INTEGRATION}


def engine_like(item: WorkItem, related=None) -> Assessment:  # type: ignore[no-untyped-def]
    """The driver's ``assess(item, related)`` over this module's stand-in."""
    return assess(item)


INCIDENTS = {"table": "incident"}


def test_run_backfill_is_resumable_and_counts_requests(servicenow_sandbox, ready):
    servicenow_sandbox.seed("incident", 250)
    state = MemoryStore()
    calls = {"n": 0}

    def flaky(item: WorkItem, related=None) -> Assessment:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 150:  # the run dies in the middle of page 2
            raise KeyboardInterrupt
        return assess(item)

    with pytest.raises(KeyboardInterrupt):
        run_backfill(ready, flaky, query="", extra=INCIDENTS, state=state, page_size=100, flush_size=100)
    assert state.get(resume_key("servicenow", "", INCIDENTS))  # page 1 recorded
    report = run_backfill(ready, engine_like, query="", extra=INCIDENTS, state=state, page_size=100)
    assert report.resumed_from is not None and report.finished
    assert report.items == 150  # only what was left
    assert report.changed == 150 and report.failed == []
    assert all(r["u_alignment_score"] for r in servicenow_sandbox.query("incident"))
    again = run_backfill(ready, engine_like, query="", extra=INCIDENTS, state=state, page_size=100)
    assert again.resumed_from is None and again.items == 250 and again.changed == 0


def test_dry_run_proposes_changes_and_writes_nothing(servicenow_sandbox, ready):
    servicenow_sandbox.seed("incident", 20)
    state = MemoryStore()
    mark = len(servicenow_sandbox.http_requests)
    report = run_backfill(ready, engine_like, query="", extra=INCIDENTS, state=state, dry_run=True)
    assert writes(servicenow_sandbox, since=mark) == []
    assert report.changed == 20 and len(report.proposed) == 20 * 4
    assert {field for _, field, _, _ in report.proposed} == {
        "u_business_objective", "u_alignment_score", "u_alignment_rationale", "u_work_nature"}
    assert all(current == "" for _, _, current, _ in report.proposed)
    assert state.get(resume_key("servicenow", "", INCIDENTS)) is None  # a dry run does not move the resume point


def test_request_budget_at_most_one_per_50_records(servicenow_sandbox, make_settings, objectives):
    from itsm_align.integration.servicenow.adapter import ServiceNowAdapter

    adapter = ServiceNowAdapter(make_settings(page_size=1000, batch_size=500), state=MemoryStore())
    adapter.setup(objectives)
    servicenow_sandbox.seed("incident", 2500)
    mark = len(servicenow_sandbox.http_requests)
    report = run_backfill(adapter, engine_like, query="", extra=INCIDENTS, state=None)
    used = len(servicenow_sandbox.http_requests) - mark
    assert report.items == 2500 and report.changed == 2500
    assert report.requests == used
    assert used * 50 <= report.items, f"{used} requests for {report.items} records"
    print(f"\nback-fill of {report.items} records: {used} HTTP requests (naive GET+PATCH each: {2 * report.items})")
