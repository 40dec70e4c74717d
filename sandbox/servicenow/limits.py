"""Rate-limit rules (``sys_rate_limit_rules``) and injected faults.

A rate-limit rule counts requests per user per clock hour. Every answer to a
user under a rule carries ``X-RateLimit-Limit``, ``X-RateLimit-Reset`` (epoch
seconds of the next window) and ``X-RateLimit-Rule`` (the rule's sys_id); once
over the limit the answer is 429 with ``Retry-After`` and the documented body.
Injected faults answer a given status for the next ``count`` matching requests;
a 429 without ``retry_after`` is the "node queue full" answer, which has no
``Retry-After``. Chaos answers a share of some users' Table/Batch API requests
with an error (and every n-th with a 429) at random; the Retry-After ledger
counts requests a user sent before a ``Retry-After`` it was given had elapsed.
"""
from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Callable

_STATUS_TEXT = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                503: "Service Unavailable", 504: "Gateway Timeout", 400: "Bad Request",
                401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout"}


@dataclass(slots=True)
class RateLimitRule:
    requests_per_hour: int
    user: str | None = None  # None = every user
    name: str = "itsm-align sandbox rule"
    sys_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    counts: dict[tuple[str, int], int] = field(default_factory=dict)  # (user, hour) -> count


@dataclass(slots=True)
class Fault:
    status: int
    count: int
    path_regex: re.Pattern[str] | None = None
    method: str | None = None
    retry_after: int | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path_regex is None or bool(self.path_regex.search(path))


@dataclass(frozen=True, slots=True)
class Denial:
    status: int
    body: dict
    headers: dict[str, str]


