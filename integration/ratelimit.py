"""One door per platform: ``Retry-After`` and a circuit breaker shared by every
request of a process, and by every process through the state store.

Both clients (atlassian-python-api's session, PySNC's session) send through a
:class:`GatedHTTPAdapter` mounted on their ``requests`` session, so *every*
request passes the platform's :class:`PlatformGate`, whichever library call or
thread sends it:

- **Retry-After binds everyone.** A 429 (or a 503 with ``Retry-After``) sets
  the platform's "not before" time; until then no request leaves: the gate
  raises :class:`~itsm_align.integration.base.RateLimited` without sending
  (``retry_after`` = what is left), so the worker reschedules the item and the
  CLI waits. The time is also written to the shared state store (the service
  database) and read before each request, so a worker process that did not
  get the 429 keeps to it as well. Where the platform says the limit is per
  issue (Jira ``RateLimit-Reason: jira-per-issue-on-write``), only requests
  for that issue wait.
- **A platform that is down is not hammered.** After ``threshold``
  consecutive transient failures (5xx, connection errors, timeouts) the
  breaker opens: requests fail at once with a transient error, without being
  sent, until a cool-down (growing from ``cooldown`` to ``max_cooldown``)
  has passed; then exactly one request (the probe) goes out. Its success
  closes the breaker; its failure opens it again for longer.

The gate only decides and records; callers keep their own retry policy
(``integration.retry`` in the CLI, the inbox's back-off in the worker).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

from .base import KeyValueStore, PlatformError, RateLimited, TransientError
from .retry import RETRY_AFTER_CAP, parse_retry_after

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
#: Answers that count as "the platform is failing" for the breaker.
FAILING = frozenset({500, 502, 503, 504})

#: Jira issue keys or ids in REST paths (``/rest/api/3/issue/SHOP-12``, ``.../issue/10001/properties``)
_JIRA_ISSUE = re.compile(r"/rest/api/\d+/issue/([A-Za-z0-9_-]+)")


def jira_issue_of(url: str) -> str | None:
    """The issue a Jira REST URL is about (for per-issue limits), if any."""
    match = _JIRA_ISSUE.search(url)
    return match.group(1).upper() if match else None


class PlatformGate:
    """Shared rate-limit and breaker state of one platform (see the module docstring).

    Thread-safe. ``store``: where other processes see the not-before time
    (the adapter's state store; None keeps it in this process)."""

    def __init__(self, platform: str, store: KeyValueStore | None = None, *, threshold: int = 5,
                 cooldown: float = 1.0, max_cooldown: float = 15.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.platform = platform
        self.store = store
        self.threshold, self.cooldown, self.max_cooldown = threshold, cooldown, max_cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._not_before = 0.0
        self._per_item: dict[str, float] = {}
        self._failures = 0
        self._state = CLOSED
        self._open_until = 0.0
        self._opened = 0  # consecutive openings, for the growing cool-down
        self._probing = False
        self.recoveries = 0  # times the breaker closed again after being open
        self.held_back = 0  # requests not sent because of Retry-After or an open breaker

    # ------------------------------------------------------------ reading
    @property
    def _store_key(self) -> str:
        return "gate:not-before"

    def not_before(self, item: str | None = None) -> float:
        """Unix time before which no request (for ``item``) may be sent."""
        shared = 0.0
        if self.store is not None:
            try:
                shared = float(self.store.get(self._store_key) or 0.0)
            except (ValueError, TypeError):
                shared = 0.0
            except Exception as error:  # the database hiccups: keep to what we know here
                log.debug("could not read the shared rate-limit state: %s", error)
        with self._lock:
            until = max(self._not_before, shared)
            if item is not None:
                until = max(until, self._per_item.get(item, 0.0))
            return until

    def held_until(self, item: str | None = None) -> float:
        """When work on this platform (for ``item``) can go on: the Retry-After
        time, or the breaker's next probe while it is open (0: now)."""
        until = self.not_before(item)
        with self._lock:
            if self._state == OPEN:
                until = max(until, self._open_until)
        return until if until > self.clock() else 0.0

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self.clock() >= self._open_until:
                return HALF_OPEN
            return self._state

    # ------------------------------------------------------------ the door
    def admit(self, item: str | None = None) -> bool:
        """Called right before a request is sent: raises instead of sending
        inside a Retry-After window or while the breaker is open. Returns True
        when this request is the breaker's probe."""
        now = self.clock()
        until = self.not_before(item)
        if until > now:
            with self._lock:
                self.held_back += 1
            raise _held(RateLimited(self.platform, f"{self.platform} asked us to wait; not sending before "
                                    f"its Retry-After has elapsed ({until - now:.1f}s left)",
                                    retry_after=until - now))
        with self._lock:
            if self._state == CLOSED:
                return False
            if now < self._open_until or self._probing:
                self.held_back += 1
                wait = max(self._open_until - now, 0.5)
                raise _held(TransientError(self.platform, f"{self.platform} is failing (circuit breaker open "
                                           f"after {self.threshold} failures in a row); next try in {wait:.1f}s",
                                           retry_after=wait))
            self._probing = True  # this request is the one probe
            return True

    def release_probe(self) -> None:
        """The probe ended without an answer that says anything about the
        platform (e.g. a bug on our side): let the next request probe."""
        with self._lock:
            self._probing = False

    def observe(self, status: int | None, headers: Any = None, *, item: str | None = None,
                probe: bool = False) -> None:
        """Record an answer (``status``) or a transport failure (``None``)."""
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers is not None else None
        if status == 429 or (retry_after is not None and status in FAILING):
            seconds = retry_after if retry_after is not None else 1.0
            per_item = item is not None and headers is not None and \
                headers.get("RateLimit-Reason") == "jira-per-issue-on-write"
            self.block(seconds, item=item if per_item else None)
        failing = status is None or status in FAILING
        if status is not None and not failing and not self._failures and self._state == CLOSED and not probe:
            return  # the common case: a healthy answer, nothing to change
        with self._lock:
            if probe:
                self._probing = False
            if failing:
                self._failures += 1
                if self._state == CLOSED and self._failures < self.threshold:
                    return
                self._open()
                published = (OPEN, self._open_until)
            elif status is not None:
                self._failures = 0
                if self._state == CLOSED:
                    return
                log.warning("%s answers again: circuit breaker closed", self.platform)
                self.recoveries += 1
                self._state, self._opened = CLOSED, 0
                published = (CLOSED, 0.0)
            else:
                return
        self._publish(*published)

    def block(self, seconds: float, *, item: str | None = None) -> None:
        """No request (for ``item``) before ``seconds`` from now, in any thread
        and (through the store) any process."""
        until = self.clock() + min(max(0.0, seconds), RETRY_AFTER_CAP)
        with self._lock:
            if item is not None:
                self._per_item[item] = max(self._per_item.get(item, 0.0), until)
                if len(self._per_item) > 10_000:
                    now = self.clock()
                    self._per_item = {k: v for k, v in self._per_item.items() if v > now}
                return
            if until <= self._not_before:
                return
            self._not_before = until
        if self.store is not None:
            try:
                current = float(self.store.get(self._store_key) or 0.0)
                if until > current:
                    self.store.set(self._store_key, repr(until))
            except Exception as error:
                log.warning("could not share the %s rate limit with other workers: %s", self.platform, error)
        log.warning("%s asked us to wait %.1fs (Retry-After): every request waits", self.platform, seconds)

    #: state-store key where the breaker's state is published (for /metrics of every process)
    BREAKER_KEY = "gate:breaker"

    def _publish(self, state: str, until: float) -> None:
        """Let ``serve``'s /metrics (another process) show the breaker's state."""
        if self.store is None:
            return
        try:
            self.store.set(self.BREAKER_KEY, f"{state} {until!r} {self.clock()!r}")
        except Exception as error:
            log.debug("could not publish the %s breaker state: %s", self.platform, error)

    def _open(self) -> None:  # caller holds the lock
        self._opened += 1
        pause = min(self.max_cooldown, self.cooldown * 2 ** (self._opened - 1))
        if self._state == CLOSED:
            log.warning("%s failed %d times in a row: circuit breaker open, probing every %.0fs at most",
                        self.platform, self._failures, self.max_cooldown)
        self._state = OPEN
        self._open_until = self.clock() + pause


def _held(error: PlatformError) -> PlatformError:
    error.held_back = True
    return error


class GatedHTTPAdapter(HTTPAdapter):
    """A ``requests`` transport adapter that sends only what the gate admits,
    reports every answer to it, and gives every request a timeout (PySNC sets
    none). ``item_of(url)``: the item a URL is about, for per-item limits."""

    def __init__(self, gate: PlatformGate, *, timeout: float | None = None,
                 item_of: Callable[[str], str | None] | None = None) -> None:
        super().__init__(max_retries=0)
        self.gate, self._timeout, self._item_of = gate, timeout, item_of

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None and self._timeout is not None:
            kwargs["timeout"] = self._timeout
        item = self._item_of(request.url or "") if self._item_of is not None else None
        probe = self.gate.admit(item)
        try:
            response = super().send(request, **kwargs)
        except (requests.ConnectionError, requests.Timeout):
            self.gate.observe(None, probe=probe)
            raise
        except BaseException:
            if probe:
                self.gate.release_probe()
            raise
        self.gate.observe(response.status_code, response.headers, item=item, probe=probe)
        return response
