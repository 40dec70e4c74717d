"""The product's async business rule on ``task``, run by the sandbox.

On insert or update of a task-family record it builds the event of the
contract in the itsm-align docs (table, sys_id, number, class, sys_mod_count,
sys_updated_on/by, event id, the configured fields and their display values),
signs ``timestamp + "." + body`` with HMAC-SHA256 (base64) and POSTs it to the
URL in ``itsm_align.endpoint`` from a background thread, like
``RESTMessageV2.executeAsync``. The rule's condition
(``sys_updated_by != itsm_align.integration_user``) can be switched off to prove
the service's own loop guard. There are no retries (the platform has none):
failures are recorded.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Mapping

import requests

DEFAULT_FIELDS: tuple[str, ...] = (
    "short_description", "description", "priority", "state", "impact", "urgency", "category",
    "subcategory", "assignment_group", "business_service", "cmdb_ci", "parent", "caller_id",
    "opened_by", "assigned_to", "u_business_objective", "u_alignment_score",
    "u_alignment_rationale", "u_work_nature", "time_worked", "opened_at", "sys_created_on",
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + "." + body)), as the rule's script computes it."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass(slots=True)
class PostedEvent:
    """One event the rule sent (or tried to send) and what came back."""

    event_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    payload: dict
    status: int | None = None  # HTTP status of the answer; None if no answer
    response_body: str = ""
    error: str | None = None  # connection error text, if any
    done: bool = False
    queued_at: float = 0.0  # time.monotonic() when the rule fired
    answered_at: float = 0.0  # time.monotonic() when the answer (or error) came back


@dataclass(frozen=True, slots=True)
class RuleRun:
    """Every time the rule was considered: posted, or why not."""

    table: str
    sys_id: str
    operation: str
    sys_updated_by: str
    outcome: str  # posted | skipped_condition | no_endpoint
    event_id: str | None = None


@dataclass(slots=True)
class RuleSettings:
    condition_enabled: bool = True
    timeout: float = 10.0
    verify: bool | str = True  # for https endpoints


class EventPoster:
    """Builds, signs and posts events on a background worker thread."""

    def __init__(self, clock: Callable[[], float], workers: int = 1) -> None:
        self.clock = clock
        self.settings = RuleSettings()
        self.events: list[PostedEvent] = []
        self.runs: list[RuleRun] = []
        self._cond = threading.Condition()
        self._queue: queue.Queue[PostedEvent | None] = queue.Queue()
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or CA bundle from the environment
        self._threads = [threading.Thread(target=self._work, name=f"sn-sandbox-rule-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    # ---------------------------------------------------------- the rule
    def run(self, *, operation: str, table: str, record: Mapping[str, str], properties: Mapping[str, str],
            fields_of: Callable[[tuple[str, ...]], tuple[dict[str, str], dict[str, str]]]) -> RuleRun:
        """Decide and enqueue. ``fields_of(names)`` -> (values, display values) of the record."""
        endpoint = properties.get("itsm_align.endpoint", "")
        who = record.get("sys_updated_by", "")
        sys_id = record["sys_id"]
        if not endpoint:
            return self._log_run(RuleRun(table, sys_id, operation, who, "no_endpoint"))
        if self.settings.condition_enabled and who == properties.get("itsm_align.integration_user", ""):
            return self._log_run(RuleRun(table, sys_id, operation, who, "skipped_condition"))
        names_prop = properties.get("itsm_align.fields", "")
        names = tuple(n.strip() for n in names_prop.split(",") if n.strip()) or DEFAULT_FIELDS
        values, display = fields_of(names)
        event_id = uuid.uuid4().hex
        payload = {
            "event_id": event_id, "operation": operation, "table": table,
            "sys_class_name": record.get("sys_class_name", table), "sys_id": sys_id,
            "number": record.get("number", ""), "sys_mod_count": int(record.get("sys_mod_count", "0")),
            "sys_updated_on": record.get("sys_updated_on", ""), "sys_updated_by": who,
            "fields": values, "display": display,
        }
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        ts = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ServiceNow/1.0",
            "X-ITSM-Align-Event-Id": event_id,
            "X-ITSM-Align-Timestamp": ts,
            "X-ITSM-Align-Signature": sign(properties.get("itsm_align.secret", ""), ts, body),
        }
        ev = PostedEvent(event_id, endpoint, headers, body, payload, queued_at=time.monotonic())
        with self._cond:
            self.events.append(ev)
        self._queue.put(ev)
        return self._log_run(RuleRun(table, sys_id, operation, who, "posted", event_id))

    def _log_run(self, run: RuleRun) -> RuleRun:
        with self._cond:
            self.runs.append(run)
        return run

    # ---------------------------------------------------------- delivery
    def _work(self) -> None:
        while True:
            ev = self._queue.get()
            if ev is None:
                return
            try:
                r = self._session.post(ev.url, data=ev.body, headers=ev.headers,
                                       timeout=self.settings.timeout, verify=self.settings.verify)
                ev.status, ev.response_body = r.status_code, r.text[:2000]
            except requests.RequestException as exc:
                ev.error = f"{type(exc).__name__}: {exc}"
            with self._cond:
                ev.answered_at = time.monotonic()
                ev.done = True
                self._cond.notify_all()

    def wait_for_events(self, n: int, timeout: float = 10.0) -> list[PostedEvent]:
        """Block until at least ``n`` events were delivered (answered or failed)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                done = [e for e in self.events if e.done]
                if len(done) >= n:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {n} delivered events within {timeout}s, got {len(done)} "
                        f"({len(self.events)} queued); is itsm_align.endpoint set and the rule condition "
                        f"letting the user through? runs: {self.runs[-5:]}")
                self._cond.wait(left)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until every queued event was delivered."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(not e.done for e in self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("events still being delivered")
                self._cond.wait(left)

    def clear(self) -> None:
        try:
            self.wait_idle(timeout=10.0)
        except TimeoutError:
            pass
        with self._cond:
            self.events.clear()
            self.runs.clear()
        self.settings = RuleSettings()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=5)
        self._session.close()
