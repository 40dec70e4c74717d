"""Running totals of what the workers did, kept in the service database so
that every worker process (on any host) adds to the same numbers and
``serve``'s /metrics can show them (``worker_counters`` in schema.py)."""
from __future__ import annotations

from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import counters_table

#: Upper bounds (seconds) of the event-to-written latency histogram.
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


def latency_increments(seconds: float) -> dict[str, float]:
    """The counter increments one observation of ``seconds`` makes (cumulative buckets)."""
    out = {f"latency_le_{bound:g}": 1.0 for bound in LATENCY_BUCKETS if seconds <= bound}
    out["latency_count"] = 1.0
    out["latency_sum"] = max(0.0, seconds)
    return out


class WorkerCounters:
    """``add(platform, {name: amount})`` in one statement; ``totals()`` for /metrics."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._insert = insert

    def add(self, platform: str, amounts: Mapping[str, float]) -> None:
        if not amounts:
            return
        table = counters_table
        statement = self._insert(table).values(
            [{"platform": platform, "name": name, "value": float(value)} for name, value in amounts.items()])
        statement = statement.on_conflict_do_update(
            index_elements=["platform", "name"], set_={"value": table.c.value + statement.excluded.value})
        with self.engine.begin() as connection:
            connection.execute(statement)

    def totals(self) -> dict[str, dict[str, float]]:
        """platform -> name -> running total."""
        out: dict[str, dict[str, float]] = {}
        with self.engine.connect() as connection:
            for platform, name, value in connection.execute(
                    sa.select(counters_table.c.platform, counters_table.c.name, counters_table.c.value)):
                out.setdefault(platform, {})[name] = value
        return out
