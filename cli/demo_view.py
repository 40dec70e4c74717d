"""What ``itsm-align demo`` shows: every assessment as the history receives it
(the worker's and the back-fill's, read from the service database), counts by
objective, and the closing tables.

On a terminal, one rich ``Live`` view redrawn a few times a second; in a pipe
or a CI log, one plain line per live assessment instead.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import sqlalchemy as sa
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Objective
from itsm_align.webhooks.storage.schema import history_table

PLATFORM_TITLES = {"jira": "Jira", "servicenow": "ServiceNow"}


@dataclass(frozen=True)
class Seen:
    """One history row, as the demo shows it."""

    id: int
    platform: str
    key: str
    kind: str
    type: str
    objective: str
    score: int
    nature: str
    overridden: bool
    source: str
    summary: str
    rules: tuple[str, ...]


class HistoryFeed:
    """New rows of the assessment history since the last call."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        self.last_id = 0

    def poll(self) -> list[Seen]:
        t = history_table
        query = (sa.select(t.c.id, t.c.platform, t.c.item_key, t.c.kind, t.c.type, t.c.objective, t.c.score,
                           t.c.nature, t.c.overridden, t.c.source, t.c.summary, t.c.rule_ids)
                 .where(t.c.id > self.last_id, ~t.c.deleted).order_by(t.c.id))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        if rows:
            self.last_id = rows[-1].id
        return [Seen(r.id, r.platform, r.item_key, r.kind, r.type or "", r.objective or UNALIGNED, int(r.score or 0),
                     r.nature or "", bool(r.overridden), r.source or "worker", r.summary or "",
                     tuple(json.loads(r.rule_ids or "[]"))) for r in rows]


@dataclass
class Tally:
    """The newest assessment of every item, and the last few live ones."""

    objectives: Sequence[Objective]
    latest: dict[tuple[str, str], Seen] = field(default_factory=dict)
    recent: deque = field(default_factory=lambda: deque(maxlen=6))  # the view fits 24 lines
    backfilled: int = 0
    live: int = 0

    def add(self, rows: Iterable[Seen]) -> list[Seen]:
        """Count ``rows``; returns the live ones (made by the worker)."""
        live = []
        for row in rows:
            self.latest[(row.platform, row.key)] = row
            if row.source == "backfill":
                self.backfilled += 1
            else:
                self.live += 1
                live.append(row)
                self.recent.append(row)
        return live

    def assessed_since(self, platform: str, key: str, after_id: int) -> bool:
        """Whether ``key`` has an assessment newer than history row ``after_id``."""
        row = self.latest.get((platform, key))
        return row is not None and row.id > after_id

    def name(self, objective: str) -> str:
        for spec in self.objectives:
            if spec.id == objective:
                return spec.name
        return UNALIGNED_NAME if objective == UNALIGNED else objective

    def by_objective(self) -> list[tuple[str, dict[str, int], float, int, int]]:
        """(objective id, tickets per platform, mean score, reactive, overridden), in config order."""
        order = [o.id for o in self.objectives] + [UNALIGNED]
        groups: dict[str, list[Seen]] = {key: [] for key in order}
        for row in self.latest.values():
            if row.kind == "ticket":
                groups.setdefault(row.objective, []).append(row)
        out = []
        for objective, rows in groups.items():
            per = {p: sum(1 for r in rows if r.platform == p) for p in PLATFORM_TITLES}
            mean = sum(r.score for r in rows) / len(rows) if rows else 0.0
            out.append((objective, per, mean, sum(1 for r in rows if r.nature == "reactive"),
                        sum(1 for r in rows if r.overridden)))
        return out


def item_line(row: Seen, tally: Tally) -> Text:
    """``SHOP-151  story  One-click reorder...  -> Grow online revenue 72 proactive (from-parent)``."""
    text = Text(no_wrap=True, overflow="ellipsis")  # one line each, however narrow the terminal
    text.append(f"{row.key:<12}", style="bold")
    text.append(f" {row.type or row.kind:<16}", style="dim")
    summary = row.summary if len(row.summary) <= 58 else row.summary[:57] + "…"
    text.append(f" {summary:<58} ")
    text.append("-> ")
    objective = tally.name(row.objective)
    text.append(objective, style="yellow" if row.objective == UNALIGNED else "green")
    text.append(f" {row.score:>3} {row.nature}")
    if row.overridden:
        text.append(" (set by a person: kept)", style="magenta")
    elif row.rules:
        text.append(f" ({', '.join(row.rules[:3])})", style="dim")
    return text


def objective_table(tally: Tally, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_footer=True)
    table.add_column("objective", footer="all tickets")
    totals = {p: 0 for p in PLATFORM_TITLES}
    rows = tally.by_objective()
    for p in PLATFORM_TITLES:
        totals[p] = sum(per[p] for _, per, *_ in rows)
    for p, title_ in PLATFORM_TITLES.items():
        table.add_column(title_, justify="right", footer=str(totals[p]))
    everything = sum(totals.values())
    table.add_column("share", justify="right", footer="100%" if everything else "")
    table.add_column("mean score", justify="right")
    table.add_column("reactive", justify="right", footer=str(sum(r[3] for r in rows)))
    table.add_column("overridden", justify="right", footer=str(sum(r[4] for r in rows)))
    for objective, per, mean, reactive, overridden in rows:
        count = sum(per.values())
        table.add_row(Text(tally.name(objective), style="yellow" if objective == UNALIGNED else ""),
                      *(str(per[p]) for p in PLATFORM_TITLES),
                      f"{100 * count / everything:.0f}%" if everything else "-",
                      f"{mean:.0f}" if count else "-", str(reactive), str(overridden))
    return table


def live_view(tally: Tally, phase: str, detail: str = "") -> RenderableType:
    head = Text.assemble(("itsm-align demo ", "bold"), (f"· {phase}", "cyan"),
                         (f"  {detail}" if detail else "", "dim"), no_wrap=True, overflow="ellipsis")
    tickets = sum(1 for row in tally.latest.values() if row.kind == "ticket")
    counts = Text(f"{tickets} tickets and {len(tally.latest) - tickets} projects assessed; {tally.backfilled} "
                  f"assessments by the back-fill, {tally.live} live by the worker (project rollups included)",
                  style="dim")
    recent = [item_line(row, tally) for row in tally.recent] or [Text("waiting for the first live event…",
                                                                     style="dim")]
    return Group(head, counts, objective_table(tally), Text("latest live assessments:", style="bold"), *recent)


@dataclass
class Played:
    """One person's action and what became of the item it touched."""

    say: str
    platform: str
    key: str


def activity_table(played: Sequence[Played], tally: Tally) -> Table:
    table = Table(title="What people did, and what itsm-align wrote", title_justify="left")
    for column in ("who did what", "item", "objective", "score", "nature"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for step in played:
        row = tally.latest.get((step.platform, step.key))
        if row is None:
            table.add_row(step.say, step.key, Text("not assessed", style="red"), "", "")
            continue
        objective = Text(tally.name(row.objective), style="yellow" if row.objective == UNALIGNED else "green")
        if row.overridden:
            objective.append(" (a person's choice, kept)", style="magenta")
        table.add_row(step.say, step.key, objective, str(row.score), row.nature)
    return table


__all__ = ["HistoryFeed", "Played", "Seen", "Tally", "activity_table", "item_line", "live_view",
           "objective_table"]
