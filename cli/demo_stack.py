"""What ``itsm-align demo`` starts and stops: the two sandboxes (in this process,
so the demo can act as the company's people), ``itsm-align serve`` and
``itsm-align worker`` (as processes, exactly the commands a deployment runs),
all on 127.0.0.1, with their files in one work folder.

``serve`` and ``worker`` are real processes rather than threads here: what the
demo shows is the product as deployed (gunicorn, the durable inbox between the
two, the dashboard served by ``serve``), and they use the machine's second CPU
instead of sharing this process's GIL with the sandboxes. Each runs in its own
session, asks the kernel to stop it if the demo dies (``PR_SET_PDEATHSIG``), and
is stopped with SIGTERM (then SIGKILL) by :meth:`DemoStack.close`.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: Files of an earlier demo in the work folder, removed at start so every run starts fresh.
DEMO_FILES = ("demo.sqlite3", "demo.sqlite3-wal", "demo.sqlite3-shm", "demo.sqlite3.ingest-lock", "serve.log",
              "worker.log", "servicenow-ca.pem")
DEMO_FOLDERS = ("report",)
LOOPBACK = "127.0.0.1"

PARENT_ENV = "ITSM_ALIGN_DEMO_PID"


def child_main() -> None:
    """``python -m itsm_align.cli.demo_stack serve|worker ...``: that command, stopped by the kernel
    (SIGTERM) if the demo process dies. Set here, after the exec, not in a preexec_fn
    (the demo has threads); then it checks the demo did not die in between."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: Ctrl-C and close() still stop it
        pass
    if os.getppid() != int(os.environ.get(PARENT_ENV, os.getppid())):
        raise SystemExit("the itsm-align demo that started this process is gone")
    from itsm_align.cli.service import serve, worker

    command, *args = sys.argv[1:]
    {"serve": serve, "worker": worker}[command].main(args, prog_name=f"itsm-align {command}")


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def fresh_workdir(folder: Path) -> Path:
    """Create ``folder``, removing what an earlier demo left there (only the demo's own files)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (folder / name).unlink(missing_ok=True)
    for name in DEMO_FOLDERS:
        shutil.rmtree(folder / name, ignore_errors=True)
    return folder


@dataclass
class Child:
    """``itsm-align <args>`` in its own session, output to ``log``."""

    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> "Child":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", __name__, *self.args], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=out, env=env, start_new_session=True)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM its session (gunicorn's master and workers, or the worker), then SIGKILL what is left."""
        if self.process is None:
            return
        for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # anything the session still holds (a gunicorn worker outliving its master)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class DemoStack:
    """Both sandboxes, the settings that wire the service to them, and the processes."""

    workdir: Path
    jira: Any = None
    servicenow: Any = None
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)

    # ------------------------------------------------------------ sandboxes
    def start_sandboxes(self) -> None:
        from itsm_align.sandbox.jira import JiraSandbox
        from itsm_align.sandbox.servicenow import ServiceNowSandbox

        self.jira = JiraSandbox(host=LOOPBACK, port=0).start()
        self.servicenow = ServiceNowSandbox(host=LOOPBACK, port=0, ca_out=self.workdir / "servicenow-ca.pem",
                                            event_workers=2).start()

    def wire(self) -> dict[str, str]:
        """The environment config/sandbox.yaml reads: this run's URLs, CA, database, and
        fresh secrets and dashboard token. Set in this process too (the demo loads the
        same config) and handed to ``serve`` and ``worker``."""
        self.port = free_port()
        email, token = self.jira.credentials
        self.env = {
            "ITSM_ALIGN_JIRA_URL": self.jira.url,
            "ITSM_ALIGN_JIRA_API_TOKEN": token,
            "ITSM_ALIGN_JIRA_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "ITSM_ALIGN_SN_INSTANCE": self.servicenow.url,
            "ITSM_ALIGN_SN_PASSWORD": self.servicenow.integration_password,
            "ITSM_ALIGN_SN_CA_BUNDLE": self.servicenow.ca_pem_path,
            "ITSM_ALIGN_SN_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "ITSM_ALIGN_PUBLIC_URL": self.service_url,
            "ITSM_ALIGN_DATABASE_URL": f"sqlite:///{(self.workdir / 'demo.sqlite3').resolve()}",
            "ITSM_ALIGN_DASHBOARD_TOKEN": secrets.token_urlsafe(24),
        }
        os.environ.update(self.env)
        return self.env

    def connect_servicenow_events(self) -> None:
        """What an admin does after importing the update set: point the business rule at
        the service and give it the secret (two system properties)."""
        self.servicenow.set_property("itsm_align.endpoint", f"{self.service_url}/webhooks/servicenow")
        self.servicenow.set_property("itsm_align.secret", self.env["ITSM_ALIGN_SN_WEBHOOK_SECRET"])

    @property
    def service_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.service_url}/dashboard/login?token={self.env['ITSM_ALIGN_DASHBOARD_TOKEN']}"

    # ------------------------------------------------------------ serve and worker
    def start_service(self, config_path: Path) -> None:
        """``serve`` (one gunicorn process is plenty for a demo) and one ``worker``."""
        env = {**os.environ, **self.env, PARENT_ENV: str(os.getpid())}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes its own
        config = ["--config", str(config_path)]
        self.children = [
            Child("serve", ["serve", *config, "--bind", f"{LOOPBACK}:{self.port}", "--workers", "1",
                            "--threads", "4", "--log-level", "warning"], self.workdir / "serve.log"),
            Child("worker", ["worker", *config, "--log-level", "info"], self.workdir / "worker.log"),
        ]
        for child in self.children:
            child.start(env)

    def wait_serving(self, timeout: float = 90.0, pause: Callable[[float], Any] | None = None) -> None:
        """Until ``/healthz`` answers; RuntimeError naming the log when a process died or it never did."""
        import requests

        wait = pause or threading.Event().wait
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                if requests.get(f"{self.service_url}/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"itsm-align serve did not answer {self.service_url}/healthz within "
                                   f"{timeout:.0f} s; its log ({self.children[0].log}) ends with:\n"
                                   f"{self.children[0].tail()}")
            wait(0.1)

    def check_alive(self) -> None:
        for child in self.children:
            if not child.running:
                raise RuntimeError(f"itsm-align {child.name} stopped unexpectedly; its log ({child.log}) "
                                   f"ends with:\n{child.tail()}")

    # ------------------------------------------------------------ the end
    def close(self) -> None:
        """Stop everything this stack started (whatever ``start_*`` got to)."""
        for child in reversed(self.children):
            child.stop()
        for sandbox in (self.jira, self.servicenow):
            if sandbox is not None:
                sandbox.stop()
        for name in self.env:
            os.environ.pop(name, None)


__all__ = ["DemoStack", "fresh_workdir", "free_port"]

if __name__ == "__main__":
    child_main()
