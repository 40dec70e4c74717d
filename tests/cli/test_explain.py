"""`itsm-align explain`: the bundled examples give what config/examples/README.md documents."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples"
CONFIG = REPO / "config" / "itsm-align.yaml"

ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| (?P<objective>[a-z_-]+) \| (?P<score>\d+) \| "
                 r"(?P<nature>proactive|reactive) \|")


def documented() -> list[dict[str, str]]:
    rows = [m.groupdict() for line in (EXAMPLES / "README.md").read_text().splitlines()
            if (m := ROW.match(line))]
    assert len(rows) >= 10, "the README table of documented tickets went missing"
    return rows


@pytest.mark.parametrize("row", documented(), ids=lambda r: r["key"])
def test_explain_gives_the_documented_objective_and_score(row):
    result = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--key", row["key"],
                                      "--config", str(CONFIG), "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert (got["objective"], got["score"], got["nature"]) == (
        row["objective"], int(row["score"]), row["nature"])


def test_explain_text_lists_every_rule_with_its_outcome():
    result = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--key", "INC0010023",
                                      "--config", str(CONFIG)], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Objective:  Keep the platform reliable (reliability)" in out
    assert "Score:      64" in out and "Nature:     reactive" in out
    assert "Rationale:  Keep the platform reliable (64): from-parent: parent INC0010020" in out
    # the inheritance that fired and the rules that did not, each with why
    assert re.search(r"from-parent\s+│ fired\s+│ reliability\s+│ parent INC0010020 serves", out)
    assert re.search(r"shop-projects\s+│ not fired\s+│ revenue\s+│ project is incident, not", out)
    rule_rows = [line for line in out.splitlines() if re.match(r"│ [a-z0-9-]+\s+│", line)]
    assert len(rule_rows) == 38  # every rule of the config
    assert "1 rule(s) fired, 0 failed, 37 did not apply." in out


def test_explain_json_has_evidence_and_every_rule():
    result = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--key", "PAY-81",
                                      "--config", str(CONFIG), "--json"])
    got = json.loads(result.stdout)
    assert [e["objective"] for e in got["evidence"]] == ["revenue", "compliance"]
    statuses = {r["rule_id"]: r["status"] for r in got["rules"]}
    assert statuses["shop-projects"] == "fired" and statuses["audit-label"] == "fired"
    assert statuses["from-parent"] == "skipped"
    assert len(statuses) == 38


def test_explain_a_single_item_file(tmp_path):
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"platform": "jira", "key": "GRC-1", "project": "GRC",
                                "summary": "DPIA for the new CRM"}))
    result = CliRunner().invoke(cli, ["explain", str(item), "--config", str(CONFIG), "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["objective"] == "compliance" and got["matched_rules"] == "grc-project, gdpr-words"


def test_explain_needs_a_key_for_a_file_of_many():
    result = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--config", str(CONFIG)])
    assert result.exit_code == 2
    assert "holds 43 items" in result.stderr and "--key" in result.stderr


def test_explain_unknown_key():
    result = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--key", "NOPE-1",
                                      "--config", str(CONFIG)])
    assert result.exit_code == 2
    assert "No item with key 'NOPE-1'" in result.stderr and "SHOP-412" in result.stderr


def test_explain_shows_a_failing_rule(tmp_path, monkeypatch):
    """A rule that raises is reported as failed with its error; the others still run."""
    from itsm_align.plugins import ruletypes

    def boom(self, facts):
        raise RuntimeError("lookup service down")

    monkeypatch.setattr(ruletypes.Predicate, "evaluate", boom)
    config = tmp_path / "c.yaml"
    config.write_text("objectives: [{id: cost, name: Cut run costs, weight: 2}]\n"
                      "rules:\n"
                      "  - {id: big, objective: cost, confidence: 0.5, when: {effort: {gt: 10}}}\n"
                      "  - {id: finops, objective: cost, confidence: 0.7, when: {text: finops}}\n")
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"key": "OPS-1", "summary": "FinOps review", "effort": 20}))
    result = CliRunner().invoke(cli, ["explain", str(item), "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    statuses = {r["rule_id"]: (r["status"], r["detail"]) for r in got["rules"]}
    assert statuses["big"] == ("failed", "RuntimeError: lookup service down")
    assert statuses["finops"][0] == "fired"
    assert got["objective"] == "cost" and "big: RuntimeError" in got["errors"]


def test_a_key_in_any_case_is_found_and_a_near_miss_gets_suggestions():
    lower = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--key", "shop-412",
                                     "--config", str(CONFIG)])
    assert lower.exit_code == 0, lower.output
    assert "Item SHOP-412" in lower.output
    missing = CliRunner().invoke(cli, ["explain", str(EXAMPLES / "tickets.json"), "--key", "SHOP-41",
                                       "--config", str(CONFIG)])
    assert missing.exit_code == 2
    assert "Did you mean SHOP-431, SHOP-412, SHOP-440?" in missing.output


def test_explain_live_reads_the_ticket_from_jira_and_inherits_from_the_history(tmp_path, jira_sandbox,
                                                                             jira_alignment_fields, monkeypatch):
    """`explain KEY --live`: the ticket as Jira holds it now, its parent's
    assessment from the history (as the worker sees it), nothing written."""
    from datetime import datetime, timezone

    from itsm_align.cli.config import load_config
    from itsm_align.scoring.types import WorkItem
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.history import History

    email, token = jira_sandbox.credentials
    monkeypatch.setenv("EXPLAIN_JIRA_TOKEN", token)
    jira_sandbox.add_project("SHOP", "Web shop")
    epic = jira_sandbox.create_issue("SHOP", "Checkout conversion 2027", issuetype="Epic")
    story = jira_sandbox.create_issue("SHOP", "Show delivery dates", issuetype="Story",
                                      fields={"parent": {"key": epic}})
    db = tmp_path / "h.sqlite3"
    config = tmp_path / "live.yaml"
    config.write_text(f"""
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
rules:
  - {{id: shop-epics, objective: revenue, confidence: 0.9, when: {{type: epic}}}}
  - {{id: from-parent, inherit: parent, decay: 0.8}}
jira:
  url: {jira_sandbox.url}
  email: {email}
  api_token: ${{EXPLAIN_JIRA_TOKEN}}
service:
  database_url: sqlite:///{db}
""", encoding="utf-8")
    epic_item = WorkItem(platform="jira", key=epic, project="SHOP", type="epic", summary="Checkout conversion 2027")
    assessed = load_config(config).engine().assess(epic_item)  # what the worker recorded for the epic
    History(create_db_engine(f"sqlite:///{db}")).append(assessed, epic_item,
                                                        at=datetime(2026, 11, 1, tzinfo=timezone.utc))
    jira_sandbox.clear_requests()
    result = CliRunner().invoke(cli, ["explain", story.lower(), "--live", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    explained = json.loads(result.stdout)
    assert explained["key"] == story and explained["objective"] == "revenue" and explained["score"] == 72
    assert not [r for r in jira_sandbox.requests if r.method in ("PUT", "POST", "DELETE")
                and "search" not in r.path]  # read-only
    missing = CliRunner().invoke(cli, ["explain", "SHOP-999", "--live", "--config", str(config)])
    assert missing.exit_code == 2 and "jira has no item 'SHOP-999'" in missing.output
