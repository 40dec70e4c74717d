"""``itsm-align backfill jira`` and ``backfill servicenow``: assess existing
tickets and write the results in bulk, through the one back-fill driver
(integration/backfill.py) and the adapter the composition root builds.

What a run assesses goes to the same history the worker appends to, and the
projects it touched get a rollup refresh queued in the inbox (a running
worker writes them). Its resume point lives in the service database for both
platforms: an interrupted run continues where it stopped (``--restart``
starts over). ``--dry-run`` writes nothing anywhere and lists every proposed
change as CSV.
"""
from __future__ import annotations

import csv
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from itsm_align.integration.backfill import BackfillReport, resume_key, run_backfill
from itsm_align.integration.base import PlatformAdapter, PlatformError
from itsm_align.integration.retry import call_with_retry
from itsm_align.scoring.types import Assessment, WorkItem
from itsm_align.webhooks.storage.engine import create_db_engine
from itsm_align.webhooks.storage.history import History
from itsm_align.webhooks.storage.inbox import Inbox
from itsm_align.webhooks.worker import schedule_rollup

from .common import EXIT_INTERRUPTED, EXIT_PLATFORM, config_option, err_console, exit_on_failures, fail
from .compose import build_adapter
from .config import AppConfig
from .setup import platform_config

NOUNS = {"jira": "issues", "servicenow": "records"}
CSV_COLUMNS = ("key", "field", "current", "proposed")


@click.group()
def backfill() -> None:
    """Assess existing tickets and write the results in bulk."""


class HistorySink:
    """The back-fill's sink: the service history, each row with the item's URL."""

    def __init__(self, history: History, adapter: PlatformAdapter) -> None:
        self.history, self.adapter = history, adapter

    def latest(self, platform: str, key: str) -> Assessment | None:
        return self.history.latest(platform, key)

    def record(self, assessed: Sequence[tuple[Assessment, WorkItem]]) -> None:
        self.history.append_many([(a, item, self.adapter.item_url(item)) for a, item in assessed],
                                 source="backfill")


def _run(config: AppConfig, platform: str, *, query: str | None, dry_run: bool, output: Path | None,
         restart: bool, page_size: int | None, extra: dict[str, Any]) -> None:
    db = create_db_engine(config.service.database_url)
    engine = config.engine()
    adapter = build_adapter(platform, config, db)
    sink = None if dry_run else HistorySink(History(db), adapter)
    err = err_console()
    noun = NOUNS[platform]
    total = _count(adapter, query, extra)
    columns = [TextColumn(f"[bold]back-fill {platform}[/]"), TextColumn("{task.description}")]
    columns += [BarColumn(), MofNCompleteColumn()] if total is not None else [SpinnerColumn()]
    try:
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=False,
                      disable=not err.is_terminal and (total or 0) < 200) as progress:
            task = progress.add_task("starting", total=total)

            def on_page(report: BackfillReport, n: int) -> None:
                progress.update(task, advance=n, description=f"{report.items} {noun}, {report.changed} "
                                f"{'to change' if dry_run else 'changed'}, {report.requests} requests")

            report = run_backfill(adapter, lambda item, related: engine.assess(item, related=related),
                                  query=query, state=adapter.state, sink=sink, dry_run=dry_run,
                                  restart=restart, page_size=page_size, extra=extra, on_page=on_page)
    except PlatformError as error:
        fail("Back-fill stopped", [f"{error}.", _next_step(adapter, query, extra, dry_run)], EXIT_PLATFORM)
    except KeyboardInterrupt:
        fail("Back-fill interrupted", [_next_step(adapter, query, extra, dry_run)], EXIT_INTERRUPTED)
    finally:
        adapter.close()
    if not dry_run:
        inbox = Inbox(db)
        for project in sorted(report.projects):
            schedule_rollup(inbox, platform, project, config.service.rollup_delay_seconds)
    _summary(report, platform, dry_run, output)


