"""The deployed shape under test: the ServiceNow sandbox (in this process, so
the test can fail it and read its logs), ``serve`` and ``worker`` processes
on one database (SQLite file or PostgreSQL, Redis optional), a load balancer
when there are several ``serve`` processes, and a person changing records.

What the suite checks afterwards (``verify``): every record's columns equal
what the configured rule engine computes from the record's final state (the
adapter's ``changes`` for that assessment is empty, as ``explain`` would
show), no inbox row is parked or still owed, and how many writes changed
nothing (duplicates, counted from the sandbox's request log and audit).
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

from itsm_align.sandbox.servicenow import ServiceNowSandbox
from tests.fixtures.servers import free_port
from tests.webhooks.live import wait_until

from .processes import LoadBalancer, Managed, alive, children_of

SECRET = "fault-suite-servicenow-secret"
CONFIG = """\
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
rules:
  - {{id: gdpr-words, objective: compliance, confidence: 0.7, when: {{text: {{any: [gdpr]}}}}}}
  - {{id: checkout-words, objective: revenue, confidence: 0.8, when: {{text: {{any: [checkout]}}}}}}
servicenow:
  instance: "{instance}"
  user: "{user}"
  password: "{password}"
  ca_bundle: "{ca}"
  webhook_secret: "{secret}"
