"""Back-fill: assess every issue a JQL query finds and write the results in bulk.

Resumable: the search token after the last page whose writes were flushed is
kept in the KeyValueStore, so a second run after an interruption continues
there (issues of unflushed pages are simply assessed again: writes only send
differences, so repeating is harmless). A dry run writes nothing to Jira and
keeps no token; it reports the proposed changes instead.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from itsm_align.integration.base import KeyValueStore
from itsm_align.scoring.types import Assessment, OutputValues, WorkItem

#: (issue key, field name, current value, proposed value)
ProposedChange = tuple[str, str, str, str]


def resume_key(jql: str) -> str:
    return "jira:backfill:" + hashlib.sha256(jql.encode()).hexdigest()[:16]


@dataclass
class BackfillReport:
    items: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error)
    requests: int = 0
    pages: int = 0
    resumed_from: str | None = None
    proposed: list[ProposedChange] = field(default_factory=list)

    @property
    def issues_per_request(self) -> float:
        return self.items / self.requests if self.requests else float(self.items)


def run_backfill(adapter: Any, assess: Callable[[WorkItem, Callable[[str], Assessment | None]], Assessment], *,
                 query: str | None = None, state: KeyValueStore | None = None, dry_run: bool = False,
                 restart: bool = False, page_size: int | None = None, flush_size: int = 5000,
                 on_page: Callable[[BackfillReport], None] | None = None,
                 stop_after_pages: int | None = None) -> BackfillReport:
    """Drive ``adapter.backfill`` + ``assess`` + ``adapter.write_many``.

    ``assess(item, related)`` is the engine (``related`` gives the assessment
    of a parent/epic/project seen earlier in this run). ``stop_after_pages``
    simulates an interruption (tests, and ``--max-pages`` for trial runs).
    """
    jql = query or adapter.settings.jql or ""
    key = resume_key(jql)
    resume = None if (restart or dry_run or state is None) else (state.get(key) or None)
    report = BackfillReport(resumed_from=resume)
    start_requests = adapter.requests_sent
    seen: dict[str, Assessment] = {}
    pending: list[tuple[WorkItem, OutputValues]] = []
    last_token: str | None = resume

    def flush(token: str | None) -> None:
        if pending and not dry_run:
            for result in adapter.write_many(pending):
                if result.error:
                    report.failed.append((result.key, result.error))
                elif result.changed:
                    report.changed += 1
                else:
                    report.unchanged += 1
        pending.clear()
        if state is not None and not dry_run:
            state.set(key, token or "")

    for items, token in adapter.backfill(jql or None, resume=resume, page_size=page_size):
        report.pages += 1
        for item in items:
            assessment = assess(item, seen.get)
            seen[item.key] = assessment
            values = assessment.output()
            report.items += 1
            if dry_run:
                changes = adapter.plan_write(item, values)
                if changes:
                    report.changed += 1
                    report.proposed += [(item.key, name, cur, new) for name, (cur, new) in changes.items()]
                else:
                    report.unchanged += 1
            else:
                pending.append((item, values))
        last_token = token
        if len(pending) >= flush_size or token is None:
            flush(token)
        report.requests = adapter.requests_sent - start_requests
        if on_page is not None:
            on_page(report)
        if stop_after_pages is not None and report.pages >= stop_after_pages:
            break
    else:
        flush(None)
        last_token = None
    if stop_after_pages is not None and last_token is not None:
        flush(last_token)
    report.requests = adapter.requests_sent - start_requests
    return report


def proposed_rows(report: BackfillReport) -> Iterable[ProposedChange]:
    return report.proposed
