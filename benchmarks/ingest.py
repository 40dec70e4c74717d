"""Ingest benchmark: webhook acknowledgements per second and latency under
gunicorn, our endpoint against a bare Flask app, same server settings, same run.

    .venv/bin/python benchmarks/ingest.py --load wrk --seconds 10 --rounds 5 [--reference]
        [--senders 16] [--workers 2] [--threads 4] [--reconnect-every 100]

(a) bare: a Flask app that parses the JSON (stdlib ``json``) and answers 202;
(b) ours: ``create_app`` with signature check, dedupe and the durable SQLite
    inbox (WAL, synchronous=NORMAL), the Jira adapter's event parsing and loop
    guard included, counted for /metrics across processes as under ``serve``;
(c) with ``--reference``: the bare app plus a plain SQLite INSERT of the body,
    the yardstick the goal was set against (0.65 of bare when it was set).
Each is started with ``gunicorn -k gthread`` with ``itsm-align serve``'s
settings (2 workers x 4 threads, 5 s keep-alive; override with ``--workers`` /
``--threads``) and driven by ``--senders``
keep-alive connections posting a captured Jira delivery with a real HMAC
signature and a fresh delivery id each time, from wrk (``--load wrk``: C,
little CPU taken from the servers) or from Python threads. Every
``--reconnect-every`` requests a sender opens a new connection, as platforms'
HTTP clients do, so connections spread over gunicorn's worker processes
instead of staying wherever the first burst of connects landed. Apps
alternate round by round, so a drift of the machine hits all of them.
Prints acks/s, p50/p99 latency, the server processes' CPU time per ack and
how busy the machine was (with wrk, from /proc), and the ratios. Never asserts.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEBHOOKS = ROOT / "tests" / "fixtures" / "jira" / "webhooks"
FIXTURE = WEBHOOKS / "issue_created.json"  # 11 KB, typical of the captures (they range 0.5-25 KB)
SECRET = "benchmark-secret"


# ---------------------------------------------------------------- the two apps (gunicorn factories)
def bare_app():  # type: ignore[no-untyped-def]
    from flask import Flask, request

    app = Flask(__name__)

    @app.post("/webhooks/jira")
    def receive():  # type: ignore[no-untyped-def]
        json.loads(request.get_data())
        return '{"status":"accepted"}', 202, {"Content-Type": "application/json"}

    return app


def insert_app():  # type: ignore[no-untyped-def]
    """The reference the goal was set against: the bare app plus a plain INSERT
    of the body into SQLite (WAL, synchronous=NORMAL) before answering, one
    connection per thread, nothing else (no signature, no dedupe)."""
    import sqlite3
    import threading

    from flask import Flask, request

    path = os.environ["BENCH_DATABASE_URL"].removeprefix("sqlite:///")
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA synchronous=NORMAL")
            local.conn = conn
        return conn

    for attempt in range(50):  # both gunicorn processes start at once: one switches to WAL and creates
        try:
            with sqlite3.connect(path, isolation_level=None, timeout=30) as setup:
                setup.execute("PRAGMA journal_mode=WAL")
                setup.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            break
        except sqlite3.OperationalError:  # "database is locked" while the other one does
            time.sleep(0.02 * (attempt + 1))

    app = Flask(__name__)

    @app.post("/webhooks/jira")
    def receive():  # type: ignore[no-untyped-def]
        body = request.get_data()
        json.loads(body)
        connection().execute("INSERT INTO events (body) VALUES (?)", (body,))
        return '{"status":"accepted"}', 202, {"Content-Type": "application/json"}

    return app


def our_app():  # type: ignore[no-untyped-def]
    from itsm_align.integration.jira.adapter import JiraAdapter
    from itsm_align.integration.jira.settings import JiraSettings
    from itsm_align.integration.base import MemoryStore
    from itsm_align.webhooks.app import create_app
    from itsm_align.webhooks.settings import ServiceSettings

    settings = ServiceSettings(database_url=os.environ["BENCH_DATABASE_URL"])
    jira = JiraSettings(url="http://127.0.0.1:9", email="bench@example.com", api_token="unused",
                        webhook_secret=SECRET, account_id="integration-account-id")
    return create_app(service=settings, secrets={"jira": SECRET},
                      adapters={"jira": JiraAdapter(jira, MemoryStore())})


# ---------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(factory: str, port: int, workers: int, threads: int, env: dict[str, str],
                   worker_class: str = "gthread") -> subprocess.Popen:
    from itsm_align.cli.service import KEEPALIVE_SECONDS  # serve's setting

    command = [sys.executable, "-m", "gunicorn", "--chdir", str(HERE), "-w", str(workers), "-k", worker_class,
               "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--keep-alive", str(KEEPALIVE_SECONDS),
               "--log-level", "warning", "--no-control-socket", f"ingest:{factory}()"]
    process = subprocess.Popen(command, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"gunicorn {factory} did not start")


class _Checkpointer:
    """Stands in for a running worker's housekeeping: the worker checkpoints the
    SQLite WAL about once a second (webhooks/store.py ``checkpoint``), so the
    webhook processes do not. Runs in this process, on the same CPUs."""

    def __init__(self, url: str) -> None:
        import threading

        from itsm_align.webhooks.storage.engine import checkpoint, create_db_engine

        self._stop = threading.Event()

        def loop() -> None:
            engine = None
            while not self._stop.wait(1.0):
                try:
                    engine = engine or create_db_engine(url, create_tables=False)
                    checkpoint(engine)
                except Exception:  # the database may not exist until the app made it
                    pass

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def settle(directory: str) -> None:
    """Between runs: delete the run's database files and write dirty pages back
    to disk, so one app's writes are not written back during the next app's run
    (the plain-INSERT reference writes about 250 MB of bodies per run)."""
    shutil.rmtree(directory)
    os.mkdir(directory)
    os.sync()


# ---------------------------------------------------------------- CPU accounting (Linux /proc)
def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants (gunicorn master and workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def cpu_sample(pids: Callable[[], list[int]]) -> tuple[float, float, float, float]:
    """(CPU seconds used by the server processes, machine busy seconds, seconds
    stolen by the hypervisor, machine total seconds)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = 0
    for pid in pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used += int(fields[11]) + int(fields[12])  # utime, stime
    # user nice system idle iowait irq softirq steal (guest time is already counted in user)
    cpu = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle, steal = cpu[3] + cpu[4], cpu[7] if len(cpu) > 7 else 0
    return used / tick, (sum(cpu) - idle - steal) / tick, steal / tick, sum(cpu) / tick


