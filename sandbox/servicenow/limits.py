"""Rate-limit rules (``sys_rate_limit_rules``) and injected faults.

A rate-limit rule counts requests per user per clock hour. Every answer to a
user under a rule carries ``X-RateLimit-Limit``, ``X-RateLimit-Reset`` (epoch
seconds of the next window) and ``X-RateLimit-Rule`` (the rule's sys_id); once
over the limit the answer is 429 with ``Retry-After`` and the documented body.
Injected faults answer a given status for the next ``count`` matching requests;
a 429 without ``retry_after`` is the "node queue full" answer, which has no
``Retry-After``.
"""
from __future__ import annotations

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
