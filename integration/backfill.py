"""Back-fill: assess every existing item a query finds and write the results in
bulk. One driver for every :class:`~itsm_align.integration.base.PlatformAdapter`.

- **Pages and retries.** Pages come from ``adapter.backfill`` (Jira
  ``search/jql`` or ``/rest/api/2/search``, ServiceNow keyset paging). A
  retryable failure anywhere in it, the opening field and option reads
  included, waits at least the platform's ``Retry-After`` (else a capped,
  jittered back-off) and asks again from the last page handled; so does a
  failed bulk write. Items one bulk write could not write for a retryable
  reason are written again, alone.
- **Resumable.** After each flushed page the resume token is kept in the
  adapter's state store (the service database), under a key made of the
  platform, the query and the adapter's extra arguments (e.g. the ServiceNow
  table); a second run after an interruption continues there, ``restart``
  starts over. Items of unflushed pages are simply assessed again: writes only
  send differences, so repeating is harmless.
- **History.** Every assessment written (or found already in place) is handed
  to the ``sink``, the same history the worker appends to, so live events
  after a back-fill inherit from back-filled parents and project rollups count
  the whole estate. Dry runs record nothing and write nothing.
- **Inheritance in any order.** ``related`` looks in this run first, then in
  the sink. An item whose parent / epic / project had not been assessed yet
  when it was (and that no rule of its own aligned) is held back, not written:
  it is remembered (in the state store too, so it survives an interruption)
  and assessed again at the end of the run, once that relative has an
  assessment, then written once. A child the platform returns before its
  parent still inherits, with one write and one history row.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from itsm_align.scoring.types import Assessment, OutputValues, WorkItem

from .base import KeyValueStore, NotFound, PlatformAdapter, PlatformError
from .reach import FAIL_FAST
from .retry import call_with_retry, delay_for

log = logging.getLogger(__name__)

#: (item key, field as people see it, current value, proposed value)
ProposedChange = tuple[str, str, str, str]

Related = Callable[[str], "Assessment | None"]
Assess = Callable[[WorkItem, Related], Assessment]


class AssessmentSink(Protocol):
    """Where a back-fill's assessments go and where earlier ones are found:
    the service's history (``webhooks/storage/history.py``), handed in by the CLI."""

    def latest(self, platform: str, key: str) -> Assessment | None:
        """The newest assessment of an item made before (None: never, or deleted)."""

    def record(self, assessed: Sequence[tuple[Assessment, WorkItem]]) -> None:
        """Append these assessments (with their items) to the history."""


@dataclass
class BackfillReport:
    """What one run did; ``failed`` lists (key, platform message)."""

    items: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    pages: int = 0
    resumed_from: str | None = None
    finished: bool = False
    reassessed: int = 0  # items assessed again at the end, once their parent / epic / project was
    recorded: int = 0  # assessments appended to the history
    projects: set[str] = field(default_factory=set)  # projects whose rollup the run's items change
    proposed: list[ProposedChange] = field(default_factory=list)  # dry run: every change it would make
    #: projects the platform never lets us write (Jira team-managed), once each: project -> why
    not_writable: dict[str, str] = field(default_factory=dict)
    skipped: int = 0  # items assessed and recorded but not written (their project is in ``not_writable``)

    @property
    def items_per_request(self) -> float:
        return self.items / self.requests if self.requests else float(self.items)


def resume_key(platform: str, query: str | None, extra: Mapping[str, Any] | None = None) -> str:
    """State-store key of a back-fill's resume point: one per platform, query and extra arguments."""
    text = json.dumps([platform, query or "", sorted((extra or {}).items())], default=str)
    return "backfill:" + hashlib.sha256(text.encode()).hexdigest()[:16]


