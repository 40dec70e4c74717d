"""A real worker process for the kill test: its adapter announces the item it
is working on (by creating ``ready_file``) and then hangs, so the test can
SIGKILL the process while the item is leased.

    python -m tests.webhooks.worker_proc DB_URL READY_FILE LEASE_SECONDS
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.settings import ServiceSettings
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.worker import Worker

from .doubles import FixedEngine, ScriptedAdapter


class HangingAdapter(ScriptedAdapter):
    def __init__(self, ready: Path) -> None:
        super().__init__()
        self.ready = ready

    def fetch(self, key: str, subject: str = "ticket"):  # type: ignore[no-untyped-def]
        self.ready.write_text(key)
        threading.Event().wait()  # hang until killed
        raise AssertionError("unreachable")


def main() -> None:
    url, ready, lease = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    engine = create_db_engine(url)
    settings = ServiceSettings(lease_seconds=lease, poll_seconds=0.02)
    worker = Worker(Inbox(engine, coalesce_seconds=0), History(engine), {"jira": HangingAdapter(ready)},
                    FixedEngine(), settings=settings, owner="doomed-worker")
    worker.run(threading.Event())


if __name__ == "__main__":
    main()