class Limits:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.rules: list[RateLimitRule] = []
        self.faults: list[Fault] = []
        self.chaos: Chaos | None = None
        self.ledger = RetryAfterLedger()

    def add_rule(self, requests_per_hour: int, user: str | None = None,
                 name: str = "itsm-align sandbox rule") -> RateLimitRule:
        rule = RateLimitRule(requests_per_hour, user, name)
        with self._lock:
            self.rules.append(rule)
        return rule

    def inject(self, *, status: int, count: int = 1, path_regex: str | None = None,
               method: str | None = None, retry_after: int | None = None,
               message: str | None = None) -> Fault:
        fault = Fault(status, count, re.compile(path_regex) if path_regex else None, method,
                      retry_after, message)
        with self._lock:
            self.faults.append(fault)
        return fault

    def check_fault(self, method: str, path: str) -> Denial | None:
        """The next injected fault matching this request, consumed."""
        with self._lock:
            for f in self.faults:
                if f.count > 0 and f.matches(method, path):
                    f.count -= 1
                    if f.count == 0:
                        self.faults.remove(f)
                    return _fault_denial(f)
        return None

    def set_chaos(self, chaos: Chaos | None) -> None:
        with self._lock:
            self.chaos = chaos

    def check_chaos(self, user: str | None, method: str, path: str) -> Denial | None:
        """Chaos's answer to this request, if it fails it."""
        with self._lock:
            fault = self.chaos.decide(user, method, path) if self.chaos is not None else None
        return None if fault is None else _fault_denial(fault)

    def check_rate(self, user: str) -> tuple[Denial | None, dict[str, str]]:
        """Count this request; (429 denial or None, rate-limit headers for the answer)."""
        now = self.clock()
        hour = int(now // 3600)
        reset = (hour + 1) * 3600
        headers: dict[str, str] = {}
        denial = None
        with self._lock:
            for rule in self.rules:
                if rule.user is not None and rule.user != user:
                    continue
                key = (user, hour)
                rule.counts[key] = rule.counts.get(key, 0) + 1
                headers = {"X-RateLimit-Limit": str(rule.requests_per_hour),
                           "X-RateLimit-Reset": str(reset), "X-RateLimit-Rule": rule.sys_id}
                if rule.counts[key] > rule.requests_per_hour and denial is None:
                    body = {"error": {"message": "Rate limit exceeded",
                                      "detail": f"Rate limit of {rule.requests_per_hour} requests per "
                                                f"hour for Table API exceeded"},
                            "status": "failure"}
                    denial = Denial(429, body, {**headers, "Retry-After": str(max(1, int(reset - now)))})
        return denial, headers

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.faults.clear()
            self.chaos = None
        self.ledger.clear()


def _fault_denial(f: Fault) -> Denial:
    headers: dict[str, str] = {}
    if f.retry_after is not None:
        headers["Retry-After"] = str(f.retry_after)
    if f.status == 429:
        message = f.message or ("Rate limit exceeded" if f.retry_after is not None
                                else "Maximum number of requests in queue exceeded")
        detail = ("Injected rate limit" if f.retry_after is not None
                  else "The node's request queue is full; try again later")
    else:
        message = f.message or _STATUS_TEXT.get(f.status, "Error")
        detail = "Injected fault"
    return Denial(f.status, {"error": {"message": message, "detail": detail}, "status": "failure"},
                  headers)


def status_text(code: int) -> str:
    return {200: "OK", 201: "Created", 204: "No Content", **_STATUS_TEXT}.get(code, "")


# ---------------------------------------------------------------- chaos and Retry-After accounting
#: Requests chaos applies to: the Table API (any version) and the Batch API.
_API_PATH = re.compile(r"^/api/now/(?:v\d+/)?(?:table|batch)(?:/|$)")


@dataclass(slots=True)
class Chaos:
    """Probabilistic faults for some users' Table/Batch API requests.

    Every ``every_nth_429``-th such request is answered 429 with
    ``Retry-After: retry_after``; of the others, a share ``error_rate`` is
    answered ``status``. ``rng`` is seeded, so a run can be repeated."""

    error_rate: float
    status: int
    every_nth_429: int | None
    retry_after: int | None
    users: frozenset[str]
    rng: random.Random
    seen: int = 0
    answered: dict[int, int] = field(default_factory=dict)  # status -> how many chaos answered

    def decide(self, user: str | None, method: str, path: str) -> Fault | None:
        if user not in self.users or not _API_PATH.match(path):
            return None
        self.seen += 1
        if self.every_nth_429 and self.seen % self.every_nth_429 == 0:
            fault = Fault(429, 1, retry_after=self.retry_after)
        elif self.error_rate and self.rng.random() < self.error_rate:
            fault = Fault(self.status, 1)
        else:
            return None
        self.answered[fault.status] = self.answered.get(fault.status, 0) + 1
        return fault


@dataclass(frozen=True, slots=True)
class RetryAfterViolation:
    """A request that arrived while a ``Retry-After`` the sandbox gave its user still held."""

    user: str
    method: str
    path: str
    arrived: float  # unix seconds
    told_at: float  # when the 429 had been sent
    deadline: float  # told_at + Retry-After

    @property
    def early_by(self) -> float:
        return self.deadline - self.arrived

    @property
    def after_429(self) -> float:
        """Seconds between the 429 being sent and this request arriving."""
        return self.arrived - self.told_at


class RetryAfterLedger:
    """For each 429 with ``Retry-After`` sent to a user, the time before which
    that user should send nothing; requests arriving inside it are violations.

    ``grace``: requests arriving within this many seconds of the 429 having
    been sent were already on their way when it went out (not violations)."""

    def __init__(self, grace: float = 0.05) -> None:
        self.grace = grace
        self._lock = threading.Lock()
        self._windows: dict[str, list[tuple[float, float]]] = {}  # user -> [(told_at, deadline)]
        self.told = 0  # 429s with Retry-After sent
        self.inside: list[RetryAfterViolation] = []  # every request inside a window, grace or not

    def told_to_wait(self, user: str, seconds: float, at: float) -> None:
        with self._lock:
            self.told += 1
            windows = [w for w in self._windows.get(user, []) if w[1] > at]
            windows.append((at, at + seconds))
            self._windows[user] = windows

    def arrived(self, user: str | None, method: str, path: str, at: float) -> RetryAfterViolation | None:
        if user is None:
            return None
        with self._lock:
            for told_at, deadline in self._windows.get(user, ()):
                if told_at <= at < deadline:
                    found = RetryAfterViolation(user, method, path, at, told_at, deadline)
                    self.inside.append(found)
                    return found if at >= told_at + self.grace else None
        return None

    def violations(self, grace: float | None = None) -> list[RetryAfterViolation]:
        """Requests that arrived inside a window, ``grace`` (default: ``self.grace``)
        seconds or more after the 429 was sent."""
        grace = self.grace if grace is None else grace
        with self._lock:
            return [v for v in self.inside if v.arrived >= v.told_at + grace]

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
            self.inside.clear()
            self.told = 0