def cpu_figures(before: tuple[float, ...], after: tuple[float, ...], requests: int) -> dict[str, float]:
    used, busy, steal, total = (a - b for a, b in zip(after, before))
    if not requests or not total:
        return {}
    return {"server_cpu_us": 1e6 * used / requests, "machine_busy": busy / total, "steal": steal / total}


# ---------------------------------------------------------------- load
def _sender(args: tuple[int, int, int, float, bytes, str]) -> tuple[list[float], dict[int, int]]:
    import threading

    port, proc, threads, seconds, body, signature, reconnect_every = args
    results: list[tuple[list[float], dict[int, int]]] = []

    def run(thread: int) -> None:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        end = time.perf_counter() + seconds
        n = 0
        while (start := time.perf_counter()) < end:
            n += 1
            if reconnect_every and n % reconnect_every == 0:
                # a new connection now and then, as platforms' delivery clients do, so that
                # connections spread over the server's worker processes instead of staying
                # wherever the first burst of connects landed
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("POST", "/webhooks/jira", body=body, headers={
                    "Content-Type": "application/json", "X-Hub-Signature": signature,
                    "X-Atlassian-Webhook-Identifier": f"{os.getpid()}-{proc}-{thread}-{n}-{time.time_ns()}"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:  # counted as status 0; reconnect and go on
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()
        results.append((latencies, statuses))

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    latencies = [x for lat, _ in results for x in lat]
    statuses: dict[int, int] = {}
    for _, st in results:
        for code, count in st.items():
            statuses[code] = statuses.get(code, 0) + count
    return latencies, statuses


def drive(port: int, senders: int, seconds: float, body: bytes, signature: str,
          reconnect_every: int = 0) -> dict[str, float]:
    processes = max(1, min(4, senders))
    per = [senders // processes + (1 if i < senders % processes else 0) for i in range(processes)]
    _sender((port, 0, 2, 0.5, body, signature, reconnect_every))  # warm-up
    with multiprocessing.Pool(processes) as pool:
        started = time.perf_counter()
        parts = pool.map(_sender, [(port, i, per[i], seconds, body, signature, reconnect_every)
                                   for i in range(processes)])
        elapsed = time.perf_counter() - started
    latencies = sorted(x for lat, _ in parts for x in lat)
    if not latencies:
        raise RuntimeError(f"no answer from 127.0.0.1:{port} (did gunicorn start? port taken?)")
    statuses: dict[int, int] = {}
    for _, st in parts:
        for code, count in st.items():
            statuses[code] = statuses.get(code, 0) + count
    acks = statuses.get(202, 0)
    return {"acks_per_s": acks / elapsed, "requests": len(latencies), "acks": acks,
            "other": len(latencies) - acks,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}


WRK_SCRIPT = """
local n, id = 0, "0"
function setup(thread) thread:set("tid", tostring(math.random(1, 1e9))) end
function init(args) id = tid .. "-" .. tostring(os.time()) end
function request()
  n = n + 1
  wrk.headers["X-Atlassian-Webhook-Identifier"] = id .. "-" .. n
  -- every RECONNECT-th request asks the server to close the connection; wrk then
  -- opens a new one, which lands on whichever worker process accepts first
  if RECONNECT > 0 and n % RECONNECT == 0 then
    wrk.headers["Connection"] = "close"
  else
    wrk.headers["Connection"] = nil
  end
  return wrk.format("POST", "/webhooks/jira")
end
"""


def drive_wrk(port: int, senders: int, seconds: float, body: bytes, signature: str,
              reconnect_every: int = 0, server_pids: Callable[[], list[int]] = list) -> dict[str, float]:
    """The same load from wrk (C, epoll): the senders take little CPU from the
    servers, so the ratio shows what the servers do. Keep-alive connections."""
    import re
    import shutil

    if shutil.which("wrk") is None:
        raise SystemExit("--load wrk needs wrk (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["X-Hub-Signature"] = "{signature}"\nwrk.body = [==[{body.decode("utf-8")}]==]\n'
            + WRK_SCRIPT.replace("RECONNECT", str(reconnect_every)))
        url = f"http://127.0.0.1:{port}"
        subprocess.run(["wrk", "-t2", "-c4", "-d1s", "-s", str(script), url], capture_output=True)  # warm-up
        before = cpu_sample(server_pids)
        out = subprocess.run(["wrk", "-t2", f"-c{senders}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
                              url], capture_output=True, text=True, check=True).stdout
        after = cpu_sample(server_pids)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad_count = int(bad.group(1)) if bad else 0

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"acks_per_s": rate * (total - bad_count) / total, "requests": total, "acks": total - bad_count,
            "other": bad_count, "p50_ms": ms("50"), "p99_ms": ms("99"),
            **cpu_figures(before, after, total)}


def main() -> None:
    from itsm_align.cli.service import DEFAULT_THREADS, DEFAULT_WORKERS  # serve's settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="default: itsm-align serve's")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="per worker (gthread); default: itsm-align serve's")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"),
                        help="sync: one request at a time per worker, no keep-alive")
    parser.add_argument("--reference", action="store_true",
                        help="also run the goal's reference: bare app + a plain SQLite INSERT of the body")
    parser.add_argument("--rounds", type=int, default=1, help="alternate bare/ours this many times")
    parser.add_argument("--load", choices=("python", "wrk"), default="python",
                        help="load generator: Python threads (default) or wrk (little CPU, keep-alive)")
    parser.add_argument("--reconnect-every", type=int, default=100,
                        help="each sender opens a new connection after this many requests (0: never)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the durable inbox's store: a SQLite file, or a throw-away PostgreSQL 15 "
                             "(benchmarks/pgserver.py; a fresh database per run)")
    parser.add_argument("--fixture", default=FIXTURE.name,
                        help="captured delivery to send, from tests/fixtures/jira/webhooks/ (e.g. the 25 KB "
                             "issue_updated_generic.json)")
    options = parser.parse_args()

    from itsm_align.webhooks.signatures import jira_signature

    body = (WEBHOOKS / options.fixture).read_bytes()
    signature = jira_signature(SECRET, body)
    apps = [("bare", "bare_app"), ("ours", "our_app")] + ([("insert", "insert_app")] if options.reference else [])
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in apps}
    if options.reference and options.database != "sqlite":
        parser.error("--reference (a plain SQLite INSERT) goes with --database sqlite")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        if options.database == "postgresql":
            from pgserver import fresh_database, temporary_postgres

            pg_port = servers.enter_context(temporary_postgres())
        for _ in range(options.rounds):
            for name, factory in apps:
                port = free_port()
                url = (fresh_database(pg_port) if options.database == "postgresql"
                       else f"sqlite:///{tmp}/inbox-{time.time_ns()}.sqlite3")
                env = {"BENCH_DATABASE_URL": url}
                if name == "ours":  # counted across processes, as under itsm-align serve
                    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(dir=tmp)
                server = start_gunicorn(factory, port, options.workers, options.threads, env, options.worker_class)
                housekeeping = (_Checkpointer(url) if name == "ours" and options.database == "sqlite"
                                else None)
                try:
                    if options.load == "wrk":
                        results[name].append(drive_wrk(port, options.senders, options.seconds, body, signature,
                                                       options.reconnect_every,
                                                       lambda: tree_pids(server.pid)))
                    else:
                        results[name].append(drive(port, options.senders, options.seconds, body, signature,
                                                   options.reconnect_every))
                finally:
                    if housekeeping is not None:
                        housekeeping.stop()
                    server.terminate()
                    server.wait(timeout=30)
                    settle(tmp)
    print(f"gunicorn {options.worker_class}, {options.workers} workers"
          f"{f' x {options.threads} threads' if options.worker_class == 'gthread' else ''}; {options.senders} "
          + (f"keep-alive connections from wrk" if options.load == "wrk" else "keep-alive Python senders")
          + f" (new connection every {options.reconnect_every or 'never'} requests); "
          + 
          f"{options.seconds:.0f}s per run; {os.cpu_count()} CPUs; inbox on {options.database}; "
          f"body {options.fixture} ({len(body)} bytes)")
    for name in results:
        for r in results[name]:
            print(f"  {name:5s} {r['acks_per_s']:8.0f} acks/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
                  f"  ({r['acks']} acks, {r['other']} other answers)"
                  + (f"  server CPU {r['server_cpu_us']:4.0f} µs/ack, machine {100 * r['machine_busy']:3.0f}% busy"
                     f" ({100 * r['steal']:.0f}% stolen)" if "server_cpu_us" in r else ""))
    ratios = [o["acks_per_s"] / b["acks_per_s"] for b, o in zip(results["bare"], results["ours"])]
    bare = statistics.mean(r["acks_per_s"] for r in results["bare"])
    ours = statistics.mean(r["acks_per_s"] for r in results["ours"])
    print(f"  ratio ours/bare: {ours / bare:.2f} overall, median of rounds {statistics.median(ratios):.2f}; "
          f"per round (back-to-back pairs): {', '.join(f'{r:.2f}' for r in ratios)}  (goal >= 0.60)")
    if results.get("insert"):
        plain = statistics.mean(r["acks_per_s"] for r in results["insert"])
        print(f"  reference, plain INSERT/bare: {plain / bare:.2f} (measured 0.65 when the goal was set)")


if __name__ == "__main__":
    main()
