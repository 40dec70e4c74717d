"""The durable inbox: the record of every event the service owes work for.

An event counts as received only once its row is committed here; the 202
goes out after that. Workers claim due rows with a lease, so an item whose
worker died is taken again when the lease runs out; rows for one item that
arrive close together are claimed, processed and closed together.

Why not a job library (Huey, RQ, Celery) as the record: Huey's consumer pops
a task from its queue before running it, so the task a killed consumer was
running is simply gone. Here nothing leaves the inbox until the work is done:
``pending`` -> ``leased`` (owner, lease_until) -> ``done`` | ``pending`` again
with ``not_before`` (retry) | ``failed`` (parked with ``last_error``, listed and
re-queued by ``itsm-align inbox``). Redis, when configured, only wakes idle
workers; it never holds the work.

Claiming: SQLite serialises writers (``BEGIN IMMEDIATE``, see store.py);
PostgreSQL uses ``SELECT ... FOR UPDATE SKIP LOCKED`` so many workers on many
hosts never wait on each other's rows.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .schema import inbox_table, versions_table

log = logging.getLogger(__name__)

PENDING, LEASED, DONE, FAILED = "pending", "leased", "done", "failed"

_COLUMNS = ("id", "platform", "delivery_id", "item_key", "subject", "action", "event_type", "version",
            "received_at", "state", "attempts", "not_before", "lease_owner", "lease_until", "last_error")


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    platform: str
    delivery_id: str
    item_key: str
    subject: str
    action: str
    event_type: str
    version: int | None
    received_at: float
    state: str
    attempts: int
    not_before: float
    lease_owner: str | None
    lease_until: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """All claimed rows of one item: processed once, closed together."""

    platform: str
    item_key: str
    owner: str
    rows: tuple[InboxRow, ...]

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]

    @property
    def attempts(self) -> int:
        """Tries so far, counted from the newest event: a new event for an item
        starts its count again (older rows of the group keep theirs)."""
        return max(self.rows, key=lambda row: row.id).attempts

    @property
    def subject(self) -> str:
        return "project" if any(row.subject == "project" for row in self.rows) else "ticket"

    @property
    def deleted(self) -> bool:
        """The newest event of the group deletes the item."""
        return max(self.rows, key=lambda row: row.id).action == "delete"

    @property
    def version(self) -> int | None:
        versions = [row.version for row in self.rows if row.version is not None]
        return max(versions) if versions else None


#: Due items, one head row each: the oldest owed row of the item. Only that row
#: is locked (PostgreSQL: FOR UPDATE SKIP LOCKED), so two workers never lock
#: rows of one item in opposite orders (which deadlocked when each took a
#: different row of the same item as its head).
_SELECT_HEADS = """
SELECT i.id, i.platform, i.item_key FROM inbox i
WHERE ((i.state = 'pending' AND i.not_before <= :now) OR (i.state = 'leased' AND i.lease_until <= :now))
  AND NOT EXISTS (
    SELECT 1 FROM inbox o WHERE o.state IN ('leased', 'pending')
      AND o.platform = i.platform AND o.item_key = i.item_key AND o.id < i.id)
  AND NOT EXISTS (
    SELECT 1 FROM inbox b WHERE b.state IN ('leased', 'pending')
      AND b.platform = i.platform AND b.item_key = i.item_key
      AND ((b.state = 'leased' AND b.lease_until > :now)
           OR (b.state = 'pending' AND b.attempts > 0 AND b.not_before > :now)))
ORDER BY i.not_before, i.id
LIMIT :scan
"""

_NEXT_DUE = """
SELECT MIN(i.not_before) FROM inbox i
WHERE i.state = 'pending'
  AND NOT EXISTS (
    SELECT 1 FROM inbox o WHERE o.state IN ('leased', 'pending')
      AND o.platform = i.platform AND o.item_key = i.item_key AND o.id < i.id)
