"""Every command that reads the config reports its problems the same way:
file and line on stderr, exit status 2, nothing started."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from itsm_align.cli.main import cli

BROKEN = """\
objectives:
  - {id: revenue, name: Grow online revenue, weight: 5}
rules:
  - id: shop
    objective: revnue
    confidence: 0.9
    when: {project: SHOP}
"""

COMMANDS = [
    ["check"], ["serve", "--bind", "127.0.0.1:1"], ["worker", "--once"], ["inbox"],
    ["setup", "jira"], ["setup", "servicenow"], ["backfill", "jira"], ["backfill", "servicenow"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_a_broken_config_is_reported_with_its_line_and_exit_status_2(command, write_config) -> None:
    path = write_config(BROKEN)
    result = CliRunner().invoke(cli, [*command, "--config", str(path)], terminal_width=200)
    assert result.exit_code == 2, result.output
    assert f"{path}:5" in result.output  # the line of `objective: revnue`
    assert "revnue" in result.output and "revenue" in result.output  # what is wrong and what is known
