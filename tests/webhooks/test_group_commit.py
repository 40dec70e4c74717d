"""SQLite group commit: one multi-row INSERT answers each queued request for itself."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from itsm_align.webhooks.storage.inbox import Inbox, _Slot
from itsm_align.webhooks.storage.engine import create_db_engine


def params(box: Inbox, delivery: str, platform: str = "jira") -> tuple:
    return (platform, delivery, "SHOP-1", "ticket", "upsert", "jira:issue_updated", None, b"{}", 1.0,
            "pending", 0, 1.0)


def test_a_batch_with_replays_and_repeats_tells_each_request_whether_it_was_stored(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'inbox.sqlite3'}")
    box = Inbox(engine)
    assert box.add("jira", "old", "SHOP-1", event_type="jira:issue_updated", payload=b"{}") is True
    writer = box._group_writer()
    # requests that queued while another thread was committing: they go in together
    queued = [_Slot(params(box, d, p)) for d, p in
              [("new-1", "jira"), ("old", "jira"), ("new-2", "jira"), ("new-1", "jira"), ("old", "servicenow")]]
    for slot in queued:
        writer.queue.put(slot)
    assert writer.insert(params(box, "new-3")) is True  # this request leads the commit of all six
    assert [slot.finished for slot in queued] == [True] * 5
    assert [slot.inserted for slot in queued] == [True, False, True, False, True]
    assert all(slot.error is None for slot in queued)
    assert box.depth()["pending"] == 5  # old, new-1, new-2, new-3 (jira) and old (servicenow)
    engine.dispose()


def test_a_batch_of_only_replays_stores_nothing(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'inbox.sqlite3'}")
    box = Inbox(engine)
    for delivery in ("a", "b"):
        box.add("jira", delivery, "SHOP-1", event_type="jira:issue_updated", payload=b"{}")
    writer = box._group_writer()
    queued = _Slot(params(box, "a"))
    writer.queue.put(queued)
    assert writer.insert(params(box, "b")) is False
    assert queued.finished and queued.inserted is False
    assert box.depth()["pending"] == 2
    engine.dispose()


def test_threads_racing_on_one_delivery_store_it_once(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'inbox.sqlite3'}")
    box = Inbox(engine)
    start = threading.Barrier(16)
    results: list[bool] = []

    def send(n: int) -> None:
        start.wait()
        results.append(box.add("jira", f"d{n % 4}", "SHOP-1", event_type="jira:issue_updated", payload=b"{}"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 12 + [True] * 4  # each of the 4 deliveries stored exactly once
    assert box.depth()["pending"] == 4
    engine.dispose()


def test_postgres_group_commit_answers_each_request_and_isolates_a_bad_row(postgres_url: str) -> None:
    """PostgreSQL: one INSERT ... RETURNING and one COMMIT (one WAL flush) for what queued up;
    RETURNING tells each request whether its delivery was new; a row PostgreSQL refuses fails
    only its own request."""
    engine = create_db_engine(postgres_url)
    box = Inbox(engine)
    tag = str(time.time_ns())
    assert box.add("jira", f"old-{tag}", "SHOP-1", event_type="jira:issue_updated", payload=b"{}") is True
    writer = box._group_writer()
    queued = [_Slot(params(box, f"{d}-{tag}")) for d in ("new-1", "old", "new-1")]
    bad = list(params(box, f"bad-{tag}"))
    bad[6] = 2 ** 64  # beyond BIGINT: PostgreSQL refuses it
    queued.append(_Slot(tuple(bad)))
    for slot in queued:
        writer.queue.put(slot)
    assert writer.insert(params(box, f"new-2-{tag}")) is True
    assert [slot.inserted for slot in queued[:3]] == [True, False, False]
    assert queued[3].error is not None and all(slot.error is None for slot in queued[:3])
    stored = {row.delivery_id for row in box.rows()}
    assert {f"old-{tag}", f"new-1-{tag}", f"new-2-{tag}"} <= stored and f"bad-{tag}" not in stored
    engine.dispose()