class _Pages:
    """``adapter.backfill`` pages that survive retryable failures: the
    generator is asked again from the last token handed out, after waiting."""

    def __init__(self, adapter: PlatformAdapter, query: str | None, resume: str | None, page_size: int | None,
                 extra: Mapping[str, Any], attempts: int, sleep: Callable[[float], None]) -> None:
        self.adapter, self.query, self.token = adapter, query, resume
        self.page_size, self.extra, self.attempts, self.sleep = page_size, extra, attempts, sleep

    def __iter__(self) -> Iterator[tuple[list[WorkItem], str | None]]:
        failures = 0
        while True:
            pages = self.adapter.backfill(self.query, resume=self.token, page_size=self.page_size, **self.extra)
            try:
                for items, token in pages:
                    failures = 0
                    self.token = token
                    yield items, token
                return
            except PlatformError as error:
                failures += 1
                if not error.retryable or failures >= self.attempts or error.unreachable in FAIL_FAST:
                    raise
                wait = delay_for(error, failures)
                log.warning("back-fill page failed (%s); asking again in %.1fs (try %d of %d)",
                            error, wait, failures + 1, self.attempts)
                self.sleep(wait)


def run_backfill(adapter: PlatformAdapter, assess: Assess, *, query: str | None = None,
                 state: KeyValueStore | None = None, sink: AssessmentSink | None = None,
                 dry_run: bool = False, restart: bool = False, page_size: int | None = None,
                 flush_size: int = 5000, extra: Mapping[str, Any] | None = None, attempts: int = 8,
                 sleep: Callable[[float], None] = time.sleep,
                 on_page: Callable[[BackfillReport, int], None] | None = None,
                 stop_after_pages: int | None = None) -> BackfillReport:
    """Drive ``adapter.backfill`` + ``assess`` + ``adapter.write_many`` (see the module docstring).

    ``assess(item, related)`` is the rule engine; ``extra``: further arguments
    of ``adapter.backfill`` (ServiceNow ``table``); ``on_page(report, n)`` is
    called after each page of ``n`` items; ``stop_after_pages`` ends the run
    early as an interruption would (tests, trial runs)."""
    extra = dict(extra or {})
    key = resume_key(adapter.platform, query, extra)
    if restart and state is not None and not dry_run:
        state.set(key, "")
        state.set(key + ":deferred", "{}")
    resume = None if (restart or dry_run or state is None) else (state.get(key) or None)
    deferred: dict[str, list[str]] = {} if (restart or dry_run or state is None) else \
        json.loads(state.get(key + ":deferred") or "{}")
    report = BackfillReport(resumed_from=resume)
    start_requests = adapter.requests_sent
    seen: dict[str, Assessment] = {}
    held: dict[str, WorkItem] = {}  # deferred items of this run, written in the second pass
    pending: list[tuple[WorkItem, OutputValues, Assessment]] = []

    def related_for(item: WorkItem, missed: list[str]) -> Related:
        def related(other: str) -> Assessment | None:
            found = seen.get(other)
            if found is None and sink is not None:
                found = sink.latest(adapter.platform, other)
            if found is None:
                missed.append(other)
            return found
        return related

    def assess_one(item: WorkItem) -> Assessment:
        missed: list[str] = []
        assessment = assess(item, related_for(item, missed))
        seen[item.key] = assessment
        if missed and not assessment.aligned:
            deferred[item.key] = missed
        else:
            deferred.pop(item.key, None)
        project = adapter.rollup_project_of(item)
        if project:
            report.projects.add(project)
        return assessment

    def propose(item: WorkItem, values: OutputValues) -> None:
        changes = adapter.plan_write(item, values)
        if changes:
            report.changed += 1
            report.proposed.extend((item.key, name, cur, new) for name, (cur, new) in changes.items())
        else:
            report.unchanged += 1

    def flush(token: str | None) -> None:
        if pending and not dry_run:
            _write(adapter, pending, report, sink, attempts, sleep)
        pending.clear()
        if state is not None and not dry_run:
            state.set(key, token or "")
            state.set(key + ":deferred", json.dumps(deferred))

    pages = _Pages(adapter, query, resume, page_size, extra, attempts, sleep)
    stopped = False
    for items, token in pages:
        report.pages += 1
        for item in items:
            assessment = assess_one(item)
            report.items += 1
            if item.key in deferred:
                held[item.key] = item
                continue
            if dry_run:
                propose(item, assessment.output())
            else:
                pending.append((item, assessment.output(), assessment))
        if len(pending) >= flush_size or token is None:
            flush(token)
        report.requests = adapter.requests_sent - start_requests
        if on_page is not None:
            on_page(report, len(items))
        if stop_after_pages is not None and report.pages >= stop_after_pages and token is not None:
            flush(token)
            stopped = True
            break
    if not stopped:
        flush(None)
        _second_pass(adapter, deferred, held, seen, sink, assess_one, pending, report, dry_run, propose)
        if pending:
            flush(None)
        if state is not None and not dry_run:
            state.set(key + ":deferred", "{}")
        report.finished = True
    report.requests = adapter.requests_sent - start_requests
    return report


