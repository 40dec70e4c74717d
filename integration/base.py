"""The contract every platform adapter honours, and the one error hierarchy.

The worker (webhooks/) only talks to adapters through this interface; the
shared behavioural suite in tests/contract/ runs against every implementation
over real sockets against the sandboxes. Modelled on huey's storage contract.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Mapping, Protocol, Sequence

from itsm_align.scoring.types import Objective, OutputValues, WorkItem


# ---------------------------------------------------------------- errors
class PlatformError(Exception):
    """A platform answered with an error. Keeps the platform's own message.

    ``status`` is the HTTP status (None for connection errors); ``message`` is the
    platform's error text (Jira ``errorMessages``/``errors``, ServiceNow
    ``error.message``/``error.detail``), never flattened to a bare HTTPError.
    """

    def __init__(self, platform: str, message: str, *, status: int | None = None,
                 method: str | None = None, url: str | None = None,
                 retry_after: float | None = None, reason: str | None = None,
                 body: Any = None) -> None:
        self.platform = platform
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        self.retry_after = retry_after  # seconds, from Retry-After, if any
        self.reason = reason  # e.g. Jira RateLimit-Reason
        self.body = body
        where = f" ({method} {url})" if method and url else ""
        code = f" HTTP {status}" if status else ""
        super().__init__(f"{platform}{code}{where}: {message}")

    #: True when the request was never sent: the platform's gate held it back
    #: (inside a Retry-After window, or the circuit breaker open; integration.ratelimit)
    held_back: bool = False
    #: Why the platform was not reached at all (integration.reach): "refused",
    #: "dns", "timeout", "tls", "network"; None when it answered.
    unreachable: str | None = None

    @property
    def retryable(self) -> bool:
        return False


class RateLimited(PlatformError):
    """429. ``retry_after`` is a minimum wait when the platform sent one.

    ``per_item`` is True when only this item is limited (Jira
    ``jira-per-issue-on-write``): delay that item only, not the whole worker.
    """

    per_item: bool = False

    @property
    def retryable(self) -> bool:
        return True


class TransientError(PlatformError):
    """5xx, 408, timeouts, refused connections: worth retrying with backoff."""

    @property
    def retryable(self) -> bool:
        return True


class ConfigurationError(PlatformError):
    """The platform is not set up as we need (missing field, not on screen,
    no permission). Not retryable; the message says what to run or change."""


class SetupIncomplete(ConfigurationError):
    """A write the platform refused because set-up is incomplete for this item
    (Jira: our field is not on the edit screen of the item's project and issue
    type). The message names where and says to run ``itsm-align setup <platform>``;
    items parked with it are re-queued when that set-up next succeeds."""


class NotWritable(ConfigurationError):
    """The integration can never write this item's project (a Jira team-managed
    project). Reported once per project; the project's other items come back
    from ``write`` with ``WriteResult.skipped`` instead of failing one by one."""


class NotFound(PlatformError):
    """The item does not exist (deleted) or is hidden from our account."""


# ---------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class Event:
    """A platform event, normalised by the adapter from the webhook payload."""

    platform: str
    action: Literal["upsert", "delete", "ignore"]
    subject: Literal["ticket", "project"]
    key: str  # what the worker coalesces on: Jira issue key / "<table>:<sys_id>"
    event_type: str  # e.g. "jira:issue_updated", "servicenow:update"
    actor: str | None = None  # Jira accountId / ServiceNow user name
    actor_is_integration: bool = False  # made by our own account
    changed_fields: tuple[str, ...] | None = None  # platform field ids; None = unknown
    version: int | None = None  # ServiceNow sys_mod_count; newer wins
    objective_set_by_person: bool = False  # this event is a person setting our objective field
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: the platform field ids it changed (empty: nothing sent)."""

    key: str
    changed: tuple[str, ...] = ()
    requests: int = 0
    error: str | None = None  # set when this item's write failed (bulk writes report per item)
    skipped: str | None = None  # not written on purpose (e.g. a project we can never write): why


@dataclass(frozen=True, slots=True)
class SetupStep:
    """One action of ``setup``: what, and whether it was (or would be) done."""

    action: str  # e.g. "create field", "add option", "register webhook"
    target: str
    detail: str = ""
    done: bool = False  # False in dry-run or when already in place (see ``needed``)
    needed: bool = True  # False: already in place, nothing to do


class KeyValueStore(Protocol):
    """Small persistent state an adapter keeps between runs (e.g. which Jira
    option id belongs to which objective id, so a renamed objective renames its
    option). The service passes a database-backed store; tests may pass
    ``MemoryStore``."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryStore:
    """In-process KeyValueStore (tests, dry runs)."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def set(self, key: str, value: str) -> None:
        self._data[key] = value


