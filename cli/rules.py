"""CLI commands of the engine: ``check``, ``explain``, ``score`` and ``schema``.

They work on the config file and on ticket files alone (no platform, no
secrets): an admin validates rules, sees why one ticket got its objective,
and scores a whole export before changing anything live.
"""
from __future__ import annotations

import difflib
import io
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from itsm_align.integration.exports import EFFORT_COLUMNS, ExportedItem, ExportError, read_export
from itsm_align.scoring.records import (
    RECORD_COLUMNS,
    RECORD_KEYS,
    RecordError,
    assessment_to_record,
    item_from_record,
    parents_first,
    records_from_text,
    records_to_csv,
)
from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Assessment, WorkItem
from .common import config_option, fail, load_or_exit
from .config import AppConfig, config_schema
from .reference import config_reference

#: Exit code for a config or input file the command cannot use.
#: Above this many items ``score`` shows a progress bar even when stderr is not a terminal.
PROGRESS_THRESHOLD = 200

def _out() -> Console:
    return Console(soft_wrap=True, highlight=False)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


_fail = fail


def _config(path: Path | None) -> AppConfig:
    return load_or_exit(path)


def _names(config: AppConfig) -> dict[str, str]:
    names = {o.id: o.name for o in config.objectives}
    names.setdefault(UNALIGNED, UNALIGNED_NAME)
    return names


