"""Run the service and a worker for end-to-end tests and benchmarks: the
Flask app on a real socket (werkzeug, threaded, 127.0.0.1, free port) and a
worker thread, both stopped by ``close``."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from werkzeug.serving import make_server

from itsm_align.webhooks.worker import Worker


class LiveService:
    """The app served on 127.0.0.1 in a thread; ``url`` is its base URL."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="itsm-align-live", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> "LiveService":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class WorkerThread:
    """``Worker.run`` in a thread until ``close``."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.stop = threading.Event()
        self._thread = threading.Thread(target=worker.run, args=(self.stop,), name="itsm-align-worker", daemon=True)

    def start(self) -> "WorkerThread":
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.worker.interrupt()
        self._thread.join(timeout=30)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Wait for ``condition()`` to be truthy (checked every 20 ms); return its value."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        pause.wait(0.02)
