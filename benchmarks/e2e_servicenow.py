"""End-to-end benchmark on the ServiceNow sandbox: a person's change -> columns written.

    .venv/bin/python benchmarks/e2e_servicenow.py [--rate 50] [--seconds 60] [--records 300]

Everything as deployed, each in its own process: ``itsm-align
sandbox-servicenow`` (HTTPS with a throw-away CA, running our business rule),
``itsm-align serve`` (gunicorn, 2 workers) and ``itsm-align worker``
processes on one SQLite file. A person (admin) PATCHes incidents through the
Table API at ``--rate`` per second, alternating a description that serves
"Stay compliant" and one that serves nothing, so every change must be
written. Latency = the worker's history row for the record (appended right
after the write returns) minus the moment of the change; the inbox's
``received_at`` splits it into "change -> event stored" and the rest.
Prints p50/p95/p99/max. Never asserts.
"""
from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from e2e_jira import free_port, percentile, wait_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "e2e-servicenow-benchmark-secret"
INTEGRATION_PASSWORD = "integration-password"

CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
rules:
  - {{id: gdpr-words, objective: compliance, confidence: 0.7, when: {{text: {{any: [gdpr]}}}}}}
servicenow:
  instance: "https://127.0.0.1:{sn_port}"
  user: svc.itsm_align
  password: "{password}"
  ca_bundle: "{ca}"
  webhook_secret: "{secret}"
service:
  public_url: "{public_url}"
  database_url: "{database_url}"
  coalesce_seconds: {coalesce}
  poll_seconds: 0.02
"""


def first_after(times: list[float], at: float) -> float | None:
    later = [t for t in times if t >= at]
    return min(later) if later else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker process")
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--coalesce", type=float, default=0.05)
    options = parser.parse_args()

    from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
    from itsm_align.cli.config import load_config
    from itsm_align.webhooks.storage.history import History
    from itsm_align.webhooks.storage.inbox import Inbox
    from itsm_align.webhooks.storage.engine import create_db_engine

    tmp = Path(tempfile.mkdtemp(prefix="itsm-align-e2e-sn-"))
    sn_port, port = free_port(), free_port()
    public_url = f"http://127.0.0.1:{port}"
    ca = tmp / "ca.pem"
    cli = [sys.executable, "-c", "from itsm_align.cli.main import main; main()"]
    processes = [subprocess.Popen([*cli, "sandbox-servicenow", "--port", str(sn_port), "--ca-out", str(ca),
                                   "--seed", str(options.records), "--endpoint", f"{public_url}/webhooks/servicenow",
                                   "--secret", SECRET, "--integration-password", INTEGRATION_PASSWORD],
                                  cwd=ROOT, stdout=subprocess.DEVNULL)]
    try:
        wait_port(sn_port)
        config_path = tmp / "itsm-align.yaml"
        config_path.write_text(CONFIG.format(sn_port=sn_port, password=INTEGRATION_PASSWORD, ca=ca, secret=SECRET,
                                             public_url=public_url, coalesce=options.coalesce,
                                             database_url=f"sqlite:///{tmp / 'service.sqlite3'}"))
        config = load_config(config_path)
        ServiceNowAdapter(config.servicenow).setup(config.engine().objectives)
        person = requests.Session()
        person.trust_env = False
        person.verify = str(ca)
        person.auth = ("admin", "admin")
        base = f"https://127.0.0.1:{sn_port}/api/now/table/incident"
        listed = person.get(base, params={"sysparm_fields": "sys_id,number", "sysparm_limit": options.records},
                            timeout=30).json()["result"]
        sys_ids = [r["sys_id"] for r in listed]
        by_number = {r["number"]: r["sys_id"] for r in listed}

        processes.append(subprocess.Popen([*cli, "serve", "--config", str(config_path), "--bind",
                                           f"127.0.0.1:{port}", "--workers", "2"], cwd=ROOT))
        processes += [subprocess.Popen([*cli, "worker", "--config", str(config_path), "--concurrency",
                                        str(options.concurrency)], cwd=ROOT)
                      for _ in range(options.worker_processes)]
        wait_port(port)
        edits: list[tuple[str, float]] = []
        interval = 1.0 / options.rate
        total = int(options.rate * options.seconds)
        started = time.perf_counter()

        def send(lane: int, lanes: int) -> None:
            """Every ``lanes``-th change, on schedule; its own keep-alive session."""
            session = requests.Session()
            session.trust_env, session.verify, session.auth = False, str(ca), ("admin", "admin")
            for n in range(lane, total, lanes):
                pause = started + n * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)  # pacing the load generator
                sys_id = sys_ids[n % len(sys_ids)]
                text = f"GDPR data request {n}" if (n // len(sys_ids)) % 2 == 0 else f"Printer jam again {n}"
                edits.append((sys_id, time.time()))
                session.patch(f"{base}/{sys_id}", json={"short_description": text}, timeout=30).raise_for_status()

        senders = [threading.Thread(target=send, args=(lane, 4)) for lane in range(4)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        sent_in = time.perf_counter() - started

        db = create_db_engine(config.service.database_url)
        inbox, history = Inbox(db), History(db)
        deadline = time.monotonic() + 60  # let the tail drain
        while time.monotonic() < deadline:
            depth = inbox.depth(include_done=False)
            if not depth["pending"] and not depth["leased"] and len(inbox.rows()) >= len(edits):
                break
            time.sleep(0.5)
        received: dict[str, list[float]] = {}
        for row in inbox.rows(platform="servicenow"):
            received.setdefault(row.item_key.split(":", 1)[1], []).append(row.received_at)
        written: dict[str, list[float]] = {}
        frame = history.frame(platform="servicenow")
        for key, at in zip(frame["item_key"], frame["assessed_at"]):
            sys_id = by_number.get(key, key.split(":", 1)[-1])  # history keys are numbers (WorkItem.key)
            written.setdefault(sys_id, []).append(at.timestamp())
        done = [(t - at) for sys_id, at in edits if (t := first_after(written.get(sys_id, []), at)) is not None]
        stored = [(t - at) for sys_id, at in edits if (t := first_after(received.get(sys_id, []), at)) is not None]
        print(f"e2e ServiceNow sandbox: {total} person changes at {total / sent_in:.1f}/s over {sent_in:.0f}s, "
              f"{options.records} incidents, {options.worker_processes} worker process(es) x "
              f"{options.concurrency} threads, coalesce {options.coalesce}s")
        if done:
            print(f"  change -> columns written: p50 {1000 * statistics.median(done):.0f} ms  "
                  f"p95 {1000 * percentile(done, 0.95):.0f} ms  p99 {1000 * percentile(done, 0.99):.0f} ms  "
                  f"max {1000 * max(done):.0f} ms")
        if stored:
            print(f"  change -> event stored in the inbox: p50 {1000 * statistics.median(stored):.0f} ms  "
                  f"p99 {1000 * percentile(stored, 0.99):.0f} ms")
        print(f"  changes without a later assessment: {len(edits) - len(done)}; inbox rows: {len(inbox.rows())}; "
              f"assessments: {len(frame)}; failed items: {inbox.depth()['failed']}")
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