# ---------------------------------------------------------------- check
@click.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate the config file; print its objectives and rule counts.

    Exits 2 and lists every problem (file:line, rule id, what to change)
    when the file cannot be used.

    Example: itsm-align check --config itsm-align.yaml"""
    config = _config(config_path)
    engine = config.engine()
    out = _out()
    out.print(Text.assemble(("Config OK: ", "bold green"), str(config.path),
                            f" (ruleset version {engine.version})"))
    table = Table(title="Objectives", title_justify="left")
    for column in ("id", "name", "weight", "owner"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    for objective in config.objectives:
        table.add_row(objective.id, objective.name, str(objective.weight), objective.owner or "")
    out.print(table)
    by_type = ", ".join(f"{kind} {count}" for kind, count in
                        sorted(engine.rule_counts_by_type.items(), key=lambda kv: (-kv[1], kv[0])))
    out.print(Text(f"Rules: {engine.rule_count} total" + (f" ({by_type})" if by_type else "")))
    for section in ("jira", "servicenow"):
        if getattr(config, section) is not None:
            out.print(Text(f"Section {section}: configured"))


# ---------------------------------------------------------------- ticket files
def _read_items(path: Path) -> list[WorkItem]:
    """Every item of a JSON / JSON lines / CSV ticket file, or exit 2 listing
    every bad record."""
    fmt = path.suffix.lower().lstrip(".") or "json"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"Cannot read {path}", [f"{exc}. Pass a UTF-8 .json, .jsonl or .csv file."])
    if not text.strip():
        _fail(f"{path} is empty", ["A ticket file holds a JSON list of tickets, JSON lines or a CSV file with a "
                                   "header row (see config/examples/README.md)."])
    try:
        records = records_from_text(text, fmt)
    except RecordError as exc:
        _fail(f"Cannot read {path}", [str(exc)])
    if not records:
        _fail(f"{path} holds no tickets", ["Nothing to score: add tickets (see config/examples/README.md)."])
    _refuse_all_unknown(path, records)
    items: list[WorkItem] = []
    problems: list[str] = []
    for index, record in enumerate(records):
        try:
            items.append(item_from_record(record, index))
        except RecordError as exc:
            row = f" (CSV data row {index + 1})" if fmt == "csv" else ""
            problems.append(f"{path}: {exc}{row}")
    if problems:
        _fail(f"{len(problems)} bad record(s) in {path}; nothing was scored", problems)
    return items


def _refuse_all_unknown(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """A file none of whose columns we know is most likely a platform export or
    a misnamed header: say which columns it has and the nearest known names,
    once, rather than one error per row."""
    seen = list(dict.fromkeys(str(name) for record in records[:50] for name in record))
    known = set(RECORD_KEYS)
    if not seen or any(name.split(".", 1)[0] in known | {"fields", "current"} for name in seen):
        return
    lines = [f"Columns in the file: {', '.join(seen[:20])}" + (", ..." if len(seen) > 20 else "")]
    for name in seen[:20]:
        near = difflib.get_close_matches(name.lower().replace(" ", "_"), sorted(known), n=1, cutoff=0.6)
        if near:
            lines.append(f"{name!r}: did you mean {near[0]}?")
    if {"Issue key", "Summary"} & set(seen):
        lines.insert(0, "This looks like a Jira export: score it with --platform jira.")
    elif {"number", "short_description"} <= set(seen):
        lines.insert(0, "This looks like a ServiceNow export: score it with --platform servicenow.")
    lines.append(f"Known columns: {', '.join(sorted(known))}, fields.<id>, current.<name>. A Jira or ServiceNow "
                 "export is read with --platform jira|servicenow.")
    _fail(f"None of the columns of {path} is a ticket field", lines)


def _assess_all(engine: Any, items: Sequence[WorkItem], *, stop_at: str | None = None,
                progress: Progress | None = None) -> dict[str, Assessment]:
    """Assess items parents-first so ``inherit:`` rules see their parent's
    result; returns key -> Assessment (stops before ``stop_at`` if given)."""
    related: dict[str, Assessment] = {}
    task = progress.add_task("scoring", total=len(items)) if progress is not None else None
    for item in parents_first(items):
        if item.key == stop_at:
            break
        related[item.key] = engine.assess(item, related=related.get)
        if progress is not None and task is not None:
            progress.advance(task)
    return related


# ---------------------------------------------------------------- explain
@click.command()
@click.argument("source", metavar="ITEM_FILE|KEY")
@click.option("--key", help="Which item to explain when the file holds several.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.option("--live", is_flag=True,
              help="SOURCE is a ticket key: fetch it from the configured platform and explain it as the "
                   "worker would (inheritance from the history), writing nothing.")
@click.option("--platform", type=click.Choice(["jira", "servicenow"]), default=None,
              help="With --live, when the config connects both platforms.")
def explain(source: str, key: str | None, config_path: Path | None, as_json: bool, live: bool,
            platform: str | None) -> None:
    """Explain one item: objective, score, nature, rationale, and every rule
    that fired or failed, and why.

    ITEM_FILE holds one ticket (a JSON object) or several (then pass --key);
    the other items of the file are assessed first, so inheritance from a
    parent, epic or project in the same file works. With --live, KEY is a
    ticket on the configured platform (Jira issue key; ServiceNow record number
    or table:sys_id), read-only.

    \b
    Examples:
      itsm-align explain config/examples/tickets.json --key SHOP-412
      itsm-align explain SHOP-412 --live --config itsm-align.yaml
    """
    config = _config(config_path)
    if live:
        _explain_live(config, key or source, platform, as_json)
        return
    item_file = Path(source)
    if not item_file.is_file():
        _fail(f"No ticket file {source}", ["Pass a JSON, JSON lines or CSV file of tickets, or a ticket key "
                                           "with --live to read it from the platform."])
    items = _read_items(item_file)
    keys = [i.key for i in items]
    shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
    if key is None:
        if len(items) != 1:
            _fail(f"{item_file} holds {len(items)} items",
                  [f"Pass --key KEY to say which one to explain. Keys in the file: {shown}"])
        target = items[0]
    else:
        found = [i for i in items if i.key.casefold() == key.casefold()]
        if not found:
            near = difflib.get_close_matches(key.upper(), [k.upper() for k in keys], n=3, cutoff=0.6)
            by_upper = {k.upper(): k for k in keys}
            hint = [f"Did you mean {', '.join(by_upper[n] for n in near)}?"] if near else []
            _fail(f"No item with key {key!r} in {item_file}", hint + [f"Keys in the file: {shown}"])
        target = found[-1]
    engine = config.engine()
    related = _assess_all(engine, items, stop_at=target.key)
    explanation = engine.explain(target, related=related.get)
    if as_json:
        click.echo(json.dumps(_explanation_dict(explanation, _names(config)), indent=2,
                              default=str))
    else:
        _print_explanation(_out(), explanation, _names(config))


def _explain_live(config: AppConfig, key: str, platform: str | None, as_json: bool) -> None:
    """Fetch the ticket and explain it as the worker would: its relatives'
    latest assessments from the history, a person's objective respected. Writes nothing."""
    from itsm_align.integration.base import NotFound, PlatformError
    from itsm_align.integration.retry import call_with_retry
    from itsm_align.webhooks.storage.engine import create_db_engine
    from itsm_align.webhooks.storage.history import History
    from itsm_align.webhooks.worker import RelatedFromHistory

    from .common import EXIT_PLATFORM
    from .compose import build_adapter, configured_platforms

    platforms = configured_platforms(config)
    if platform is None:
        if len(platforms) != 1:
            _fail("Which platform?", [f"The config connects {', '.join(platforms) or 'no platform'}: pass "
                                      "--platform jira or --platform servicenow." if platforms else
                                      "Add a 'jira:' or 'servicenow:' section to the config."])
        platform = platforms[0]
    elif platform not in platforms:
        _fail(f"No '{platform}:' section in the config", ["Add it (see config/service.example.yaml)."])
    db = create_db_engine(config.service.database_url)
    adapter = build_adapter(platform, config, db)
    try:
        item = call_with_retry(lambda: adapter.fetch(key))
    except NotFound:
        _fail(f"{platform} has no item {key!r} (or our account cannot see it)",
              ["Check the key; Jira issue keys look like SHOP-123, ServiceNow records INC0010001 or "
               "incident:<sys_id>."])
    except PlatformError as error:
        fail(f"Cannot read {key} from {platform}", [str(error)], EXIT_PLATFORM)
    finally:
        adapter.close()
    related = RelatedFromHistory(History(db), platform)
    explanation = config.engine().explain(item, related=related.get)
    if as_json:
        click.echo(json.dumps(_explanation_dict(explanation, _names(config)), indent=2, default=str))
    else:
        _print_explanation(_out(), explanation, _names(config))


