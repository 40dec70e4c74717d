"""Processes of the fault suite: ``itsm-align serve`` / ``worker`` as real
processes (each in its own session, so a gunicorn master and its workers go
together at teardown), and a small TCP load balancer in front of several
``serve`` processes, as a deployment has."""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-c", "from itsm_align.cli.main import main; main()"]


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Managed:
    """One command run in its own session; output to ``log``."""

    def __init__(self, name: str, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.args, self.log, self.env = name, list(args), log, env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._groups: list[int] = []  # every session we started (orphans of a killed master live on in it)

    def start(self) -> "Managed":
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts + 1}: {' '.join(self.args[3:])}\n".encode())
            out.flush()
            self.process = subprocess.Popen([*CLI, *self.args], cwd=ROOT, stdout=out, stderr=out,
                                            start_new_session=True, env={**os.environ, **(self.env or {})})
        self._groups.append(self.process.pid)
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the process itself (not its children)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill_group(self) -> None:
        """SIGKILL everything left in the current session (e.g. orphaned children)."""
        if self.process is not None:
            _signal_group(self.process.pid, signal.SIGKILL)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every session this ran in, then SIGKILL what is left."""
        for group in self._groups:
            _signal_group(group, signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        for group in self._groups:
            _signal_group(group, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        pass


class LoadBalancer:
    """Round-robin TCP proxy on 127.0.0.1: each client connection goes to the
    next backend that accepts it (a refused backend is skipped, as a load
    balancer's health check would), then bytes are copied both ways."""

    def __init__(self, backends: Sequence[int]) -> None:
        self.backends = list(backends)
        self._turn = itertools.count()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="fault-suite-lb", daemon=True)

    def start(self) -> "LoadBalancer":
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        start = next(self._turn)
        upstream = None
        for n in range(len(self.backends)):
            port = self.backends[(start + n) % len(self.backends)]
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                continue
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
                with self._lock:
                    self._open.discard(s)

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            for s in list(self._open):
                try:
                    s.close()
                except OSError:
                    pass
