"""Fault suite 2: a platform failing 30% of requests with 503 and answering
429 (``Retry-After: 1``) to every seventh converges with no operator action,
and no request is sent before a ``Retry-After`` the platform gave has elapsed.

A person changes 30 records twice while the sandbox fails the integration
user's requests at random, for at most ``CHAOS_SECONDS``; then it answers
normally again and what was still backing off must converge by itself
within ``RETRY_CAP`` (plus jitter) without anyone re-queueing anything.
(Under 30% failures an item needing two or three requests fails an attempt
about half the time, and its back-off grows to the 30 s cap: the last items
of a run converge minutes later, which is the design, too long for CI.)

Shapes: on SQLite three single-thread worker processes (a 429 reaches the
other processes through the SQLite state store); on PostgreSQL three worker
processes with ``--concurrency 4`` behind two ``serve`` processes, with
Redis wake-ups. Requests arriving within ``CROSS_PROCESS_GRACE`` of a 429
are allowed: the other processes learn of it through the database, which
takes a database write and read (measured and printed at finer grains).
"""
from __future__ import annotations

import time

import pytest

from itsm_align.webhooks.worker import RETRY_CAP

RECORDS, CHAOS_SECONDS = 30, 30.0
#: how late another worker process may learn of a 429: a write and a read of the
#: shared state on a loaded 2-CPU machine (the threads of the process that got
#: the 429 are held at once; a 1-process x 4-thread run had none past 50 ms)
CROSS_PROCESS_GRACE = 0.25

SHAPES = [
    pytest.param("sqlite", 3, 1, id="sqlite-3-workers"),
    pytest.param("postgresql", 3, 4, id="postgresql-3-workers-x4-threads"),
]


@pytest.mark.parametrize(("store", "workers", "concurrency"), SHAPES, indirect=["store"])
def test_chaos_converges_without_operator_and_honours_retry_after(store, fault_stack, workers: int,
                                                                     concurrency: int) -> None:  # type: ignore[no-untyped-def]
    stack = fault_stack(database_url=store["database_url"], redis_url=store["redis_url"], records=RECORDS,
                        serves=store["serves"], workers=workers, concurrency=concurrency)
    sandbox = stack.sandbox
    sandbox.retry_after_grace = CROSS_PROCESS_GRACE
    chaos = sandbox.chaos(error_rate=0.3, status=503, every_nth_429=7, retry_after=1, seed=11)
    started = time.monotonic()
    parked: list[int] = []

    def watch(_: int) -> None:
        parked.append(stack.inbox().depth()["failed"])

    stack.stream(RECORDS * 2, 4.0, between=watch)  # 15 s

    def settled() -> bool:
        parked.append(stack.inbox().depth()["failed"])
        depth = stack.owed()
        return not depth["pending"] and not depth["leased"]
    try:
        stack.wait_drained(max(1.0, CHAOS_SECONDS - (time.monotonic() - started)), "convergence under chaos")
        converged_under_chaos = True
    except TimeoutError:
        converged_under_chaos = False
    owed_at_calm = stack.owed()
    sandbox.calm()
    calm_at = time.monotonic()
    drain = stack.wait_drained(RETRY_CAP * 1.3 + 15, "what still backed off to converge after the chaos")
    assert settled()
    ours = [r for r in sandbox.http_requests if r.user == sandbox.integration_user]
    inside = {g: len(sandbox.retry_after_violations_after(g)) for g in (0.0, 0.05, 0.1, 0.25, 0.5)}
    violations = sandbox.retry_after_violations
    verdict = stack.verify()
    print(f"\n[{store['name']}, {workers} worker process(es) x {concurrency} threads] {RECORDS * 2} changes; "
          f"chaos for {calm_at - started:.0f}s: {len(ours)} requests, answered {chaos.answered}; "
          + ("everything converged under chaos; " if converged_under_chaos else
             f"{owed_at_calm['pending'] + owed_at_calm['leased']} rows still backing off when it stopped, "
             f"converged {drain:.0f}s later; ")
          + f"{sandbox.retry_afters_sent} Retry-After sent; requests inside one, by seconds after the 429: "
          f"{inside}; {verdict.summary()}")
    assert chaos.answered.get(429, 0) >= 5 and chaos.answered.get(503, 0) >= 15  # the faults really happened
    assert violations == [], violations[:5]
    assert max(parked) == 0 and verdict.failed_rows == 0, stack.logs()
    assert verdict.mismatched == {} and verdict.owed_rows == 0, stack.logs()
    assert not stack.unacknowledged()
