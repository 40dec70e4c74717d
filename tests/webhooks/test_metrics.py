"""/metrics adds up the counts of every process (prometheus_client multiprocess
mode, as ``itsm-align serve`` runs it), read with prometheus_client's parser."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.prometheus import sample

ROOT = Path(__file__).resolve().parents[2]
COUNT = ("from itsm_align.webhooks.metrics import Counters\n"
         "c = Counters()\n"
         "for _ in range({n}): c.inc('jira', 'accepted')\n"
         "c.inc('jira', 'rejected', 'signature_mismatch')\n")
RENDER = ("import sys\n"
          "from itsm_align.webhooks.metrics import Counters\n"
          "sys.stdout.write(Counters().render(lambda: {'pending': 2}).decode())\n")


def _python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_process_counts_in_one_total(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _python(COUNT.format(n=3), env)
    _python(COUNT.format(n=4), env)  # another process, another pid, another file
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    text = _python(RENDER, env)  # a third process answers the scrape
    assert sample(text, "itsm_align_webhooks_total", platform="jira", outcome="accepted") == 7
    assert sample(text, "itsm_align_webhooks_total", outcome="rejected", reason="signature_mismatch") == 2
    assert sample(text, "itsm_align_inbox_items", state="pending") == 2


def test_without_the_directory_a_process_reports_its_own_counts() -> None:
    env = {key: value for key, value in os.environ.items() if key.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    text = _python(COUNT.format(n=5) + "import sys\nsys.stdout.write(c.render().decode())\n", env)
    assert sample(text, "itsm_align_webhooks_total", platform="jira", outcome="accepted") == 5
    assert sample(text, "itsm_align_inbox_items") is None


def test_a_metrics_directory_that_cannot_be_written_never_fails_a_delivery(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "gone")}
    result = subprocess.run([sys.executable, "-c", COUNT.format(n=2) + "print(c.get('jira', 'accepted'))\n"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr  # inc() did not raise
    assert result.stdout.strip() == "2"  # this process's own count is kept
    assert result.stderr.count("cannot update /metrics counters") == 1  # said once, not per delivery
    assert "set PROMETHEUS_MULTIPROC_DIR to a writable directory" in result.stderr


def test_serve_leaves_the_environment_as_it_found_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Run in-process (e.g. by click's CliRunner), serve must not leave multiprocess
    mode switched on, pointing at a directory it has removed."""
    import prometheus_client.values as values

    from itsm_align.cli.service import _multiprocess_metrics

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    before = values.ValueClass
    with _multiprocess_metrics() as directory:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == directory and Path(directory).is_dir()
        assert values.ValueClass is not before  # multiprocess values while serving
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert not Path(directory).exists()
    assert values.ValueClass is before


def test_metrics_show_the_backlog_its_age_and_what_the_workers_gates_publish(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """While a platform is down or throttling, /metrics says so: the oldest
    owed event's age, the breaker (published by a worker's gate through the
    database) and the Retry-After still holding requests."""
    import time

    from itsm_align.integration.ratelimit import PlatformGate
    from itsm_align.webhooks.app import create_app
    from itsm_align.webhooks.settings import ServiceSettings
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.inbox import Inbox
    from itsm_align.webhooks.storage.statestore import DatabaseStore

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    db = create_db_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    app = create_app(ServiceSettings(database_url=str(db.url)), secrets={"jira": "s", "servicenow": "t"},
                     db_engine=db)
    inbox = Inbox(db, clock=lambda: time.time() - 90)  # an event received 90 s ago, still owed
    inbox.add("jira", "d1", "SHOP-1", event_type="jira:issue_updated", payload=b"{}")
    worker_gate = PlatformGate("jira", DatabaseStore(db, "jira"), threshold=1)
    worker_gate.observe(429, {"Retry-After": "120"})
    worker_gate.observe(None)  # then a worker could not connect: breaker open
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 89 <= sample(text, "itsm_align_inbox_oldest_owed_seconds", platform="jira") <= 120
    assert sample(text, "itsm_align_inbox_oldest_owed_seconds", platform="servicenow") == 0
    assert sample(text, "itsm_align_platform_breaker_open", platform="jira") == 1
    assert sample(text, "itsm_align_platform_breaker_open", platform="servicenow") == 0
    assert 100 < sample(text, "itsm_align_platform_retry_after_seconds", platform="jira") <= 120
    worker_gate.observe(200, {})  # it answers again
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert sample(text, "itsm_align_platform_breaker_open", platform="jira") == 0
    db.dispose()


def test_metrics_show_what_every_worker_did_from_the_database(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Worker processes add to running totals in the database; serve's /metrics
    shows them: items by outcome and the event-to-written latency histogram."""
    from itsm_align.webhooks.app import create_app
    from itsm_align.webhooks.settings import ServiceSettings
    from itsm_align.webhooks.storage.counters import WorkerCounters, latency_increments
    from itsm_align.webhooks.storage.engine import create_db_engine

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    db = create_db_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    app = create_app(ServiceSettings(database_url=str(db.url)), secrets={"jira": "s"}, db_engine=db)
    first, second = WorkerCounters(db), WorkerCounters(db)  # two worker processes
    first.add("jira", {"processed": 1, "written": 1, **latency_increments(0.4)})
    second.add("jira", {"processed": 1, "unchanged": 1, "overridden": 1, **latency_increments(7.0)})
    second.add("jira", {"retries": 2, "rate_limited": 1})
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert sample(text, "itsm_align_worker_items_total", platform="jira", outcome="processed") == 2
    assert sample(text, "itsm_align_worker_items_total", platform="jira", outcome="written") == 1
    assert sample(text, "itsm_align_worker_items_total", platform="jira", outcome="overridden") == 1
    assert sample(text, "itsm_align_worker_items_total", platform="jira", outcome="rate_limited") == 1
    assert sample(text, "itsm_align_worker_event_to_written_seconds_bucket", platform="jira", le="0.5") == 1
    assert sample(text, "itsm_align_worker_event_to_written_seconds_bucket", platform="jira", le="10.0") == 2
    assert sample(text, "itsm_align_worker_event_to_written_seconds_count", platform="jira") == 2
    assert sample(text, "itsm_align_worker_event_to_written_seconds_sum", platform="jira") == 7.4
    db.dispose()
