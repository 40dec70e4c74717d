"""Retry-After binds every thread sharing an adapter, over the real wire."""
from __future__ import annotations

import threading

from itsm_align.integration.retry import call_with_retry
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter


def test_no_thread_sends_inside_the_window_over_the_wire(servicenow_sandbox, make_settings, objectives) -> None:
    """Four threads share one adapter (as ``worker --concurrency 4`` does); the
    instance answers one 429 with Retry-After: 1. The sandbox's log shows no
    request that left after that answer and before the second was over."""
    adapter = ServiceNowAdapter(make_settings())
    adapter.setup(objectives)
    ids = servicenow_sandbox.seed("incident", 8)
    start = len(servicenow_sandbox.http_requests)
    servicenow_sandbox.inject(path_regex="/incident/", method="GET", status=429, retry_after=1, count=1)
    done = threading.Barrier(4)

    def fetch_all() -> None:
        for sys_id in ids * 3:
            call_with_retry(lambda: adapter.fetch(f"incident:{sys_id}"), attempts=10)
        done.wait(timeout=60)

    threads = [threading.Thread(target=fetch_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    log = servicenow_sandbox.http_requests[start:]
    limited = [r for r in log if r.status == 429]
    assert len(limited) == 1
    window_end = limited[0].at + 1.0
    inside = [r for r in log if limited[0].at + 0.05 < r.at < window_end - 0.05]
    assert inside == [], f"{len(inside)} requests sent inside the Retry-After window"
    assert sum(1 for r in log if r.status == 200 and "/incident/" in r.path) == 8 * 3 * 4
    assert adapter.gate.held_back >= 1
    adapter.close()
