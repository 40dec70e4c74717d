"""`itsm-align survey create | invite | import | close | list` against a real SQLite database."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.surveys import Surveys, hash_token


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "itsm-align.yaml"
    path.write_text(f"""\
objectives:
  - {{id: revenue, name: Grow online revenue, weight: 5}}
  - {{id: compliance, name: Stay compliant, weight: 4}}
  - {{id: cost, name: Cut run costs, weight: 2}}
service:
  public_url: https://align.example.com/
  database_url: sqlite:///{tmp_path / 'service.sqlite3'}
""", encoding="utf-8")
    return path


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["survey", *args])


def store(config: Path) -> Surveys:
    return Surveys(create_db_engine(f"sqlite:///{config.parent / 'service.sqlite3'}"))


def test_create_prints_one_working_link_per_invitation(config: Path) -> None:
    result = run("create", "--config", str(config), "--title", "2026-Q1", "--invitations", "3")
    assert result.exit_code == 0, result.output
    links = result.stdout.split()
    assert len(links) == 3 and all(link.startswith("https://align.example.com/survey/") for link in links)
    surveys = store(config)
    for link in links:
        invitation = surveys.invitation(link.rsplit("/", 1)[1])
        assert invitation is not None and invitation.round.title == "2026-Q1"
    assert "3 link(s)" in result.stderr


def test_create_without_public_url_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"objectives: [{{id: cost, name: Cut run costs, weight: 2}}]\n"
                    f"service: {{database_url: 'sqlite:///{tmp_path / 'db.sqlite3'}'}}\n")
    result = run("create", "--config", str(path), "--title", "Pulse")
    assert result.exit_code == 0 and result.stdout.startswith("/survey/")
    assert "service.public_url is not set" in result.stderr


def test_a_duplicate_title_is_refused(config: Path) -> None:
    assert run("create", "--config", str(config), "--title", "2026-Q1").exit_code == 0
    result = run("create", "--config", str(config), "--title", "2026-Q1")
    assert result.exit_code == 2 and "exists already" in result.stderr and "survey invite" in result.stderr


GOOD = """\
Respondent,Department,Objective,Importance,Satisfaction,Comment
Ann Lee,Sales,revenue,5,2,"Checkout is slow,
and search misses items"
Ann Lee,Sales,Stay compliant,3,4,
Raj P,Finance,cost,4,3,Cloud bill keeps growing
"""


def test_import_a_clean_file(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "forms-export.csv"
    file.write_text(GOOD, encoding="utf-8-sig")  # Excel writes a byte-order mark
    result = run("import", "--config", str(config), str(file), "--round", "2026-Q1")
    assert result.exit_code == 0, result.output
    assert "imported 3 rating(s) from 2 respondent(s)" in result.stdout
    frame = store(config).frame()
    assert list(frame["objective"]) == ["revenue", "compliance", "cost"]
    assert frame["comment"][0] == "Checkout is slow,\nand search misses items"
    assert set(frame["round"]) == {"2026-Q1"}
    again = run("import", "--config", str(config), str(file), "--round", "2026-Q1")
    assert again.exit_code == 2 and "imported before" in again.stderr
    assert len(store(config).frame()) == 3


def test_import_reports_every_problem_with_its_row_and_imports_nothing(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "bad.csv"
    file.write_text("respondent;role;objective;importance;satisfaction;comment\n"
                    "Ann;Sales;revenue;5;2;fine\n"
                    "Bo;Ops;growth;3;3;\n"
                    "Cy;HR;cost;7;0;\n"
                    "Ann;Sales;revenue;4;4;twice\n", encoding="utf-8")
    result = run("import", "--config", str(config), str(file))
    assert result.exit_code == 2
    err = " ".join(result.stderr.split())
    assert "4 problem(s); nothing was imported" in err
    assert "row 2 (line 3): objective 'growth' is not a configured objective; use one of revenue, compliance, cost" in err
    assert "row 3 (line 4): importance is '7': give a whole number from 1 to 5" in err
    assert "row 3 (line 4): satisfaction is '0'" in err
    assert "row 4 (line 5): Ann (Sales) rated revenue already in row 1" in err
    assert store(config).frame().empty and store(config).rounds() == []


def test_import_names_missing_columns(config: Path, tmp_path: Path) -> None:
    file = tmp_path / "wide.csv"
    file.write_text("Name,Department,Importance: Grow online revenue\nAnn,Sales,5\n", encoding="utf-8")
    result = run("import", "--config", str(config), str(file))
    assert result.exit_code == 2
    assert "lacks the column(s) objective, importance, satisfaction" in " ".join(result.stderr.split())


def test_invite_close_and_list(config: Path) -> None:
    run("create", "--config", str(config), "--title", "2026-Q1", "--invitations", "1")
    added = run("invite", "--config", str(config), "2026-Q1", "--invitations", "2")
    assert added.exit_code == 0 and len(added.stdout.split()) == 2
    listed = run("list", "--config", str(config))
    assert listed.stdout.splitlines()[1].split("\t")[1:] == ["2026-Q1", listed.stdout.splitlines()[1].split("\t")[2],
                                                             "open", "3", "0", "0", "0"]
    closed = run("close", "--config", str(config), "1")
    assert closed.exit_code == 0 and "closed" in closed.stdout
    assert "was already closed" in run("close", "--config", str(config), "2026-Q1").stdout
    refused = run("invite", "--config", str(config), "2026-Q1")
    assert refused.exit_code == 2 and "is closed" in refused.stderr
    unknown = run("close", "--config", str(config), "2030-Q9")
    assert unknown.exit_code == 2 and "survey list" in unknown.stderr


def test_tokens_are_not_stored(config: Path) -> None:
    link = run("create", "--config", str(config), "--title", "T").stdout.strip()
    token = link.rsplit("/", 1)[1]
    raw = b"".join(path.read_bytes() for path in config.parent.glob("service.sqlite3*"))  # the file and its WAL
    assert token.encode() not in raw and hash_token(token).encode() in raw