def _explanation_dict(explanation: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """A JSON-ready view of an Explanation: the assessment's flat record, the
    evidence per objective and every rule's outcome."""
    a: Assessment = explanation.assessment
    record = assessment_to_record(a, names)
    record["evidence"] = [{"objective": e.objective, "evidence": round(e.evidence, 6),
                           "rules": [m.rule_id for m in e.matches]} for e in a.evidence]
    record["rules"] = [{"rule_id": o.rule_id, "objective": o.objective, "status": o.status,
                        "detail": o.detail} for o in explanation.outcomes]
    return record


_STATUS_STYLE = {"fired": "green", "failed": "bold red", "not fired": "dim", "skipped": "dim"}


def _print_explanation(out: Console, explanation: Any, names: Mapping[str, str]) -> None:
    a: Assessment = explanation.assessment
    name = names.get(a.objective, a.objective)
    out.print(Text.assemble(("Item ", "bold"), (a.item_key, "bold cyan"), f" ({a.platform})"))
    override = "  (human override)" if a.overridden else ""
    out.print(Text(f"Objective:  {name} ({a.objective}){override}"))
    out.print(Text(f"Score:      {a.score}"))
    out.print(Text(f"Nature:     {a.nature.value}"))
    out.print(Text(f"Rationale:  {a.rationale}"))
    if a.evidence:
        out.print(Text("Evidence by objective:", style="bold"))
        for e in a.evidence:
            out.print(Text(f"  {names.get(e.objective, e.objective)} ({e.objective}): "
                           f"{e.evidence:.2f} from {', '.join(m.rule_id for m in e.matches)}"))
    table = Table(title="Rules (fired and failed first)", title_justify="left")
    for column in ("rule", "status", "objective", "why"):
        table.add_column(column, overflow="fold")
    order = {"fired": 0, "failed": 1, "not fired": 2, "skipped": 3}
    for o in sorted(explanation.outcomes, key=lambda o: order.get(o.status, 4)):
        table.add_row(Text(o.rule_id), Text(o.status, style=_STATUS_STYLE.get(o.status, "")),
                      Text(o.objective or ""), Text(o.detail))
    out.print(table)
    fired, failed = len(explanation.fired), len(explanation.failed)
    out.print(Text(f"{fired} rule(s) fired, {failed} failed, "
                   f"{len(explanation.outcomes) - fired - failed} did not apply."))


# ---------------------------------------------------------------- score
def _read_export(path: Path, platform: str, base_url: str | None) -> list[ExportedItem]:
    """Every item of a native Jira / ServiceNow export, or exit 2 listing every problem."""
    fmt = path.suffix.lower().lstrip(".")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"Cannot read {path}", [f"{exc}. Pass the export as a UTF-8 file."])
    try:
        return read_export(platform, text, fmt, base_url=base_url)  # type: ignore[arg-type]
    except ExportError as exc:
        _fail(f"{len(exc.problems)} problem(s) in the {platform} export {path}; nothing was "
              "scored", [f"{path}: {problem}" for problem in exc.problems])


