"""CLI commands for Jira: ``setup jira`` and ``backfill jira``.

Both read the config file, talk to Jira through ``JiraAdapter`` and keep the
adapter's small state (option ids per objective, the back-fill resume token)
in the service database, the same store the worker reads.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
from itsm_align.integration.base import PlatformError
from itsm_align.integration.jira.adapter import JiraAdapter
from itsm_align.integration.jira.backfill import run_backfill
from itsm_align.integration.retry import call_with_retry
from itsm_align.scoring.types import Objective
from itsm_align.webhooks.cli import backfill, setup
from itsm_align.webhooks.commands._common import (
    EXIT_PLATFORM,
    config_option,
    exit_on_failures,
    load_or_exit,
)
from itsm_align.webhooks.config import AppConfig
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _fail(title: str, detail: str, code: int) -> None:
    console = _err()
    console.print(Text(title, style="bold red"))
    console.print(Text(f"  {detail}"))
    raise SystemExit(code)


def _config(path: Path | None) -> AppConfig:
    return load_or_exit(path, section="jira", section_hint=(
        "Add jira: {url, email, api_token, webhook_secret} (token and secret as ${ENV} references)."))


def _objectives(config: AppConfig, engine: Any) -> list[Objective]:
    found = list(getattr(engine, "objectives", None) or ())
    if found and all(isinstance(o, Objective) for o in found):
        return found
    return [Objective(id=o.id, name=o.name, weight=o.weight, owner=getattr(o, "owner", None),
                      description=getattr(o, "description", "") or "", kpis=tuple(getattr(o, "kpis", ()) or ()))
            for o in config.objectives]


def _state(config: AppConfig) -> Any:
    from itsm_align.webhooks.statestore import DatabaseStore
    from itsm_align.webhooks.store import create_db_engine

    return DatabaseStore(create_db_engine(config.service.database_url), namespace="jira")


def _adapter(config: AppConfig, engine: Any) -> JiraAdapter:
    return JiraAdapter(config.jira, _state(config), objectives=_objectives(config, engine),
                       fields_read=getattr(engine, "fields_read", None), public_url=config.service.public_url)


@setup.command("jira")
@config_option
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing in Jira.")
def setup_jira(config_path: Path | None, dry_run: bool) -> None:
    """Create the four fields, their options, screen placement and the admin
    webhook (<service.public_url>/webhooks/jira). Safe to run again: only
    differences are changed."""
    config = _config(config_path)
    engine = config.engine()
    adapter = _adapter(config, engine)
    try:
        steps = call_with_retry(lambda: adapter.setup(_objectives(config, engine), dry_run=dry_run))
    except PlatformError as error:
        _fail("Jira refused the set-up", str(error), EXIT_PLATFORM)
        raise
    finally:
        adapter.close()
    table = Table(title="Jira set-up" + (" plan (dry run: nothing changed)" if dry_run else ""),
                  title_justify="left")
    for column in ("action", "target", "state", "detail"):
        table.add_column(column)
    for step in steps:
        state = "in place" if not step.needed else ("done" if step.done else "to do")
        table.add_row(step.action, step.target, state, step.detail)
    console = Console(soft_wrap=True, highlight=False)
    console.print(table)
    todo = sum(1 for s in steps if s.needed and not s.done)
    done = sum(1 for s in steps if s.done)
    console.print(f"{done} change(s) made, {todo} to do, {sum(1 for s in steps if not s.needed)} already in place")


@backfill.command("jira")
@config_option
@click.option("--jql", default=None, help="Which issues (default: jira.jql). Must be a bounded query.")
@click.option("--dry-run", is_flag=True, help="Write nothing to Jira; write the proposed changes as CSV.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of proposed changes for --dry-run (default: proposed-jira.csv).")
@click.option("--restart", is_flag=True, help="Ignore a saved resume point and start from the first page.")
@click.option("--page-size", type=click.IntRange(1, 5000), default=None, help="Issues per search page.")
def backfill_jira(config_path: Path | None, jql: str | None, dry_run: bool, output: Path | None,
                  restart: bool, page_size: int | None) -> None:
    """Assess existing issues and write the results with Jira's bulk edit API.

    Resumable: an interrupted run continues where it stopped when started again."""
    config = _config(config_path)
    engine = config.engine()
    adapter = _adapter(config, engine)
    console = Console(stderr=True, soft_wrap=True, highlight=False)

    def assess(item: Any, related: Any) -> Any:
        return engine.assess(item, related=related)

    with Progress(SpinnerColumn(), TextColumn("[bold]back-fill jira[/]"), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("starting", total=None)

        def on_page(report: Any) -> None:
            progress.update(task, description=f"{report.items} issues, {report.changed} "
                                              f"{'to change' if dry_run else 'changed'}, {report.requests} requests")
        try:
            report = run_backfill(adapter, assess, query=jql, state=adapter.state, dry_run=dry_run,
                                  restart=restart, page_size=page_size, on_page=on_page)
        except PlatformError as error:
            progress.stop()
            _fail("Back-fill stopped", f"{error}. Run the same command again to continue where it stopped.",
                  EXIT_PLATFORM)
            raise
        except KeyboardInterrupt:
            progress.stop()
            _fail("Back-fill interrupted", "Run the same command again to continue where it stopped.", 130)
            raise
        finally:
            adapter.close()
    out = Console(soft_wrap=True, highlight=False)
    if report.resumed_from:
        out.print("Resumed from the saved position of an earlier run.")
    if dry_run:
        path = output or Path("proposed-jira.csv")
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["key", "field", "current", "proposed"])
            writer.writerows(report.proposed)
        out.print(f"Dry run: {report.items} issues, {report.changed} would change "
                  f"({len(report.proposed)} field values) -> {path}. Nothing was written to Jira.")
    else:
        out.print(f"{report.items} issues assessed, {report.changed} changed, {report.unchanged} unchanged, "
                  f"{len(report.failed)} failed; {report.requests} HTTP requests "
                  f"({report.issues_per_request:.0f} issues per request).")
    exit_on_failures(out, report.failed)
