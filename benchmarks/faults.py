"""Throughput and recovery of the worker side, against the ServiceNow sandbox.

    .venv/bin/python benchmarks/faults.py [--items 1500] [--outage-seconds 120] [--outage-rate 50]

Everything as deployed (the fault suite's harness, tests/e2e/faults/stack.py):
the ServiceNow sandbox in this process (HTTPS, our business rule), ``itsm-align
serve`` (gunicorn, 2 workers) and ``itsm-align worker`` processes.

1. **Workers, 1 against 3 (PostgreSQL, same run).** With no worker running,
   a person changes ``--items`` records once each (the business rule's
   events are stored in the inbox), then worker processes start and drain
   the backlog: items fully processed (fetched, assessed, written, recorded)
   per second, from the first to the last history row. Then the same
   records change again and 3 worker processes drain that; then 1 and 3
   again (the first round runs on tables PostgreSQL has not analysed yet). CPU seconds per
   item of each party (worker processes, PostgreSQL, this process = the
   sandbox) say where the limit is.
2. **Outage drain.** The sandbox stops listening for ``--outage-seconds``
   while a person changes records at ``--outage-rate`` per second (events
   keep arriving); then it serves again. Time from its return until nothing
   is owed and every record shows what the engine computes.

Prints tables; never asserts.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pgserver import fresh_database, server_pids, temporary_postgres  # noqa: E402

from tests.e2e.faults.stack import FaultStack  # noqa: E402
from tests.webhooks.live import wait_until  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def history_span(stack: FaultStack, since: float) -> tuple[int, float, float]:
    """(assessments since ``since``, first, last assessed_at) from the history."""
    from itsm_align.webhooks.storage.history import History

    frame = History(stack._db).frame(platform="servicenow")
    times = sorted(t.timestamp() for t in frame["assessed_at"] if t.timestamp() >= since)
    return len(times), (times[0] if times else 0.0), (times[-1] if times else 0.0)


def drain_backlog(stack: FaultStack, pg_port: int, workers: int, concurrency: int, round_: int) -> dict[str, float]:
    """Queue one change per record with no worker running, then start ``workers``
    processes and time the drain."""
    for n in range(len(stack.sys_ids)):
        stack.change(round_ * len(stack.sys_ids) + n)
    stack.sandbox.wait_events_idle(timeout=300)
    wait_until(lambda: stack.owed()["pending"] >= len(stack.sys_ids), 60, "the backlog to be stored")
    stack.sandbox.clear_requests()
    since = time.time()
    sandbox_cpu, pg_cpu = cpu_seconds([os.getpid()]), cpu_seconds(server_pids(pg_port))
    added = stack.add_workers(workers, concurrency)
    worker_cpu_before = 0.0
    started = time.monotonic()
    wait_until(lambda: not stack.owed()["pending"] and not stack.owed()["leased"], 900, "the backlog to drain")
    wall = time.monotonic() - started
    worker_cpu = cpu_seconds([p.pid for p in added]) - worker_cpu_before
    sandbox_cpu = cpu_seconds([os.getpid()]) - sandbox_cpu
    pg_cpu = cpu_seconds(server_pids(pg_port)) - pg_cpu
    done, first, last = history_span(stack, since)
    requests = len(stack.sandbox.http_requests)
    for process in added:  # the next phase starts with no worker
        process.stop()
    return {"workers": workers, "items": done, "wall": wall, "rate": (done - 1) / (last - first) if last > first else 0,
            "requests": requests, "worker_cpu": worker_cpu, "sandbox_cpu": sandbox_cpu, "pg_cpu": pg_cpu,
            "span": last - first}


@contextlib.contextmanager
def temporary_redis() -> Iterator[str]:
    """redis-server on a free 127.0.0.1 port, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (scripts/system-deps.sh installs it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _accepts(port), 10, "redis-server to listen")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def workers_benchmark(items: int, concurrency: int) -> None:
    with temporary_postgres() as pg_port, temporary_redis() as redis_url, tempfile.TemporaryDirectory() as tmp:
        stack = FaultStack(Path(tmp), database_url=fresh_database(pg_port), records=items, serves=1, workers=0,
                           concurrency=concurrency, redis_url=redis_url, lease_seconds=60)
        try:
            stack.start()
            # alternated, so neither shape gets the fresh tables (PostgreSQL plans them
            # badly until autovacuum has analysed them) nor the warmed-up ones alone
            results = [drain_backlog(stack, pg_port, workers, concurrency, round_)
                       for round_, workers in enumerate((1, 3, 1, 3))]
        finally:
            stack.close()
    print(f"\nWorkers on PostgreSQL (Redis wake-ups) against the ServiceNow sandbox: a backlog of {items} items (one change each), "
          f"worker processes x {concurrency} threads, {os.cpu_count()} CPUs")
    print("| worker processes | items | items/s (first to last write) | wall s | HTTP requests | "
          "CPU s per 100 items: workers | sandbox (this process) | PostgreSQL |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        per = 100.0 / max(1, r["items"])
        print(f"| {r['workers']} | {r['items']} | {r['rate']:.1f} | {r['wall']:.1f} | {r['requests']} | "
              f"{r['worker_cpu'] * per:.2f} | {r['sandbox_cpu'] * per:.2f} | {r['pg_cpu'] * per:.2f} |")
    one, three = results[2], results[3]  # the second pair: both on analysed tables
    if one["rate"]:
        print(f"3 processes / 1 process: {three['rate'] / one['rate']:.2f}x; the sandbox process used "
              f"{100 * three['sandbox_cpu'] / max(three['wall'], 1e-9):.0f}% of one CPU with 3 workers "
              f"({100 * one['sandbox_cpu'] / max(one['wall'], 1e-9):.0f}% with 1); the machine has "
              f"{os.cpu_count()} CPUs for everything")


def outage_benchmark(seconds: float, rate: float, records: int, store: str, workers: int, concurrency: int) -> None:
    tmp = tempfile.mkdtemp(prefix="itsm-align-bench-outage-")
    print(f"logs in {tmp}", flush=True)
    with _database(store, Path(tmp)) as url:
        stack = FaultStack(Path(tmp), database_url=url, records=records, serves=1, workers=workers,
                           concurrency=concurrency, lease_seconds=60)
        try:
            stack.start()
            stack.stream(50, rate)
            stack.wait_drained(60)
            total = int(seconds * rate)
            breaker_seen: list[float] = []
            scrape_errors: list[str] = []
            stop = threading.Event()

            def scrape() -> None:
                while not stop.is_set():
                    try:
                        m = stack.metrics(0)
                    except Exception as error:  # noqa: BLE001 - a slow scrape is a figure too
                        scrape_errors.append(str(error)[:80])
                        m = {}
                    breaker_seen.append(m.get('itsm_align_platform_breaker_open{platform="servicenow"}', 0))
                    stop.wait(1.0)

            scraper = threading.Thread(target=scrape, daemon=True)
            scraper.start()
            with stack.sandbox.outage():
                down = time.monotonic()
                stack.stream(total, rate, first=50)
                streamed = time.monotonic() - down
                stack.sandbox.wait_events_idle(timeout=600)
                delivered = time.monotonic() - down
                owed = stack.owed()
                items_owed = len({row.item_key for row in stack.inbox().rows(state="pending")})
            back = time.monotonic()
            stack.sandbox.clear_requests()
            first_write = None
            while True:
                depth = stack.owed()
                if first_write is None and any(r.method == "PATCH" and r.status == 200
                                               for r in stack.sandbox.http_requests):
                    first_write = time.monotonic() - back
                if not depth["pending"] and not depth["leased"]:
                    break
                if time.monotonic() - back > 900:
                    break
                time.sleep(0.2)  # polling the inbox for the benchmark's clock
            drained = time.monotonic() - back
            stop.set()
            scraper.join(timeout=5)
            verdict = stack.verify()
            failed = verdict.failed_rows
            unacknowledged = len(stack.unacknowledged())
        finally:
            stack.close()
    print(f"\nOutage on {store} ({workers} worker process(es) x {concurrency} threads, 1 serve): the sandbox refused "
          f"connections for {back - down:.0f}s while {total} changes to {records} records arrived at {rate:g}/s "
          f"(changes made in {streamed:.0f}s, their events delivered by {delivered:.0f}s; "
          f"{len(scrape_errors)} /metrics scrapes failed)")
    print("| events during outage | rows owed at return | items owed | first write after return s | "
          "drained after return s | parked | unacknowledged deliveries | records not converged | "
          "breaker open in scrapes |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {total} | {owed['pending'] + owed['leased']} | {items_owed} | "
          f"{first_write if first_write is not None else float('nan'):.1f} | {drained:.1f} | {failed} | "
          f"{unacknowledged} | {len(verdict.mismatched)} | {int(sum(breaker_seen))} of {len(breaker_seen)} |")


class _database:
    """``with _database("sqlite"|"postgresql", tmp) as url``."""

    def __init__(self, store: str, tmp: Path) -> None:
        self.store, self.tmp, self._pg = store, tmp, None

    def __enter__(self) -> str:
        if self.store == "sqlite":
            return f"sqlite:///{self.tmp / 'service.sqlite3'}"
        self._pg = temporary_postgres()
        return fresh_database(self._pg.__enter__())

    def __exit__(self, *exc: object) -> None:
        if self._pg is not None:
            self._pg.__exit__(*exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1500, help="backlog size for the 1-vs-3 workers figure")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker process")
    parser.add_argument("--outage-seconds", type=float, default=120.0)
    parser.add_argument("--outage-rate", type=float, default=50.0, help="person changes per second meanwhile")
    parser.add_argument("--outage-records", type=int, default=2000)
    parser.add_argument("--outage-store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--outage-workers", type=int, default=1)
    parser.add_argument("--only", choices=("workers", "outage"), default=None)
    options = parser.parse_args()
    if options.only in (None, "workers"):
        workers_benchmark(options.items, options.concurrency)
    if options.only in (None, "outage"):
        outage_benchmark(options.outage_seconds, options.outage_rate, options.outage_records, options.outage_store,
                         options.outage_workers, options.concurrency)


if __name__ == "__main__":
    main()
