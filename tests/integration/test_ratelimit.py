"""The platform gate: Retry-After binds every thread and process; a failing
platform gets one probe at a time (integration/ratelimit.py)."""
from __future__ import annotations

import threading

import pytest

from itsm_align.integration.base import MemoryStore, RateLimited, TransientError
from itsm_align.integration.ratelimit import CLOSED, HALF_OPEN, OPEN, PlatformGate, jira_issue_of
from tests.support.clock import FakeClock


def gate(clock: FakeClock, store: MemoryStore | None = None, **kw) -> PlatformGate:  # type: ignore[no-untyped-def]
    return PlatformGate("jira", store, clock=clock.time, **kw)


def test_a_429_holds_every_request_until_its_retry_after_has_elapsed() -> None:
    clock = FakeClock()
    door = gate(clock)
    assert door.admit() is False
    door.observe(429, {"Retry-After": "7"})
    with pytest.raises(RateLimited) as held:
        door.admit()
    assert held.value.held_back and held.value.retry_after == pytest.approx(7.0)
    clock.sleep(6.9)
    with pytest.raises(RateLimited):
        door.admit("SHOP-1")  # every item waits for a platform-wide limit
    clock.sleep(0.1)
    assert door.admit() is False
    assert door.held_back == 2


def test_the_window_is_shared_with_other_processes_through_the_store() -> None:
    clock, store = FakeClock(), MemoryStore()
    first, second = gate(clock, store), gate(clock, store)  # two worker processes, one database
    first.observe(429, {"Retry-After": "30"})
    with pytest.raises(RateLimited) as held:
        second.admit()
    assert held.value.retry_after == pytest.approx(30.0)
    assert second.held_until() == pytest.approx(clock.now + 30)
    clock.sleep(30)
    assert second.admit() is False and second.held_until() == 0.0


def test_a_per_issue_limit_holds_only_that_issue() -> None:
    clock = FakeClock()
    door = gate(clock)
    door.observe(429, {"Retry-After": "5", "RateLimit-Reason": "jira-per-issue-on-write"}, item="SHOP-1")
    with pytest.raises(RateLimited):
        door.admit("SHOP-1")
    assert door.admit("SHOP-2") is False and door.admit() is False
    assert jira_issue_of("https://x.atlassian.net/rest/api/2/issue/shop-1?notifyUsers=false") == "SHOP-1"
    assert jira_issue_of("https://x.atlassian.net/rest/api/3/field") is None


def test_a_429_without_retry_after_still_pauses_a_moment_and_a_503_with_one_counts() -> None:
    clock = FakeClock()
    door = gate(clock)
    door.observe(429, {})
    assert door.held_until() == pytest.approx(clock.now + 1.0)
    clock.sleep(1)
    door.observe(503, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert door.held_until() == pytest.approx(clock.now + 86_400)  # capped at a day


def test_the_breaker_opens_after_failures_in_a_row_lets_one_probe_through_and_closes() -> None:
    clock = FakeClock()
    door = gate(clock, threshold=3, cooldown=2.0, max_cooldown=8.0)
    for _ in range(2):
        door.admit()
        door.observe(503, {})
    assert door.state == CLOSED
    door.admit()
    door.observe(None)  # connection refused
    assert door.state == OPEN
    with pytest.raises(TransientError) as held:
        door.admit()
    assert held.value.held_back and held.value.retry_after == pytest.approx(2.0)
    clock.sleep(2.0)
    assert door.state == HALF_OPEN
    assert door.admit() is True  # the probe
    with pytest.raises(TransientError):
        door.admit()  # only one probe at a time
    door.observe(502, {}, probe=True)  # still down: open again, for longer
    assert door.state == OPEN and door.held_until() == pytest.approx(clock.now + 4.0)
    clock.sleep(4.0)
    assert door.admit() is True
    door.observe(200, {}, probe=True)
    assert door.state == CLOSED and door.recoveries == 1
    assert door.admit() is False


def test_client_errors_do_not_open_the_breaker() -> None:
    clock = FakeClock()
    door = gate(clock, threshold=2)
    for status in (400, 404, 403, 409, 400):
        door.admit()
        door.observe(status, {})
    assert door.state == CLOSED