service:
  public_url: "http://127.0.0.1:{public_port}"
  database_url: "{database_url}"
  coalesce_seconds: 0.05
  poll_seconds: 0.05
  lease_seconds: {lease}
  rollup_delay_seconds: 1
{redis}"""

#: what a person writes, in turn, so that every change alters the result
TEXTS = ("GDPR data subject request {n}", "Checkout page slow for customers {n}", "Printer jam on floor 3 {n}")


@dataclass
class Verdict:
    records: int
    mismatched: dict[str, dict[str, str]]  # sys_id -> column -> value the engine wants
    writes: int  # PATCHes by the integration user answered 200
    duplicate_writes: int  # ... of which changed nothing
    failed_rows: int
    owed_rows: int

    def summary(self) -> str:
        return (f"{self.records} records, {len(self.mismatched)} not converged, {self.writes} writes, "
                f"{self.duplicate_writes} duplicate writes (changed nothing), {self.failed_rows} parked rows, "
                f"{self.owed_rows} rows still owed")


@dataclass
class FaultStack:
    """Build with ``start()``; ``close()`` stops everything (also on failure)."""

    tmp: Path
    database_url: str
    records: int = 300
    serves: int = 1
    workers: int = 1
    concurrency: int = 1
    redis_url: str | None = None
    lease_seconds: float = 5.0
    gunicorn_workers: int = 2
    sandbox: ServiceNowSandbox = field(init=False)
    sys_ids: list[str] = field(init=False, default_factory=list)
    serve_ports: list[int] = field(init=False, default_factory=list)
    serve_processes: list[Managed] = field(init=False, default_factory=list)
    worker_processes: list[Managed] = field(init=False, default_factory=list)
    changes_made: int = field(init=False, default=0)
    redelivered: int = field(init=False, default=0)
    _lb: LoadBalancer | None = field(init=False, default=None)
    _db: Any = field(init=False, default=None)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "FaultStack":
        from itsm_align.cli.compose import build_adapter
        from itsm_align.cli.config import load_config
        from itsm_align.webhooks.storage.engine import create_db_engine

        self.sandbox = ServiceNowSandbox(event_workers=4).start()
        self.serve_ports = [free_port() for _ in range(self.serves)]
        if self.serves > 1:
            self._lb = LoadBalancer(self.serve_ports).start()
        public_port = self._lb.port if self._lb is not None else self.serve_ports[0]
        self.config_path = self.tmp / "itsm-align.yaml"
        self.config_path.write_text(CONFIG.format(
            instance=self.sandbox.url, user=self.sandbox.integration_user,
            password=self.sandbox.integration_password, ca=self.sandbox.ca_pem_path, secret=SECRET,
            public_port=public_port, database_url=self.database_url, lease=self.lease_seconds,
            redis=f'  redis_url: "{self.redis_url}"\n' if self.redis_url else ""))
        self.config = load_config(self.config_path)
        self._db = create_db_engine(self.database_url)
        setup = build_adapter("servicenow", self.config, self._db)
        setup.setup(self.config.engine().objectives)
        setup.close()
        self.sys_ids = self.sandbox.seed("incident", self.records)
        self.sandbox.set_property("itsm_align.secret", SECRET)
        self.sandbox.set_property("itsm_align.endpoint", f"http://127.0.0.1:{public_port}/webhooks/servicenow")
        for n, port in enumerate(self.serve_ports):
            self.serve_processes.append(Managed(f"serve-{n}", [
                "serve", "--config", str(self.config_path), "--bind", f"127.0.0.1:{port}",
                "--workers", str(self.gunicorn_workers), "--log-level", "warning"], self.tmp / f"serve-{n}.log"))
        for n in range(self.workers):
            self.worker_processes.append(Managed(f"worker-{n}", [
                "worker", "--config", str(self.config_path), "--concurrency", str(self.concurrency)],
                self.tmp / f"worker-{n}.log"))
        for process in [*self.serve_processes, *self.worker_processes]:
            process.start()
        for n in range(self.serves):
            self.wait_serving(n)
        return self

    def add_workers(self, count: int, concurrency: int | None = None) -> list[Managed]:
        """Start ``count`` more worker processes."""
        added = []
        for _ in range(count):
            n = len(self.worker_processes)
            added.append(Managed(f"worker-{n}", [
                "worker", "--config", str(self.config_path), "--concurrency", str(concurrency or self.concurrency)],
                self.tmp / f"worker-{n}.log").start())
            self.worker_processes.append(added[-1])
        return added

    def close(self) -> None:
        """Stop whatever ``start`` got to start (it may have failed half-way)."""
        for process in [*self.worker_processes, *self.serve_processes]:
            process.stop()
        if self._lb is not None:
            self._lb.stop()
        if hasattr(self, "sandbox"):
            self.sandbox.stop()
        if self._db is not None:
            self._db.dispose()

    def logs(self) -> str:
        """The last lines of every process's log (for failure messages)."""
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in [*self.serve_processes, *self.worker_processes])

    # ------------------------------------------------------------ processes
    def wait_serving(self, n: int, timeout: float = 60.0) -> None:
        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{self.serve_ports[n]}/healthz", timeout=2).ok
            except requests.RequestException:
                return False
        wait_until(healthy, timeout, f"serve {n} to answer /healthz")

    def kill_worker(self, n: int) -> None:
        """SIGKILL worker process ``n`` and start a new one."""
        self.worker_processes[n].kill()
        self.worker_processes[n].start()

    def gunicorn_workers_of(self, n: int) -> list[int]:
        return [pid for pid in children_of(self.serve_processes[n].pid) if alive(pid)]

    def kill_gunicorn_worker(self, n: int) -> int | None:
        """SIGKILL one of serve ``n``'s gunicorn workers (its master starts another)."""
        import os
        import signal

        pids = self.gunicorn_workers_of(n)
        if not pids:
            return None
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def kill_serve(self, n: int) -> None:
        """SIGKILL serve ``n``'s gunicorn master, then restart serve on its port
        as systemd does (KillMode=control-group): the orphaned gunicorn workers
        are killed too. Left alone they stop accepting but keep the port bound
        for up to gunicorn's graceful timeout (30 s), so no new serve could bind."""
        orphans = self.gunicorn_workers_of(n)
        self.serve_processes[n].kill()
        self.serve_processes[n].kill_group()
        wait_until(lambda: not any(alive(pid) for pid in orphans), 10, "the orphaned gunicorn workers to end")
        self.serve_processes[n].start()

    # ------------------------------------------------------------ a person at work
    def change(self, n: int) -> None:
        """Person change number ``n``: record ``n % records`` gets the next text."""
        sys_id = self.sys_ids[n % len(self.sys_ids)]
        text = TEXTS[(n // len(self.sys_ids)) % len(TEXTS)].format(n=n)
        self.sandbox.update_as("admin", "incident", sys_id, {"short_description": text})
        self.changes_made += 1

    def stream(self, total: int, rate: float, *, first: int = 0,
               between: Callable[[int], None] | None = None) -> None:
        """Make changes ``first .. first+total-1`` at ``rate`` per second
        (``between(n)`` is called before change ``n``: the test's faults)."""
        pace = threading.Event()  # paces the load generator; never set
        started = time.monotonic()
        for k in range(total):
            ahead = started + k / rate - time.monotonic()
            if ahead > 0:
                pace.wait(ahead)
            if between is not None:
                between(first + k)
            self.change(first + k)

    # ------------------------------------------------------------ the service's side
    def inbox(self) -> Any:
        from itsm_align.webhooks.storage.inbox import Inbox

        return Inbox(self._db, coalesce_seconds=0.05)

    def owed(self) -> dict[str, int]:
        return self.inbox().depth(include_done=False)

    def unacknowledged(self) -> list[Any]:
        """Events the business rule sent that got no 2xx (connection refused or
        reset while a ``serve`` was killed, 5xx)."""
        return [e for e in self.sandbox.events if e.done and (e.status is None or not 200 <= e.status < 300)]

    def unacknowledged_reasons(self) -> dict[str, int]:
        """Why deliveries went unacknowledged: refused, reset/timed out, or the status."""
        reasons: dict[str, int] = {}
        for event in self.unacknowledged():
            if event.status is not None:
                reason = f"HTTP {event.status}"
            elif "refused" in (event.error or "").lower():
                reason = "connection refused"
            else:
                reason = (event.error or "no answer").split(":", 1)[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        return reasons

    def redeliver_unacknowledged(self) -> int:
        """Send again, unchanged, every event that got no 2xx: the platform's
        retry of an outbound message (the sandbox's rule has none). Returns how
        many; each must now be acknowledged."""
        again = self.unacknowledged()
        url = f"http://127.0.0.1:{self.serve_ports[0]}/webhooks/servicenow"
        for event in again:
            answer = requests.post(url, data=event.body, headers=event.headers, timeout=30)
            assert 200 <= answer.status_code < 300, (answer.status_code, answer.text)
        self.redelivered += len(again)
        return len(again)

    def wait_drained(self, timeout: float, what: str = "the backlog to drain") -> float:
        """Block until every event was delivered and nothing is owed; seconds it took."""
        started = time.monotonic()
        self.sandbox.wait_events_idle(timeout=timeout)

        def drained() -> bool:
            depth = self.owed()
            return not depth["pending"] and not depth["leased"]
        wait_until(drained, max(1.0, timeout - (time.monotonic() - started)), what)
        return time.monotonic() - started

    def metrics(self, n: int = 0) -> dict[str, float]:
        """serve ``n``'s /metrics as ``{"name{labels}": value}``."""
        text = requests.get(f"http://127.0.0.1:{self.serve_ports[n]}/metrics", timeout=5).text
        values = {}
        for line in text.splitlines():
            match = re.match(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) ([-+0-9.eE]+|NaN|[+-]Inf)$", line)
            if match:
                values[match.group(1)] = float(match.group(2))
        return values

    # ------------------------------------------------------------ the verdict
    def verify(self) -> Verdict:
        """Compare every record with the engine's result for its final state."""
        from itsm_align.cli.compose import build_adapter
        from itsm_align.webhooks.storage.history import History
        from itsm_align.webhooks.worker import RelatedFromHistory

        engine = self.config.engine()
        adapter = build_adapter("servicenow", self.config, self._db)
        history = History(self._db)
        mismatched: dict[str, dict[str, str]] = {}
        try:
            for sys_id in self.sys_ids:
                item = adapter.fetch(f"incident:{sys_id}")
                assessment = engine.assess(item, related=RelatedFromHistory(history, "servicenow"))
                wanted = adapter.changes(item, assessment.output())
                if wanted:
                    mismatched[sys_id] = wanted
        finally:
            adapter.close()
        ours = self.sandbox.integration_user
        patches: dict[str, int] = {}
        for r in self.sandbox.requests:
            if r.user == ours and r.method in {"PATCH", "PUT"} and r.status == 200 and "/incident/" in r.path:
                key = r.path.rstrip("/").rsplit("/", 1)[1]
                patches[key] = patches.get(key, 0) + 1
        changed: dict[str, set[str]] = {}
        for row in self.sandbox.query("sys_audit", f"user={ours}"):
            changed.setdefault(row.get("documentkey", ""), set()).add(row.get("record_checkpoint", ""))
        duplicates = sum(max(0, n - len(changed.get(key, ()))) for key, n in patches.items())
        depth = self.owed()
        return Verdict(len(self.sys_ids), mismatched, sum(patches.values()), duplicates,
                       self.inbox().depth()["failed"], depth["pending"] + depth["leased"])
