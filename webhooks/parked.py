"""Inbox items parked because a platform's set-up is incomplete, not because
the item is bad: counted at ``/metrics`` and re-queued when set-up succeeds.

The worker parks a non-retryable failure with ``"<ErrorClass>: <message>"``
as ``last_error``; the adapters raise ``SetupIncomplete`` (Jira: our field is
not on the project's edit screen; the message names project, issue type and
screen and says to run ``itsm-align setup jira``) or ``NotWritable`` (Jira: a
team-managed project, parked once per project). ``itsm-align setup <platform>``
calls :func:`requeue_setup_problems` after it succeeds, so those items are
tried again without anyone running ``itsm-align inbox --requeue``.
"""
from __future__ import annotations

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric

from itsm_align.integration.base import NotWritable, SetupIncomplete

from .storage.inbox import FAILED, Inbox
from .storage.schema import inbox_table

#: parked reason (the error class the worker wrote first) -> /metrics label
SETUP_REASONS = {SetupIncomplete.__name__: "not_on_screen", NotWritable.__name__: "project_not_writable"}


def _reason_filter(reasons: tuple[str, ...]) -> sa.ColumnElement[bool]:
    return sa.or_(*(inbox_table.c.last_error.like(f"{name}:%") for name in reasons))


def setup_problem_counts(inbox: Inbox) -> dict[tuple[str, str], int]:
    """(platform, reason label) -> items parked for a set-up problem (read at scrape time)."""
    table = inbox_table
    out: dict[tuple[str, str], int] = {}
    with inbox.engine.connect() as connection:
        for name, label in SETUP_REASONS.items():
            rows = connection.execute(
                sa.select(table.c.platform, sa.func.count(sa.distinct(table.c.item_key)))
                .where(table.c.state == FAILED, _reason_filter((name,)))
                .group_by(table.c.platform)).all()
            for platform, count in rows:
                out[(str(platform), label)] = int(count)
    return out


def requeue_setup_problems(inbox: Inbox, platform: str) -> int:
    """Put ``platform``'s items parked for a set-up problem back to pending, due now
    (fresh attempt budget). Returns how many inbox rows."""
    table = inbox_table
    with inbox.engine.connect() as connection:
        ids = [row[0] for row in connection.execute(
            sa.select(table.c.id).where(table.c.state == FAILED, table.c.platform == platform,
                                        _reason_filter(tuple(SETUP_REASONS))))]
    return inbox.requeue(ids) if ids else 0


def setup_problem_metrics(inbox: Inbox) -> list[Metric]:
    """``itsm_align_setup_problems{platform, reason}`` for ``/metrics``."""
    gauge = GaugeMetricFamily("itsm_align_setup_problems",
                              "Items parked because the platform's set-up is incomplete (fix: itsm-align setup "
                              "<platform>; they are re-queued when it succeeds), by platform and reason.",
                              labels=("platform", "reason"))
    for (platform, reason), count in sorted(setup_problem_counts(inbox).items()):
        gauge.add_metric((platform, reason), count)
    return [gauge]
