"""KeyValueStore on the service database, for adapters' small durable state
(e.g. which Jira option id belongs to which objective id)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import state_table



class DatabaseStore:
    """``integration.base.KeyValueStore`` backed by the ``adapter_state`` table.

    ``namespace`` prefixes keys so two adapters never collide."""

    def __init__(self, engine: Engine, namespace: str = "") -> None:
        self.engine = engine
        self.prefix = f"{namespace}:" if namespace else ""

    def get(self, key: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(state_table.c.value).where(state_table.c.key == self.prefix + key)).scalar()

    def set(self, key: str, value: str) -> None:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(state_table).values(key=self.prefix + key, value=value)
        statement = statement.on_conflict_do_update(index_elements=["key"], set_={"value": value})
        with self.engine.begin() as connection:
            connection.execute(statement)
