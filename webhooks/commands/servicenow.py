"""CLI commands for ServiceNow: ``setup servicenow`` and ``backfill servicenow``.

``setup servicenow`` creates our columns and choices on ``task`` over REST
(idempotent, ``--dry-run`` shows the plan), or with ``--update-set FILE.xml``
writes the update set an admin imports instead (no instance contact).

``backfill servicenow`` pages through the Table API (keyset on sys_id), scores
every record and writes the changed columns through the Batch API. It is
resumable: after each page the last sys_id is kept in a state file, and a
second run continues after it (``--restart`` starts over). ``--dry-run``
writes nothing to ServiceNow and lists the proposed changes as CSV.
"""
from __future__ import annotations

import csv
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

import click
from itsm_align.integration.base import PlatformError
from itsm_align.integration.retry import call_with_retry
from itsm_align.integration.servicenow import updateset
from itsm_align.integration.servicenow.adapter import ServiceNowAdapter
from itsm_align.scoring.types import Assessment, OutputValues, WorkItem
from itsm_align.webhooks.cli import backfill, setup
from itsm_align.webhooks.commands._common import (
    EXIT_PLATFORM,
    config_option,
    exit_on_failures,
    fail,
    load_or_exit,
)
from itsm_align.webhooks.config import AppConfig
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

CSV_COLUMNS = ("key", "sys_id", "table", "field", "current", "proposed")

def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


_fail = fail


def _config(path: Path | None, *, build: bool) -> AppConfig:
    return load_or_exit(path, build=build, section="servicenow", section_hint=(
        "Add servicenow: {instance: https://..., user: ..., password: ${SN_PASSWORD}} "
        "(see config/service.example.yaml)."))


def _platform_failure(exc: PlatformError) -> None:
    _fail("ServiceNow error", [str(exc)], code=EXIT_PLATFORM)


# ---------------------------------------------------------------- setup
@setup.command("servicenow")
@config_option
@click.option("--update-set", "update_set", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write an importable update set to this XML file instead of "
                                 "changing the instance over REST.")
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
def setup_servicenow(config_path: Path | None, update_set: Path | None, dry_run: bool) -> None:
    """Create the alignment columns and choices on task (idempotent), or write
    the update set holding them with the business rule and its properties."""
    config = _config(config_path, build=False)
    settings = config.servicenow
    assert settings is not None
    objectives = [spec.to_objective() for spec in config.objectives]
    console = Console(soft_wrap=True, highlight=False)
    if not console.is_terminal:  # files and pipes get whole lines, not a table cut to 80 columns
        console = Console(soft_wrap=True, highlight=False, width=200)
    if update_set is not None:
        public = (config.service.public_url or "").rstrip("/")
        if not public:
            _fail("service.public_url is not set",
                  ["The business rule posts to <service.public_url>/webhooks/servicenow; set "
                   "service.public_url in the config to the URL ServiceNow can reach."])
        if dry_run:
            console.print(f"Would write the update set to {update_set} (endpoint {public}/webhooks/servicenow)")
            return
        rows = updateset.write(str(update_set), settings, objectives, f"{public}/webhooks/servicenow")
        console.print(Text.assemble(("Wrote ", "bold green"), f"{update_set}: {rows} configuration records. ",
                                    "Import it under System Update Sets > Retrieved Update Sets > Import "
                                    "Update Set from XML, Preview, Commit, then set the system property "
                                    "itsm_align.secret to servicenow.webhook_secret."))
        return
    adapter = ServiceNowAdapter(settings)
    try:
        steps = call_with_retry(lambda: adapter.setup(objectives, dry_run=dry_run))
    except PlatformError as exc:
        _platform_failure(exc)
        return
    table = Table(title=f"ServiceNow set-up{' (dry run: nothing changed)' if dry_run else ''}",
                  title_justify="left")
    for column in ("action", "target", "detail", "status"):
        table.add_column(column)
    for step in steps:
        status = "in place" if not step.needed else ("done" if step.done else "to do")
        table.add_row(step.action, step.target, step.detail, status)
    console.print(table)
    todo = sum(1 for s in steps if s.needed)
    console.print(f"{todo} change(s) {'needed' if dry_run else 'made'}, "
                  f"{len(steps) - todo} already in place.")


# ---------------------------------------------------------------- backfill
@dataclass
class BackfillReport:
    items: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    pages: int = 0
    resumed_from: str | None = None
    finished: bool = False

    @property
    def naive_requests(self) -> int:
        """A GET and a PATCH per record, the way one would do it by hand."""
        return 2 * self.items


