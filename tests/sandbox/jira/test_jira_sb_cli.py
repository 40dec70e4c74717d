"""``itsm-align sandbox-jira``: registered, and a busy port is a clear error."""
from __future__ import annotations

import socket

from click.testing import CliRunner

from itsm_align.cli import main as cli_module


def test_command_is_registered_with_help() -> None:
    result = CliRunner().invoke(cli_module.cli, ["sandbox-jira", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--seed" in result.output and "datacenter" in result.output


def test_busy_port_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = CliRunner().invoke(cli_module.cli, ["sandbox-jira", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
