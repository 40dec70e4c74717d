"""Every `itsm-align ...` command line the README shows parses: its command
and each option exist (run with --help appended, which click honours only
once everything before it was understood)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from itsm_align.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "deploy" / "README.md", ROOT / "config" / "examples" / "README.md"]


def command_lines() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        candidates = re.findall(r"^\s*(?:\$ )?((?:\.venv/bin/|/opt/itsm-align/\.venv/bin/|\.venv/bin/)?itsm-align [^\n`]+)",
                                text, flags=re.M)
        candidates += re.findall(r"`((?:\.venv/bin/)?itsm-align [^`]+)`", text)
        for line in candidates:
            line = line.split(" #", 1)[0].strip().rstrip("\\").strip()
            if any(mark in line for mark in ("[", "...", "|", "<", "&&", "KEY", "FILE", "ID", "COMMAND")):
                continue  # a synopsis with placeholders, not a command to run
            words = line.split()
            if len(words) < 2 or words[1] not in cli.commands:
                continue  # prose that starts with the product's name
            found.append((doc.name, line))
    return sorted(set(found))


def test_the_readme_shows_commands() -> None:
    assert len(command_lines()) >= 25


def test_every_command_line_in_the_docs_parses() -> None:
    problems = []
    for doc, line in command_lines():
        args = shlex.split(line)[1:]
        result = CliRunner().invoke(cli, [*args, "--help"])
        if result.exit_code != 0 and "Missing argument" not in result.output:  # a fragment naming an option
            problems.append(f"{doc}: `{line}`: {result.output.strip().splitlines()[-1:]}")
    assert problems == []
