"""Back-fill: paged search with only the fields rules read, grouped bulk edits, resume."""
from __future__ import annotations

from typing import Callable

import pytest

from itsm_align.integration.base import MemoryStore, TransientError
from itsm_align.integration.jira import JiraAdapter, JiraSettings
from itsm_align.integration.backfill import resume_key, run_backfill
from itsm_align.scoring.types import Assessment, Nature, OutputValues, SetBy, WorkItem
from tests.support.clock import FakeClock
from tests.contract.jira_driver import OBJECTIVES, WEBHOOK_SECRET, JiraDriver, is_write

THEMES = (("checkout payment", "revenue", 90, Nature.PROACTIVE),
          ("server outage", "risk", 64, Nature.REACTIVE),
          ("licence renewal", "cost", 48, Nature.PROACTIVE),
          ("coffee machine", "unaligned", 0, Nature.REACTIVE))


def summary(n: int) -> str:
    return f"{THEMES[n % len(THEMES)][0]} #{n}"


def assess(item: WorkItem, related: Callable[[str], Assessment | None]) -> Assessment:
    """A stand-in for the engine: same theme, same assessment (like rules do)."""
    theme = next(t for t in THEMES if item.summary.startswith(t[0]))
    objective, score, nature = theme[1], theme[2], theme[3]
    rationale = f"{objective} ({score}): summary mentions '{theme[0]}'"
    if item.current.objective_set_by == SetBy.PERSON and item.current.objective:
        return Assessment(item.key, "jira", item.current.objective, 100, nature, "set by a person", overridden=True)
    return Assessment(item.key, "jira", objective, score, nature, rationale)


def no_sleep(seconds: float) -> None:
    """Retries in tests do not wait (the policy itself is tested in integration.retry)."""


@pytest.fixture
def seeded(jira: JiraDriver) -> tuple[JiraDriver, list[str]]:
    keys = jira.sandbox.seed(projects=("SEED",), issues=2500, summary=summary)
    jira.adapter.configure(fields_read={"summary", "type"})
    jira.adapter._sleep = no_sleep
    jira.sandbox.clear_requests()
    return jira, keys


def test_2500_issues_cost_at_most_one_request_per_50(seeded) -> None:
    jira, keys = seeded
    state = MemoryStore()
    report = run_backfill(jira.adapter, assess, query="project = SEED ORDER BY key ASC", state=state)
    assert report.items == 2500 and report.changed == 2500 and not report.failed
    assert report.requests == len(jira.sandbox.requests)
    # Task polls depend on how fast the sandbox finishes each bulk task (machine load), so the
    # request budget is stated without them; benchmarks/jira_backfill.py measures the total.
    polls = [r for r in jira.sandbox.requests if r.method == "GET" and "/bulk/queue/" in r.path]
    assert report.requests - len(polls) <= 2500 / 50 - 4, report.requests
    assert 4 <= len(polls)  # at least one per bulk edit
    searches = [r for r in jira.sandbox.requests if r.path == "/rest/api/3/search/jql"]
    assert len(searches) == 25  # Jira gives at most 100 issues per page when fields are asked for
    assert all(set(r.json["fields"]) >= {"summary", "issuetype", *jira.ids.all()} for r in searches)
    assert all("description" not in r.json["fields"] for r in searches)  # only what rules read
    bulk = [r for r in jira.sandbox.requests if r.path == "/rest/api/3/bulk/issues/fields"]
    assert all(len(r.json["selectedIssueIdsOrKeys"]) <= 1000 for r in bulk)
    assert all(r.json["sendBulkNotification"] is False for r in bulk)
    assert len(bulk) == 4  # one per distinct assessment (625 issues each)
    for n in (0, 1, 2, 3, 2499):
        item = jira.adapter.fetch(keys[n])
        objective, score, nature = THEMES[n % 4][1:]
        assert (item.current.objective, item.current.score, item.current.nature) == (objective, score, nature)
        assert item.current.rationale.startswith(f"{objective} ({score})")
        assert item.current.objective_set_by == SetBy.INTEGRATION
    assert state.get(resume_key("jira", "project = SEED ORDER BY key ASC")) == ""  # finished: next run starts afresh

    # a second back-fill finds everything in place: it reads, and writes nothing
    jira.sandbox.clear_requests()
    again = run_backfill(jira.adapter, assess, query="project = SEED ORDER BY key ASC", state=state)
    assert again.items == 2500 and again.changed == 0 and again.unchanged == 2500
    assert [r for r in jira.sandbox.requests if is_write(r.method, r.path)] == []


