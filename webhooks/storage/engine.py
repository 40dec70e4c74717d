"""Database engine creation for the inbox, history and state store.

One URL picks the engine: ``sqlite:///path`` (the embedded default) or
``postgresql+psycopg://user@host:port/db`` (shared by many web and worker
processes on many hosts). SQLite runs in WAL mode with
``synchronous=NORMAL`` (durable across process crashes, the fsync cost of a
commit paid only at checkpoints) and a busy timeout, and every transaction
starts with ``BEGIN IMMEDIATE`` so two workers never both read a row as free.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from .schema import metadata


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str, *, create_tables: bool = True) -> Engine:
    """Engine for ``url`` with the settings the service relies on; creates
    the tables (idempotent) unless ``create_tables`` is false."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  pool_size=32, max_overflow=32)
        _tune_sqlite(engine)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(parsed, pool_size=16, max_overflow=16, pool_pre_ping=True)
    else:
        raise ValueError(
            f"service.database_url {url!r}: use sqlite:///path/to/file.sqlite3 or "
            "postgresql+psycopg://user:password@host:5432/dbname")
    if create_tables:
        _create_tables(engine)
    return engine


def _create_tables(engine: Engine, attempts: int = 8) -> None:
    """``create_all``, safe when several processes start at once (web workers and
    workers on one SQLite file): a lost race ("database is locked" while another
    process switches the file to WAL, "table ... already exists" between the
    existence check and the CREATE) is simply tried again."""
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == attempts:
                raise
            time.sleep(0.02 * attempt)


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to a table in a later release (always nullable) are added
    to a database made by an earlier one: ``create_all`` only creates tables."""
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(f"table {table.name} lacks the required column {column.name}: "
                                   "this database was made by another version of itsm-align")
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as connection:
                connection.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
        indexes = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:  # indexes added in a later release
            if index.name not in indexes:
                index.create(engine, checkfirst=True)


#: WAL pages after which any SQLite writer checkpoints (see ``checkpoint``).
WAL_AUTOCHECKPOINT_PAGES = 8192


def checkpoint(engine: Engine) -> None:
    """Move committed WAL pages into the SQLite database file without blocking
    readers or writers (PASSIVE). Called by workers so that the webhook
    process never pays for checkpoints while a client waits for its ack.
    Nothing to do on PostgreSQL."""
    if not is_sqlite(engine):
        return
    connection = engine.raw_connection()
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # let SQLAlchemy's "begin" hook below emit BEGIN itself; single
        # statements outside a transaction (the ingest INSERT) autocommit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # no mmap: with several processes appending to one file, re-mapping as it
        # grows made ingest slower and far less steady (benchmarks/ingest.py)
        # Copying the WAL back into the database (a checkpoint) is left to the
        # workers (``checkpoint`` below, about once a second), off the webhook's
        # ack path; this ceiling (32 MiB of WAL) only bounds the WAL when no
        # worker runs.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_path(url: str) -> str | None:
    """The file behind a sqlite URL (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return os.path.abspath(os.path.expanduser(parsed.database))


def describe(engine: Engine) -> str:
    """Where the data lives, for logs: a SQLite file as its absolute path (a
    relative ``sqlite:///`` URL depends on the working directory), any other
    database as its URL without the password."""
    path = sqlite_path(engine.url.render_as_string(hide_password=False)) if is_sqlite(engine) else None
    if path is not None and engine.url.database != ":memory:":
        return f"SQLite file {path}"
    return engine.url.render_as_string(hide_password=True)
