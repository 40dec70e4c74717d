"""End-to-end benchmark on the ServiceNow sandbox: a person's change -> columns written.

    .venv/bin/python benchmarks/e2e_servicenow.py [--rate 50] [--seconds 60] [--records 300]

As deployed: the ServiceNow sandbox (this process, HTTPS with a throw-away CA,
running our business rule), ``itsm-align serve`` (gunicorn, 2 workers) and
``itsm-align worker`` as subprocesses on one SQLite file. Updates incidents
as a person at ``--rate`` per second, alternating a description that serves
"Stay compliant" and one that serves nothing, so every change must be
written; a watcher thread timestamps our PATCHes as they appear in the
sandbox request log (every 10 ms, so figures are +/- 10 ms). Prints p50/p95/p99/max and
anything never written. Never asserts.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from e2e_jira import free_port, percentile, wait_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "e2e-servicenow-benchmark-secret"

CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
rules:
  - {{id: gdpr-words, objective: compliance, confidence: 0.7, when: {{text: {{any: [gdpr]}}}}}}
servicenow:
  instance: "{instance}"
  user: "{user}"
  password: "{password}"
  ca_bundle: "{ca}"
  webhook_secret: "{secret}"
service:
  public_url: "{public_url}"
  database_url: "{database_url}"
  coalesce_seconds: {coalesce}
  poll_seconds: 0.02
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
    parser.add_argument("--coalesce", type=float, default=0.05)
    parser.add_argument("--event-workers", type=int, default=4,
                        help="sandbox threads running async business rules (a real node has several)")
    options = parser.parse_args()

    from itsm_align.integration.sandbox.servicenow import ServiceNowSandbox
    from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
    from itsm_align.webhooks.config import load_config

    tmp = Path(tempfile.mkdtemp(prefix="itsm-align-e2e-sn-"))
    sandbox = ServiceNowSandbox(event_workers=options.event_workers).start()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    config_path = tmp / "itsm-align.yaml"
    config_path.write_text(CONFIG.format(
        instance=sandbox.url, user=sandbox.integration_user, password=sandbox.integration_password,
        ca=sandbox.ca_pem_path, secret=SECRET, public_url=public_url,
        database_url=f"sqlite:///{tmp / 'service.sqlite3'}", coalesce=options.coalesce))
    config = load_config(config_path)
    ServiceNowAdapter(config.servicenow).setup(config.engine().objectives)
    sandbox.set_property("itsm_align.endpoint", f"{public_url}/webhooks/servicenow")
    sandbox.set_property("itsm_align.secret", SECRET)
    sandbox.set_property("itsm_align.integration_user", sandbox.integration_user)
    sys_ids = sandbox.seed("incident", options.records)

    cli = [sys.executable, "-c", "from itsm_align.webhooks.cli import main; main()"]
    server = subprocess.Popen([*cli, "serve", "--config", str(config_path), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2"], cwd=ROOT)
    worker = subprocess.Popen([*cli, "worker", "--config", str(config_path), "--concurrency",
                               str(options.concurrency)], cwd=ROOT)
    seen_at: list[tuple[str, float]] = []  # (path, when first seen) of every PATCH/PUT in the request log
    stop = threading.Event()

    def watch() -> None:
        """Timestamp new PATCH/PUT entries of the sandbox log (every 10 ms): cheap,
        so the watcher does not compete with the system it measures."""
        seen = 0
        while not stop.wait(0.01):
            log = sandbox.requests
            now = time.time()
            for request in log[seen:]:
                if request.method in ("PATCH", "PUT"):
                    seen_at.append((request.path, now))
            seen = len(log)

    watcher = threading.Thread(target=watch, daemon=True)
    edits: list[tuple[str, float]] = []
    try:
        wait_port(port)
        watcher.start()
        interval = 1.0 / options.rate
        total = int(options.rate * options.seconds)
        started = time.perf_counter()
        for n in range(total):
            pause = started + n * interval - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # pacing the load generator
            sys_id = sys_ids[n % len(sys_ids)]
            aligned = (n // len(sys_ids)) % 2 == 0
            text = f"GDPR data request {n}" if aligned else f"Printer jam again {n}"
            edits.append((sys_id, time.time()))
            sandbox.update_as(sandbox.admin_user, "incident", sys_id, {"short_description": text})
        sent_in = time.perf_counter() - started
        deadline = time.monotonic() + 30  # let the tail drain
        while len(seen_at) < len(edits) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        watcher.join(timeout=10)
        by_record: dict[str, list[float]] = {}
        for path, at in seen_at:
            by_record.setdefault(path.rstrip("/").rsplit("/", 1)[-1], []).append(at)
        latencies, unwritten = [], 0
        for sys_id, at in edits:
            later = [t for t in by_record.get(sys_id, []) if t >= at]
            if later:
                latencies.append(min(later) - at)
            else:
                unwritten += 1
        events = sandbox.events
        print(f"e2e ServiceNow sandbox: {total} person updates at {total / sent_in:.1f}/s over {sent_in:.0f}s, "
              f"{options.records} incidents, worker concurrency {options.concurrency}, coalesce {options.coalesce}s, "
              f"{options.event_workers} business-rule threads")
        if latencies:
            print(f"  change -> columns written: p50 {1000 * statistics.median(latencies):.0f} ms  "
                  f"p95 {1000 * percentile(latencies, 0.95):.0f} ms  p99 {1000 * percentile(latencies, 0.99):.0f} ms"
                  f"  max {1000 * max(latencies):.0f} ms  (+/- 10 ms)")
        print(f"  never written: {unwritten}; events posted: {len(events)} "
              f"(non-2xx: {sum(1 for e in events if not e.status or e.status >= 300)}); "
              f"PATCH/PUT requests: {len(seen_at)}")
    finally:
        for process in (worker, server):
            process.send_signal(signal.SIGTERM)
        for process in (worker, server):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        sandbox.stop()


if __name__ == "__main__":
    main()
