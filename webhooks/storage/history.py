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
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

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


def team_of(item: WorkItem) -> str | None:
    """The team an item belongs to: its assignment group (ServiceNow, or a Jira
    team field mapped to it), else its first component (Jira)."""
    return item.assignment_group or (item.components[0] if item.components else None)


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