class StateFile:
    """Resume tokens by (table, query), in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read the back-fill state file {self.path} ({exc}); "
                                       "delete it or pass --restart") from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def set(self, key: str, value: str | None) -> None:
        data = self._read()
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


def state_key(instance: str, table: str, query: str) -> str:
    digest = hashlib.sha256(f"{instance}|{table}|{query}".encode()).hexdigest()[:16]
    return f"servicenow:{table}:{digest}"


def run_backfill(adapter: ServiceNowAdapter, assess: Callable[[WorkItem], Assessment], *,
                 table: str, query: str, state: StateFile | None, dry_run: bool = False,
                 output: TextIO | None = None, page_size: int | None = None,
                 on_page: Callable[[int], None] | None = None, attempts: int = 5,
                 sleep: Callable[[float], None] | None = None) -> BackfillReport:
    """Score and write every record matching ``query`` in ``table``.

    Writes go through ``write_many`` (Batch API); an item the batch could not
    write for a retryable reason is retried (with ``call_with_retry``), the
    others are reported in ``failed``. The resume token is saved after each
    page that was completely handled (not in a dry run)."""
    report = BackfillReport()
    key = state_key(adapter.settings.instance, table, query)
    resume = state.get(key) if state is not None else None
    report.resumed_from = resume
    writer = csv.writer(output) if output is not None else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    retry_kwargs: dict[str, Any] = {"attempts": attempts}
    if sleep is not None:
        retry_kwargs["sleep"] = sleep
    before = adapter.client.requests
    token = resume
    while True:
        def page(after: str | None = token) -> tuple[list[WorkItem], str | None]:
            # a fresh generator per page: a failed page is simply asked for again
            return next(iter(adapter.backfill(query or None, resume=after, page_size=page_size, table=table)))
        try:
            items, token = call_with_retry(page, **retry_kwargs)
        except PlatformError:
            report.requests = adapter.client.requests - before
            raise
        report.pages += 1
        writes: list[tuple[WorkItem, OutputValues]] = []
        for item in items:
            values = assess(item).output()
            changes = adapter.changes(item, values)
            if not changes:
                report.unchanged += 1
                continue
            writes.append((item, values))
            if writer is not None:
                current = _current_columns(adapter, item)
                for column, proposed in changes.items():
                    writer.writerow((item.key, item.id, item.raw.get("sys_class_name", ""), column, current.get(column, ""), proposed))
        report.items += len(items)
        if not dry_run and writes:
            report.changed += _write(adapter, writes, report, retry_kwargs)
        elif dry_run:
            report.changed += len(writes)
        if state is not None and not dry_run:
            state.set(key, token)
        if on_page is not None:
            on_page(len(items))
        if token is None:
            report.finished = True
            break
    report.requests = adapter.client.requests - before
    return report


def _write(adapter: ServiceNowAdapter, writes: list[tuple[WorkItem, OutputValues]],
           report: BackfillReport, retry_kwargs: dict[str, Any]) -> int:
    """write_many, then retry (bounded, with backoff) the items that failed retryably."""
    written = 0
    pending = writes
    for attempt in range(3):
        results = call_with_retry(lambda: adapter.write_many(pending), **retry_kwargs)
        written += sum(1 for r in results if r.changed)
        failures = dict(adapter.last_failures)
        retry = [(item, values) for item, values in pending
                 if item.key in failures and failures[item.key].retryable]
        for item, _ in pending:
            error = failures.get(item.key)
            if error is not None and (not error.retryable or attempt == 2):
                report.failed.append((item.key, str(error)))
        if not retry or attempt == 2:
            break
        pending = retry
    return written


def _current_columns(adapter: ServiceNowAdapter, item: WorkItem) -> dict[str, str]:
    c = adapter.columns
    cur = item.current
    return {c.objective: cur.objective or "", c.score: "" if cur.score is None else f"{cur.score:g}",
            c.rationale: cur.rationale or "", c.nature: cur.nature.value if cur.nature else ""}


@backfill.command("servicenow")
@config_option
@click.option("--table", default=None, help="Table to back-fill (default: servicenow.table, task).")
@click.option("--query", default=None, help="Encoded query selecting records (default: servicenow.query).")
@click.option("--dry-run", is_flag=True, help="Write nothing to ServiceNow; list proposed changes.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of proposed changes (default with --dry-run: stdout).")
@click.option("--page-size", type=click.IntRange(1, 10000), default=None,
              help="Records per page (default: servicenow.page_size).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Resume state file (default: .itsm-align-backfill.json beside the config).")
@click.option("--restart", is_flag=True, help="Ignore saved progress and start from the beginning.")
def backfill_servicenow(config_path: Path | None, table: str | None, query: str | None, dry_run: bool,
                        output: Path | None, page_size: int | None, state_path: Path | None,
                        restart: bool) -> None:
    """Assess existing records and write the results through the Batch API."""
    config = _config(config_path, build=True)
    settings = config.servicenow
    assert settings is not None
    engine = config.engine()
    adapter = ServiceNowAdapter(settings)
    adapter.configure(objectives=[spec.to_objective() for spec in config.objectives],
                      fields_read=sorted(getattr(engine, "fields_read", ()) or ()))
    table = table or settings.table
    query = query if query is not None else (settings.query or "")
    base = config.path.parent if config.path else Path.cwd()
    state = StateFile(state_path or base / ".itsm-align-backfill.json")
    if restart:
        state.set(state_key(settings.instance, table, query), None)
    err = _err()
    sink: TextIO | None = None
    close = False
    if output is not None:
        sink, close = output.open("w", newline="", encoding="utf-8"), True
    elif dry_run:
        sink = sys.stdout
    try:
        total = call_with_retry(lambda: adapter.client.count(table, query))
        with Progress(TextColumn("[bold]back-fill[/] {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                      disable=not err.is_terminal and total < 200) as progress:
            task = progress.add_task(table, total=total)
            report = run_backfill(adapter, engine.assess, table=table, query=query, state=state,
                                  dry_run=dry_run, output=sink, page_size=page_size,
                                  on_page=lambda n: progress.advance(task, n))
    except PlatformError as exc:
        _platform_failure(exc)
        return
    finally:
        if close and sink is not None:
            sink.close()
    verb = "would change" if dry_run else "changed"
    ratio = (report.items / report.requests) if report.requests else 0.0
    err.print(f"{report.items} records{' (resumed)' if report.resumed_from else ''}: {report.changed} {verb}, "
              f"{report.unchanged} unchanged, {len(report.failed)} failed; {report.requests} HTTP requests "
              f"(naive GET+PATCH each: {report.naive_requests}; {ratio:.0f} records per request)")
    exit_on_failures(err, report.failed)