class PlatformAdapter(abc.ABC):
    """One per platform: integration/jira, integration/servicenow.

    The abstract methods are what every platform must do. The capabilities
    below them are optional: each has a default here that says what "not
    supported" means, so callers (worker, back-fill, CLI) call them directly
    instead of probing with ``getattr``; the contract suite covers both.
    """

    platform: str
    #: small durable state (the service database; ``MemoryStore`` in tests)
    state: KeyValueStore

    #: True when a project's rollup lands in the project's own output fields
    #: (ServiceNow ``pm_project`` columns): the worker then writes the rollup
    #: instead of the project's own assessment.
    rollup_in_item_fields: bool = False

    # ------------------------------------------------------------ required
    @abc.abstractmethod
    def parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> Event:
        """Normalise a webhook payload. Never raises for unknown event types:
        they come back with ``action="ignore"``. Raises ``ValueError`` with a
        reason for a payload that is not the platform's shape."""

    @abc.abstractmethod
    def is_own_echo(self, event: Event) -> bool:
        """True when our own account changed only our output fields."""

    @abc.abstractmethod
    def fetch(self, key: str, subject: str = "ticket") -> WorkItem:
        """Current state of one item, with ``current`` output values and who set
        the objective. Raises NotFound when deleted or hidden."""

    @abc.abstractmethod
    def write(self, item: WorkItem, values: OutputValues) -> WriteResult:
        """Write the output fields whose value differs from ``item.current``;
        no request at all when nothing differs."""

    @abc.abstractmethod
    def backfill(self, query: str | None = None, *, resume: str | None = None,
                 page_size: int | None = None) -> Iterator[tuple[list[WorkItem], str | None]]:
        """Pages of items matching ``query`` (JQL / encoded query; None: the
        configured default), each with a resume token to continue after that
        page (None after the last)."""

    @abc.abstractmethod
    def write_many(self, writes: Sequence[tuple[WorkItem, OutputValues]]) -> list[WriteResult]:
        """Bulk write (Jira bulk edit grouped by identical values, ServiceNow
        Batch API). Only changed fields; unchanged items cost nothing. An item
        that could not be written comes back with ``error`` set (and, in
        ``failure``, the exception, so callers can tell retryable ones)."""

    @abc.abstractmethod
    def setup(self, objectives: Sequence[Objective], *, dry_run: bool = False) -> list[SetupStep]:
        """Create/sync fields, options/choices and event delivery. Idempotent."""

    @abc.abstractmethod
    def write_project_rollup(self, project_key: str, rollup: Mapping[str, Any]) -> None:
        """Store a project's rollup (Jira project property / pm_project columns)."""

    # ------------------------------------------------------------ optional, with defaults
    def configure(self, *, objectives: Sequence[Objective] | None = None,
                  fields_read: Iterable[str] | None = None, public_url: str | None = None) -> None:
        """What the adapter needs from the rest of the service: the objectives
        (option / choice <-> objective id), the names rules read (fetches ask
        only for those) and the service's public URL (for ``setup``). ``None``
        keeps the current value. Default: nothing to configure."""

    def plan_write(self, item: WorkItem, values: OutputValues) -> dict[str, tuple[str, str]]:
        """What ``write`` would change, for dry runs: field name as people see it
        -> (current, proposed), both as shown on the platform. Default: the four
        output values compared as text."""
        current = item.current
        out: dict[str, tuple[str, str]] = {}
        for name in ("objective", "score", "rationale", "nature"):
            old, new = _shown(getattr(current, name)), _shown(getattr(values, name))
            if new and old != new:
                out[name] = (old, new)
        return out

    def rollup_project_of(self, item: WorkItem) -> str | None:
        """The project whose rollup a change of ``item`` refreshes. Default: none."""
        return None

    def count(self, query: str | None = None, **extra: Any) -> int | None:
        """How many items ``backfill(query, **extra)`` will return, when the
        platform says so cheaply (for a progress bar). Default: unknown."""
        return None

    def item_url(self, item: WorkItem) -> str | None:
        """Where a person opens the item on the platform. Default: unknown."""
        return None

    def failure(self, key: str) -> PlatformError | None:
        """The error behind the last ``write_many``'s failed result for ``key``
        (None: it did not fail, or the adapter keeps no such detail)."""
        return None

    @property
    def requests_sent(self) -> int:
        """HTTP requests this adapter has sent so far (0 when it does not count)."""
        return 0

    def verify_access(self) -> None:
        """One cheap authenticated request: raises ConfigurationError (with the
        fix) when the credentials are wrong or lack a permission, TransientError
        when the platform cannot be reached. Default: nothing to check."""

    def serve_offline(self) -> None:
        """From now on ``parse_event`` and ``is_own_echo`` send no request: the
        webhook's acknowledgement must not wait on the platform. What they need
        and do not know yet (e.g. our own account), they decide without: an
        event that may be our own echo is stored, and the worker finds nothing
        to change. Default: they never send requests anyway."""

    def prepare(self) -> bool:
        """Learn the platform facts the ack path uses (our account, our field
        ids), so it can tell our own echoes; True once done (known, or not to be
        learnt with this configuration: asking again would not help), False to
        be asked again later (``serve`` does, in the background). Never raises.
        Default: nothing to learn."""
        return True

    def held_until(self, key: str | None = None) -> float:
        """Unix time before which no request (about item ``key``) may go to the
        platform: its Retry-After, or the circuit breaker's next probe while the
        platform is failing (integration.ratelimit). 0: now. Default: never held."""
        return 0.0

    @property
    def recoveries(self) -> int:
        """How often the platform came back after the circuit breaker opened
        (a worker then brings its backed-off items forward). Default: 0."""
        return 0

    def close(self) -> None:
        """Release connections. Default: nothing to release."""


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(getattr(value, "value", value))
