"""The CLI is assembled explicitly in cli/main.py: importing it gives every
command (tests drive it with CliRunner), and no command module imports it back."""
from __future__ import annotations

import ast
from pathlib import Path

import click
from click.testing import CliRunner

from itsm_align.cli.backfill import backfill
from itsm_align.cli.main import cli
from itsm_align.cli.setup import setup

CLI = Path(__file__).resolve().parents[2] / "cli"


def test_importing_cli_gives_every_command():
    assert {"check", "explain", "score", "schema", "serve", "worker", "inbox",
            "sandbox-jira", "sandbox-servicenow"} <= set(cli.commands)
    assert isinstance(cli.commands["setup"], click.Group) and cli.commands["setup"] is setup
    assert cli.commands["backfill"] is backfill
    assert set(setup.commands) == set(backfill.commands) == {"jira", "servicenow"}


def test_no_command_module_imports_the_assembly():
    for path in CLI.glob("*.py"):
        if path.name == "main.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert target not in (".main", "itsm_align.cli.main"), f"{path.name} imports cli/main.py"


def test_help_lists_the_engine_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("check", "explain", "score", "schema", "setup", "backfill"):
        assert f"  {name} " in result.stdout