"""

_LEASE_GROUP = f"""
UPDATE inbox SET state = 'leased', lease_owner = :owner, lease_until = :until, attempts = attempts + 1
WHERE state IN ('pending', 'leased') AND platform = :platform AND item_key = :item_key
  AND (state = 'pending' OR (state = 'leased' AND lease_until <= :now))
  AND (attempts = 0 OR not_before <= :now OR state = 'leased')
RETURNING {", ".join(_COLUMNS)}
"""


class _Slot:
    """One queued insert and, once committed, its result."""

    __slots__ = ("params", "finished", "inserted", "error")

    def __init__(self, params: tuple) -> None:
        self.params = params
        self.finished = False
        self.inserted = False
        self.error: BaseException | None = None


#: This process's id, kept current across fork() without a getpid() system call per insert.
_PID = os.getpid()


def _after_fork_in_child() -> None:
    global _PID
    _PID = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class GroupCommitWriter:
    """Group commit for SQLite: whichever request thread holds the process's
    writer lock writes every insert queued so far as one multi-row ``INSERT``
    (one statement, so one implicit transaction) and hands each waiting thread
    its own result.

    Why: SQLite has one writer at a time, shared by every gunicorn process.
    A writer that finds the lock taken sleeps in growing steps (1, 2, 5, 10
    ms...); sixteen request threads each committing alone spend their time in
    those sleeps. Batching whatever queued up meanwhile never contends inside
    the process and pays one commit per batch. A single autocommit statement
    holds SQLite's write lock only inside one C call: an explicit ``BEGIN
    ... COMMIT`` held it while the thread waited to take the GIL back between
    statements, and every other process waited with it. No extra thread: an
    uncontended request just commits its own row. Every request still answers
    only after its row is committed."""

    #: rows per statement (x 12 parameters, well under SQLite's 32,766 limit); each
    #: size's statement stays in the connection's statement cache (128 entries)
    MAX_BATCH = 64

    def __init__(self, engine: Engine, sql: str) -> None:
        self.engine = engine
        head, _, tail = sql.partition(" VALUES ")
        values, _, conflict = tail.partition(" ON CONFLICT")
        self._sql = [""] + [f"{head} VALUES {', '.join([values] * rows)} ON CONFLICT{conflict}"
                            for rows in range(1, self.MAX_BATCH + 1)]
        self.queue: "queue.SimpleQueue[_Slot]" = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.pid = _PID
        self._connection: Any = None
        self._file_lock: int | None = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:" \
                and not database.startswith("file:") and fcntl is not None:
            # Between processes (gunicorn workers), a blocking flock hands the write
            # over the moment it is free; SQLite's own busy handler would poll with
            # 1, 2, 5, 10... ms sleeps instead.
            self._file_lock = os.open(os.path.abspath(database) + ".ingest-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def insert(self, params: tuple) -> bool:
        slot = _Slot(params)
        self.queue.put(slot)
        with self.lock:
            if not slot.finished:  # nobody committed it yet: commit everything queued
                self._commit_queued()
        if slot.error is not None:
            raise slot.error
        return slot.inserted

    def _commit_queued(self) -> None:
        batch: list[_Slot] = []
        get = self.queue.get_nowait
        while len(batch) < self.MAX_BATCH and not self.queue.empty():
            batch.append(get())
        if self._connection is None:
            self._connection = self.engine.raw_connection()
        if self._file_lock is not None:
            fcntl.flock(self._file_lock, fcntl.LOCK_EX)
        try:
            cursor = self._connection.cursor()
            cursor.execute(self._sql[len(batch)], [value for slot in batch for value in slot.params])
            inserted, last = cursor.rowcount, cursor.lastrowid
        except BaseException as error:  # e.g. locked past busy_timeout, or one bad row
            inserted, last = -1, None
            self._recover()
            if len(batch) > 1 and isinstance(error, Exception):
                # one bad row must not fail the others: each alone, each with its own outcome
                self._commit_alone(batch)
            else:
                for slot in batch:
                    slot.error = error
        finally:
            if self._file_lock is not None:
                fcntl.flock(self._file_lock, fcntl.LOCK_UN)
        if inserted == len(batch):
            for slot in batch:
                slot.inserted = True
        elif inserted > 0:
            # Some were replays (ON CONFLICT DO NOTHING skipped them). The rows this
            # statement added have the rowids just below lastrowid (SQLite gives each
            # new row max(rowid) + 1, and nobody else wrote during the statement).
            try:
                new = set(cursor.execute("SELECT platform, delivery_id FROM inbox WHERE id > ? AND id <= ?",
                                         (last - inserted, last)).fetchall())
            except BaseException as error:
                for slot in batch:
                    slot.error = error
                new = set()
            for slot in batch:
                key = (slot.params[0], slot.params[1])
                slot.inserted = key in new
                new.discard(key)  # the same delivery twice in one batch: the first one stored it
        for slot in batch:
            slot.finished = True

    def _recover(self) -> None:
        """After a failed statement: roll back, or drop a broken connection."""
        if self._connection is None:
            return
        try:
            self._connection.rollback()
        except Exception:
            self._connection.invalidate()
            self._connection = None

    def _commit_alone(self, batch: list[_Slot]) -> None:
        """Insert each row of a failed batch on its own (the caller holds the locks)."""
        for slot in batch:
            try:
                if self._connection is None:
                    self._connection = self.engine.raw_connection()
                cursor = self._connection.cursor()
                cursor.execute(self._sql[1], list(slot.params))
                slot.inserted = cursor.rowcount == 1
            except BaseException as error:
                slot.error = error
                self._recover()
            slot.finished = True


class PostgresGroupCommitWriter(GroupCommitWriter):
    """Group commit for PostgreSQL: the same batching, one multi-row ``INSERT
    ... ON CONFLICT DO NOTHING RETURNING`` and one COMMIT (one WAL flush) for
    every insert queued while the previous commit was in flight; ``RETURNING``
    says exactly which deliveries were new. PostgreSQL has no single writer,
    but each commit waits for its WAL flush: a request thread committing alone
    pays a flush per delivery."""

    def __init__(self, engine: Engine, sql: str) -> None:
        super().__init__(engine, sql + " RETURNING platform, delivery_id")
        self._file_lock = None  # no single writer to hand over between processes

    def _commit_queued(self) -> None:
        batch: list[_Slot] = []
        get = self.queue.get_nowait
        while len(batch) < self.MAX_BATCH and not self.queue.empty():
            batch.append(get())
        try:
            cursor = self._autocommit_connection().cursor()
            cursor.execute(self._sql[len(batch)], [value for slot in batch for value in slot.params])
            new = set(cursor.fetchall())  # the statement committed itself: one round trip
        except Exception:  # one bad row, or the connection broke: each alone, each with its own outcome
            self._recover()
            self._commit_alone_pg(batch)
            return
        for slot in batch:
            key = (slot.params[0], slot.params[1])
            slot.inserted = key in new
            new.discard(key)  # the same delivery twice in one batch: the first one stored it
            slot.finished = True

    def _autocommit_connection(self) -> Any:
        """This writer's own connection, in autocommit mode (each INSERT is its own transaction)."""
        if self._connection is None:
            self._connection = self.engine.raw_connection()
            self._connection.driver_connection.autocommit = True
        return self._connection

    def _recover(self) -> None:
        """Drop the connection after a failure (autocommit: nothing to roll back)."""
        if self._connection is not None:
            self._connection.invalidate()
            self._connection = None

    def _commit_alone_pg(self, batch: list[_Slot]) -> None:
        for slot in batch:
            try:
                cursor = self._autocommit_connection().cursor()
                cursor.execute(self._sql[1], list(slot.params))
                slot.inserted = bool(cursor.fetchall())
            except BaseException as error:
                slot.error = error
                self._recover()
            slot.finished = True