@click.command()
@click.argument("ticket_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results to this .csv or .json file instead of printing a table.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default=None,
              help="Output format (default: from --output's suffix, else table).")
@click.option("--platform", type=click.Choice(["jira", "servicenow"]), default=None,
              help="TICKET_FILE is a native export of this platform (Jira CSV; ServiceNow "
                   "CSV or JSON) instead of a ticket file.")
@click.option("--url-base", default=None, metavar="URL",
              help="The site the export came from (https://acme.atlassian.net, "
                   "https://acme.service-now.com), to link each item in reports.")
def score(ticket_file: Path, config_path: Path | None, output: Path | None,
          fmt: str | None, platform: str | None, url_base: str | None) -> None:
    """Score every ticket of a JSON, JSON lines or CSV file, or of a native
    Jira / ServiceNow export (--platform).

    Items are assessed parents-first, so `inherit: parent` works within the
    file. Prints a table (or CSV/JSON) and a summary line. The --output file
    goes straight into `itsm-align report --from-file`.

    Example: itsm-align score config/examples/tickets.json --config config/itsm-align.yaml --output scored.csv"""
    config = _config(config_path)
    if fmt is None:
        fmt = "table"
        if output is not None:
            fmt = output.suffix.lower().lstrip(".")
            if fmt not in ("csv", "json"):
                _fail(f"Cannot tell the output format of {output}",
                      ["Name the file .csv or .json, or pass --format csv|json."])
    exported = (_read_export(ticket_file, platform, url_base) if platform is not None
                else [ExportedItem(item) for item in _read_items(ticket_file)])
    items = [e.item for e in exported]
    engine = config.engine()
    err = _err()
    show = len(items) > PROGRESS_THRESHOLD or err.is_terminal
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True,
                  disable=not show) as progress:
        assessed = _assess_all(engine, items, progress=progress)
    names = _names(config)
    # results in the file's order (assessment ran parents-first)
    by_key = {e.item.key: e for e in exported}
    now = datetime.now(timezone.utc)
    records = [_scored_record(assessed[item.key], names, by_key[item.key], url_base, now)
               for item in _unique(items)]
    measures = [m for m in EFFORT_COLUMNS if any(r.get(m) is not None for r in records)]
    text = _render(records, fmt, (*RECORD_COLUMNS, *measures))
    summary = _summary(records, names)
    if output is not None:
        output.write_text(text if fmt != "table" else _table_text(records), encoding="utf-8")
        _out().print(Text(f"Wrote {len(records)} results to {output}"))
        _out().print(Text(summary))
    elif fmt == "table":
        out = _out()
        out.print(_table(records))
        out.print(Text(summary))
    else:
        click.echo(text, nl=False)
        err.print(Text(summary))


