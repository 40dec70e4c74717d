"""``Inbox.next_due`` says when an item can next be claimed: rows queued
behind an item's waiting oldest row are not "due now" (idle workers would
otherwise spin on empty claims for as long as a platform is down)."""
from __future__ import annotations

from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.inbox import Inbox


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_rows_behind_a_held_item_are_not_due_before_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    inbox = Inbox(create_db_engine(f"sqlite:///{tmp_path / 'inbox.sqlite3'}"), coalesce_seconds=0.0, clock=clock)
    inbox.add("servicenow", "d1", "incident:a", event_type="record.updated", payload=b"{}")
    (claim,) = inbox.claim("w", lease_seconds=60)
    inbox.release(claim, not_before=clock.now + 15)  # e.g. the platform's breaker is open
    assert inbox.next_due() == clock.now + 15
    inbox.add("servicenow", "d2", "incident:a", event_type="record.updated", payload=b"{}")  # due now...
    assert inbox.claim("w", lease_seconds=60) == []  # ...but claimed only with the held row
    assert inbox.next_due() == clock.now + 15
    inbox.add("servicenow", "d3", "incident:b", event_type="record.updated", payload=b"{}")
    assert inbox.next_due() <= clock.now  # another item: due now