def _next_step(adapter: PlatformAdapter, query: str | None, extra: dict[str, Any], dry_run: bool) -> str:
    """What to do after a stop: continue only where a saved position makes that true."""
    saved = None if dry_run else adapter.state.get(resume_key(adapter.platform, query, extra))
    if saved:
        return "Run the same command again to continue where it stopped (--restart starts over)."
    return "Nothing was written yet: fix the problem above and run the command again."


def _count(adapter: PlatformAdapter, query: str | None, extra: dict[str, Any]) -> int | None:
    """How many items the run will see, where the platform says so cheaply (else None)."""
    try:
        return call_with_retry(lambda: adapter.count(query, **extra))
    except PlatformError as error:
        fail("Back-fill could not start", [str(error)], EXIT_PLATFORM)


def _summary(report: BackfillReport, platform: str, dry_run: bool, output: Path | None) -> None:
    err = err_console()
    noun = NOUNS[platform]
    if report.resumed_from:
        err.print("Resumed from the saved position of an earlier run.")
    if dry_run:
        with ExitStack() as stack:
            handle = stack.enter_context(output.open("w", newline="", encoding="utf-8")) if output else sys.stdout
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(report.proposed)
        where = f" -> {output}" if output else ""
        err.print(f"Dry run: {report.items} {noun}, {report.changed} would change "
                  f"({len(report.proposed)} field values){where}. Nothing was written.")
    else:
        err.print(f"{report.items} {noun} assessed, {report.changed} changed, {report.unchanged} unchanged, "
                  f"{len(report.failed)} failed; {report.requests} HTTP requests "
                  f"({report.items_per_request:.1f} {noun} per request); {report.recorded} assessments added "
                  f"to the history" + (f"; {report.reassessed} assessed again once their parent was"
                                       if report.reassessed else "")
                  + (f"; rollup refresh queued for {len(report.projects)} project(s)" if report.projects else ""))
    for project, why in sorted(report.not_writable.items()):
        err.print(f"[yellow]Not written in {project}[/yellow] ({report.skipped} {noun} in all such projects "
                  f"assessed and kept in the history): {why}")
    exit_on_failures(err, report.failed)


common_options = [
    config_option,
    click.option("--dry-run", is_flag=True, help="Write nothing; list the proposed changes as CSV."),
    click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="CSV file of the proposed changes with --dry-run (default: standard output)."),
    click.option("--restart", is_flag=True, help="Ignore a saved resume point and start from the first page."),
]


def _with_common(fn: Any) -> Any:
    for option in reversed(common_options):
        fn = option(fn)
    return fn


@backfill.command("jira")
@_with_common
@click.option("--jql", default=None, help="Which issues (default: jira.jql). Must be a bounded query.")
@click.option("--page-size", type=click.IntRange(1, 5000), default=None, help="Issues per search page.")
def backfill_jira(config_path: Path | None, dry_run: bool, output: Path | None, restart: bool, jql: str | None,
                  page_size: int | None) -> None:
    """Assess existing issues and write the results with Jira's bulk edit API
    (Data Center: one PUT per changed issue). Resumable.

    Example: itsm-align backfill jira --config itsm-align.yaml --jql 'project = SHOP' --dry-run"""
    _run(platform_config(config_path, "jira"), "jira", query=jql, dry_run=dry_run, output=output,
         restart=restart, page_size=page_size, extra={})


@backfill.command("servicenow")
@_with_common
@click.option("--table", default=None, help="Table to back-fill (default: servicenow.table, task).")
@click.option("--query", default=None, help="Encoded query selecting records (default: servicenow.query).")
@click.option("--page-size", type=click.IntRange(1, 10000), default=None,
              help="Records per page (default: servicenow.page_size).")
def backfill_servicenow(config_path: Path | None, dry_run: bool, output: Path | None, restart: bool,
                        table: str | None, query: str | None, page_size: int | None) -> None:
    """Assess existing records and write the results through the Batch API. Resumable.

    Example: itsm-align backfill servicenow --config itsm-align.yaml --table incident --query active=true"""
    config = platform_config(config_path, "servicenow")
    assert config.servicenow is not None
    _run(config, "servicenow", query=query, dry_run=dry_run, output=output, restart=restart,
         page_size=page_size, extra={"table": table or config.servicenow.table})