def _unique(items: Sequence[WorkItem]) -> list[WorkItem]:
    """Items by key, first occurrence's position, last occurrence's data."""
    last = {item.key: item for item in items}
    seen: set[str] = set()
    out = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            out.append(last[item.key])
    return out


def _scored_record(assessment: Assessment, names: Mapping[str, str], exported: ExportedItem,
                   url_base: str | None, now: datetime) -> dict[str, Any]:
    """The result record of one item, with what a report needs of the item: the
    columns of RECORD_COLUMNS, the export's effort measures, the item's link and
    ``assessed_at``: when the ticket was last worked (updated, else created, else
    now), so a report over the file puts each ticket in the period of its work."""
    item = exported.item
    record = assessment_to_record(assessment, names, item)
    record["url"] = exported.url or _link(item, url_base)
    moment = item.updated or item.created or now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    record["assessed_at"] = moment.isoformat()
    record.update({m: v for m, v in exported.measures.items() if v is not None})
    return record


def _link(item: WorkItem, url_base: str | None) -> str | None:
    if not url_base:
        return None
    base = url_base.rstrip("/")
    if item.platform == "jira":
        return f"{base}/browse/{item.key}"
    if item.platform == "servicenow":
        return f"{base}/task.do?sysparm_query=number={item.key}"
    return None


def _render(records: list[dict[str, Any]], fmt: str,
            columns: Sequence[str] = RECORD_COLUMNS) -> str:
    if fmt == "csv":
        return records_to_csv(records, columns)
    if fmt == "json":
        return json.dumps(records, indent=2) + "\n"
    return ""


def _table(records: list[dict[str, Any]]) -> Table:
    """One line per item; the rationale is cut to the terminal width (the
    full text is in --format csv/json and in `explain`)."""
    table = Table(show_lines=False)
    table.add_column("key", no_wrap=True)
    table.add_column("objective", no_wrap=True, max_width=26)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("nature", no_wrap=True)
    table.add_column("rationale", min_width=24)
    for r in records:
        objective = r["objective_name"] or r["objective"]
        if r["overridden"]:
            objective += " (override)"
        table.add_row(Text(r["key"]), _line(objective), str(r["score"]), r["nature"],
                      _line(r["rationale"]))
    return table


def _line(text: str) -> Text:
    """A cell that stays on one line, cut with an ellipsis."""
    return Text(text, no_wrap=True, overflow="ellipsis")


def _table_text(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=160, highlight=False, color_system=None).print(_table(records))
    return buffer.getvalue()


def _summary(records: list[dict[str, Any]], names: Mapping[str, str]) -> str:
    total = len(records)
    if not total:
        return "0 items."
    aligned = sum(1 for r in records if r["objective"] != UNALIGNED)
    counts = Counter(r["objective"] for r in records)
    order = [o for o in names if o in counts and o != UNALIGNED] + \
        [o for o in counts if o not in names]
    parts = [f"{o} {counts[o]}" for o in order]
    if counts.get(UNALIGNED):
        parts.append(f"{UNALIGNED} {counts[UNALIGNED]}")
    return (f"{total} items, {aligned} aligned ({100 * aligned / total:.1f}%); "
            f"by objective: {', '.join(parts)}")


# ---------------------------------------------------------------- schema
@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write it here (e.g. config/schema.json) instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["json", "markdown"]), default="json", show_default=True,
              help="json: the JSON Schema; markdown: the configuration reference (docs/configuration.md).")
def schema(output: Path | None, fmt: str) -> None:
    """Print or write the JSON Schema of the config file (for editor support:
    `# yaml-language-server: $schema=schema.json`), or the configuration
    reference generated from it.

    Example: itsm-align schema --format markdown --output docs/configuration.md"""
    if fmt == "markdown":
        text = config_reference(config_schema())
    else:
        text = json.dumps(config_schema(), indent=2, sort_keys=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    _err().print(Text(f"Wrote the config {'reference' if fmt == 'markdown' else 'schema'} to {output}"))
