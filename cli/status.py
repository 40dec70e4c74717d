"""``itsm-align status``: what an operator asks first, read from the database
alone (so it works on any host, whatever the platforms are doing): the backlog
per platform and its oldest item, whether the workers' circuit breaker is open
or a Retry-After holds, the last write-back, and parked items by reason."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.table import Table

from .common import config_option, load_or_exit, out_console
from .compose import configured_platforms


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


@click.command()
@config_option
def status(config_path: Path | None) -> None:
    """Backlog, oldest pending item, platform state, last write and failures by reason.

    Example: itsm-align status --config itsm-align.yaml"""
    from itsm_align.integration.ratelimit import PlatformGate
    from itsm_align.webhooks.storage.engine import create_db_engine, describe
    from itsm_align.webhooks.storage.history import History
    from itsm_align.webhooks.storage.inbox import Inbox
    from itsm_align.webhooks.storage.statestore import DatabaseStore

    config = load_or_exit(config_path, build=False)
    engine = create_db_engine(config.service.database_url)
    inbox, history = Inbox(engine), History(engine)
    now = time.time()
    depth, oldest, written = inbox.depth_by_platform(), inbox.oldest_owed(), history.last_written()
    console = out_console()
    console.print(f"database: {describe(engine)}")
    table = Table(title="Platforms", title_justify="left")
    for column in ("platform", "pending", "leased", "failed", "oldest owed", "platform state", "last write"):
        table.add_column(column, justify="right" if column in ("pending", "leased", "failed") else "left")
    for platform in sorted(set(configured_platforms(config)) | set(depth)):
        counts = depth.get(platform, {"pending": 0, "leased": 0, "failed": 0})
        store = DatabaseStore(engine, platform)
        breaker = (store.get(PlatformGate.BREAKER_KEY) or "closed").split()[0]
        try:
            held = float(store.get("gate:not-before") or 0) - now
        except ValueError:
            held = 0.0
        state = "failing: breaker open" if breaker == "open" else "answering"
        if held > 0:
            state += f", Retry-After {held:.0f}s left"
        last = written.get(platform)
        table.add_row(platform, str(counts["pending"]), str(counts["leased"]), str(counts["failed"]),
                      _age(now - oldest[platform]) if platform in oldest else "-", state,
                      f"{last:%Y-%m-%d %H:%M:%S} UTC ({_age((datetime.now(timezone.utc) - last).total_seconds())} ago)"
                      if last else "never")
    console.print(table)
    failures = inbox.failures_by_reason()
    if failures:
        parked = Table(title="Parked items by reason (itsm-align inbox --failed lists them)", title_justify="left")
        for column in ("platform", "items", "reason"):
            parked.add_column(column, justify="right" if column == "items" else "left", overflow="fold")
        for platform, reason, count in failures:
            parked.add_row(platform, str(count), reason)
        console.print(parked)
    else:
        console.print("No item is parked as failed.")