def test_an_interrupted_backfill_resumes_where_it_stopped(seeded) -> None:
    jira, keys = seeded
    state = MemoryStore()
    query = "project = SEED ORDER BY key ASC"
    # a passing 503 is retried; then the 6th search page keeps failing and the run stops
    jira.sandbox.inject(path_regex="/search/jql", status=503)
    first_pages: list[int] = []

    def stop_at_page_six(report, _n: int) -> None:
        first_pages.append(report.items)
        if report.pages == 5:
            jira.sandbox.inject(path_regex="/search/jql", status=503, count=100)

    with pytest.raises(TransientError):
        run_backfill(jira.adapter, assess, query=query, state=state, flush_size=100, on_page=stop_at_page_six,
                     sleep=no_sleep)
    assert first_pages[-1] == 500
    token = state.get(resume_key("jira", query))
    assert token  # saved after the last page whose writes went out
    written = {r.json["selectedIssueIdsOrKeys"][0] for r in jira.sandbox.requests
               if r.path.endswith("/bulk/issues/fields")}
    assert written

    jira.sandbox.faults.clear()
    jira.sandbox.clear_requests()
    second = run_backfill(jira.adapter, assess, query=query, state=state, flush_size=100)
    assert second.resumed_from == token
    assert second.items == 2000 and second.changed == 2000
    assert state.get(resume_key("jira", query)) == ""
    for n in (0, 499, 500, 2499):
        assert jira.adapter.fetch(keys[n]).current.objective == THEMES[n % 4][1]


def test_dry_run_proposes_changes_and_writes_nothing(jira_any: JiraDriver) -> None:
    jira = jira_any  # Jira Cloud, then Data Center
    keys = [jira.create_ticket(summary(n)) for n in range(4)]
    jira.adapter.write(jira.adapter.fetch(keys[0]), assess(jira.adapter.fetch(keys[0]), lambda k: None).output())
    jira.sandbox.clear_requests()
    state = MemoryStore()
    report = run_backfill(jira.adapter, assess, query="project = ITSM ORDER BY key ASC", state=state, dry_run=True)
    assert [r for r in jira.sandbox.requests if is_write(r.method, r.path)] == []
    assert state.get(resume_key("jira", "project = ITSM ORDER BY key ASC")) is None
    assert report.changed == 3 and report.unchanged == 1
    rows = {(key, field): (cur, new) for key, field, cur, new in report.proposed}
    assert rows[(keys[1], "Business Objective")] == ("", "Reduce operational risk")
    assert rows[(keys[1], "Alignment Score")] == ("", "64")
    assert rows[(keys[3], "Business Objective")] == ("", "Unaligned")
    assert rows[(keys[2], "Work Nature")] == ("", "Proactive")
    assert not any(key == keys[0] for key, *_ in report.proposed)


def test_backfill_keeps_a_persons_objective(jira_any: JiraDriver) -> None:
    jira = jira_any  # Jira Cloud, then Data Center
    keys = [jira.create_ticket(summary(n)) for n in range(3)]
    jira.person_sets_objective(keys[0], "cost")
    report = run_backfill(jira.adapter, assess, query="project = ITSM ORDER BY key ASC", state=MemoryStore())
    assert report.changed == 3
    item = jira.adapter.fetch(keys[0])
    assert item.current.objective == "cost" and item.current.objective_set_by == SetBy.PERSON
    assert item.current.score == 100.0


def test_bulk_reports_issues_jira_could_not_edit(jira: JiraDriver) -> None:
    keys = [jira.create_ticket(summary(0)) for _ in range(3)]
    items = [jira.adapter.fetch(k) for k in keys]
    ghost = WorkItem(platform="jira", key="ITSM-404", id="99999")
    values = OutputValues("revenue", 90, "Grow online revenue (90)", Nature.PROACTIVE, SetBy.INTEGRATION)
    results = jira.adapter.write_many([(i, values) for i in items] + [(ghost, values)])
    assert [r.key for r in results] == keys + ["ITSM-404"]
    assert all(r.error is None and r.changed for r in results[:3])
    assert results[3].error and results[3].changed == ()
    assert sum(r.requests for r in results) >= 2  # submit + at least one poll


def test_bulk_waits_for_running_tasks(jira: JiraDriver) -> None:
    keys = [jira.create_ticket(summary(1)) for _ in range(3)]
    items = [jira.adapter.fetch(k) for k in keys]
    jira.sandbox.hold_bulk()
    seen: list[float] = []

    def sleep(seconds: float) -> None:
        seen.append(seconds)
        if len(seen) == 3:
            jira.sandbox.release_bulk()

    jira.adapter._sleep = sleep
    results = jira.adapter.write_many([(i, assess(i, lambda k: None).output()) for i in items])
    assert all(r.error is None and len(r.changed) == 4 for r in results)
    assert len(seen) >= 3 and seen == sorted(seen)  # polled with a growing wait
    assert jira.adapter.fetch(keys[2]).current.objective == "risk"


def test_a_group_of_one_or_two_is_written_with_puts(jira: JiraDriver) -> None:
    """A bulk edit costs a submit and a poll: for one or two issues a PUT each is cheaper."""
    keys = [jira.create_ticket(summary(n)) for n in (0, 1, 5)]
    items = [jira.adapter.fetch(k) for k in keys]
    jira.sandbox.clear_requests()
    results = jira.adapter.write_many([(i, assess(i, lambda k: None).output()) for i in items])
    assert [len(r.changed) for r in results] == [4, 4, 4]
    assert sum(r.requests for r in results) == 3
    assert [r.method for r in jira.sandbox.requests if is_write(r.method, r.path)] == ["PUT"] * 3


