"""Exit codes are documented once, in the README's table, and true; every
command's --help carries an example."""
from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from itsm_align.cli import common
from itsm_align.cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_statuses() -> set[int]:
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- exit-codes:", 1)[1].split("\n\n", 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)}


def test_every_exit_status_the_code_uses_is_in_the_readme_table() -> None:
    used = {value for name, value in vars(common).items() if name.startswith("EXIT_")}
    assert used | {0} == documented_statuses()


def commands(group: click.Group, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_help_has_an_example_with_its_own_name() -> None:
    for path, _ in commands(cli):
        result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"`itsm-align {' '.join(path)} --help` has no example"
        assert f"itsm-align {' '.join(path)}" in result.output.replace("\n", " "), path


def test_a_config_error_is_2_and_a_worker_that_cannot_start_is_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("objectives: [{id: x, name: X, weight: 9}]\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["check", "--config", str(bad)]).exit_code == common.EXIT_BAD_INPUT
    empty = tmp_path / "no-platform.yaml"
    empty.write_text(f"objectives: [{{id: x, name: X, weight: 3}}]\nservice: {{database_url: "
                     f"'sqlite:///{tmp_path / 'w.sqlite3'}'}}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["worker", "--once", "--config", str(empty)])
    assert result.exit_code == common.EXIT_CANNOT_START and "no platform configured" in result.output
