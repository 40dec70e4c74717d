"""The inbox contract, run on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import threading

import pytest

from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.storage.engine import create_db_engine


class Clock:
    """A settable clock so lease expiry and retry delays need no sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def box(db_url: str, clock: Clock) -> Inbox:
    engine = create_db_engine(db_url)
    yield Inbox(engine, coalesce_seconds=0.5, clock=clock)
    engine.dispose()


def add(box: Inbox, delivery: str, key: str = "SHOP-1", **kw) -> bool:  # type: ignore[no-untyped-def]
    return box.add("jira", delivery, key, event_type="jira:issue_updated", payload=b"{}", **kw)


def test_add_dedupes_on_platform_and_delivery_id(box: Inbox) -> None:
    assert add(box, "d1") is True
    assert add(box, "d1") is False
    assert box.add("servicenow", "d1", "incident:x", event_type="servicenow:update", payload=b"{}") is True
    assert box.depth()["pending"] == 2


def test_rows_wait_for_the_coalescing_window(box: Inbox, clock: Clock) -> None:
    add(box, "d1")
    assert box.claim("w1", lease_seconds=30) == []
    clock.now += 0.5
    (claim,) = box.claim("w1", lease_seconds=30)
    assert claim.item_key == "SHOP-1" and claim.attempts == 1


def test_events_for_one_item_are_claimed_and_closed_together(box: Inbox, clock: Clock) -> None:
    add(box, "d1")
    add(box, "d2", "SHOP-2")
    clock.now += 0.3
    add(box, "d3")  # arrives within the window of d1
    clock.now += 0.3
    claims = {c.item_key: c for c in box.claim("w1", lease_seconds=30)}
    assert sorted(claims) == ["SHOP-1", "SHOP-2"]
    assert len(claims["SHOP-1"].rows) == 2
    assert box.complete(claims["SHOP-1"]) == 2
    assert [r.state for r in box.rows(item_key="SHOP-1")] == ["done", "done"]


def test_a_leased_item_is_not_taken_again_until_the_lease_expires(box: Inbox, clock: Clock) -> None:
    add(box, "d1")
    clock.now += 1
    (first,) = box.claim("dead-worker", lease_seconds=10)
    add(box, "d2")  # a new event for the leased item must wait
    clock.now += 5
    assert box.claim("w2", lease_seconds=10) == []
    clock.now += 6  # the dead worker's lease has run out
    (second,) = box.claim("w2", lease_seconds=10)
    assert second.ids == [first.ids[0], first.ids[0] + 1]
    assert [row.attempts for row in second.rows] == [2, 1]
    assert second.attempts == 1  # counted from the newest event: a new event starts the count again
    assert box.complete(first) == 0  # the old owner can no longer close it
    assert box.complete(second) == 2


def test_retry_delays_only_that_item(box: Inbox, clock: Clock) -> None:
    add(box, "d1", "SHOP-1")
    clock.now += 1
    (claim,) = box.claim("w", lease_seconds=10)
    box.retry(claim, delay=30, error="RateLimited: 429")
    add(box, "d2", "SHOP-2")
    add(box, "d3", "SHOP-1")  # new event for the delayed item waits with it
    clock.now += 1
    (other,) = box.claim("w", lease_seconds=10)
    assert other.item_key == "SHOP-2"
    box.complete(other)
    clock.now += 30
    (again,) = box.claim("w", lease_seconds=10)
    assert again.item_key == "SHOP-1" and len(again.rows) == 2
    assert again.rows[0].last_error == "RateLimited: 429"


def test_failed_items_are_parked_and_requeued(box: Inbox, clock: Clock) -> None:
    add(box, "d1")
    add(box, "d2", "SHOP-2")
    clock.now += 1
    claims = box.claim("w", lease_seconds=10)
    for claim in claims:
        box.fail(claim, "PlatformError: field not on screen")
    assert box.depth()["failed"] == 2
    assert box.claim("w", lease_seconds=10) == []
    failed = box.rows(state="failed")
    assert failed[0].last_error == "PlatformError: field not on screen"
    assert box.requeue([failed[0].id]) == 1
    assert box.requeue() == 1
    (row, _) = box.rows(state="pending")
    assert row.attempts == 0


def test_versions_keep_the_highest(box: Inbox) -> None:
    assert box.processed_version("servicenow", "incident:a") is None
    box.record_version("servicenow", "incident:a", 5)
    box.record_version("servicenow", "incident:a", 3)
    assert box.processed_version("servicenow", "incident:a") == 5


def test_concurrent_claimers_never_share_an_item(box: Inbox, clock: Clock) -> None:
    for n in range(40):
        add(box, f"d{n}", f"SHOP-{n}")
    clock.now += 1
    taken: list[list[int]] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            claims = box.claim(name, lease_seconds=60, limit=3)
            if not claims:
                return
            with lock:
                taken.append([i for c in claims for i in c.ids])

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [i for batch in taken for i in batch]
    assert len(ids) == 40 and len(set(ids)) == 40


def test_prune_deletes_only_old_done_rows_and_replays_inside_the_window_stay_duplicates(
        box: Inbox, clock: Clock) -> None:
    add(box, "old-done")
    add(box, "old-failed", "SHOP-9")
    clock.now += 1
    claims = {c.item_key: c for c in box.claim("w1", lease_seconds=30)}
    box.complete(claims["SHOP-1"])
    box.fail(claims["SHOP-9"], "400 from Jira")
    clock.now += 100
    add(box, "recent-done", "SHOP-2")
    clock.now += 1
    (recent,) = box.claim("w1", lease_seconds=30)
    box.complete(recent)
    add(box, "still-owed", "SHOP-3")

    assert box.prune(older_than=clock.now - 50) == 1  # only "old-done"

    assert add(box, "recent-done", "SHOP-2") is False  # still answered as a replay
    assert add(box, "old-done") is True  # past retention: taken as new (Jira retries for ~30 min only)
    depth = box.depth()
    assert depth["failed"] == 1 and depth["pending"] == 2 and depth["done"] == 1


def test_only_the_oldest_owed_row_of_an_item_is_a_head(box: Inbox, clock: Clock) -> None:
    """Two claimers never lock rows of one item in opposite orders (the
    PostgreSQL deadlock): while one holds the item's oldest row, the other
    does not start on a newer row of the same item, and does not wait."""
    add(box, "d1")
    add(box, "d2")
    add(box, "other", key="SHOP-2")
    clock.now += 1
    if box.engine.dialect.name != "postgresql":
        (first, second) = box.claim("w1", lease_seconds=10, limit=5)
        assert {c.item_key: len(c.rows) for c in (first, second)} == {"SHOP-1": 2, "SHOP-2": 1}
        return
    import sqlalchemy as sa

    holder = box.engine.connect()
    transaction = holder.begin()
    oldest = holder.execute(sa.text("SELECT id FROM inbox WHERE delivery_id = 'd1' FOR UPDATE")).scalar()
    try:
        found: list = []
        claimer = threading.Thread(target=lambda: found.extend(box.claim("w2", lease_seconds=10, limit=5)))
        claimer.start()
        claimer.join(timeout=60)
        assert not claimer.is_alive(), "the claim is waiting on the other transaction's row lock"
        assert [c.item_key for c in found] == ["SHOP-2"]  # not SHOP-1 through its newer row d2
    finally:
        transaction.rollback()
        holder.close()
    assert oldest is not None
    (later,) = box.claim("w3", lease_seconds=10, limit=5)
    assert later.item_key == "SHOP-1" and len(later.rows) == 2
