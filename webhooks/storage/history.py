"""Every assessment ever made, appended, for reports and for related items.

SQLAlchemy Core tables, so the same code runs on SQLite (default) and
PostgreSQL. Rows are never updated: a re-assessment is a new row, a deleted
item gets a row with ``deleted`` set. ``latest`` rebuilds the
:class:`~itsm_align.scoring.types.Assessment` the engine receives as a related
item (parents, project members); ``frame`` gives pandas what reports need.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from itsm_align.scoring.records import team_of  # noqa: F401  (also imported from here)
from itsm_align.scoring.types import Assessment, Evidence, Match, Nature, RuleError, WorkItem

from .schema import history_table



def _evidence_json(evidence: Sequence[Evidence]) -> str:
    return json.dumps([
        {"objective": e.objective, "evidence": e.evidence,
         "matches": [{"objective": m.objective, "confidence": m.confidence, "rule_id": m.rule_id,
                      "reason": m.reason, "nature": m.nature.value if m.nature else None}
                     for m in e.matches]}
        for e in evidence], separators=(",", ":"))


def _evidence_from(text: str) -> tuple[Evidence, ...]:
    return tuple(
        Evidence(objective=e["objective"], evidence=e["evidence"], matches=tuple(
            Match(objective=m["objective"], confidence=m["confidence"], rule_id=m["rule_id"],
                  reason=m["reason"], nature=Nature(m["nature"]) if m.get("nature") else None)
            for m in e["matches"]))
        for e in json.loads(text or "[]"))


def _row(assessment: Assessment, item: WorkItem | None, at: datetime, url: str | None,
         source: str) -> dict[str, Any]:
    return {
        "platform": assessment.platform, "item_key": assessment.item_key, "kind": assessment.kind,
        "project": item.project if item else None, "type": item.type if item else None,
        "objective": assessment.objective, "score": assessment.score,
        "nature": assessment.nature.value, "rationale": assessment.rationale,
        "overridden": assessment.overridden, "ruleset_version": assessment.ruleset_version,
        "rule_ids": json.dumps(sorted({m.rule_id for m in assessment.matches})),
        "errors": json.dumps([{"rule_id": e.rule_id, "message": e.message} for e in assessment.errors]),
        "evidence": _evidence_json(assessment.evidence),
        "effort": item.effort if item else None, "parent": item.parent if item else None,
        "deleted": False, "assessed_at": at,
        "team": team_of(item) if item else None, "summary": (item.summary or None) if item else None,
        "url": url, "source": source,
    }


class History:
    """Append-only assessment history (see module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, assessment: Assessment, item: WorkItem | None = None, *,
               at: datetime | None = None, url: str | None = None, source: str = "worker") -> int:
        """Record one assessment (with what the item says about project, type,
        effort, parent, team and summary, and where it lives); returns the row id."""
        with self.engine.begin() as connection:
            return connection.execute(history_table.insert().values(
                **_row(assessment, item, at or datetime.now(timezone.utc), url, source))).inserted_primary_key[0]

    def append_many(self, assessed: Sequence[tuple[Assessment, WorkItem, str | None]], *,
                    source: str = "backfill", at: datetime | None = None) -> int:
        """Record many (assessment, item, url) in one transaction (back-fill);
        returns how many rows were added."""
        if not assessed:
            return 0
        when = at or datetime.now(timezone.utc)
        rows = [_row(assessment, item, when, url, source) for assessment, item, url in assessed]
        with self.engine.begin() as connection:
            connection.execute(history_table.insert(), rows)
        return len(rows)

    def append_deleted(self, platform: str, item_key: str, *, kind: str = "ticket",
                       at: datetime | None = None) -> int:
        """Record that the item was deleted on the platform (nothing is written)."""
        with self.engine.begin() as connection:
            return connection.execute(history_table.insert().values(
                platform=platform, item_key=item_key, kind=kind, deleted=True, overridden=False,
                rule_ids="[]", errors="[]", evidence="[]",
                assessed_at=at or datetime.now(timezone.utc))).inserted_primary_key[0]

    def latest(self, platform: str, item_key: str) -> Assessment | None:
        """The newest assessment of the item; None if never assessed or deleted since."""
        table = history_table
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(table).where(table.c.platform == platform, table.c.item_key == item_key)
                .order_by(table.c.id.desc()).limit(1)).mappings().first()
        return None if row is None or row["deleted"] else self._assessment(row)

    def children(self, platform: str, parent: str, *, limit: int = 500) -> list[str]:
        """Keys of the live items whose latest assessment names ``parent`` as
        their parent or epic (at most ``limit``)."""
        table = history_table
        newest = (sa.select(sa.func.max(table.c.id))
                  .where(table.c.platform == platform, table.c.item_key.in_(
                      sa.select(table.c.item_key).where(table.c.platform == platform, table.c.parent == parent)))
                  .group_by(table.c.item_key))
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.item_key).where(
                table.c.id.in_(newest), table.c.parent == parent, table.c.deleted.is_(False))
                .order_by(table.c.item_key).limit(limit)).all()
        return [key for (key,) in rows]

    def latest_in_project(self, platform: str, project: str) -> dict[str, Assessment]:
        """Latest live assessment of every ticket of a project, by key."""
        table = history_table
        newest = (sa.select(sa.func.max(table.c.id))
                  .where(table.c.platform == platform, table.c.project == project, table.c.kind == "ticket")
                  .group_by(table.c.item_key))
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table).where(table.c.id.in_(newest))).mappings().all()
        return {row["item_key"]: self._assessment(row) for row in rows if not row["deleted"]}

    def efforts(self, platform: str, keys: Sequence[str]) -> dict[str, float | None]:
        """Effort recorded with the latest assessment of each key."""
        table = history_table
        newest = (sa.select(sa.func.max(table.c.id))
                  .where(table.c.platform == platform, table.c.item_key.in_(list(keys)))
                  .group_by(table.c.item_key))
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.item_key, table.c.effort)
                                      .where(table.c.id.in_(newest))).all()
        return {key: effort for key, effort in rows}

    @staticmethod
    def _assessment(row: Any) -> Assessment:
        return Assessment(
            item_key=row["item_key"], platform=row["platform"], objective=row["objective"],
            score=row["score"], nature=Nature(row["nature"]), rationale=row["rationale"] or "",
            evidence=_evidence_from(row["evidence"]), ruleset_version=row["ruleset_version"] or "",
            overridden=bool(row["overridden"]),
            errors=tuple(RuleError(e["rule_id"], e["message"]) for e in json.loads(row["errors"] or "[]")),
            kind=row["kind"])

    def last_written(self) -> dict[str, datetime]:
        """platform -> when a worker last recorded an assessment (its last write-back)."""
        table = history_table
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.platform, sa.func.max(table.c.assessed_at))
                                      .where(table.c.source == "worker").group_by(table.c.platform)).all()
        return {platform: _aware(at) for platform, at in rows if at is not None}

    def frame(self, *, platform: str | None = None, since: datetime | None = None,
              latest_only: bool = False, include_deleted: bool = False):  # -> pandas.DataFrame
        """History as a DataFrame (one row per assessment; ``latest_only``: the
        newest per item). ``rule_ids``/``errors`` are decoded to lists."""
        import pandas as pd

        table = history_table
        query = sa.select(*(c for c in table.c if c.name != "evidence"))
        if platform is not None:
            query = query.where(table.c.platform == platform)
        if since is not None:
            query = query.where(table.c.assessed_at >= since)
        if latest_only:
            newest = sa.select(sa.func.max(table.c.id)).group_by(table.c.platform, table.c.item_key)
            query = query.where(table.c.id.in_(newest))
        with self.engine.connect() as connection:
            frame = pd.read_sql(query.order_by(table.c.id), connection)
        if not include_deleted:
            frame = frame[~frame["deleted"].astype(bool)].reset_index(drop=True)
        frame["rule_ids"] = frame["rule_ids"].map(json.loads)
        frame["errors"] = frame["errors"].map(json.loads)
        frame["assessed_at"] = pd.to_datetime(frame["assessed_at"], utc=True)
        return frame

    def report_frame(self, *, since: datetime | None = None, until: datetime | None = None):
        """Every assessment with ``since <= assessed_at < until`` (either open), deletions
        included, in the columns ``itsm_align.reports`` reads, for a report over millions
        of rows (-> pandas.DataFrame, oldest row first).

        Reads with connectorx into Arrow (no Python object per cell; two partitions by
        ``id`` on SQLite and PostgreSQL) when connectorx and pyarrow are installed, else
        with ``pandas.read_sql``. The low-cardinality columns come back as categoricals;
        ``rule_ids`` stays JSON text (the reports decode only the rows they count);
        ``assessed_at`` is UTC.
        """
        import pandas as pd

        names = [c for c in _REPORT_COLUMNS if c in history_table.c]
        where = []
        for op, moment in ((">=", since), ("<", until)):
            if moment is not None:
                where.append(f"assessed_at {op} '{_sql_time(moment, self.engine.dialect.name)}'")
        sql = (f"SELECT id, {', '.join(names)} FROM {history_table.name}"
               + (f" WHERE {' AND '.join(where)}" if where else ""))
        table = _read_arrow(self.engine, sql)
        if table is not None:
            import pyarrow.compute as pc

            table = table.sort_by("id")
            columns = {name: (pc.dictionary_encode(table[name]) if name in _CATEGORY_COLUMNS
                              else table[name]) for name in names}
            frame = pd.DataFrame({name: column.to_pandas() for name, column in columns.items()})
        else:
            with self.engine.connect() as connection:
                frame = pd.read_sql(sa.text(sql + " ORDER BY id"), connection).drop(columns="id")
            for name in _CATEGORY_COLUMNS:
                frame[name] = frame[name].astype("category")
        for name in ("overridden", "deleted"):
            frame[name] = frame[name].fillna(False).astype(bool)
        frame["assessed_at"] = pd.to_datetime(frame["assessed_at"], utc=True)
        return frame


