"""A worker killed with SIGKILL mid-item loses nothing: once its lease runs
out, another worker takes the item and completes it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.worker import Worker

from .doubles import FixedEngine, ScriptedAdapter

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait on a condition (checked every 20 ms) with a timeout."""
    ready = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        ready.wait(0.02)


def test_killed_worker_loses_nothing(db_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(db_url)
    inbox = Inbox(engine, coalesce_seconds=0)
    assert inbox.add("jira", "d1", "SHOP-7", event_type="jira:issue_updated", payload=b"{}")
    ready = tmp_path / "working-on"
    process = subprocess.Popen([sys.executable, "-m", "tests.webhooks.worker_proc", db_url, str(ready), "1.0"],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_until(ready.exists, 60, "the worker to lease the item")
        assert ready.read_text() == "SHOP-7"
        (leased,) = inbox.rows(state="leased")
        assert leased.lease_owner == "doomed-worker"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert [r.state for r in inbox.rows()] == ["leased"]  # nothing completed, nothing lost

    adapter = ScriptedAdapter()
    rescuer = Worker(inbox, History(engine), {"jira": adapter}, FixedEngine(),
                     settings=ServiceSettings(lease_seconds=30), owner="rescuer")
    wait_until(lambda: rescuer.run_once() == 1, 30, "the lease to expire and the item to be retaken")
    (row,) = inbox.rows()
    assert row.state == "done" and row.attempts == 2 and row.lease_owner == "rescuer"
    assert adapter.writes[0][0] == "SHOP-7"
    engine.dispose()