class Inbox:
    """Durable event inbox on SQLite or PostgreSQL (see module docstring)."""

    def __init__(self, engine: Engine, *, coalesce_seconds: float = 0.2,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.coalesce_seconds = coalesce_seconds
        self.clock = clock
        self._pg = engine.dialect.name == "postgresql"
        mark = "%s" if self._pg else "?"
        columns = ("platform", "delivery_id", "item_key", "subject", "action", "event_type", "version",
                   "payload", "received_at", "state", "attempts", "not_before")
        self._insert_sql = (
            f"INSERT INTO inbox ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
            "ON CONFLICT (platform, delivery_id) DO NOTHING")
        self._version_sql = f"SELECT version FROM item_versions WHERE platform = {mark} AND item_key = {mark}"
        self._writer: GroupCommitWriter | None = None
        self._writer_lock = threading.Lock()

    def _group_writer(self) -> GroupCommitWriter:
        writer = self._writer
        if writer is None or writer.pid != _PID:  # none yet, or we are a forked child
            with self._writer_lock:
                writer = self._writer
                if writer is None or writer.pid != _PID:
                    kind = PostgresGroupCommitWriter if self._pg else GroupCommitWriter
                    writer = self._writer = kind(self.engine, self._insert_sql)
        return writer

    # ------------------------------------------------------------ ingest (hot path)
    def add(self, platform: str, delivery_id: str, item_key: str, *, event_type: str, payload: bytes,
            subject: str = "ticket", action: str = "upsert", version: int | None = None,
            delay: float = 0.0) -> bool:
        """Store one event; False when ``(platform, delivery_id)`` is already
        there (a replay: nothing done). Committed when this returns.

        Raw DBAPI through SQLAlchemy's pool: the ingest endpoint's cost is
        mostly this call, so no ORM or statement compilation on the way. One
        INSERT ... ON CONFLICT DO NOTHING is both the store and the dedupe.
        SQLite goes through the process's :class:`GroupCommitWriter`. ``delay``
        postpones the row beyond the coalescing window (scheduled work)."""
        now = self.clock()
        params = (platform, delivery_id, item_key, subject, action, event_type, version, payload, now,
                  PENDING, 0, now + self.coalesce_seconds + delay)
        return self._group_writer().insert(params)

    def processed_version(self, platform: str, item_key: str) -> int | None:
        """Highest version (ServiceNow ``sys_mod_count``) processed for the item."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._version_sql, (platform, item_key))
            row = cursor.fetchone()
            cursor.close()
            connection.commit()
        finally:
            connection.close()
        return None if row is None else int(row[0])

    # ------------------------------------------------------------ worker side
    def claim(self, owner: str, *, lease_seconds: float, limit: int = 16) -> list[Claim]:
        """Lease up to ``limit`` due items (each with all its pending rows).

        A deadlock PostgreSQL still reports (it breaks one by failing a
        transaction) is retried quietly: nothing was leased by the failed try."""
        for attempt in range(1, 4):
            try:
                return self._claim(owner, lease_seconds=lease_seconds, limit=limit)
            except sa.exc.DBAPIError as error:
                if attempt == 3 or getattr(getattr(error, "orig", None), "sqlstate", None) != "40P01":
                    raise
                log.warning("claim met a deadlock on PostgreSQL; trying again (%d of 3)", attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _claim(self, owner: str, *, lease_seconds: float, limit: int) -> list[Claim]:
        now = self.clock()
        claims: list[Claim] = []
        heads_sql = _SELECT_HEADS + (" FOR UPDATE OF i SKIP LOCKED" if self._pg else "")
        with self.engine.begin() as connection:
            heads = connection.execute(sa.text(heads_sql), {"now": now, "scan": limit * 4}).all()
            seen: set[tuple[str, str]] = set()
            for _id, platform, item_key in heads:
                if (platform, item_key) in seen:
                    continue
                seen.add((platform, item_key))
                rows = connection.execute(sa.text(_LEASE_GROUP), {
                    "owner": owner, "until": now + lease_seconds, "now": now,
                    "platform": platform, "item_key": item_key}).all()
                if rows:
                    claims.append(Claim(platform, item_key, owner,
                                        tuple(sorted((InboxRow(*row) for row in rows), key=lambda r: r.id))))
                if len(claims) >= limit:
                    break
        return claims

    def _close(self, claim: Claim, values: dict) -> int:
        table = inbox_table
        with self.engine.begin() as connection:
            result = connection.execute(
                table.update()
                .where(table.c.id.in_(claim.ids), table.c.lease_owner == claim.owner, table.c.state == LEASED)
                .values(**values))
            return result.rowcount

    def complete(self, claim: Claim) -> int:
        """Close every row of the claim as done (and remember its version)."""
        closed = self._close(claim, {"state": DONE, "lease_until": None, "last_error": None})
        if claim.version is not None:
            self.record_version(claim.platform, claim.item_key, claim.version)
        return closed

    def retry(self, claim: Claim, *, delay: float, error: str) -> int:
        """Back to pending, due again in ``delay`` seconds (only this item waits)."""
        return self._close(claim, {"state": PENDING, "not_before": self.clock() + delay,
                                   "lease_until": None, "last_error": error})

    def fail(self, claim: Claim, error: str) -> int:
        """Park the item as failed with the reason (see ``itsm-align inbox``)."""
        return self._close(claim, {"state": FAILED, "lease_until": None, "last_error": error})

    def release(self, claim: Claim, *, not_before: float) -> int:
        """Hand a claim back untried (the worker paused before reaching it)."""
        return self._close(claim, {"state": PENDING, "not_before": not_before, "lease_until": None,
                                   "attempts": inbox_table.c.attempts - 1})

    def expedite(self, platform: str) -> int:
        """Make the platform's backed-off items (pending after a failed try)
        due now: it answers again, so the backlog drains at once rather than
        at each item's back-off. Scheduled work (project rollups) keeps its time."""
        table = inbox_table
        now = self.clock()
        with self.engine.begin() as connection:
            return connection.execute(table.update().where(
                table.c.state == PENDING, table.c.platform == platform, table.c.attempts > 0,
                table.c.not_before > now).values(not_before=now)).rowcount

    def prune(self, *, older_than: float) -> int:
        """Delete done rows received before ``older_than`` (unix seconds).

        Done rows are kept for a while because they are also the replay
        record: a delivery the platform retries within the retention window is
        still answered "duplicate". Pending, leased and failed rows are never
        pruned: they are work still owed."""
        table = inbox_table
        with self.engine.begin() as connection:
            return connection.execute(
                table.delete().where(table.c.state == DONE, table.c.received_at < older_than)).rowcount

    def record_version(self, platform: str, item_key: str, version: int) -> None:
        table = versions_table
        with self.engine.begin() as connection:
            current = connection.execute(
                sa.select(table.c.version).where(table.c.platform == platform, table.c.item_key == item_key)
            ).scalar()
            if current is None:
                connection.execute(table.insert().values(platform=platform, item_key=item_key, version=version))
            elif version > current:
                connection.execute(table.update().where(
                    table.c.platform == platform, table.c.item_key == item_key).values(version=version))

    # ------------------------------------------------------------ operators
    def depth(self, *, include_done: bool = True) -> dict[str, int]:
        """Row count per state (``pending``, ``leased``, ``done``, ``failed``).
        ``include_done=False`` counts only what is owed or parked (an index range,
        cheap however long the history of done rows), for health checks."""
        table = inbox_table
        counts = {PENDING: 0, LEASED: 0, DONE: 0, FAILED: 0}
        query = sa.select(table.c.state, sa.func.count()).group_by(table.c.state)
        if not include_done:
            del counts[DONE]
            query = query.where(table.c.state.in_([PENDING, LEASED, FAILED]))
        with self.engine.connect() as connection:
            for state, count in connection.execute(query):
                counts[state] = count
        return counts

    def rows(self, *, state: str | None = None, platform: str | None = None,
             item_key: str | None = None) -> list[InboxRow]:
        table = inbox_table
        query = sa.select(*(table.c[name] for name in _COLUMNS)).order_by(table.c.id)
        if state is not None:
            query = query.where(table.c.state == state)
        if platform is not None:
            query = query.where(table.c.platform == platform)
        if item_key is not None:
            query = query.where(table.c.item_key == item_key)
        with self.engine.connect() as connection:
            return [InboxRow(*row) for row in connection.execute(query)]

    def payload(self, row_id: int) -> bytes | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(inbox_table.c.payload).where(inbox_table.c.id == row_id)).scalar()
        return None if value is None else bytes(value)

    def requeue(self, ids: Sequence[int] | None = None) -> int:
        """Failed rows back to pending with a fresh attempt budget; ``None`` = all failed."""
        table = inbox_table
        query = table.update().where(table.c.state == FAILED)
        if ids is not None:
            query = query.where(table.c.id.in_(list(ids)))
        with self.engine.begin() as connection:
            return connection.execute(query.values(
                state=PENDING, attempts=0, not_before=self.clock(), lease_owner=None, lease_until=None)).rowcount

    def scheduled(self, *, after: float) -> int:
        """Pending rows not due before ``after`` (retries waiting out a back-off,
        scheduled project rollups)."""
        table = inbox_table
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).where(
                table.c.state == PENDING, table.c.not_before > after)).scalar() or 0

    def failures_by_reason(self, *, limit: int = 10) -> list[tuple[str, str, int]]:
        """(platform, reason, items) of parked rows, most frequent first; the
        reason is the first line of the platform's message, cut at 160 characters."""
        table = inbox_table
        counts: dict[tuple[str, str], set[str]] = {}
        with self.engine.connect() as connection:
            for platform, key, error in connection.execute(
                    sa.select(table.c.platform, table.c.item_key, table.c.last_error)
                    .where(table.c.state == FAILED)):
                reason = (error or "no message").strip().splitlines()[0][:160]
                counts.setdefault((platform, reason), set()).add(key)
        ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return [(platform, reason, len(keys)) for (platform, reason), keys in ranked[:limit]]

    def depth_by_platform(self) -> dict[str, dict[str, int]]:
        """platform -> rows per owed or parked state (pending, leased, failed)."""
        table = inbox_table
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as connection:
            for platform, state, count in connection.execute(
                    sa.select(table.c.platform, table.c.state, sa.func.count())
                    .where(table.c.state.in_([PENDING, LEASED, FAILED]))
                    .group_by(table.c.platform, table.c.state)):
                out.setdefault(platform, {PENDING: 0, LEASED: 0, FAILED: 0})[state] = count
        return out

    def oldest_owed(self) -> dict[str, float]:
        """platform -> when its oldest owed row (pending or leased) was received
        (unix seconds): the backlog's age, for /metrics."""
        table = inbox_table
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(table.c.platform, sa.func.min(table.c.received_at))
                .where(table.c.state.in_([PENDING, LEASED]), ~table.c.item_key.like("rollup:%"))
                .group_by(table.c.platform)).all()
        return {platform: float(received) for platform, received in rows}

    def next_due(self) -> float | None:
        """When the earliest item can be claimed (for idle waits): the
        ``not_before`` of each item's oldest owed row. Newer rows of an item
        whose oldest row waits (back-off, Retry-After, open breaker) or is
        leased are claimed only with it, so they do not count; counting them
        ("due now") made idle workers spin on claims that could take nothing,
        each a write transaction on SQLite, for as long as a platform was down."""
        with self.engine.connect() as connection:
            return connection.execute(sa.text(_NEXT_DUE)).scalar()
