"""Several processes (web workers, workers) starting at once on one new SQLite file."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

from itsm_align.webhooks.storage.engine import create_db_engine


def _start(url: str) -> str:
    try:
        engine = create_db_engine(url)
        engine.dispose()
        return "ok"
    except Exception as error:  # reported to the parent, which asserts
        return repr(error)


def test_processes_creating_the_tables_at_once_all_start(tmp_path: Path) -> None:
    # forkserver: children forked from a clean server process, not from this one, whose
    # other threads (sandboxes, watchers) may hold locks at the moment of a fork
    context = multiprocessing.get_context("forkserver")
    outcomes: list[str] = []
    with context.Pool(4) as pool:
        for round_ in range(8):
            url = f"sqlite:///{tmp_path / f'race-{round_}.sqlite3'}"
            outcomes += pool.map(_start, [url] * 4)
    failures = [o for o in outcomes if o != "ok"]
    assert not failures, failures
