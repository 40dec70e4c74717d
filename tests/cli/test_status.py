"""`itsm-align status` reads the backlog, the platform state the workers
published, the last write and the failures by reason from the database."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from itsm_align.cli.main import cli
from itsm_align.integration.ratelimit import PlatformGate
from itsm_align.scoring.types import Assessment, Nature, WorkItem
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.storage.statestore import DatabaseStore


def test_status_shows_backlog_platform_state_last_write_and_failures(tmp_path: Path) -> None:
    db_path = tmp_path / "s.sqlite3"
    engine = create_db_engine(f"sqlite:///{db_path}")
    old = Inbox(engine, clock=lambda: time.time() - 600)
    old.add("jira", "d1", "SHOP-1", event_type="jira:issue_updated", payload=b"{}")
    inbox = Inbox(engine, coalesce_seconds=0)
    for n in (2, 3):
        inbox.add("jira", f"d{n}", f"SHOP-{n}", event_type="jira:issue_updated", payload=b"{}")
    claims = {c.item_key: c for c in inbox.claim("w", lease_seconds=30, limit=5)}
    inbox.release(claims["SHOP-2"], not_before=time.time())
    claim = claims["SHOP-3"]
    inbox.fail(claim, "ConfigurationError: jira HTTP 400: Field 'customfield_10050' cannot be set.\nmore")
    PlatformGate("jira", DatabaseStore(engine, "jira"), threshold=1).observe(None)  # a worker's breaker opened
    History(engine).append(Assessment("SHOP-9", "jira", "revenue", 90, Nature.PROACTIVE, "r"),
                           WorkItem(platform="jira", key="SHOP-9"), at=datetime.now(timezone.utc))
    config = tmp_path / "c.yaml"
    config.write_text(f"objectives: [{{id: revenue, name: Grow online revenue, weight: 5}}]\n"
                      f"service: {{database_url: 'sqlite:///{db_path}'}}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", "--config", str(config)], terminal_width=200)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.strip("│ ").startswith("jira"))
    assert "failing: breaker open" in row and "10 min" in row and "ago" in row
    assert [c.strip() for c in row.split("│")[2:5]] == ["1", "1", "1"]  # pending, leased, failed
    assert "Field 'customfield_10050' cannot be set." in result.output and "more" not in result.output.split(
        "cannot be set.")[1].split("\n")[0]
