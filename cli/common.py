"""What every command shares: the ``--config`` option, loading the config
with one way of reporting its problems, and one exit code for bad input.

"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, NoReturn, Sequence

import click
from rich.console import Console
from rich.text import Text

from .config import AppConfig, ConfigError, load_config

#: Exit status of a command that cannot start (click.ClickException's own status).
EXIT_CANNOT_START = 1
#: Exit status for a problem in the config or the input (click's own usage errors also exit 2).
EXIT_BAD_INPUT = 2
#: Exit status when the platform refused or failed (its own message is printed).
EXIT_PLATFORM = 3
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Config file (default: $ITSM_ALIGN_CONFIG).")


log_level_option = click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info", show_default=True,
    help="What the long-running process logs on stderr: info shows one line per item written.")


log_format_option = click.option(
    "--log-format", type=click.Choice(["text", "json"], case_sensitive=False), default="text",
    show_default=True,
    help="json: one JSON object per line (time, level, logger, message, and platform, item_key, "
         "delivery_id, ruleset_version on lines about an item), for log shippers.")

#: Fields a log record may carry about an item (``extra=``), kept by the JSON format.
ITEM_FIELDS = ("platform", "item_key", "delivery_id", "ruleset_version")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in ITEM_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str, fmt: str = "text") -> None:
    """One line per record on stderr, with time and level, for ``serve`` and
    ``worker`` (gunicorn's own lines share the stream); ``fmt="json"``: one JSON
    object per line. Without it Python shows warnings only, and an admin would
    see nothing of the work done."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter() if fmt.lower() == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in ("urllib3", "requests", "pysnc"):  # one line per HTTP connection at info
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def out_console() -> Console:
    """Standard output for people: files and pipes get whole lines (200
    columns), not a table cut to 80, since the rationale is often the point."""
    console = Console(soft_wrap=True, highlight=False)
    return console if console.is_terminal else Console(soft_wrap=True, highlight=False, width=200)


def print_rows(columns: Sequence[str], lines: Iterable[Sequence[str]], console: Console | None = None) -> None:
    """A table for people on a terminal; for scripts and pipes, one tab-separated line per row."""
    console = console or out_console()
    if not console.is_terminal:
        click.echo("\t".join(columns))
        for line in lines:
            click.echo("\t".join(line))
        return
    from rich.table import Table

    table = Table(*columns)
    for line in lines:
        table.add_row(*line)
    console.print(table)


def fail(title: str, lines: Iterable[str] = (), code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print a problem (a title and indented detail lines) on stderr and exit."""
    console = err_console()
    console.print(Text(title, style="bold red"))
    for line in lines:
        console.print(Text(f"  {line}"))
    raise SystemExit(code)


def exit_on_failures(console: Console, failed: Sequence[tuple[str, object]], shown: int = 20) -> None:
    """List the first ``shown`` items a back-fill could not write, with the
    platform's message, and exit with EXIT_PLATFORM when there are any."""
    for key, message in failed[:shown]:
        console.print(Text(f"  {key}: {message}", style="red"))
    if len(failed) > shown:
        console.print(Text(f"  ... and {len(failed) - shown} more", style="red"))
    if failed:
        raise SystemExit(EXIT_PLATFORM)


def load_or_exit(path: Path | None, *, build: bool = True, section: str | None = None,
                 section_hint: str = "") -> AppConfig:
    """The config at ``path`` (or $ITSM_ALIGN_CONFIG), or exit 2 listing every
    problem with its file and line. ``section``: a platform section the command
    needs (``jira``/``servicenow``); its absence is a problem too."""
    try:
        config = load_config(path, build=build)
    except ConfigError as exc:
        if exc.problems:
            fail(f"Config error: {len(exc.problems)} problem(s) in {exc.path}", [str(p) for p in exc.problems])
        fail("Config error", [str(exc)])
    if section is not None and getattr(config, section) is None:
        fail(f"Config error: {config.path} has no '{section}:' section", [section_hint] if section_hint else [])
    return config
