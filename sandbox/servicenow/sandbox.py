"""``ServiceNowSandbox``: a stateful ServiceNow instance over HTTPS on 127.0.0.1.

A throw-away CA is made at start with ``trustme``; the server certificate
covers 127.0.0.1 and localhost. Clients trust ``ca_pem_path``. Because
``REQUESTS_CA_BUNDLE`` overrides a requests session's ``verify`` while
``trust_env`` is on, clients should use a session with ``trust_env = False``
(see ``client_session``).
"""
from __future__ import annotations

import contextlib
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import requests
import trustme

from ..server import SandboxServer
from .api import SandboxApi
from .business_rule import PostedEvent, RuleRun
from .instance import Instance, LoggedRequest
from .limits import Chaos, Fault, RateLimitRule, RetryAfterViolation
from .store import WriteResult

__all__ = ["ServiceNowSandbox"]


class ServiceNowSandbox:
    """Start, use, stop. Also a context manager.

    Control calls (no HTTP): ``insert``/``update_as`` act as a person (the rule
    runs), ``record`` reads, ``set_property``, ``inject``, ``set_rate_limit``,
    ``seed``, ``reset``; faults: ``chaos``, ``outage``; logs: ``requests``,
    ``events``, ``rule_runs``, ``retry_after_violations``.
    """

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1", ca_out: str | os.PathLike | None = None,
                 clock: Callable[[], float] = time.time, admin_password: str = "admin",
                 integration_user: str = "svc.itsm_align",
                 integration_password: str = "integration-password",
                 integration_user_admin: bool = True, event_workers: int = 1) -> None:
        self._host, self._port = host, port
        self._ca_out = Path(ca_out) if ca_out else None
        self.instance = Instance(clock=clock, admin_password=admin_password,
                                 integration_user=integration_user,
                                 integration_password=integration_password,
                                 integration_user_admin=integration_user_admin, event_workers=event_workers)
        self._api = SandboxApi(self.instance)
        self._server: SandboxServer | None = None
        self._tls: tuple[bytes, bytes] | None = None
        self._serving = threading.Lock()  # start/stop/outage one at a time
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.url = ""
        self.ca_pem_path = ""

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "ServiceNowSandbox":
        if self._server is not None:
            return self
        ca = trustme.CA(organization_name="itsm-align ServiceNow sandbox")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        if self._ca_out is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sn-sandbox-")
            ca_path = Path(self._tmp.name) / "ca.pem"
        else:
            ca_path = self._ca_out
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_pem_path = str(ca_path)
        tls = (b"".join(blob.bytes() for blob in cert.cert_chain_pems), cert.private_key_pem.bytes())
        self._tls = tls
        try:
            self._server = SandboxServer(self._api, self._host, self._port, tls=tls, name="sn-sandbox",
                                         reuse_address=True).start()
        except OSError:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None
            raise
        self.url = f"https://{self._host}:{self._server.port}"
        self._api.base_url = self.url
        return self

    def stop(self) -> None:
        with self._serving:
            if self._server is not None:
                self._server.stop()
                self._server = None
        self.instance.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "ServiceNowSandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ users
    @property
    def admin_user(self) -> str:
        return "admin"

    @property
    def admin_password(self) -> str:
        return self.instance.admin_password

    @property
    def integration_user(self) -> str:
        return self.instance.integration_user

    @property
    def integration_password(self) -> str:
        return self.instance.integration_password

    def add_user(self, user_name: str, password: str | None = None, *, admin: bool = False,
                 name: str = "") -> str:
        """Create a user (API login when ``password`` is given); its sys_id."""
        return self.instance.add_user(user_name, password, admin=admin, name=name)

    def add_oauth_client(self, client_id: str, client_secret: str, user: str | None = None) -> None:
        """Register an OAuth client for /oauth_token.do; ``user`` runs its client_credentials grants."""
        self.instance.oauth.add_client(client_id, client_secret, user)

    def expire_oauth_tokens(self) -> None:
        """End every access token now (refresh tokens stay valid)."""
        self.instance.oauth.expire_tokens()

    def client_session(self, user: str | None = None, password: str | None = None) -> requests.Session:
        """A requests session trusting only the sandbox CA, immune to REQUESTS_CA_BUNDLE,
        with basic auth (default: the integration user)."""
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca_pem_path
        if user is None:
            user, password = self.integration_user, self.integration_password
        elif password is None:
            password = self.admin_password if user == "admin" else self.instance.users[user].password
        s.auth = (user, password or "")
        s.headers["Accept"] = "application/json"
        return s

    # ------------------------------------------------------------ data (person actions)
    def insert(self, table: str, values: Mapping[str, object], as_user: str = "admin") -> dict[str, str]:
        """Insert as a person (the business rule runs); the stored record."""
        return self._full(self.instance.insert(table, values, as_user))

    def update_as(self, user: str, table: str, sys_id: str, values: Mapping[str, object]) -> dict[str, str]:
        """Update as ``user`` (only the fields given; the rule runs if anything changed)."""
        return self._full(self.instance.update(table, sys_id, values, user))

    def record(self, table: str, sys_id: str) -> dict[str, str] | None:
        """The record with every column of its class ("" when empty), or None."""
        with self.instance.store.lock:
            rec = self.instance.store.get(table, sys_id)
            if rec is None:
                return None
            cols = self.instance.store.columns(rec["sys_class_name"])
            return {c: rec.get(c, "") for c in cols}

    def query(self, table: str, encoded: str = "") -> list[dict[str, str]]:
        """Records matching an encoded query (copies, sparse: empty columns absent)."""
        return [dict(r) for r in self.instance.store.query(table, encoded)]

    def display_value(self, table: str, sys_id: str, column: str) -> str:
        rec = self.instance.store.get(table, sys_id)
        return "" if rec is None else self.instance.store.display_value(table, rec, column)

    def _full(self, result: WriteResult) -> dict[str, str]:
        return self.record(result.table, result.record["sys_id"]) or {}

    def seed(self, table: str = "incident", n: int = 20000, *, seed: int = 7,
             values: Mapping[str, str] | None = None) -> list[str]:
        """Insert ``n`` records quickly (no rule, no audit); their sys_ids."""
        return self.instance.seed(table, n, seed=seed, values=values)

    def sys_id_of(self, table: str, **equals: str) -> str:
        """sys_id of the first record of ``table`` whose columns equal ``equals``."""
        found = self.instance.store.find(table, **equals)
        if not found:
            raise KeyError(f"no {table} record with {equals}")
        return found[0]["sys_id"]

    # ------------------------------------------------------------ configuration
    def set_property(self, name: str, value: str | None) -> None:
        """Set a system property, e.g. itsm_align.endpoint/secret/fields/integration_user."""
        self.instance.set_property(name, value)

    def get_property(self, name: str) -> str:
        return self.instance.properties().get(name, "")

    @property
    def business_rule_condition_enabled(self) -> bool:
        """False drops the rule's condition excluding the integration user."""
        return self.instance.poster.settings.condition_enabled

    @business_rule_condition_enabled.setter
    def business_rule_condition_enabled(self, value: bool) -> None:
        self.instance.poster.settings.condition_enabled = bool(value)

    @property
    def batch_time_budget(self) -> float:
        """Seconds a batch may run before the remaining items are left unserviced (30)."""
        return self.instance.batch_time_budget

    @batch_time_budget.setter
    def batch_time_budget(self, seconds: float) -> None:
        self.instance.batch_time_budget = seconds

    @property
    def batch_max_items(self) -> int | None:
        """At most this many items serviced per batch (None: no limit)."""
        return self.instance.batch_max_items

    @batch_max_items.setter
    def batch_max_items(self, n: int | None) -> None:
        self.instance.batch_max_items = n

    def inject(self, path_regex: str | None = None, method: str | None = None, status: int = 503,
               count: int = 1, retry_after: int | None = None, message: str | None = None) -> Fault:
        """Answer ``status`` to the next ``count`` matching requests (batch items too).
        429 without ``retry_after`` = node queue full (no Retry-After)."""
        return self.instance.limits.inject(status=status, count=count, path_regex=path_regex,
                                           method=method, retry_after=retry_after, message=message)

    def set_rate_limit(self, requests_per_hour: int, user: str | None = None,
                       name: str = "itsm-align sandbox rule") -> RateLimitRule:
        """A rate-limit rule: ``requests_per_hour`` per user (``user`` None = everyone)."""
        return self.instance.limits.add_rule(requests_per_hour, user, name)

    def chaos(self, error_rate: float = 0.3, status: int = 503, every_nth_429: int | None = 7,
              retry_after: int | None = 2, *, seed: int = 0, users: Iterable[str] | None = None) -> Chaos:
        """Fail Table/Batch API requests of ``users`` (default: the integration
        user) at random until ``calm()``: every ``every_nth_429``-th of them gets
        429 with ``Retry-After: retry_after``, and a share ``error_rate`` of the
        others gets ``status``. People acting in the test (control calls, other
        users) and the business rule's event delivery are never failed. The
        returned object counts what it answered (``answered``: status -> n)."""
        chaos = Chaos(error_rate, status, every_nth_429, retry_after,
                      frozenset(users if users is not None else (self.integration_user,)), random.Random(seed))
        self.instance.limits.set_chaos(chaos)
        return chaos

    def calm(self) -> None:
        """End ``chaos`` (injected faults and rate-limit rules stay)."""
        self.instance.limits.set_chaos(None)

    @property
    def retry_after_violations(self) -> list[RetryAfterViolation]:
        """Requests that arrived while a ``Retry-After`` the sandbox had sent to
        their user (any 429 with one: chaos, ``inject``, rate-limit rules) had
        not elapsed. Requests arriving within ``retry_after_grace`` seconds of
        the 429 were already in flight and are not counted."""
        return self.instance.limits.ledger.violations()

    def retry_after_violations_after(self, grace: float) -> list[RetryAfterViolation]:
        """The same with another grace (e.g. to see how soon other processes learned of a 429)."""
        return self.instance.limits.ledger.violations(grace)

    @property
    def retry_after_grace(self) -> float:
        return self.instance.limits.ledger.grace

    @retry_after_grace.setter
    def retry_after_grace(self, seconds: float) -> None:
        self.instance.limits.ledger.grace = seconds

    @property
    def retry_afters_sent(self) -> int:
        """429 answers with ``Retry-After`` sent so far."""
        return self.instance.limits.ledger.told

    @property
    def serving(self) -> bool:
        """False during an outage (nothing listens on the port)."""
        return self._server is not None

    def go_down(self) -> None:
        """Start an outage: close the listening socket and every open connection,
        so connections to the port are refused. The instance keeps its data, and
        control calls (a person's changes) and the business rule's event
        delivery go on: only the API is unreachable."""
        with self._serving:
            if self._server is None:
                return
            self._server.stop()
            self._server = None

    def come_back(self) -> None:
        """End an outage: serve again on the same port with the same certificate."""
        with self._serving:
            if self._server is not None or self._tls is None:
                return
            port = int(self.url.rsplit(":", 1)[1])
            self._server = SandboxServer(self._api, self._host, port, tls=self._tls,
                                         name="sn-sandbox", reuse_address=True).start()

    @contextlib.contextmanager
    def outage(self) -> Iterator["ServiceNowSandbox"]:
        """``with sandbox.outage(): ...``: down inside the block, back after it."""
        self.go_down()
        try:
            yield self
        finally:
            self.come_back()

    def reset(self) -> None:
        """Fresh instance state: data, properties, logs, faults, limits, switches
        (an outage ends)."""
        self.come_back()
        self.instance.reset()

    # ------------------------------------------------------------ logs
    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request answered, batch items included (``via_batch``)."""
        with self.instance._log_lock:
            return list(self.instance.requests)

    def clear_requests(self) -> None:
        """Empty the request log (e.g. between benchmark phases)."""
        with self.instance._log_lock:
            self.instance.requests.clear()

    @property
    def http_requests(self) -> list[LoggedRequest]:
        """Requests that crossed the wire (batch items excluded)."""
        return [r for r in self.requests if not r.via_batch]

    @property
    def events(self) -> list[PostedEvent]:
        """Events the business rule posted (or tried to), with their answers."""
        with self.instance.poster._cond:
            return list(self.instance.poster.events)

    @property
    def rule_runs(self) -> list[RuleRun]:
        """Each time the rule was considered, and its outcome."""
        with self.instance.poster._cond:
            return list(self.instance.poster.runs)

    def wait_for_events(self, n: int, timeout: float = 10.0) -> list[PostedEvent]:
        """Block until ``n`` events were delivered (answered or failed); TimeoutError otherwise."""
        return self.instance.poster.wait_for_events(n, timeout)

    def wait_events_idle(self, timeout: float = 10.0) -> None:
        """Block until every queued event was delivered."""
        self.instance.poster.wait_idle(timeout)