def test_datacenter_uses_search_with_start_at_and_per_issue_writes(jira_sandbox_dc) -> None:
    sandbox = jira_sandbox_dc
    for name, kind, options in (("Business Objective", "select", [o.name for o in OBJECTIVES] + ["Unaligned"]),
                                ("Alignment Score", "float", []), ("Alignment Rationale", "textarea", []),
                                ("Work Nature", "select", ["Proactive", "Reactive"])):
        sandbox.add_field(name, kind, options=options)
    keys = sandbox.seed(projects=("DC",), issues=5, summary=summary)
    settings = JiraSettings(url=sandbox.url, deployment="datacenter", api_token=sandbox.pat,
                            webhook_secret=WEBHOOK_SECRET)
    adapter = JiraAdapter(settings, MemoryStore(), objectives=OBJECTIVES, fields_read={"summary"})
    pages = list(adapter.backfill("project = DC ORDER BY key ASC", page_size=2))
    assert [t for _, t in pages] == ["2", "4", None]
    items = [i for page, _ in pages for i in page]
    assert [i.key for i in items] == keys
    results = adapter.write_many([(i, assess(i, lambda k: None).output()) for i in items])
    assert all(r.changed and r.error is None for r in results)
    paths = {r.path for r in sandbox.requests}
    assert "/rest/api/2/search" in paths and not any("/rest/api/3/" in p for p in paths)
    fetched = adapter.fetch(keys[1])
    assert fetched.current.objective == "risk"
    assert fetched.current.objective_set_by == SetBy.INTEGRATION  # our PAT account, from the changelog


def test_the_echo_of_a_bulk_edit_is_recognised(jira: JiraDriver) -> None:
    keys = [jira.create_ticket(summary(2)) for _ in range(3)]
    items = [jira.adapter.fetch(k) for k in keys]
    jira.adapter.write_many([(i, assess(i, lambda k: None).output()) for i in items])
    jira.sandbox.wait_for_deliveries(2, timeout=10, predicate=lambda d: d.issue_key == keys[1])
    payload, headers = jira.last_event(keys[1])
    event = jira.adapter.parse_event(payload, headers)
    assert event.actor_is_integration and set(event.changed_fields) == set(jira.ids.all())
    assert jira.adapter.is_own_echo(event)


def test_a_429_on_the_opening_field_read_is_waited_out_not_fatal(jira: JiraDriver) -> None:
    """The back-fill's first requests (GET /field, options) honour 429 and
    Retry-After like every other request: the run waits, then completes."""
    keys = [jira.create_ticket(summary(n)) for n in range(3)]
    fresh = JiraAdapter(jira.settings, MemoryStore(), objectives=jira.objectives, fields_read={"summary"})
    clock = FakeClock()
    fresh.gate.clock = clock.time
    fresh._sleep = clock.sleep
    waits = clock.waits
    jira.sandbox.inject(path_regex=r"/rest/api/3/field$", method="GET", status=429, count=2, retry_after=7)
    jira.sandbox.clear_requests()
    report = run_backfill(fresh, assess, query="project = ITSM ORDER BY key ASC", state=MemoryStore(),
                          sleep=clock.sleep)
    fresh.close()
    assert report.finished and report.items == 3 and report.changed == 3 and not report.failed
    assert len(waits) >= 2 and all(w >= 7 for w in waits[:2])  # never asked again inside the window
    field_reads = [r for r in jira.sandbox.requests if r.method == "GET" and r.path.endswith("/rest/api/3/field")]
    assert len(field_reads) == 3  # two refused, one answered
    assert jira.adapter.fetch(keys[0]).current.objective == "revenue"


def test_a_child_returned_before_its_parent_is_written_once_with_the_inherited_objective(jira_any: JiraDriver) -> None:
    jira = jira_any  # Jira Cloud, then Data Center
    def inherit(item: WorkItem, related: Callable[[str], Assessment | None]) -> Assessment:
        parent = related(item.parent) if item.parent else None
        if parent is not None and parent.aligned:
            score = round(parent.score * 0.8)
            return Assessment(item.key, "jira", parent.objective, score, Nature.PROACTIVE, f"from parent ({score})")
        return assess(item, related)

    child = jira.create_ticket("coffee machine descaling")  # unaligned by itself
    epic = jira.sandbox.create_issue("ITSM", "checkout payment epic", issuetype="Epic")
    jira.sandbox.edit_issue_as(jira.person, child, {"parent": {"key": epic}})
    jira.adapter.configure(fields_read={"summary", "parent"})
    jira.sandbox.clear_requests()
    report = run_backfill(jira.adapter, inherit, query="project = ITSM ORDER BY key ASC", state=MemoryStore())
    assert report.items == 2 and report.changed == 2 and report.reassessed == 1
    item = jira.adapter.fetch(child)
    assert (item.current.objective, item.current.score) == ("revenue", 72)
    child_writes = [r for r in jira.sandbox.requests if is_write(r.method, r.path) and child in r.path]
    assert len(child_writes) <= 1  # held back, not first written Unaligned
