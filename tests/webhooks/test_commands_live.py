"""``itsm-align serve`` (gunicorn) and ``itsm-align worker --once`` as real
subprocesses against the Jira sandbox, configured by a config file."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from itsm_align.integration.jira.adapter import JiraAdapter
from itsm_align.cli.config import load_config
from itsm_align.webhooks.signatures import jira_signature
from itsm_align.webhooks.storage.statestore import DatabaseStore
from itsm_align.webhooks.storage.engine import create_db_engine

from tests.fixtures.servers import free_port, wait_for_port
from tests.webhooks.live import wait_until
from tests.support.prometheus import sample

from .conftest import jira_fixture

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from itsm_align.cli.main import main; main()"]
CONFIG = """
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
rules:
  - {{id: shop, objective: revenue, confidence: 0.9, when: {{project: [ITSM]}}}}
jira:
  url: "{url}"
  email: "{email}"
  api_token: "${{TEST_JIRA_TOKEN}}"
  webhook_secret: "${{TEST_JIRA_SECRET}}"
service:
  public_url: "http://127.0.0.1:{port}"
  database_url: "{database_url}"
  coalesce_seconds: 0
"""


@pytest.fixture
def configured(jira_sandbox, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    email, token = jira_sandbox.credentials
    port = free_port()
    path = tmp_path / "itsm-align.yaml"
    path.write_text(CONFIG.format(url=jira_sandbox.url, email=email, port=port,
                                  database_url=f"sqlite:///{tmp_path / 'svc.sqlite3'}"))
    env = {**os.environ, "TEST_JIRA_TOKEN": token, "TEST_JIRA_SECRET": "cli-secret", "PYTHONPATH": str(ROOT)}
    monkeypatch.setenv("TEST_JIRA_TOKEN", token)
    monkeypatch.setenv("TEST_JIRA_SECRET", "cli-secret")
    config = load_config(path)
    db = create_db_engine(config.service.database_url)
    JiraAdapter(config.jira, DatabaseStore(db, "jira"), public_url=config.service.public_url).setup(
        config.engine().objectives)
    yield {"path": path, "port": port, "env": env, "sandbox": jira_sandbox}
    db.dispose()


def test_serve_then_worker_once(configured) -> None:  # type: ignore[no-untyped-def]
    sandbox, port = configured["sandbox"], configured["port"]
    server = subprocess.Popen([*CLI, "serve", "--config", str(configured["path"]), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2"], cwd=ROOT, env=configured["env"])
    try:
        wait_for_port(port)
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["inbox"]["pending"] == 0
        key = sandbox.create_issue("ITSM", "Checkout outage", as_user=sandbox.admin_user)
        (delivery,) = sandbox.wait_for_deliveries(1, timeout=10)
        assert delivery.status == 202
        unsigned = requests.post(f"http://127.0.0.1:{port}/webhooks/jira", data=jira_fixture("issue_created.json"),
                                 timeout=10)
        assert unsigned.status_code == 401
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert sample(metrics, "itsm_align_inbox_items", state="pending") == 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0

    worker = subprocess.run([*CLI, "worker", "--config", str(configured["path"]), "--once"], cwd=ROOT,
                            env=configured["env"], capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert "0 pending, 0 leased, 0 failed" in worker.stderr
    database = configured["path"].parent / "svc.sqlite3"
    assert f"worker started: 1 thread(s), platforms jira, database: SQLite file {database}" in worker.stderr
    assert f"jira {key} -> revenue 90 (proactive) wrote customfield_" in worker.stderr  # a line per item written
    assert sandbox.value(key, sandbox.field_id("Business Objective")) == "Grow online revenue"


def test_serve_refuses_to_start_without_secret(configured) -> None:  # type: ignore[no-untyped-def]
    env = dict(configured["env"], TEST_JIRA_SECRET="")
    result = subprocess.run([*CLI, "serve", "--config", str(configured["path"]), "--bind", "127.0.0.1:1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "webhook_secret is not set" in result.stderr


def _deliver(port: int, delivery_id: str) -> int:
    """Post a captured delivery, signed with the configured secret, on a new connection."""
    body = jira_fixture("issue_created.json")
    return requests.post(f"http://127.0.0.1:{port}/webhooks/jira", data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature": jira_signature("cli-secret", body),
        "X-Atlassian-Webhook-Identifier": delivery_id, "Connection": "close"}).status_code


def test_serve_metrics_add_up_both_workers(configured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Deliveries answered by either gunicorn worker all show in every scrape,
    whichever worker answers it; counts of an earlier run do not."""
    port, metrics_dir = configured["port"], tmp_path / "metrics"
    env = dict(configured["env"], PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    metrics_dir.mkdir()
    earlier = subprocess.run(  # a previous run's counts, left behind in the directory
        [sys.executable, "-c", "from itsm_align.webhooks.metrics import Counters\n"
         "c = Counters()\nfor _ in range(50): c.inc('jira', 'accepted')"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert earlier.returncode == 0, earlier.stderr
    (metrics_dir / "README").write_text("metrics of itsm-align serve")  # not a metrics file: it stays
    server = subprocess.Popen([*CLI, "serve", "--config", str(configured["path"]), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2"], cwd=ROOT, env=env)

    def deliver(n: int) -> int:
        return _deliver(port, f"metrics-{n}")

    try:
        wait_for_port(port)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(deliver, range(24)))
        assert statuses == [202] * 24
        scrapes = [requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10, headers={"Connection": "close"})
                   for _ in range(6)]
        assert [s.status_code for s in scrapes] == [200] * 6, scrapes[0].text
        assert all(s.headers["Content-Type"].startswith("text/plain") for s in scrapes)
        totals = [sample(s.text, "itsm_align_webhooks_total", platform="jira", outcome="accepted") for s in scrapes]
        assert totals == [24.0] * 6
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0
    assert (metrics_dir / "README").read_text() == "metrics of itsm-align serve"
    assert metrics_dir.is_dir()  # the directory was given: it is not removed


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_a_restarted_worker_keeps_metrics_working_and_the_directory_goes_with_serve(configured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = configured["port"]
    env = {k: v for k, v in configured["env"].items() if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    log = tmp_path / "serve.log"

    def deliver(n: int) -> int:
        return _deliver(port, f"restart-{n}")

    with log.open("w") as stderr:
        server = subprocess.Popen([*CLI, "serve", "--config", str(configured["path"]), "--bind",
                                   f"127.0.0.1:{port}", "--workers", "2"], cwd=ROOT, env=env, stderr=stderr)
        try:
            wait_for_port(port)
            assert [deliver(n) for n in range(5)] == [202] * 5
            workers = wait_until(lambda: w if len(w := _children(server.pid)) == 2 else None, 20, "two workers")
            stopped = min(workers)
            os.kill(stopped, signal.SIGTERM)  # gunicorn starts another; the stopped one exits through serve's code
            wait_until(lambda: stopped not in _children(server.pid) and len(_children(server.pid)) == 2, 30,
                       "a replacement worker")
            assert [deliver(n) for n in range(5, 10)] == [202] * 5
            for _ in range(4):
                scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10, headers={"Connection": "close"})
                assert scrape.status_code == 200, scrape.text
                assert sample(scrape.text, "itsm_align_webhooks_total", platform="jira", outcome="accepted") == 10
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    assert server.returncode == 0
    (directory,) = re.findall(r"/metrics adds up every worker's counts in (\S+)", log.read_text())
    assert not Path(directory).exists()  # serve made it, serve removed it


def test_serve_refuses_a_metrics_directory_holding_other_databases(configured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "inbox.db").write_bytes(b"SQLite format 3\x00")
    env = dict(configured["env"], PROMETHEUS_MULTIPROC_DIR=str(shared))
    result = subprocess.run([*CLI, "serve", "--config", str(configured["path"]), "--bind", "127.0.0.1:1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={shared} holds inbox.db, not a metrics file" in result.stderr
    assert (shared / "inbox.db").read_bytes() == b"SQLite format 3\x00"  # never deleted


def test_serve_refuses_a_metrics_directory_it_cannot_use(configured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = dict(configured["env"], PROMETHEUS_MULTIPROC_DIR=str(blocker / "metrics"))
    result = subprocess.run([*CLI, "serve", "--config", str(configured["path"]), "--bind", "127.0.0.1:1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={blocker / 'metrics'} cannot be used for /metrics" in result.stderr
    assert "writable directory" in result.stderr
