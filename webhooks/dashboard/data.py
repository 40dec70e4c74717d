"""The history in memory for the dashboard: read once, then only what is new.

The first request reads the assessment history with the storage's bulk reader
(``History.report_frame``: every column the KPIs use, through Arrow when connectorx is
installed) and normalises it with the reports package. Later requests ask the database
for ``max(id)`` (one index lookup); when it grew and the data in memory is older than
``refresh_seconds``, only the rows after the last id read are fetched and the frame is
normalised again. A request never waits for a refresh while
another thread is doing one: it is served the snapshot in memory. Each snapshot keeps
the few derived frames every page needs (the current estate of a period, the rows each
trend bucket counts), so changing a filter recomputes only the filtered KPIs.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from itsm_align.reports import bucket_latest, current_estate, normalise_history

from ..storage.history import History
from ..storage.schema import history_table
from ..storage.surveys import Surveys

log = logging.getLogger("itsm_align.webhooks.dashboard")

__all__ = ["HistoryCache", "Snapshot", "SurveyCache"]

#: Columns a refresh reads (the first read takes ``History.report_frame``'s).
COLUMNS = ("id", "platform", "item_key", "kind", "project", "type", "objective", "score", "nature",
           "overridden", "rule_ids", "effort", "deleted", "assessed_at", "team", "summary", "url")
#: Derived frames kept per snapshot (periods x frequencies looked at).
KEEP_DERIVED = 16


#: Columns kept for trends: what reports.trend reads plus what the filters select on.
BUCKET_COLUMNS = ("item", "kind", "assessed_at", "deleted", "objective", "nature", "score", "weight",
                  "project", "team", "type")


class _Lru:
    """A small thread-safe least-recently-used memo."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


@dataclass
class Snapshot:
    """The normalised history as of ``version`` (the highest history id read)."""

    history: pd.DataFrame
    version: int
    loaded_at: float  # time.monotonic()
    read_at: pd.Timestamp
    _derived: _Lru = field(default_factory=lambda: _Lru(KEEP_DERIVED), repr=False)

    def estate(self, period: tuple[Any, Any] | None) -> pd.DataFrame:
        """The current estate of ``period`` (see reports.estate)."""
        return self._derived.get(("estate", period), lambda: current_estate(self.history, period=period))

    def bucket_frame(self, period: tuple[Any, Any] | None, freq: str) -> pd.DataFrame:
        """The rows each trend bucket counts (latest per item and bucket, deletions
        left out), with only the columns the trends and the filters read: still a
        normalised history, so the reports' trend functions take it (filtered)."""
        def make() -> pd.DataFrame:
            rows = bucket_latest(self.history, freq=freq, period=period).index.to_numpy()  # type: ignore[arg-type]
            return self.history[list(BUCKET_COLUMNS)].take(rows)
        return self._derived.get(("buckets", period, freq), make)

    def memo(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """Anything else derived from this snapshot (e.g. one page's figures)."""
        return self._derived.get(("memo", key), make)


class HistoryCache:
    """The latest :class:`Snapshot` of the history, refreshed as described above."""

    def __init__(self, engine: Engine, *, refresh_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._overlap = False
        self._first_version = 0
        self._lock = threading.Lock()

    def _max_id(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(history_table.c.id))).scalar() or 0)

    def snapshot(self) -> Snapshot:
        """The history as fresh as the settings ask (see the module docstring)."""
        current = self._snapshot
        if current is not None and self.clock() - current.loaded_at < self.refresh_seconds:
            return current
        if current is not None and not self._lock.acquire(blocking=False):
            return current  # another request is refreshing: serve what we have meanwhile
        if current is None:
            self._lock.acquire()
        try:
            current = self._snapshot
            newest = self._max_id()
            if current is not None and newest == current.version:
                current.loaded_at = self.clock()  # nothing new: good for another window
                return current
            self._snapshot = self._load(newest)
            return self._snapshot
        finally:
            self._lock.release()

    def _load(self, newest: int) -> Snapshot:
        started = time.perf_counter()
        current = self._snapshot
        if current is None:
            history, added = self._read_all()
            newest = self._max_id() if self._overlap else newest
        else:
            fresh = self._read_after(current.version, newest)
            # a row written while the first full read ran may be in it already
            fresh = self._without_known(current.history, fresh)
            # the normalised frame goes back in as raw input (normalise_history drops its
            # derived columns), so no second copy of the raw history is kept
            history = normalise_history(pd.concat([current.history, fresh], ignore_index=True))
            added = len(fresh)
        log.info("dashboard: %d assessments in memory (%d new) in %.2fs", len(history), added,
                 time.perf_counter() - started)
        return Snapshot(history=history, version=newest, loaded_at=self.clock(),
                        read_at=pd.Timestamp.now(tz="UTC"))

    def _read_all(self) -> tuple[pd.DataFrame, int]:
        """The whole history with the storage's bulk reader (Arrow when available)."""
        before = self._max_id()
        raw = History(self.engine).report_frame()
        # rows appended during the read may or may not be in it: the next refresh reads
        # from ``before`` on and drops the ones already present
        self._overlap = self._max_id() != before
        self._first_version = before
        return normalise_history(raw), len(raw)

    def _read_after(self, after: int, upto: int) -> pd.DataFrame:
        """History rows with ``after < id <= upto`` (a refresh: few rows)."""
        if self._overlap:
            after, self._overlap = min(after, self._first_version), False
        table = history_table
        query = (sa.select(*(table.c[name] for name in COLUMNS))
                 .where(table.c.id > after, table.c.id <= upto).order_by(table.c.id))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame.from_records([tuple(row)[1:] for row in rows], columns=list(COLUMNS[1:]))
        frame["assessed_at"] = pd.to_datetime(frame["assessed_at"], utc=True)
        return frame

    @staticmethod
    def _without_known(history: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
        if fresh.empty or history.empty:
            return fresh
        since = fresh["assessed_at"].min()
        recent = history.loc[history["assessed_at"] >= since, ["platform", "item_key", "assessed_at"]]
        if recent.empty:
            return fresh
        known = set(zip(recent["platform"].astype(str), recent["item_key"], recent["assessed_at"]))
        keep = [(p, k, t) not in known for p, k, t in
                zip(fresh["platform"].astype(str), fresh["item_key"], fresh["assessed_at"])]
        return fresh[keep]


class SurveyCache:
    """The survey answers in memory, re-read when one is added (checked per request)."""

    def __init__(self, surveys: Surveys) -> None:
        self.surveys = surveys
        self._state: tuple[tuple[int, int], pd.DataFrame] | None = None
        self._lock = threading.Lock()

    def state(self) -> tuple[tuple[int, int], pd.DataFrame]:
        """(version, every answer): the version changes with every answer added."""
        version = self.surveys.version()
        with self._lock:
            if self._state is None or self._state[0] != version:
                self._state = (version, self.surveys.frame())
            return self._state