#: Columns ``report_frame`` reads (``evidence``, ``rationale``, ``errors`` are not needed).
_REPORT_COLUMNS = ("platform", "item_key", "kind", "project", "type", "objective", "score",
                   "nature", "overridden", "rule_ids", "effort", "deleted", "assessed_at", "team",
                   "summary", "url")
_CATEGORY_COLUMNS = ("platform", "kind", "project", "type", "objective", "nature", "team")


def _sql_time(moment: datetime, dialect: str) -> str:
    """A UTC time as the history column stores it (SQLite: naive UTC text), for a literal."""
    utc = (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None
           else moment.astimezone(timezone.utc))
    if dialect == "sqlite":
        return utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return utc.isoformat()


def _read_arrow(engine: Engine, sql: str):  # -> pyarrow.Table | None
    """``sql`` read by connectorx into Arrow; None when connectorx or pyarrow is missing
    or the database is neither SQLite nor PostgreSQL (the caller then uses pandas)."""
    try:
        import connectorx
        import pyarrow  # noqa: F401  (connectorx's Arrow result needs it)
    except ImportError:
        return None
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        source = f"sqlite://{Path(url.database).expanduser().resolve()}"
    elif url.get_backend_name() == "postgresql":
        source = url.set(drivername="postgresql").render_as_string(hide_password=False)
    else:
        return None
    return connectorx.read_sql(source, sql, return_type="arrow", partition_on="id",
                               partition_num=2)


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns: they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
