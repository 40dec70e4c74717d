"""Importing the CLI module gives every command, so tests can drive it with CliRunner."""
from __future__ import annotations

import click
from click.testing import CliRunner

from itsm_align.webhooks.cli import backfill, cli, setup


def test_importing_cli_loads_every_command_module():
    assert {"check", "explain", "score", "schema"} <= set(cli.commands)
    assert isinstance(cli.commands["setup"], click.Group) and cli.commands["setup"] is setup
    assert cli.commands["backfill"] is backfill


def test_help_lists_the_engine_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("check", "explain", "score", "schema", "setup", "backfill"):
        assert f"  {name} " in result.stdout