def _second_pass(adapter: PlatformAdapter, deferred: dict[str, list[str]], held: Mapping[str, WorkItem],
                 seen: Mapping[str, Assessment], sink: AssessmentSink | None,
                 assess_one: Callable[[WorkItem], Assessment],
                 pending: list[tuple[WorkItem, OutputValues, Assessment]], report: BackfillReport,
                 dry_run: bool, propose: Callable[[WorkItem, OutputValues], None]) -> None:
    """Write the items held back because a relative (parent, epic, project)
    had not been assessed yet: assessed again where that relative now has an
    assessment (in this run or the history), as first assessed otherwise.
    Items held by an interrupted earlier run are fetched again."""
    def known(other: str) -> bool:
        return other in seen or (sink is not None and sink.latest(adapter.platform, other) is not None)

    for item_key, missed in list(deferred.items()):
        item = held.get(item_key)
        if item is None:
            try:
                item = call_with_retry(lambda: adapter.fetch(item_key))
            except NotFound:
                deferred.pop(item_key, None)
                continue
            assessment = assess_one(item)
        elif any(known(other) for other in missed):
            assessment = assess_one(item)
            report.reassessed += 1
        else:
            assessment = seen[item_key]
        deferred.pop(item_key, None)
        if dry_run:
            propose(item, assessment.output())
        else:
            pending.append((item, assessment.output(), assessment))


def _write(adapter: PlatformAdapter, pending: Sequence[tuple[WorkItem, OutputValues, Assessment]],
           report: BackfillReport, sink: AssessmentSink | None, attempts: int,
           sleep: Callable[[float], None]) -> None:
    """``write_many``, retried as a whole on a retryable failure; items it
    could not write for a retryable reason are tried again (three rounds).
    Written and unchanged items go to the sink; failures to the report."""
    todo = list(pending)
    written: list[tuple[Assessment, WorkItem]] = []
    for round_ in range(3):
        results = call_with_retry(lambda: adapter.write_many([(item, values) for item, values, _ in todo]),
                                  attempts=attempts, sleep=sleep)
        again, wait = [], 0.0
        for (item, values, assessment), result in zip(todo, results):
            if result.error is None and result.skipped:  # reported once per project, not item by item
                report.skipped += 1
                report.not_writable.setdefault(item.project or adapter.rollup_project_of(item) or "?",
                                               result.skipped)
                written.append((assessment, item))
                continue
            if result.error is None:
                if result.changed:
                    report.changed += 1
                else:
                    report.unchanged += 1
                written.append((assessment, item))
                continue
            error = adapter.failure(item.key)
            if error is not None and error.retryable and round_ < 2:
                again.append((item, values, assessment))
                wait = max(wait, delay_for(error, round_ + 1))
            else:
                report.failed.append((item.key, result.error))
        if not again:
            break
        sleep(wait)
        todo = again
    if sink is not None and written:
        sink.record(written)
        report.recorded += len(written)
