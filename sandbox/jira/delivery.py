"""Webhook registrations and their delivery, the way Jira Cloud sends them.

Each event becomes one :class:`Delivery` per matching registration. Deliveries
go out from a small pool of lanes (threads); one issue always maps to the same
lane, so events of one issue arrive in order, retries included. Headers:
``X-Atlassian-Webhook-Identifier`` (same on every retry), ``X-Atlassian-Webhook-Retry``
(absent on the first try), ``X-Atlassian-Webhook-Flow: Primary`` and, when the
registration has a secret, ``X-Hub-Signature: sha256=<HMAC-SHA256 of the raw body>``.
Retried on 408, 409, 425, 429, 5xx, refused connection or timeout, after the
waits in ``backoff`` (one retry per entry).

Data Center (``datacenter=True``), as assumed in docs/jira-datacenter.md: the
same body shape with users as ``name``/``key`` (no accountId), the same
``X-Hub-Signature`` when a secret is set, no ``X-Atlassian-Webhook-*`` headers
(the service then dedupes on a hash of the body), and, by default, no retry.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

RETRY_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
DEFAULT_BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8)


@dataclass
class Webhook:
    """An admin webhook (``/rest/webhooks/1.0/webhook``)."""

    id: int
    name: str
    url: str
    events: list[str]
    jql: str | None
    exclude_body: bool
    secret: str | None
    enabled: bool
    updated_by: str
    updated: float

    def json(self, base: str) -> dict[str, Any]:
        return {
            "self": f"{base}/rest/webhooks/1.0/webhook/{self.id}",
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "filters": {"issue-related-events-section": self.jql or ""},
            "excludeBody": self.exclude_body,
            "enabled": self.enabled,
            "lastUpdatedUser": self.updated_by,
            "lastUpdated": int(self.updated * 1000),
        }


@dataclass
class Attempt:
    """One HTTP attempt: ``status`` is None when the connection failed."""

    retry: int
    status: int | None
    error: str | None
    at: float


@dataclass
class Delivery:
    """One event sent to one webhook, with every attempt."""

    identifier: str
    webhook_id: int
    url: str
    event: str
    issue_key: str | None
    body: bytes
    headers: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    state: str = "pending"  # pending, delivered, failed, cancelled (by reset)
    generation: int = 0

    @property
    def payload(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def status(self) -> int | None:
        """Status of the last attempt."""
        return self.attempts[-1].status if self.attempts else None

    @property
    def done(self) -> bool:
        return self.state != "pending"


def sign(secret: str, body: bytes) -> str:
    """``X-Hub-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Dispatcher:
    """Sends deliveries from ``lanes`` threads and keeps the log."""

    def __init__(self, lanes: int = 4, backoff: tuple[float, ...] = DEFAULT_BACKOFF,
                 timeout: float = 5.0, datacenter: bool = False) -> None:
        self.datacenter = datacenter
        self.backoff = tuple(backoff)
        self.timeout = timeout
        self.log: list[Delivery] = []
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._queues: list[queue.Queue[Delivery | None]] = [queue.Queue() for _ in range(lanes)]
        self._threads = [threading.Thread(target=self._run, args=(q,), name=f"jira-sandbox-webhook-{n}", daemon=True)
                         for n, q in enumerate(self._queues)]
        self._paused = threading.Event()
        self._paused.set()
        self._generation = 0
        self._wake = threading.Event()
        for t in self._threads:
            t.start()

    def submit(self, hook: Webhook, event: str, issue_key: str | None, payload: dict[str, Any]) -> Delivery:
        body = b"" if hook.exclude_body else json.dumps(payload, separators=(",", ":")).encode()
        identifier = str(uuid.uuid4())
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Atlassian Webhook HTTP Client"}
        if not self.datacenter:  # Data Center sends no delivery identifier or flow (assumption, see module doc)
            headers["X-Atlassian-Webhook-Identifier"] = identifier
            headers["X-Atlassian-Webhook-Flow"] = "Primary"
        if hook.secret:
            headers["X-Hub-Signature"] = sign(hook.secret, body)
        with self.cond:
            delivery = Delivery(identifier, hook.id, hook.url, event,
                                issue_key, body, headers, generation=self._generation)
            self.log.append(delivery)
        lane = hash(issue_key or event) % len(self._queues)
        self._queues[lane].put(delivery)
        return delivery

    def _run(self, q: "queue.Queue[Delivery | None]") -> None:
        session = requests.Session()
        while True:
            delivery = q.get()
            if delivery is None:
                return
            self._paused.wait()
            self._deliver(session, delivery)

    def _cancelled(self, delivery: Delivery) -> bool:
        """Mark and report a delivery dropped by :meth:`cancel_pending` or :meth:`stop`."""
        with self.cond:
            if self._stop.is_set() or delivery.generation != self._generation:
                delivery.state = "cancelled"
                self.cond.notify_all()
                return True
            return False

    def _deliver(self, session: requests.Session, delivery: Delivery) -> None:
        wake = self._wake
        for retry in range(len(self.backoff) + 1):
            if self._cancelled(delivery):
                return
            headers = dict(delivery.headers)
            if retry:
                headers["X-Atlassian-Webhook-Retry"] = str(retry)
            try:
                resp = session.post(delivery.url, data=delivery.body, headers=headers, timeout=self.timeout)
                attempt = Attempt(retry, resp.status_code, None, time.time())
                retryable = resp.status_code in RETRY_STATUSES
            except requests.RequestException as exc:
                attempt = Attempt(retry, None, type(exc).__name__, time.time())
                retryable = True
            with self.cond:
                delivery.attempts.append(attempt)
                if not retryable:
                    delivery.state = "delivered" if attempt.status and attempt.status < 400 else "failed"
                    self.cond.notify_all()
                    return
            if retry < len(self.backoff) and wake.wait(self.backoff[retry]) and self._cancelled(delivery):
                return
        with self.cond:
            delivery.state = "failed"
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float, predicate: Callable[[Delivery], bool] | None = None) -> list[Delivery]:
        """Wait until ``n`` deliveries (matching ``predicate``) are finished; return them all.

        Raises ``TimeoutError`` listing what was seen when they do not arrive in time.
        """
        def finished() -> list[Delivery]:
            return [d for d in self.log if d.done and (predicate is None or predicate(d))]

        with self.cond:
            if not self.cond.wait_for(lambda: len(finished()) >= n, timeout):
                seen = [(d.event, d.issue_key, d.state, [a.status for a in d.attempts]) for d in self.log]
                raise TimeoutError(f"expected {n} finished webhook deliveries within {timeout}s, saw {seen}")
            return finished()

    def pause(self) -> None:
        """Hold deliveries (queued ones wait) until :meth:`resume`."""
        self._paused.clear()

    def resume(self) -> None:
        self._paused.set()

    def cancel_pending(self) -> None:
        """Drop every queued or retrying delivery (used by the sandbox's reset)."""
        with self.cond:
            self._generation += 1
            wake, self._wake = self._wake, threading.Event()
        wake.set()
        self.resume()

    def clear(self) -> None:
        with self.cond:
            self.log.clear()

    def idle(self, timeout: float = 5.0) -> bool:
        """Wait until every logged delivery is finished."""
        with self.cond:
            return self.cond.wait_for(lambda: all(d.done for d in self.log), timeout)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._paused.set()
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout=5)
