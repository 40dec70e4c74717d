"""Fault suite 1: processes killed with SIGKILL under load lose nothing.

A person changes 300 records 600 times (30 per second) while worker
processes are SIGKILLed every few seconds and restarted, gunicorn workers
are SIGKILLed (their master starts new ones) and a ``serve`` master is
SIGKILLed and ``serve`` started again on its port. Events the platform could
not deliver meanwhile (connection refused or reset: no acknowledgement) are
sent again afterwards, as the platform's retry would. Then every record
must show what the rule engine computes from its final state, nothing may
be parked or owed, and the duplicate writes are counted and printed.
"""
from __future__ import annotations

import time

CHANGES, RATE, RECORDS = 600, 30.0, 300


def test_sigkill_of_workers_and_serve_under_load_loses_nothing(store, fault_stack) -> None:  # type: ignore[no-untyped-def]
    stack = fault_stack(database_url=store["database_url"], redis_url=store["redis_url"], records=RECORDS,
                        serves=store["serves"], workers=max(2, int(store["workers"])), concurrency=2)
    killed = {"worker": 0, "gunicorn worker": 0, "serve master": 0}

    def faults(n: int) -> None:
        if n and n % 90 == 0:  # every 3 seconds
            stack.kill_worker((n // 90) % len(stack.worker_processes))
            killed["worker"] += 1
        if n in (150, 450):
            for serve in range(stack.serves):
                if stack.kill_gunicorn_worker(serve) is not None:
                    killed["gunicorn worker"] += 1
        if n == 300:
            stack.kill_serve(0)
            killed["serve master"] += 1

    started = time.monotonic()
    stack.stream(CHANGES, RATE, between=faults)
    stack.sandbox.wait_events_idle(timeout=60)
    for serve in range(stack.serves):
        stack.wait_serving(serve)
    reasons = stack.unacknowledged_reasons()
    unacknowledged = stack.redeliver_unacknowledged()
    drain = stack.wait_drained(90, "every item to be processed after the kills")
    verdict = stack.verify()
    print(f"\n[{store['name']}] {CHANGES} changes in {time.monotonic() - started:.0f}s; killed {killed}; "
          f"{unacknowledged} deliveries unacknowledged while serve was killed {reasons}, sent again; drained {drain:.1f}s "
          f"after the last change; {verdict.summary()}")
    assert killed["worker"] >= 6 and killed["gunicorn worker"] >= 2 and killed["serve master"] == 1
    assert stack.changes_made == CHANGES and len(stack.sandbox.events) == CHANGES
    assert verdict.mismatched == {}, stack.logs()
    assert verdict.failed_rows == 0 and verdict.owed_rows == 0, stack.logs()
    assert stack.redelivered == unacknowledged  # each of those was acknowledged when sent again
