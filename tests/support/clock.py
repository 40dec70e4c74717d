"""A clock that moves only when the code under test sleeps: retries and
Retry-After windows are tested without waiting (and without sleeps in tests)."""
from __future__ import annotations

import time


class FakeClock:
    """``time()`` starts at the real time; ``sleep(s)`` records ``s`` and moves the clock on."""

    def __init__(self) -> None:
        self.now = time.time()
        self.waits: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
