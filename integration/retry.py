"""One retry policy for synchronous calls (set-up, back-fill, CLI).

The worker does not sleep: it re-schedules the inbox item using
``delay_for`` instead. Only errors marked retryable (429, 5xx, connection
errors) are retried; ``Retry-After`` is honoured as a minimum; waits grow
2, 4, 8, 16 s with x0.7-1.3 jitter, as Atlassian and ServiceNow advise.
"""
from __future__ import annotations

import logging
import math
import random
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, TypeVar

from .base import PlatformError

T = TypeVar("T")
log = logging.getLogger(__name__)

#: A ``Retry-After`` longer than this is read as this (a day): a bogus or
#: hostile header must not stall work for years, nor overflow a timestamp.
RETRY_AFTER_CAP = 86_400.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 section 10.2.3):
    delay-seconds or an HTTP-date; None when absent or unreadable (then the
    caller's back-off applies). Never negative, at most RETRY_AFTER_CAP."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(RETRY_AFTER_CAP, max(0.0, seconds))


def delay_for(error: PlatformError, attempt: int, *, base: float = 2.0, cap: float = 60.0,
              rng: random.Random | None = None) -> float:
    """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
    rng = rng or random
    backoff = min(cap, base * (2 ** (attempt - 1))) * rng.uniform(0.7, 1.3)
    if error.retry_after is not None:
        return max(float(error.retry_after), backoff if error.retry_after <= 0 else float(error.retry_after))
    return backoff


def call_with_retry(fn: Callable[[], T], *, attempts: int = 5, base: float = 2.0, cap: float = 60.0,
                    sleep: Callable[[float], None] = time.sleep,
                    on_retry: Callable[[PlatformError, float], None] | None = None) -> T:
    """Call ``fn``; retry retryable PlatformErrors up to ``attempts`` tries in all."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except PlatformError as error:
            if not error.retryable or attempt == attempts or error.unreachable in ("refused", "dns"):
                raise  # refused / no such host: a wrong URL or a site that is down, said at once
            wait = delay_for(error, attempt, base=base, cap=cap)
            log.warning("retrying in %.1fs after %s (try %d of %d)", wait, error, attempt, attempts)
            if on_retry is not None:
                on_retry(error, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
