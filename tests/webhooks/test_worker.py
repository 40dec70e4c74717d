"""Worker behaviour over a real inbox/history (SQLite): coalescing, 429 with
Retry-After per item, 5xx then success, parking, deletes and projects."""
from __future__ import annotations

import pytest

from itsm_align.integration.base import ConfigurationError, RateLimited, TransientError
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.worker import Worker

from .doubles import FixedEngine, ScriptedAdapter
from .test_inbox_contract import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def parts(tmp_path, clock):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    inbox = Inbox(engine, coalesce_seconds=0.2, clock=clock)
    adapter = ScriptedAdapter()
    worker = Worker(inbox, History(engine), {"jira": adapter}, FixedEngine(),
                    settings=ServiceSettings(max_attempts=3, lease_seconds=30))
    yield inbox, adapter, worker
    engine.dispose()


def add(inbox: Inbox, delivery: str, key: str, *, action: str = "upsert", subject: str = "ticket") -> None:
    assert inbox.add("jira", delivery, key, event_type="jira:issue_updated", payload=b"{}", action=action,
                     subject=subject)


def test_a_burst_for_one_issue_is_processed_once(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    for n in range(5):
        add(inbox, f"d{n}", "SHOP-1")
    add(inbox, "other", "SHOP-2")
    clock.now += 1
    assert worker.run_once() == 2
    assert sorted(adapter.fetches) == ["SHOP-1", "SHOP-2"]
    assert [key for key, _ in adapter.writes].count("SHOP-1") == 1
    assert inbox.depth() == {"pending": 0, "leased": 0, "done": 6, "failed": 0}
    assert worker.history.latest("jira", "SHOP-1").score == 80


def test_nothing_written_when_nothing_changed(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    add(inbox, "d2", "SHOP-1")  # e.g. a person's unrelated edit: same result
    clock.now += 1
    worker.run_once()
    assert len(adapter.writes) == 1 and len(adapter.fetches) == 2
    assert len(worker.history.frame()) == 2


def test_rate_limited_per_issue_waits_retry_after_for_that_issue_only(parts, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    limited = RateLimited("jira", "Too many writes to this issue", status=429, retry_after=20,
                          reason="jira-per-issue-on-write")
    limited.per_item = True
    adapter.errors["SHOP-1"] = [limited]
    add(inbox, "d1", "SHOP-1")
    add(inbox, "d2", "SHOP-2")
    clock.now += 1
    worker.run_once()
    (row,) = inbox.rows(state="pending")
    assert row.item_key == "SHOP-1" and row.not_before >= clock.now + 20
    assert "429" in row.last_error and worker.paused_until == 0.0
    assert [k for k, _ in adapter.writes] == ["SHOP-2"]
    clock.now += 19
    assert worker.run_once() == 0  # still inside Retry-After
    clock.now += 60
    assert worker.run_once() == 1
    assert [k for k, _ in adapter.writes] == ["SHOP-2", "SHOP-1"]


def test_site_wide_rate_limit_pauses_the_worker(parts, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    adapter.errors["SHOP-1"] = [RateLimited("jira", "Rate limit exceeded", status=429, retry_after=5)]
    add(inbox, "d1", "SHOP-1")
    add(inbox, "d2", "SHOP-2")
    clock.now += 1
    worker.run_once()
    assert worker.paused_until > 0
    assert [k for k, _ in adapter.writes] == []  # SHOP-2 was handed back untried
    assert {r.item_key: r.attempts for r in inbox.rows(state="pending")} == {"SHOP-1": 1, "SHOP-2": 0}


def test_server_error_then_success(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    adapter.errors["SHOP-1"] = [TransientError("jira", "Internal server error", status=500)]
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    (row,) = inbox.rows(state="pending")
    assert 1.4 <= row.not_before - clock.now <= 2.6  # 2 s backoff with jitter
    clock.now += 3
    worker.run_once()
    assert inbox.rows(state="done") and adapter.writes[0][0] == "SHOP-1"


def test_transient_failures_never_park_an_item(parts, clock) -> None:  # type: ignore[no-untyped-def]
    """Five 502s in a row (more than max_attempts): the item keeps being
    retried with back-off and is written when the platform answers."""
    inbox, adapter, worker = parts
    adapter.errors["SHOP-1"] = [TransientError("jira", f"Bad gateway #{n}", status=502) for n in range(5)]
    add(inbox, "d1", "SHOP-1")
    for _ in range(6):
        clock.now += 100  # beyond any back-off (capped at RETRY_CAP)
        worker.run_once()
    assert inbox.rows(state="failed") == []
    assert [r.state for r in inbox.rows(item_key="SHOP-1")] == ["done"]
    assert [key for key, _ in adapter.writes] == ["SHOP-1"]


def test_transient_back_off_is_capped(parts, clock) -> None:  # type: ignore[no-untyped-def]
    from itsm_align.webhooks.worker import RETRY_CAP

    inbox, adapter, worker = parts
    adapter.errors["SHOP-1"] = [TransientError("jira", "Service unavailable", status=503) for _ in range(12)]
    add(inbox, "d1", "SHOP-1")
    waits = []
    for _ in range(12):
        clock.now += 100
        worker.run_once()
        (row,) = inbox.rows(item_key="SHOP-1")
        waits.append(row.not_before - clock.now)
    assert max(waits) <= RETRY_CAP * 1.3 and waits[-1] >= RETRY_CAP * 0.7
    assert inbox.rows(state="failed") == []


def test_a_bug_parks_the_item_after_max_attempts(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    adapter.errors["SHOP-1"] = [ValueError(f"engine bug #{n}") for n in range(5)]
    add(inbox, "d1", "SHOP-1")
    for _ in range(3):
        clock.now += 100
        worker.run_once()
    (row,) = inbox.rows(state="failed")
    assert "gave up after 3 attempts" in row.last_error and "engine bug #2" in row.last_error
    clock.now += 100
    assert worker.run_once() == 0


def test_non_retryable_error_fails_at_once_with_platform_message(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    adapter.errors["SHOP-1"] = [ConfigurationError(
        "jira", "Field 'customfield_10070' cannot be set. It is not on the appropriate screen", status=400)]
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    (row,) = inbox.rows(state="failed")
    assert "not on the appropriate screen" in row.last_error and row.attempts == 1


def test_delete_is_recorded_and_nothing_written(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    add(inbox, "d2", "SHOP-1", action="delete")
    adapter.gone.add("SHOP-3")
    add(inbox, "d3", "SHOP-3")  # deleted before we fetched it
    clock.now += 1
    worker.run_once()
    assert worker.history.latest("jira", "SHOP-1") is None
    assert [k for k, _ in adapter.writes] == ["SHOP-1"]
    assert inbox.depth()["done"] == 3


def test_project_gets_rollup_from_history(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    add(inbox, "d1", "SHOP-1")
    add(inbox, "d2", "SHOP-2")
    clock.now += 1
    worker.run_once()
    add(inbox, "p1", "SHOP", subject="project")
    clock.now += 1
    worker.run_once()
    ((key, rollup),) = adapter.rollups
    assert key == "SHOP" and rollup["item_count"] == 2 and rollup["score"] == 80
    assert rollup["effort_share"] == {"grow-online": 1.0}
    assert sorted(worker.engine.related[-1]) == ["SHOP-1", "SHOP-2"]


def test_rollup_replaces_the_projects_own_write_where_it_lands_in_the_same_fields(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    adapter.rollup_in_item_fields = True  # as ServiceNow: pm_project columns show the rollup
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    add(inbox, "p1", "SHOP", subject="project")
    clock.now += 1
    worker.run_once()
    assert [key for key, _ in adapter.writes] == ["SHOP-1"]  # no competing write of the project's own values
    ((key, rollup),) = adapter.rollups
    assert key == "SHOP" and rollup["item_count"] == 1
    assert worker.history.latest("jira", "SHOP").kind == "project"  # its own assessment is still kept


def test_project_without_assessed_tickets_gets_no_rollup(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    add(inbox, "p1", "EMPTY", subject="project")
    clock.now += 1
    worker.run_once()
    assert adapter.rollups == [] and worker.history.latest("jira", "EMPTY").kind == "project"
    assert inbox.depth()["done"] == 1


def test_housekeeping_prunes_done_rows_only_past_retention(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    retention = 3600 * worker.settings.inbox_retention_hours
    worker.housekeeping(now=clock.now + retention - 10)  # inside the window: kept (and the WAL checkpointed)
    assert inbox.depth()["done"] == 1
    worker.housekeeping(now=clock.now + retention + 10)  # too soon after the last prune: nothing yet
    assert inbox.depth()["done"] == 1
    worker.housekeeping(now=clock.now + retention + 10 + worker.PRUNE_EVERY)
    assert inbox.depth()["done"] == 0


def test_ticket_changes_schedule_one_project_rollup_per_window(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    adapter.rollup_project_of = lambda item: item.project  # as Jira: a ticket's project key
    window = worker.settings.rollup_delay_seconds
    clock.now = 1000 * window  # at the start of a window
    add(inbox, "d1", "SHOP-1")
    add(inbox, "d2", "SHOP-2")
    clock.now += 1
    assert worker.run_once() == 2
    assert adapter.rollups == []  # not yet: the refresh waits for the window to end
    rows = inbox.rows(state="pending")
    assert [(r.item_key, r.subject) for r in rows] == [("SHOP", "project")]  # two tickets, one refresh

    add(inbox, "d3", "SHOP-1")  # another change inside the same window
    clock.now += 1
    worker.run_once()
    assert len(inbox.rows(state="pending")) == 1

    clock.now += window
    worker.run_once()
    ((key, rollup),) = adapter.rollups
    assert key == "SHOP" and rollup["item_count"] == 2


def test_an_item_whose_platform_is_held_is_handed_back_untried(parts, clock) -> None:  # type: ignore[no-untyped-def]
    """Retry-After (or an open breaker) shared through the adapter's gate: the
    claim goes back, due when the window ends, with no attempt spent."""
    import time

    inbox, adapter, worker = parts
    until = time.time() + 120
    adapter.held_until = lambda key=None: until  # type: ignore[method-assign]
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    assert worker.run_once() == 1
    (row,) = inbox.rows(item_key="SHOP-1")
    assert row.state == "pending" and row.attempts == 0 and row.not_before == pytest.approx(until)
    assert adapter.fetches == [] and adapter.writes == []


def test_a_request_the_gate_held_back_costs_no_attempt(parts, clock) -> None:  # type: ignore[no-untyped-def]
    from itsm_align.integration.base import RateLimited

    inbox, adapter, worker = parts
    held = RateLimited("jira", "jira asked us to wait", retry_after=9.0)
    held.held_back = True
    adapter.errors["SHOP-1"] = [held]
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    (row,) = inbox.rows(item_key="SHOP-1")
    assert row.state == "pending" and row.attempts == 0 and adapter.writes == []


def test_when_the_platform_recovers_backed_off_items_are_due_at_once(parts, clock) -> None:  # type: ignore[no-untyped-def]
    inbox, adapter, worker = parts
    for n in range(3):
        adapter.errors[f"SHOP-{n}"] = [TransientError("jira", "Service unavailable", status=503)] * 4
        add(inbox, f"d{n}", f"SHOP-{n}")
    for _ in range(4):  # each item backs off further
        clock.now += 100
        worker.run_once()
    backed_off = {r.item_key: r.not_before for r in inbox.rows(state="pending")}
    assert len(backed_off) == 3 and min(backed_off.values()) > clock.now + 5
    add(inbox, "fresh", "SHOP-9")
    adapter.recovered = 1  # the gate saw the platform answer again
    clock.now += 1  # SHOP-9 is due; no back-off has run out
    assert worker.run_once() == 1  # processes SHOP-9, notices the recovery
    assert all(r.not_before <= clock.now for r in inbox.rows(state="pending"))
    worker.run_once()
    assert inbox.rows(state="pending") == [] and inbox.rows(state="failed") == []


def test_a_parent_with_a_new_objective_queues_its_children(parts, clock) -> None:  # type: ignore[no-untyped-def]
    """A child assessed before its parent (a burst of new issues) inherits once
    the parent is assessed: the parent's new assessment queues its children."""
    from itsm_align.scoring.types import Assessment, Nature, WorkItem

    inbox, adapter, worker = parts
    worker.history.append(Assessment("SHOP-2", "jira", "unaligned", 0, Nature.PROACTIVE, "no rule matched"),
                          WorkItem(platform="jira", key="SHOP-2", parent="SHOP-1"))
    worker.history.append(Assessment("SHOP-3", "jira", "unaligned", 0, Nature.PROACTIVE, "no rule matched"),
                          WorkItem(platform="jira", key="SHOP-3", parent="OTHER-1"))
    add(inbox, "d1", "SHOP-1")
    clock.now += 1
    worker.run_once()
    queued = [r for r in inbox.rows(state="pending")]
    assert [(r.item_key, r.event_type) for r in queued] == [("SHOP-2", "reassess")]
    clock.now += 1
    worker.run_once()  # the child is assessed again (the parent's assessment unchanged: nothing more queued)
    assert "SHOP-2" in adapter.fetches
    add(inbox, "d2", "SHOP-1")
    clock.now += 1
    worker.run_once()  # same objective and score again: children are not queued again
    assert [r for r in inbox.rows(state="pending") if r.event_type == "reassess"] == []
