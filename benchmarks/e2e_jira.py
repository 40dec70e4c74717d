"""End-to-end benchmark on the Jira sandbox: a person's edit -> fields written.

    .venv/bin/python benchmarks/e2e_jira.py [--rate 50] [--seconds 60] [--issues 300] [--concurrency 4]

Runs the product as deployed: the Jira sandbox (in this process, real HTTP),
``itsm-align serve`` (gunicorn, 2 workers) and ``itsm-align worker`` as
subprocesses on one SQLite file, the webhook registered by the adapter's
set-up. Edits issues as a person at ``--rate`` per second (round robin over
``--issues`` issues, alternating a summary that serves "Stay compliant" and
one that serves nothing, so every edit changes the result and must be
written), then reads the sandbox request log: latency = our PUT on the issue
minus the moment of the edit. Prints p50/p95/p99/max and anything never
written. Never asserts.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "e2e-benchmark-secret"

CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
rules:
  - {{id: shop-projects, objective: revenue, confidence: 0.9, when: {{project: [SHOP]}}}}
  - {{id: gdpr-words, objective: compliance, confidence: 0.7, when: {{text: {{any: [gdpr]}}}}}}
jira:
  url: "{jira_url}"
  email: "{email}"
  api_token: "{token}"
  webhook_secret: "{secret}"
service:
  public_url: "{public_url}"
  database_url: "{database_url}"
  coalesce_seconds: {coalesce}
  poll_seconds: 0.02
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
    parser.add_argument("--coalesce", type=float, default=0.05)
    options = parser.parse_args()

    from itsm_align.integration.jira.adapter import JiraAdapter
    from itsm_align.sandbox.jira import JiraSandbox
    from itsm_align.cli.config import load_config
    from itsm_align.webhooks.storage.statestore import DatabaseStore
    from itsm_align.webhooks.storage.engine import create_db_engine

    tmp = Path(tempfile.mkdtemp(prefix="itsm-align-e2e-"))
    sandbox = JiraSandbox(webhook_lanes=8).start()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    email, token = sandbox.credentials
    config_path = tmp / "itsm-align.yaml"
    config_path.write_text(CONFIG.format(jira_url=sandbox.url, email=email, token=token, secret=SECRET,
                                         public_url=public_url, database_url=f"sqlite:///{tmp / 'service.sqlite3'}",
                                         coalesce=options.coalesce))
    config = load_config(config_path)
    engine = config.engine()
    db = create_db_engine(config.service.database_url)
    adapter = JiraAdapter(config.jira, DatabaseStore(db, "jira"), objectives=engine.objectives,
                          fields_read=engine.fields_read, public_url=public_url)
    adapter.setup(engine.objectives)
    keys = sandbox.seed(projects=("ITSM",), issues=options.issues, summary=lambda n: f"Printer jam {n}")

    cli = [sys.executable, "-c", "from itsm_align.cli.main import main; main()"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([*cli, "serve", "--config", str(config_path), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2"], env=env, cwd=ROOT)
    worker = subprocess.Popen([*cli, "worker", "--config", str(config_path), "--concurrency",
                               str(options.concurrency)], env=env, cwd=ROOT)
    try:
        wait_port(port)
        edits: list[tuple[str, float]] = []
        interval = 1.0 / options.rate
        total = int(options.rate * options.seconds)
        started = time.perf_counter()
        for n in range(total):
            due = started + n * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # pacing the load generator
            key = keys[n % len(keys)]
            round_ = n // len(keys)
            text = f"GDPR data request {n}" if round_ % 2 == 0 else f"Printer jam again {n}"
            at = time.time()
            sandbox.edit_issue_as(sandbox.admin_user, key, {"summary": text})
            edits.append((key, at))
        sent_in = time.perf_counter() - started
        # let the tail drain: every edit written, or 30 s
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            puts = [r for r in sandbox.requests if r.method == "PUT" and "/issue/" in r.path]
            if len(puts) >= len(edits):
                break
            time.sleep(0.2)
        by_issue: dict[str, list[float]] = {}
        for r in sandbox.requests:
            match = re.search(r"/issue/([A-Z]+-\d+)$", r.path)
            if r.method == "PUT" and match:
                by_issue.setdefault(match.group(1), []).append(r.at)
        latencies, unwritten = [], 0
        for key, at in edits:
            later = [t for t in by_issue.get(key, []) if t >= at]
            if later:
                latencies.append(min(later) - at)
            else:
                unwritten += 1
        deliveries = sandbox.deliveries
        print(f"e2e Jira sandbox: {len(edits)} person edits at {len(edits) / sent_in:.1f}/s over {sent_in:.0f}s, "
              f"{options.issues} issues, worker concurrency {options.concurrency}, coalesce {options.coalesce}s")
        if latencies:
            print(f"  edit -> fields written: p50 {1000 * statistics.median(latencies):.0f} ms  "
                  f"p95 {1000 * percentile(latencies, 0.95):.0f} ms  p99 {1000 * percentile(latencies, 0.99):.0f} ms"
                  f"  max {1000 * max(latencies):.0f} ms")
        print(f"  edits never written: {unwritten}; our PUTs: {sum(len(v) for v in by_issue.values())}; "
              f"webhook deliveries: {len(deliveries)} "
              f"(non-2xx answers: {sum(1 for d in deliveries if d.status and d.status >= 300)})")
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
