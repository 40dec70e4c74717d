"""The worker: takes due items from the inbox, assesses them, writes back.

One round: claim due items with a lease (all pending rows of one item come
together, so a burst of events for one ticket is processed once), then per
item: fetch its current state -> ``engine.assess(item, related=...)`` (related
= latest history of its parent / its project's tickets) -> ``adapter.write``
(only changed fields; nothing when nothing changed) -> history -> close rows.

Failures never lose the item, and transient ones never park it:

- A 429's ``Retry-After`` binds every thread of every worker: the adapters
  send through their platform's gate (integration/ratelimit.py), which no
  request passes inside the window, and which other processes read through
  the database. An item whose platform (or, for a per-issue limit, whose
  issue) is held is handed back untried, due when the window ends.
- 5xx, timeouts and refused connections back off with capped, jittered
  waits (``integration.retry.delay_for``, at most ``RETRY_CAP`` seconds) for
  as long as the platform keeps failing; the gate's circuit breaker lets one
  probe request through at a time meanwhile, and when the platform answers
  again the worker brings every backed-off item of that platform forward.
- Only permanent failures park an item ``failed`` with the platform's
  message (a 4xx other than 408/425/429, a field not on a screen, a
  configuration problem), and unexpected errors (bugs) after
  ``max_attempts``. The attempt count is the newest event's: a new event
  for an item starts it again.

A worker killed mid-item leaves its rows leased; another worker takes them
after the lease runs out. Processing is idempotent (current state in, only
differences out), so doing an item twice does no harm.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from typing import Any, Callable, Iterator, Mapping, Protocol

from itsm_align.integration.base import NotFound, PlatformAdapter, PlatformError, RateLimited
from itsm_align.integration.retry import delay_for
from itsm_align.scoring.rollup import project_rollup
from itsm_align.scoring.types import Assessment, WorkItem

from .storage.counters import WorkerCounters, latency_increments
from .storage.history import History
from .storage.inbox import Claim, Inbox
from .settings import ServiceSettings
from .storage.engine import checkpoint

log = logging.getLogger("itsm_align.worker")


class AssessmentEngine(Protocol):
    def assess(self, item: WorkItem, related: Mapping[str, Assessment] | None = None) -> Assessment: ...


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class RelatedFromHistory(Mapping[str, Assessment]):
    """``key -> latest Assessment`` for the engine's ``related``: any key (parent,
    epic) is looked up in history on demand; a project's tickets are preloaded
    (and are what iterating yields)."""

    def __init__(self, history: History, platform: str, preloaded: Mapping[str, Assessment] | None = None) -> None:
        self._history = history
        self._platform = platform
        self._known: dict[str, Assessment | None] = dict(preloaded or {})
        self._preloaded = tuple(self._known)

    def __getitem__(self, key: str) -> Assessment:
        if key not in self._known:
            self._known[key] = self._history.latest(self._platform, key)
        found = self._known[key]
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._preloaded)

    def __len__(self) -> int:
        return len(self._preloaded)


#: Longest back-off between two tries of an item while its platform fails (seconds).
RETRY_CAP = 10.0


class Worker:
    """Processes inbox items; ``run`` loops until ``stop`` is set."""

    def __init__(self, inbox: Inbox, history: History, adapters: Mapping[str, PlatformAdapter],
                 engine: AssessmentEngine | Callable[[], AssessmentEngine], *,
                 settings: ServiceSettings | None = None, owner: str | None = None) -> None:
        self.inbox = inbox
        self.history = history
        self.adapters = dict(adapters)
        self._engine = engine
        self.settings = settings or ServiceSettings()
        self.owner = owner or default_owner()
        self.paused_until = 0.0  # a platform-wide 429 from an adapter without a gate pauses this worker
        self._recoveries = {name: adapter.recoveries for name, adapter in self.adapters.items()}
        self.counters = WorkerCounters(inbox.engine)
        self._next_checkpoint = 0.0
        self._next_prune = 0.0
        self._redis: Any = None
        if self.settings.redis_url:
            import redis

            self._redis = redis.Redis.from_url(self.settings.redis_url)

    @property
    def engine(self) -> AssessmentEngine:
        engine = self._engine
        return engine if hasattr(engine, "assess") else engine()  # type: ignore[operator,return-value]

    # ------------------------------------------------------------ loop
    def run_once(self, limit: int | None = None) -> int:
        """One round: claim and process due items; returns how many items."""
        if time.time() < self.paused_until:
            return 0
        claims = self.inbox.claim(self.owner, lease_seconds=self.settings.lease_seconds,
                                  limit=limit or self.settings.claim_batch)
        for index, claim in enumerate(claims):
            if time.time() < self.paused_until:  # platform-wide 429: hand the rest back
                for rest in claims[index:]:
                    self.inbox.release(rest, not_before=self.paused_until)
                break
            adapter = self.adapters.get(claim.platform)
            held = adapter.held_until(claim.item_key) if adapter is not None else 0.0
            if held > time.time():  # Retry-After or an open breaker: hand it back untried
                self.inbox.release(claim, not_before=held)
                continue
            self.process(claim)
            self._after_recovery(claim.platform)
        return len(claims)

    def _after_recovery(self, platform: str) -> None:
        """The platform answers again after its breaker opened: bring the items
        that backed off meanwhile forward, so the backlog drains now."""
        adapter = self.adapters.get(platform)
        if adapter is None:
            return
        seen = adapter.recoveries
        if seen != self._recoveries.get(platform, 0):
            self._recoveries[platform] = seen
            moved = self.inbox.expedite(platform)
            log.warning("%s answers again: %d backed-off item(s) due now", platform, moved)

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Loop until ``stop`` is set (or, with ``until_idle``, the inbox has nothing due)."""
        while not stop.is_set():
            try:
                done = self.run_once()
                self.housekeeping()
            except Exception:  # database hiccup: log, wait, go on
                log.exception("worker round failed; retrying")
                done = 0
            if done:
                continue
            if until_idle and not self._anything_owed():
                return
            self._idle(stop)

    #: seconds between SQLite WAL checkpoints / between prunes of old done rows
    CHECKPOINT_EVERY = 1.0
    PRUNE_EVERY = 300.0

    def housekeeping(self, now: float | None = None) -> None:
        """Work kept off the webhook's ack path: checkpoint the SQLite WAL about
        once a second, and delete done inbox rows older than
        ``service.inbox_retention_hours`` every few minutes."""
        now = time.time() if now is None else now
        if now >= self._next_checkpoint:
            self._next_checkpoint = now + self.CHECKPOINT_EVERY
            checkpoint(self.inbox.engine)
        if now >= self._next_prune:
            self._next_prune = now + self.PRUNE_EVERY
            pruned = self.inbox.prune(older_than=now - 3600 * self.settings.inbox_retention_hours)
            if pruned:
                log.info("pruned %d done inbox rows older than %g hours", pruned,
                         self.settings.inbox_retention_hours)

    def interrupt(self) -> None:
        """Cut an idle wait short (call after setting ``stop``): with Redis, push a
        wake-up so a worker blocked in BLPOP returns at once."""
        if self._redis is not None:
            try:
                self._redis.lpush(self.settings.redis_wake_key, "stop")
            except Exception as error:
                log.warning("could not interrupt the Redis wait: %s", error)

    def _anything_owed(self) -> bool:
        """Something leased, or pending and due now (within the coalescing window,
        so events that just arrived count). Work scheduled for later (a retry
        after a back-off, a project rollup refresh) does not hold ``--once``."""
        depth = self.inbox.depth(include_done=False)
        if depth["leased"]:
            return True
        next_due = self.inbox.next_due()
        return next_due is not None and next_due <= self.inbox.clock() + self.settings.coalesce_seconds + 0.5

    def _idle(self, stop: threading.Event) -> None:
        wait = self.settings.poll_seconds if self._redis is None else self.settings.redis_idle_seconds
        next_due = self.inbox.next_due()
        if next_due is not None:
            wait = max(0.0, min(wait, next_due - time.time()))
        if self.paused_until > time.time():
            wait = max(wait, self.paused_until - time.time())
        if self._redis is not None and wait > 0:
            try:
                self._redis.blpop([self.settings.redis_wake_key], timeout=wait)
                return
            except Exception as error:  # Redis down: fall back to polling
                log.warning("Redis wake-up failed (%s); polling instead", error)
        stop.wait(wait or 0.001)

    # ------------------------------------------------------------ one item
    def process(self, claim: Claim) -> str:
        """Process one claimed item; returns the outcome (done/retry/failed)."""
        try:
            counts = self._work(claim)
        except PlatformError as error:
            outcome = self._failed_try(claim, error)
            self._count(claim.platform, {outcome if outcome == "failed" else "retries": 1,
                                         **({"rate_limited": 1} if isinstance(error, RateLimited) else {})})
            return outcome
        except Exception as error:  # a bug or an engine failure: retried, then parked
            log.exception("unexpected error processing %s %s", claim.platform, claim.item_key,
                          extra=self._log_extra(claim))
            outcome = self._failed_try(claim, error)
            self._count(claim.platform, {outcome if outcome == "failed" else "retries": 1})
            return outcome
        self.inbox.complete(claim)
        if "written" in counts:  # the time from the platform's (first) event to our fields written
            counts.update(latency_increments(self.inbox.clock() - min(row.received_at for row in claim.rows)))
        self._count(claim.platform, counts)
        return "done"

    def _count(self, platform: str, amounts: dict[str, float]) -> None:
        try:
            self.counters.add(platform, amounts)
        except Exception as error:  # counting must never cost an item
            log.warning("could not update the worker counters: %s", error)

    @staticmethod
    def _log_extra(claim: Claim, ruleset: str | None = None) -> dict[str, Any]:
        """Fields a JSON log line carries about an item (``--log-format json``)."""
        newest = max(claim.rows, key=lambda row: row.id)
        return {"platform": claim.platform, "item_key": claim.item_key, "delivery_id": newest.delivery_id,
                **({"ruleset_version": ruleset} if ruleset else {})}

    def _failed_try(self, claim: Claim, error: Exception) -> str:
        message = f"{type(error).__name__}: {error}"
        if isinstance(error, PlatformError) and error.held_back:
            # never sent: the gate held it (Retry-After, open breaker); no attempt spent
            self.inbox.release(claim, not_before=time.time() + (error.retry_after or 1.0))
            return "retry"
        if isinstance(error, PlatformError) and not error.retryable:
            log.error("%s %s failed: %s", claim.platform, claim.item_key, message, extra=self._log_extra(claim))
            self.inbox.fail(claim, message)
            return "failed"
        if not isinstance(error, PlatformError) and claim.attempts >= self.settings.max_attempts:
            log.error("%s %s parked after %d attempts: %s", claim.platform, claim.item_key, claim.attempts,
                      message, extra=self._log_extra(claim))
            self.inbox.fail(claim, f"gave up after {claim.attempts} attempts: {message}")
            return "failed"
        if isinstance(error, PlatformError):  # transient: retried for as long as the platform fails
            delay = delay_for(error, claim.attempts, cap=RETRY_CAP)
        else:
            delay = min(60.0, 2.0 * 2 ** (claim.attempts - 1))
        adapter = self.adapters.get(claim.platform)
        if isinstance(error, RateLimited) and not error.per_item and \
                (adapter is None or adapter.held_until() <= time.time()):
            self.paused_until = max(self.paused_until, time.time() + delay)  # an adapter without a gate
        log.warning("%s %s: %s; retry in %.1fs (attempt %d)", claim.platform, claim.item_key, message,
                    delay, claim.attempts, extra=self._log_extra(claim))
        self.inbox.retry(claim, delay=delay, error=message)
        return "retry"

    def _work(self, claim: Claim) -> dict[str, float]:
        """Process the item; returns what to count (processed, written or unchanged, overridden)."""
        adapter = self.adapters.get(claim.platform)
        if adapter is None:
            raise PlatformError(claim.platform, f"no adapter for platform {claim.platform!r}: add a "
                                f"'{claim.platform}:' section to the config of the worker")
        if claim.deleted:
            self.history.append_deleted(claim.platform, claim.item_key, kind=claim.subject)
            return {"processed": 1, "deleted": 1}
        try:
            item = adapter.fetch(claim.item_key, claim.subject)
        except NotFound:
            log.info("%s %s is gone (deleted or hidden): recorded as deleted", claim.platform, claim.item_key,
                     extra=self._log_extra(claim))
            self.history.append_deleted(claim.platform, claim.item_key, kind=claim.subject)
            return {"processed": 1, "deleted": 1}
        related = self._related(item)
        assessment = self.engine.assess(item, related=related)
        rollup = self._rollup(item, related) if item.kind == "project" else None
        if rollup is not None and adapter.rollup_in_item_fields:
            # ServiceNow: the project's own columns show its rollup; writing its
            # assessment there first would only be overwritten (two PATCHes, two values)
            adapter.write_project_rollup(item.key, rollup)
            changed = "rollup"
        else:
            changed = ",".join(adapter.write(item, assessment.output()).changed) or "nothing"
            if rollup is not None:
                adapter.write_project_rollup(item.key, rollup)
        before = self.history.latest(claim.platform, item.key) if item.kind == "ticket" else None
        self.history.append(assessment, item, url=adapter.item_url(item))
        if item.kind == "ticket":
            self._schedule_rollup(adapter, item)
            if before is None or (before.objective, before.score) != (assessment.objective, assessment.score):
                self._reassess_children(claim.platform, item.key)
        log.info("%s %s -> %s %s (%s) wrote %s", claim.platform, item.key, assessment.objective,
                 assessment.score, assessment.nature.value, changed,
                 extra=self._log_extra(claim, assessment.ruleset_version))
        counts: dict[str, float] = {"processed": 1, ("unchanged" if changed == "nothing" else "written"): 1}
        if assessment.overridden:
            counts["overridden"] = 1
        return counts

    def _reassess_children(self, platform: str, key: str) -> None:
        """Its children inherit from this item: when its objective or score is
        new, queue them (a child assessed before its parent, e.g. in a burst
        of new issues, then inherits; a parent moved to another objective
        takes its children along). A child's own rules still win."""
        children = self.history.children(platform, key)
        for child in children:
            self.inbox.add(platform, f"reassess:{child}:{key}:{time.time_ns()}", child,
                           event_type="reassess", payload=b"{}", subject="ticket", action="upsert")
        if children:
            log.info("%s %s changed: %d child item(s) queued to inherit from it", platform, key, len(children))

    def _related(self, item: WorkItem) -> "RelatedFromHistory":
        members: dict[str, Assessment] = {}
        if item.kind == "project":  # tickets record their project key in history
            members.update(self.history.latest_in_project(item.platform, item.key))
        return RelatedFromHistory(self.history, item.platform, members)

    def _schedule_rollup(self, adapter: PlatformAdapter, item: WorkItem) -> None:
        """Queue a refresh of the ticket's project rollup (see :func:`schedule_rollup`)."""
        project = adapter.rollup_project_of(item)
        if project:
            schedule_rollup(self.inbox, item.platform, project, self.settings.rollup_delay_seconds)

    def _rollup(self, item: WorkItem, members: Mapping[str, Assessment]) -> dict[str, Any] | None:
        """Effort-weighted rollup of the project's tickets (latest assessments in
        history); None while no ticket of it was assessed."""
        tickets = {k: members[k] for k in members if members[k].kind == "ticket"}
        if not tickets:
            log.info("%s project %s: no assessed tickets yet, no rollup written", item.platform, item.key)
            return None
        efforts = self.history.efforts(item.platform, list(tickets))
        rollup = project_rollup((a, efforts.get(k)) for k, a in tickets.items())
        values = dataclasses.asdict(rollup)
        values["effort_share"] = dict(rollup.effort_share)
        return values


def schedule_rollup(inbox: Inbox, platform: str, project: str, window: float) -> None:
    """Queue a refresh of a project's rollup: one inbox row per project per
    ``window`` seconds (``service.rollup_delay_seconds``), due at the window's
    end, so every change inside the window is in the refresh and a burst of
    ticket events (or a whole back-fill) costs one refresh per project."""
    now = inbox.clock()
    bucket = int(now // window) if window else time.time_ns()
    inbox.add(platform, f"rollup:{project}:{bucket}", project, event_type="rollup",
              payload=b"{}", subject="project", action="upsert", delay=window)
