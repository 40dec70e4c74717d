"""`itsm-align score`: JSON / JSON lines / CSV in; table, CSV or JSON out; summary; bad input."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from itsm_align.scoring.records import RECORD_COLUMNS
from itsm_align.cli.main import cli
from itsm_align.cli import rules as engine_commands

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples"
CONFIG = str(REPO / "config" / "itsm-align.yaml")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), terminal_width=200)


def test_score_bundled_json_prints_a_table_and_summary():
    result = run("score", str(EXAMPLES / "tickets.json"), "--config", CONFIG)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("SHOP-412" in line and "Grow online revenue" in line and " 98 " in line for line in lines)
    assert any("DATA-322" in line and "Cut run costs (override)" in line for line in lines)
    assert any("FAC-12" in line and "Unaligned" in line and " 0 " in line for line in lines)
    summary = lines[-1]
    assert summary.startswith("43 items, 38 aligned (88.4%); by objective: revenue 16,")
    assert summary.endswith("unaligned 5")


def test_score_json_to_csv_file(tmp_path):
    out = tmp_path / "scored.csv"
    result = run("score", str(EXAMPLES / "tickets.json"), "--config", CONFIG, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert f"Wrote 43 results to {out}" in result.stdout
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == RECORD_COLUMNS
    by_key = {r["key"]: r for r in rows}
    assert [r["key"] for r in rows][:3] == ["SHOP-412", "SHOP-431", "SHOP-440"]  # file order
    assert (by_key["INC0010023"]["objective"], by_key["INC0010023"]["score"]) == ("reliability", "64")
    assert by_key["INC0010023"]["matched_rules"] == "from-parent"
    assert by_key["DATA-322"]["overridden"] == "True"
    assert by_key["PAY-81"]["matched_rules"] == "shop-projects, audit-label, pci-words"


def test_score_csv_to_json_file_with_inheritance_inside_the_file(tmp_path):
    out = tmp_path / "scored.json"
    result = run("score", str(EXAMPLES / "tickets.csv"), "--config", CONFIG, "--output", str(out))
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    by_key = {r["key"]: r for r in records}
    assert len(records) == 6
    assert by_key["SHOP-500"]["objective"] == "revenue"
    assert by_key["GRC-61"]["objective"] == "compliance"
    assert by_key["INC0010102"]["objective"] == "unaligned" and by_key["INC0010102"]["score"] == 0
    assert by_key["CHG0030040"]["overridden"] is True
    assert by_key["CHG0030040"]["objective"] == "productivity"


def test_children_listed_before_parents_still_inherit(tmp_path):
    tickets = tmp_path / "t.jsonl"
    tickets.write_text("\n".join(json.dumps(r) for r in [
        {"platform": "jira", "key": "WEB-2", "parent": "WEB-1", "summary": "Banner"},
        {"platform": "jira", "key": "WEB-3", "parent": "WEB-2", "summary": "Banner copy"},
        {"platform": "jira", "key": "WEB-1", "project": "SHOP", "summary": "Autumn campaign"},
    ]) + "\n")
    result = run("score", str(tickets), "--config", CONFIG, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["key"] for r in records] == ["WEB-2", "WEB-3", "WEB-1"]
    assert [(r["objective"], r["score"]) for r in records] == [
        ("revenue", 72), ("revenue", 58), ("revenue", 90)]  # 0.9, x0.8, x0.8 again
    assert "3 items, 3 aligned (100.0%)" in result.stderr  # stdout stays pure JSON


def test_score_csv_to_stdout():
    result = run("score", str(EXAMPLES / "tickets.csv"), "--config", CONFIG, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["key"] for r in rows][0] == "SHOP-500"


def test_bad_records_are_all_listed_and_nothing_is_scored(tmp_path):
    tickets = tmp_path / "t.json"
    tickets.write_text(json.dumps([
        {"key": "A-1", "summary": "fine"},
        {"summary": "no key"},
        {"key": "A-3", "effort": "a lot"},
    ]))
    out = tmp_path / "out.csv"
    result = run("score", str(tickets), "--config", CONFIG, "--output", str(out))
    assert result.exit_code == 2
    assert "2 bad record(s)" in result.stderr
    assert "record[1] key 'key': is required" in result.stderr
    assert "record[2] key 'effort': must be a number, got 'a lot'" in result.stderr
    assert not out.exists()


def test_bad_csv_row_names_its_line(tmp_path):
    tickets = tmp_path / "t.csv"
    tickets.write_text("key,effort\nA-1,3\nA-2,three\n")
    result = run("score", str(tickets), "--config", CONFIG)
    assert result.exit_code == 2
    assert "record[1] key 'effort'" in result.stderr and "(CSV data row 2)" in result.stderr


def test_invalid_json_file(tmp_path):
    tickets = tmp_path / "t.json"
    tickets.write_text('[{"key": "A-1"},\n')
    result = run("score", str(tickets), "--config", CONFIG)
    assert result.exit_code == 2 and "invalid JSON at line" in result.stderr


def test_unknown_output_suffix(tmp_path):
    result = run("score", str(EXAMPLES / "tickets.csv"), "--config", CONFIG, "--output",
                 str(tmp_path / "out.xlsx"))
    assert result.exit_code == 2 and "--format csv|json" in result.stderr


def test_progress_bar_on_long_input(tmp_path, monkeypatch):
    """Over the threshold a progress bar runs on stderr; results are unaffected."""
    monkeypatch.setattr(engine_commands, "PROGRESS_THRESHOLD", 5)
    tickets = tmp_path / "many.json"
    tickets.write_text(json.dumps([{"key": f"SHOP-{i}", "project": "SHOP"} for i in range(12)]))
    seen: list[bool] = []
    real = engine_commands.Progress

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            seen.append(not kwargs.get("disable", False))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(engine_commands, "Progress", Spy)
    result = run("score", str(tickets), "--config", CONFIG, "--format", "json")
    assert result.exit_code == 0, result.output
    assert seen == [True]
    assert len(json.loads(result.stdout)) == 12


def test_no_progress_bar_on_short_input_off_a_terminal(tmp_path, monkeypatch):
    seen: list[bool] = []
    real = engine_commands.Progress

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            seen.append(not kwargs.get("disable", False))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(engine_commands, "Progress", Spy)
    result = run("score", str(EXAMPLES / "tickets.csv"), "--config", CONFIG)
    assert result.exit_code == 0, result.output
    assert seen == [False]


def test_score_with_a_broken_config_exits_2(write_config):
    path = write_config("objectives: []\n")
    result = run("score", str(EXAMPLES / "tickets.csv"), "--config", str(path))
    assert result.exit_code == 2
    assert f"{path}:1: objectives:" in result.stderr


def test_table_to_a_file(tmp_path):
    out = tmp_path / "scored.txt"
    result = run("score", str(EXAMPLES / "tickets.csv"), "--config", CONFIG, "--output", str(out),
                 "--format", "table")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "SHOP-500" in text and "Grow online revenue" in text and "\x1b[" not in text
    assert "6 items, 5 aligned (83.3%)" in result.stdout


def test_an_empty_file_is_an_error_that_says_what_a_ticket_file_holds(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    result = run("score", str(empty), "--config", CONFIG)
    assert result.exit_code == 2
    assert f"{empty} is empty" in result.output and "JSON list of tickets" in result.output
    none = tmp_path / "none.json"
    none.write_text("[]", encoding="utf-8")
    assert "holds no tickets" in run("score", str(none), "--config", CONFIG).output


def test_a_file_with_only_unknown_columns_names_them_and_the_nearest_known(tmp_path):
    typo = tmp_path / "typo.json"
    typo.write_text('[{"summry": "Checkout fails", "typ": "bug"}]', encoding="utf-8")
    result = run("score", str(typo), "--config", CONFIG)
    assert result.exit_code == 2
    assert "None of the columns" in result.output and "Columns in the file: summry, typ" in result.output
    assert "'summry': did you mean summary?" in result.output and "'typ': did you mean type?" in result.output
    assert "--platform jira|servicenow" in result.output


def test_one_misspelt_column_among_known_ones_suggests_the_name(tmp_path):
    mixed = tmp_path / "mixed.json"
    mixed.write_text('[{"key": "X-1", "summary": "a", "projet": "SHOP"}]', encoding="utf-8")
    result = run("score", str(mixed), "--config", CONFIG)
    assert result.exit_code == 2 and "key 'projet': unknown key (did you mean project?)" in result.output
