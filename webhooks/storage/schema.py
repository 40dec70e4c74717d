"""Every table of the service, in one place: the inbox (what is owed), the
ServiceNow version marks, the assessment history, the adapters' state and
the stakeholder surveys (rounds, invitation links, answers).

The storage modules (inbox.py, history.py, statestore.py, surveys.py) import their tables
from here and nothing imports them back, so there is no import circle and
``create_db_engine`` creates every table from this one ``metadata``.
SQLAlchemy Core, so the same definitions run on SQLite and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa

#: Every table of the service lives on this metadata.
metadata = sa.MetaData()

# ---------------------------------------------------------------- inbox

inbox_table = sa.Table(
    "inbox", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("delivery_id", sa.String(200), nullable=False),
    sa.Column("item_key", sa.String(200), nullable=False),
    sa.Column("subject", sa.String(16), nullable=False),  # ticket | project
    sa.Column("action", sa.String(16), nullable=False),  # upsert | delete
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=True),  # ServiceNow sys_mod_count
    sa.Column("payload", sa.LargeBinary, nullable=False),  # the raw body, as received
    sa.Column("received_at", sa.Float, nullable=False),  # unix seconds
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", sa.Float, nullable=False),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("platform", "delivery_id", name="uq_inbox_delivery"),
    # One secondary index serves the worker's every query (due rows by state,
    # an item's rows by state + item): each index costs the ingest INSERT a
    # b-tree update, and the INSERT is most of what the webhook's ack waits for.
    sa.Index("ix_inbox_state_item", "state", "platform", "item_key"),
)

#: Highest ServiceNow ``sys_mod_count`` processed per record: older events are dropped.
versions_table = sa.Table(
    "item_versions", metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("item_key", sa.String(200), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)


# ---------------------------------------------------------------- history
history_table = sa.Table(
    "assessment_history", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("item_key", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("project", sa.String(200), nullable=True),
    sa.Column("type", sa.String(100), nullable=True),
    sa.Column("objective", sa.String(200), nullable=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("nature", sa.String(16), nullable=True),
    sa.Column("rationale", sa.Text, nullable=True),
    sa.Column("overridden", sa.Boolean, nullable=False, default=False),
    sa.Column("ruleset_version", sa.String(100), nullable=True),
    sa.Column("rule_ids", sa.Text, nullable=False, default="[]"),  # JSON list of matched rule ids
    sa.Column("errors", sa.Text, nullable=False, default="[]"),  # JSON list of {rule_id, message}
    sa.Column("evidence", sa.Text, nullable=False, default="[]"),  # JSON, to rebuild the Assessment
    sa.Column("effort", sa.Float, nullable=True),
    sa.Column("parent", sa.String(200), nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
    # for reports and the dashboard (added later: nullable, filled from then on)
    sa.Column("team", sa.String(200), nullable=True),  # Jira component / ServiceNow assignment group
    sa.Column("summary", sa.Text, nullable=True),
    sa.Column("url", sa.Text, nullable=True),  # the item on its platform
    sa.Column("source", sa.String(16), nullable=True),  # worker | backfill
    sa.Index("ix_history_item", "platform", "item_key", "id"),
    sa.Index("ix_history_project", "platform", "project", "id"),
    sa.Index("ix_history_parent", "platform", "parent"),  # children of an item, to re-assess them
)


# ---------------------------------------------------------------- adapter state
state_table = sa.Table(
    "adapter_state", metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


# ---------------------------------------------------------------- worker counters
#: What the workers did, by platform: running totals every worker process adds to
#: (so ``serve``'s /metrics shows all workers, on any host): items processed,
#: written, unchanged, overridden, failed, retries, rate-limited, and the
#: event-to-written latency histogram (``latency_le_<seconds>``, ``latency_sum``).
counters_table = sa.Table(
    "worker_counters", metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)


# ---------------------------------------------------------------- stakeholder surveys
#: One survey round ("2026-Q1 business survey"); ``closed_at`` set: no more answers.
survey_rounds_table = sa.Table(
    "survey_rounds", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("title", name="uq_survey_round_title"),
)

#: One link per invitation; only the SHA-256 of its token is kept. ``used_at``
#: set: the link has been answered (one answer per token).
survey_invitations_table = sa.Table(
    "survey_invitations", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round_id", sa.Integer, sa.ForeignKey("survey_rounds.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("token_hash", name="uq_survey_invitation_token"),
)

#: One row per respondent and objective (form answers and imported files alike).
survey_answers_table = sa.Table(
    "survey_answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("round_id", sa.Integer, sa.ForeignKey("survey_rounds.id"), nullable=False),
    sa.Column("invitation_id", sa.Integer, sa.ForeignKey("survey_invitations.id"), nullable=True),
    sa.Column("respondent", sa.String(200), nullable=False),
    sa.Column("department", sa.String(200), nullable=False),  # department or role
    sa.Column("objective", sa.String(200), nullable=False),  # objective id
    sa.Column("importance", sa.SmallInteger, nullable=False),  # 1..5
    sa.Column("satisfaction", sa.SmallInteger, nullable=False),  # 1..5
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # form | import
    sa.CheckConstraint("importance BETWEEN 1 AND 5", name="ck_survey_importance"),
    sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name="ck_survey_satisfaction"),
    sa.Index("ix_survey_answers_round", "round_id", "objective"),
)
