"""``itsm-align preview``: what a rule change would do, before it goes live.

Assesses the same items with the new config and with the old one (``--against``), or
compares the new result with the objective the items carry now, and prints and writes
the transition table "objective before -> objective after" with counts, effort moved
and examples per cell (:func:`itsm_align.reports.transition_table`). Read-only: items
come from a ticket file or export, or from the platforms through the adapters' search
(the back-fill pages, nothing written; adapter state goes to a throw-away database).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import click
import pandas as pd
from rich.text import Text

from itsm_align.integration.base import PlatformError
from itsm_align.integration.exports import ExportedItem
from itsm_align.reports import NOT_ASSESSED, transition_lines, transition_table
from itsm_align.scoring.types import WorkItem

from .common import EXIT_PLATFORM, config_option, fail, load_or_exit, out_console
from .compose import build_adapter, configured_platforms, objectives_of
from .config import AppConfig
from .rules import _assess_all, _read_export, _read_items, _unique

__all__ = ["preview"]


@click.command()
@config_option
@click.option("--against", "against_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The config in use now (default: compare with the objective "
                                 "each item carries now).")
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path), default=None,
              help="Preview over a ticket file (or a platform export with --platform) "
                   "instead of searching the platforms.")
@click.option("--platform", type=click.Choice(["jira", "servicenow"]), default=None,
              help="With --from-file: the file is a native export of this platform. Live: "
                   "search only this platform (default: every configured one).")
@click.option("--query", default=None,
              help="Live: JQL or ServiceNow encoded query (default: jira.jql / servicenow.query).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Compare at most this many items.")
@click.option("--examples", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Example keys per cell.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for transition.csv (created).")
def preview(config_path: Path | None, against_path: Path | None, from_file: Path | None,
            platform: str | None, query: str | None, limit: int | None, examples: int,
            out_dir: Path) -> None:
    """Preview a rule change: where items would move from one objective to another.

    --config is the NEW config; --against the one in use now. Nothing is written
    to any platform.

    Example: itsm-align preview --config new-rules.yaml --against itsm-align.yaml --out preview/"""
    new = load_or_exit(config_path)
    old = load_or_exit(against_path) if against_path is not None else None
    if from_file is not None:
        exported = (_read_export(from_file, platform, None) if platform is not None
                    else [ExportedItem(item) for item in _read_items(from_file)])
        items = _unique([e.item for e in exported])
        items = items[:limit] if limit is not None else items
    else:
        items = list(_search(new, platform, query, limit))
    after = _objectives(new, items)
    before = (_objectives(old, items) if old is not None else pd.Series(
        {item.key: item.current.objective or NOT_ASSESSED for item in items}, dtype=object))
    effort = pd.Series({item.key: item.effort for item in items}, dtype="float64")
    table = transition_table(before, after, effort, examples=examples)
    objectives = objectives_of(new) + [o for o in (objectives_of(old) if old else [])
                                       if o.id not in {n.id for n in new.objectives}]
    out = out_console()
    label = (f"{against_path} -> {new.path}" if old is not None
             else f"objective on the items now -> {new.path}")
    out.print(Text(f"Preview {label} over {len(items)} items", style="bold"))
    for line in transition_lines(table, objectives):
        out.print(Text(line))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "transition.csv"
    table.assign(examples=table["examples"].map(", ".join)).to_csv(path, index=False)
    out.print(Text(f"Wrote {path}"))


def _objectives(config: AppConfig, items: list[WorkItem]) -> pd.Series:
    assessed = _assess_all(config.engine(), items)
    return pd.Series({item.key: assessed[item.key].objective for item in items}, dtype=object)


def _search(config: AppConfig, platform: str | None, query: str | None,
            limit: int | None) -> Iterator[WorkItem]:
    platforms = [platform] if platform else configured_platforms(config)
    if not platforms:
        fail(f"{config.path} has no jira: or servicenow: section to search",
             ["Add the platform's section, or preview over a file with --from-file."])
    seen = 0
    with tempfile.TemporaryDirectory(prefix="itsm-align-preview-") as scratch:
        from itsm_align.webhooks.storage.engine import create_db_engine

        state = create_db_engine(f"sqlite:///{Path(scratch) / 'state.sqlite3'}")
        for name in platforms:
            if getattr(config, name) is None:
                fail(f"{config.path} has no '{name}:' section",
                     [f"Add it (see config/service.example.yaml) or leave out --platform."])
            adapter = build_adapter(name, config, state, rules=True)
            try:
                for page, _token in adapter.backfill(query):
                    for item in page:
                        if limit is not None and seen >= limit:
                            return
                        seen += 1
                        yield item
            except PlatformError as exc:
                fail(f"{name} refused the search", [str(exc)], code=EXIT_PLATFORM)
            finally:
                adapter.close()
        state.dispose()
