"""`itsm-align score --platform` (native exports), `report` and `preview`."""
from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli
from itsm_align.scoring.types import Assessment, Nature, WorkItem
from itsm_align.webhooks.storage import history as history_module
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.history import History

REPO = Path(__file__).resolve().parents[2]
EXPORTS = REPO / "tests" / "fixtures" / "exports"
CONFIG = str(REPO / "config" / "itsm-align.yaml")

SMALL = """\
objectives:
  - {id: revenue, name: Grow online revenue, weight: 2}
  - {id: compliance, name: Stay compliant, weight: 3}
rules:
  - {id: shop, objective: revenue, confidence: 0.9, when: {project: SHOP}}
%s
service:
  database_url: sqlite:///%s
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args), terminal_width=200)


def scored(tmp_path: Path, export: str, platform: str, *extra: str) -> dict[str, dict]:
    out = tmp_path / "scored.csv"
    result = run("score", str(EXPORTS / export), "--platform", platform, "--config", CONFIG,
                 "--output", str(out), *extra)
    assert result.exit_code == 0, result.output
    return {row["key"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}


def test_native_jira_csv_export_is_scored_with_its_columns(tmp_path):
    rows = scored(tmp_path, "jira_issues.csv", "jira", "--url-base", "https://acme.atlassian.net")
    assert list(rows) == ["SHOP-700", "SHOP-701", "SHOP-702", "GRC-88", "OPS-310", "SHOP-705"]
    story = rows["SHOP-701"]
    assert (story["objective"], story["type"], story["project"], story["team"]) == \
        ("revenue", "story", "SHOP", "Checkout")
    assert (story["parent"], story["effort"], story["story_points"], story["time_spent"]) == \
        ("SHOP-700", "8.0", "5.0", "6.0")  # estimate 28800 s, spent 21600 s
    assert story["assessed_at"] == "2026-10-20T11:00:00+00:00"  # "20/Oct/26 11:00 AM"
    assert story["url"] == "https://acme.atlassian.net/browse/SHOP-701"
    assert rows["GRC-88"]["objective"] == "compliance"  # labels audit + privacy, "DSAR"
    assert rows["OPS-310"]["objective"] == "unaligned"


def test_a_native_export_without_platform_names_the_option(tmp_path):
    result = run("score", str(EXPORTS / "jira_issues.csv"), "--config", CONFIG)
    assert result.exit_code == 2
    assert "This looks like a Jira export: score it with --platform jira." in result.output


def test_bad_jira_export_cells_are_listed_with_their_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Summary,Issue key,Created,Custom field (Story Points)\n"
                   "A,SHOP-1,yesterday,3\nB,,01/Oct/26 9:00 AM,\nC,SHOP-3,01/Oct/26 9:00 AM,lots\n")
    result = run("score", str(bad), "--platform", "jira", "--config", CONFIG)
    assert result.exit_code == 2
    assert "3 problem(s) in the jira export" in result.output
    assert "CSV line 2: 'Created' is 'yesterday', not a date" in result.output
    assert "CSV line 3: 'Issue key' is empty" in result.output
    assert "CSV line 4: 'Custom field (Story Points)' is 'lots', not a number" in result.output


def test_servicenow_csv_and_json_exports(tmp_path):
    rows = scored(tmp_path, "servicenow_incidents.csv", "servicenow")
    outage = rows["INC0020001"]
    assert (outage["objective"], outage["type"], outage["team"], outage["time_worked"]) == \
        ("revenue", "incident", "SRE", "2.5")  # Online Shop outage; "2 Hours 30 Minutes"
    assert rows["INC0020002"]["objective"] == "security"
    assert rows["INC0020003"]["time_worked"] == str(20 / 60)
    assert rows["INC0020004"]["time_worked"] == ""
    tasks = scored(tmp_path, "servicenow_tasks.json", "servicenow")
    change = tasks["CHG0040010"]
    assert (change["type"], change["team"], change["effort"]) == \
        ("change", "Platform Engineering", "6.0")
    assert "legacy-ci" in change["matched_rules"]  # cmdb_ci as400-batch-01
    assert tasks["TASK0009001"]["team"] == "Service Desk"  # display value of a reference


def test_report_from_a_scored_export_counts_story_points(tmp_path):
    scored(tmp_path, "jira_issues.csv", "jira")
    out = tmp_path / "report"
    result = run("report", "--from-file", str(tmp_path / "scored.csv"), "--config", CONFIG,
                 "--effort", "story_points", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1 item(s) had no effort recorded and count as 1." in result.output  # SHOP-700
    table = pd.read_csv(out / "effort_vs_priority.csv").set_index("objective")
    # revenue: SHOP-700 (1) + 701 (5) + 702 (2) + 705 (3); compliance 8; unaligned 1: total 20
    assert table.loc["revenue", "effort"] == 11 and table.loc["compliance", "effort"] == 8
    assert table.loc["unaligned", "effort_share"] == pytest.approx(1 / 20)
    assert (out / "report.html").stat().st_size > 1_000_000  # plotly.js inside
    november = run("report", "--from-file", str(tmp_path / "scored.csv"), "--config", CONFIG,
                   "--since", "2026-11-01", "--until", "2026-12-01", "--out", str(out))
    assert "3 items;" in november.output  # GRC-88, OPS-310, SHOP-705


def _history(path: Path) -> None:
    history = History(create_db_engine(f"sqlite:///{path}"))
    def item(key: str, project: str, effort: float | None) -> WorkItem:
        return WorkItem(platform="jira", key=key, project=project, type="story", effort=effort,
                        components=("Web",), summary=f"{key} summary")
    def assessed(key: str, objective: str, score: int) -> Assessment:
        return Assessment(item_key=key, platform="jira", objective=objective, score=score,
                          nature=Nature.PROACTIVE, rationale="r")
    history.append(assessed("SHOP-1", "revenue", 90), item("SHOP-1", "SHOP", 6),
                   at=datetime(2026, 1, 10, tzinfo=timezone.utc),
                   url="https://acme.atlassian.net/browse/SHOP-1")
    history.append(assessed("OPS-1", "unaligned", 0), item("OPS-1", "OPS", 2),
                   at=datetime(2026, 1, 11, tzinfo=timezone.utc))
    history.append(assessed("SHOP-1", "compliance", 40), item("SHOP-1", "SHOP", 6),
                   at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    history.append_deleted("jira", "OPS-1", at=datetime(2026, 3, 2, tzinfo=timezone.utc))


@pytest.mark.parametrize("reader", ["arrow", "pandas"])
def test_report_reads_the_history_store(tmp_path, monkeypatch, reader):
    if reader == "pandas":  # the fallback when connectorx/pyarrow are not installed
        monkeypatch.setattr(history_module, "_read_arrow", lambda engine, sql: None)
    db = tmp_path / "history.sqlite3"
    _history(db)
    config = tmp_path / "c.yaml"
    config.write_text(SMALL % ("", db), encoding="utf-8")
    out = tmp_path / "out"
    january = run("report", "--config", str(config), "--until", "2026-02-01", "--out", str(out))
    assert january.exit_code == 0, january.output
    table = pd.read_csv(out / "effort_vs_priority.csv").set_index("objective")
    assert table.loc["revenue", "effort_share"] == pytest.approx(6 / 8)
    assert table.loc["unaligned", "effort_share"] == pytest.approx(2 / 8)
    items = pd.read_csv(out / "unaligned_items.csv")
    assert items["item_key"].tolist() == ["OPS-1"]
    whole = run("report", "--config", str(config), "--out", str(out))
    assert whole.exit_code == 0, whole.output
    table = pd.read_csv(out / "effort_vs_priority.csv").set_index("objective")
    assert table.loc["compliance", "effort_share"] == 1.0  # OPS-1 deleted in March
    assert pd.read_csv(out / "scores_by_team.csv")["team"].tolist() == ["Web"]


def test_report_rejects_a_bad_date(tmp_path):
    result = run("report", "--config", CONFIG, "--since", "01/02/2026", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "--since '01/02/2026' is not a date" in result.output


def test_report_from_a_file_that_is_not_scored(tmp_path):
    result = run("report", "--config", CONFIG, "--from-file",
                 str(REPO / "config" / "examples" / "tickets.csv"), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "is not a scored ticket file" in result.output


def test_preview_over_a_ticket_file_against_the_old_config(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(SMALL % ("", tmp_path / "x.sqlite3"), encoding="utf-8")
    new = tmp_path / "new.yaml"
    new.write_text(SMALL % ("  - {id: gdpr, objective: compliance, confidence: 0.99, "
                            "when: {text: {any: [gdpr]}}}", tmp_path / "x.sqlite3"),
                   encoding="utf-8")
    tickets = tmp_path / "t.json"
    tickets.write_text(pd.DataFrame([
        {"key": "SHOP-1", "project": "SHOP", "summary": "GDPR banner", "effort": 5},
        {"key": "SHOP-2", "project": "SHOP", "summary": "Basket"},
        {"key": "OPS-1", "project": "OPS", "summary": "gdpr export", "effort": 2},
    ]).to_json(orient="records"), encoding="utf-8")
    out = tmp_path / "preview"
    result = run("preview", "--config", str(new), "--against", str(old),
                 "--from-file", str(tickets), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 of 3 items change objective; 7 effort moves." in result.output
    assert "Grow online revenue -> Stay compliant: 1 item, 5 effort (SHOP-1)" in result.output
    assert "Unaligned -> Stay compliant: 1 item, 2 effort (OPS-1)" in result.output
    table = pd.read_csv(out / "transition.csv")
    assert table[["before", "after", "items"]].values.tolist() == [
        ["revenue", "compliance", 1], ["unaligned", "compliance", 1], ["revenue", "revenue", 1]]


def test_preview_live_through_the_jira_search(tmp_path, jira_sandbox, jira_alignment_fields,
                                             monkeypatch):
    email, token = jira_sandbox.credentials
    jira_sandbox.add_project("SHOP", "Web shop")
    jira_sandbox.create_issue("SHOP", "GDPR consent banner")
    jira_sandbox.create_issue("SHOP", "Basket redesign")
    monkeypatch.setenv("JIRA_TEST_TOKEN", token)
    jira = (f"jira:\n  url: {jira_sandbox.url}\n  email: {email}\n"
            "  api_token: ${JIRA_TEST_TOKEN}\n  jql: project = SHOP ORDER BY key ASC")
    new = tmp_path / "new.yaml"
    new.write_text(SMALL % ("  - {id: gdpr, objective: compliance, confidence: 0.99, "
                            "when: {text: {any: [gdpr]}}}\n" + jira, tmp_path / "s.sqlite3"),
                   encoding="utf-8")
    out = tmp_path / "preview"
    result = run("preview", "--config", str(new), "--limit", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "over 2 items" in result.output
    table = pd.read_csv(out / "transition.csv")
    assert table[["before", "after", "items"]].values.tolist() == [
        ["(not assessed)", "compliance", 1], ["(not assessed)", "revenue", 1]]
    assert not [r for r in jira_sandbox.requests if r.method in ("PUT", "POST", "DELETE")
                and "search" not in r.path]  # read-only


def test_report_compares_with_the_survey_answers_stored_in_the_database(tmp_path):
    """Answers from the survey form (or `survey import`) reach the report with no extra option."""
    from itsm_align.webhooks.storage.surveys import Answer, Surveys

    db = tmp_path / "history.sqlite3"
    _history(db)
    surveys = Surveys(create_db_engine(f"sqlite:///{db}"))
    spring, _ = surveys.create_round("Spring 2026")
    surveys.import_answers(spring.id, [
        Answer("Dana CFO", "Finance", "compliance", 5, 2, "Audit findings keep coming back"),
        Answer("Dana CFO", "Finance", "revenue", 3, 4, "")])
    config = tmp_path / "c.yaml"
    config.write_text(SMALL % ("", db), encoding="utf-8")
    out = tmp_path / "out"
    result = run("report", "--config", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "survey.csv")
    assert set(table["objective"]) >= {"compliance", "revenue"}
    assert "Audit findings keep coming back" in (out / "report.html").read_text(encoding="utf-8")
