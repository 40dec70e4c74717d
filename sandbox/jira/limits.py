"""Rate limits and injected faults.

* Per-issue write limit (Jira Cloud): by default 20 writes per 2 s and 100 per
  30 s per issue; beyond that a 429 with ``Retry-After`` and
  ``RateLimit-Reason: jira-per-issue-on-write``.
* Burst limit per endpoint (off unless configured): requests per second per
  (method, route), 429 with ``RateLimit-Reason: jira-burst-based``.
* Faults injected by tests: answer a matching request with 429/5xx (or only
  delay it) for the next ``count`` matches.
"""
from __future__ import annotations

import collections
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .errors import JiraError

PER_ISSUE_DEFAULT: tuple[tuple[int, float], ...] = ((20, 2.0), (100, 30.0))


def _reset_header(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rate_limited(reason: str, retry_after: float | None, limit: int | None, *,
                 datacenter: bool = False) -> JiraError:
    """A 429 as Jira sends it; ``retry_after`` None leaves out the header.

    Data Center (its admin-configured token bucket) answers with
    ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Interval-Seconds``,
    ``X-RateLimit-FillRate`` and ``Retry-After`` and no ``RateLimit-Reason``
    (confluence.atlassian.com/adminjiraserver/adjusting-your-code-for-rate-limiting-987143384.html).
    """
    if datacenter:
        dc = {"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": str(limit or 10),
              "X-RateLimit-Interval-Seconds": "1", "X-RateLimit-FillRate": str(limit or 10)}
        if retry_after is not None:
            dc["Retry-After"] = str(int(math.ceil(retry_after)))
        return JiraError(429, ["Rate limit exceeded."], headers=dc)
    headers = {"RateLimit-Reason": reason, "X-RateLimit-Remaining": "0"}
    if limit is not None:
        headers["X-RateLimit-Limit"] = str(limit)
    if retry_after is not None:
        headers["Retry-After"] = str(int(math.ceil(retry_after)))
        headers["X-RateLimit-Reset"] = _reset_header(retry_after)
    return JiraError(429, ["Rate limit exceeded."], headers=headers)


class SlidingWindows:
    """Counts events per key in several sliding windows."""

    def __init__(self, windows: tuple[tuple[int, float], ...]) -> None:
        self.windows = windows
        self._events: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> tuple[float, int] | None:
        """Record one event; return (seconds to wait, limit) when over a limit (not recorded then)."""
        if not self.windows:
            return None
        now = time.monotonic() if now is None else now
        longest = max(w for _, w in self.windows)
        with self._lock:
            events = self._events.setdefault(key, collections.deque())
            while events and events[0] <= now - longest:
                events.popleft()
            for limit, window in self.windows:
                recent = [t for t in events if t > now - window]
                if len(recent) >= limit:
                    return max(recent[-limit] + window - now, 0.001), limit
            events.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


@dataclass
class Fault:
    """An injected failure: requests matching ``path_regex``/``method`` get ``status``
    (None = only ``latency``) for the next ``count`` matches."""

    path_regex: str | None = None
    method: str | None = None
    status: int | None = 503
    count: int = 1
    retry_after: float | None = None
    reason: str | None = None
    latency: float = 0.0
    hits: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self.hits >= self.count:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path_regex:
            if self._pattern is None:
                self._pattern = re.compile(self.path_regex)
            if not self._pattern.search(path):
                return False
        return True

    def error(self, datacenter: bool = False) -> JiraError | None:
        if self.status is None:
            return None
        if self.status == 429:
            return rate_limited(self.reason or "jira-burst-based", self.retry_after, None, datacenter=datacenter)
        headers = {"Retry-After": str(int(math.ceil(self.retry_after)))} if self.retry_after is not None else {}
        messages = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable",
                    504: "Gateway timeout"}
        return JiraError(self.status, [messages.get(self.status, f"Error {self.status}")], headers=headers)


class Faults:
    """The list of injected faults; the first matching one applies."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
