"""``itsm-align setup jira`` and ``itsm-align backfill jira`` against the sandbox."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli
from tests.contract.jira_driver import WEBHOOK_SECRET, is_write

CONFIG = """\
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
  - {{id: cost, name: Cut run costs, weight: 2}}
rules:
  - id: shop-projects
    objective: revenue
    confidence: 0.9
    when: {{project: [SHOP, PAY]}}
  - id: gdpr-words
    objective: compliance
    confidence: 0.7
    when: {{text: {{any: [gdpr, "data subject"]}}}}
jira:
  url: {url}
  email: {email}
  api_token: ${{JIRA_TEST_TOKEN}}
  webhook_secret: ${{JIRA_TEST_SECRET}}
  jql: project in (SHOP, OPS) ORDER BY key ASC
service:
  public_url: {public_url}
  database_url: sqlite:///{db}
"""


@pytest.fixture
def config(tmp_path: Path, jira_sandbox, webhook_receiver, monkeypatch) -> Path:
    email, token = jira_sandbox.credentials
    jira_sandbox.add_project("SHOP", "Web shop")
    jira_sandbox.add_project("OPS", "Operations")
    monkeypatch.setenv("JIRA_TEST_TOKEN", token)
    monkeypatch.setenv("JIRA_TEST_SECRET", WEBHOOK_SECRET)
    path = tmp_path / "itsm-align.yaml"
    path.write_text(CONFIG.format(url=jira_sandbox.url, email=email, public_url=webhook_receiver.url,
                                  db=tmp_path / "state.sqlite3"), encoding="utf-8")
    return path


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def writes(sandbox) -> list:
    return [r for r in sandbox.requests if is_write(r.method, r.path)]


def test_setup_dry_run_then_setup_then_nothing_to_do(config: Path, jira_sandbox) -> None:
    dry = run("setup", "jira", "--config", str(config), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "Business Objective" in dry.output and "to do" in dry.output
    assert writes(jira_sandbox) == []

    real = run("setup", "jira", "--config", str(config))
    assert real.exit_code == 0, real.output
    (hook,) = jira_sandbox.webhooks()
    assert hook["url"].endswith("/webhooks/jira")
    assert hook["filters"]["issue-related-events-section"] == "project in (SHOP, OPS)"  # ORDER BY dropped
    assert WEBHOOK_SECRET not in real.output

    jira_sandbox.clear_requests()
    again = run("setup", "jira", "--config", str(config))
    assert again.exit_code == 0, again.output
    assert "0 change(s) made, 0 to do" in again.output
    assert writes(jira_sandbox) == []


def test_backfill_dry_run_csv_then_real_run(config: Path, jira_sandbox, tmp_path: Path) -> None:
    assert run("setup", "jira", "--config", str(config)).exit_code == 0
    shop = jira_sandbox.seed(projects=("SHOP",), issues=30)
    ops = jira_sandbox.seed(projects=("OPS",), issues=5, summary=lambda n: f"GDPR request {n}")
    jira_sandbox.clear_requests()

    out = tmp_path / "proposed.csv"
    dry = run("backfill", "jira", "--config", str(config), "--dry-run", "--output", str(out))
    assert dry.exit_code == 0, dry.output
    assert writes(jira_sandbox) == []
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["key"] for r in rows} == set(shop + ops)
    assert {"key": shop[0], "field": "Business Objective", "current": "", "proposed": "Grow online revenue"} in rows
    assert {"key": ops[0], "field": "Alignment Score", "current": "", "proposed": "56"} in rows

    real = run("backfill", "jira", "--config", str(config))
    assert real.exit_code == 0, real.output
    assert "35 issues assessed, 35 changed" in real.output
    bulk = [r for r in jira_sandbox.requests if r.path.endswith("/bulk/issues/fields")]
    per_issue: dict[str, set] = {}
    for r in rows:
        per_issue.setdefault(r["key"], set()).add((r["field"], r["proposed"]))
    sizes = Counter(frozenset(v) for v in per_issue.values())
    assert len(sizes) == 4  # SHOP / OPS x reactive (bugs, incidents) / proactive (tasks, stories)
    assert sorted(sizes.values()) == [2, 3, 15, 15]
    assert len(bulk) == 3  # one bulk edit per value set; the pair is cheaper as two PUTs
    assert jira_sandbox.value(shop[7], jira_sandbox.field_id("Business Objective")) == "Grow online revenue"
    assert jira_sandbox.value(ops[2], jira_sandbox.field_id("Alignment Score")) == 56

    jira_sandbox.clear_requests()
    again = run("backfill", "jira", "--config", str(config), "--jql", "project = SHOP")
    assert again.exit_code == 0, again.output
    assert "30 issues assessed, 0 changed" in again.output
    assert writes(jira_sandbox) == []


def test_a_platform_error_is_reported_with_jiras_message(config: Path, jira_sandbox) -> None:
    result = run("backfill", "jira", "--config", str(config))  # fields were never set up
    assert result.exit_code == 3
    assert "does not exist" in result.output and "itsm-align setup jira" in result.output


def test_missing_jira_section_is_a_clear_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("objectives:\n  - {id: a, name: A, weight: 1}\n", encoding="utf-8")
    result = run("setup", "jira", "--config", str(path))
    assert result.exit_code == 2
    assert "no 'jira:' section" in result.output


def test_setup_dry_run_lists_every_screen_then_setup_requeues_setup_problems(config, jira_sandbox, tmp_path) -> None:
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.inbox import Inbox

    jira_sandbox.give_own_screens("SHOP")
    plan = run("setup", "jira", "--config", str(config), "--dry-run")
    assert plan.exit_code == 0, plan.output
    for screen in ("SHOP: Scrum Default Screen", "SHOP: Scrum Bug Screen", "Default Screen"):
        assert screen in plan.output
    assert writes(jira_sandbox) == []

    db = create_db_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    inbox = Inbox(db, coalesce_seconds=0)
    inbox.add("jira", "d-1", "SHOP-1", event_type="jira:issue_updated", payload=b"{}")
    inbox.add("jira", "d-2", "SHOP-2", event_type="jira:issue_updated", payload=b"{}")
    parked = {c.item_key: c for c in inbox.claim("test", lease_seconds=30)}
    inbox.fail(parked["SHOP-1"], "SetupIncomplete: jira HTTP 400: Field 'customfield_10050' cannot be set -- "
                                 "project SHOP, issue type Bug: ... Fix: run `itsm-align setup jira`")
    inbox.fail(parked["SHOP-2"], "PlatformError: jira HTTP 400: something else")

    done = run("setup", "jira", "--config", str(config))
    assert done.exit_code == 0, done.output
    assert "Re-queued 1 inbox item(s)" in done.output
    assert {r.item_key: r.state for r in inbox.rows()} == {"SHOP-1": "pending", "SHOP-2": "failed"}
    db.dispose()
