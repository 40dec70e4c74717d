"""Fault suite 3: the platform down (connections refused) while deliveries
keep arriving.

The sandbox's API stops listening for 20 seconds while a person keeps
changing records (the instance lives on and its business rule keeps posting
events; only our way in is cut). Every delivery must be acknowledged,
nothing parked, ``/metrics`` must show the backlog, its age and the open
circuit breaker meanwhile, and everything must drain within a minute of the
platform's return, each record then showing what the engine computes.
"""
from __future__ import annotations

import threading
import time

import requests

OUTAGE_SECONDS, RATE, RECORDS = 20, 15.0, 200


def test_outage_is_waited_out_and_drains_after_the_return(store, fault_stack) -> None:  # type: ignore[no-untyped-def]
    stack = fault_stack(database_url=store["database_url"], redis_url=store["redis_url"], records=RECORDS,
                        serves=store["serves"], workers=store["workers"], concurrency=2)
    stack.stream(20, RATE)  # the platform is healthy: work flows
    stack.wait_drained(30, "the first changes to be written")

    samples: list[dict[str, float]] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            try:
                m = stack.metrics(0)
            except requests.RequestException:  # a scrape that failed is a missing sample
                m = {}
            samples.append({"at": time.monotonic(), "pending": m.get('itsm_align_inbox_items{state="pending"}', 0),
                            "failed": m.get('itsm_align_inbox_items{state="failed"}', 0),
                            "oldest": m.get('itsm_align_inbox_oldest_owed_seconds{platform="servicenow"}', 0),
                            "breaker": m.get('itsm_align_platform_breaker_open{platform="servicenow"}', 0)})
            sampling.wait(0.5)  # the scrape interval

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with stack.sandbox.outage():
            down_at = time.monotonic()
            stack.stream(int(OUTAGE_SECONDS * RATE), RATE, first=20)
            stack.sandbox.wait_events_idle(timeout=30)
        back_at = time.monotonic()
        drain = stack.wait_drained(60, "the backlog to drain within a minute of the platform's return")
    finally:
        sampling.set()
        sampler.join(timeout=10)
    verdict = stack.verify()
    during = [s for s in samples if down_at <= s["at"] <= back_at]
    print(f"\n[{store['name']}] down {back_at - down_at:.0f}s while {int(OUTAGE_SECONDS * RATE)} changes arrived; "
          f"drained {drain:.1f}s after the return; during the outage /metrics showed up to "
          f"{max(s['pending'] for s in during):.0f} pending rows, the oldest {max(s['oldest'] for s in during):.0f}s "
          f"old, breaker open in {sum(s['breaker'] for s in during):.0f} of {len(during)} scrapes; "
          f"{verdict.summary()}")
    assert not stack.unacknowledged(), stack.unacknowledged_reasons()  # every delivery got its 2xx
    assert max(s["failed"] for s in samples) == 0 and verdict.failed_rows == 0, stack.logs()
    assert max(s["pending"] for s in during) >= 50
    assert max(s["oldest"] for s in during) >= OUTAGE_SECONDS / 2
    assert any(s["breaker"] for s in during)
    assert drain <= 60
    assert verdict.mismatched == {} and verdict.owed_rows == 0, stack.logs()
