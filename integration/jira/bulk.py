"""Bulk write through Jira Cloud's bulk edit API, grouped by identical values.

``POST /rest/api/3/bulk/issues/fields`` sets ONE value per field for up to
1,000 issues, so issues whose changes are identical share a request. The task
runs asynchronously: we poll ``/bulk/queue/{taskId}`` with a growing, bounded
wait, keep at most 5 tasks in flight (Jira's per-site limit), and report
the issues Jira could not edit with its own reasons.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

from itsm_align.integration.base import PlatformError, WriteResult
from itsm_align.integration.retry import call_with_retry
from itsm_align.scoring.types import WorkItem

from .client import JiraClient
from .mapping import text_to_adf

MAX_ISSUES = 1000
MAX_IN_FLIGHT = 5
DONE = {"COMPLETE", "FAILED", "CANCELLED", "DEAD"}

#: One change: (field id, kind, value); kind is "select" (value = option id),
#: "number" or "text".
Change = tuple[str, str, Hashable]


def edit_payload(changes: Sequence[Change], issues: Sequence[str]) -> dict[str, Any]:
    """The bulk edit request for one group of issues sharing ``changes``."""
    edited: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for field_id, kind, value in changes:
        if kind == "select":
            edited["singleSelectFields"].append({"fieldId": field_id, "option": {"optionId": int(value)}})
        elif kind == "number":
            edited["clearableNumberFields"].append({"fieldId": field_id, "value": value})
        else:
            edited["richTextFields"].append({"fieldId": field_id, "richText": {"adfValue": text_to_adf(str(value))}})
    return {"selectedIssueIdsOrKeys": list(issues), "selectedActions": [c[0] for c in changes],
            "editedFieldsInput": dict(edited), "sendBulkNotification": False}


@dataclass
class _Task:
    task_id: str
    items: list[WorkItem]
    fields: tuple[str, ...]
    requests: int = 1
    polls: int = 0
    next_poll: float = 0.0
    submitted: float = 0.0
    status: str = "ENQUEUED"
    answer: Mapping[str, Any] = field(default_factory=dict)


class BulkWriter:
    """Sends grouped bulk edits and waits for them."""

    def __init__(self, client: JiraClient, *, poll_seconds: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 attempts: int = 4) -> None:
        self.client = client
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.clock = clock
        self.attempts = attempts

    def _call(self, fn: Callable[[], Any]) -> Any:
        return call_with_retry(fn, attempts=self.attempts, sleep=self.sleep)

    def run(self, groups: Mapping[tuple[Change, ...], list[WorkItem]]) -> list[WriteResult]:
        pending: list[tuple[tuple[Change, ...], list[WorkItem]]] = []
        for changes, items in groups.items():
            for start in range(0, len(items), MAX_ISSUES):
                pending.append((changes, items[start:start + MAX_ISSUES]))
        results: list[WriteResult] = []
        in_flight: list[_Task] = []
        while pending or in_flight:
            while pending and len(in_flight) < MAX_IN_FLIGHT:
                changes, chunk = pending.pop(0)
                in_flight.append(self._submit(changes, chunk))
            finished = self._poll_until_one_done(in_flight)
            for task in finished:
                in_flight.remove(task)
                results += self._results(task)
        return results

    def _submit(self, changes: tuple[Change, ...], chunk: list[WorkItem]) -> _Task:
        refs = [item.id or item.key for item in chunk]
        answer = self._call(lambda: self.client.post(self.client.path("bulk/issues/fields"),
                                                     edit_payload(changes, refs)))
        task_id = str((answer or {}).get("taskId") or "")
        if not task_id:
            raise PlatformError("jira", f"bulk edit answered without a taskId: {answer!r}")
        now = self.clock()
        return _Task(task_id, chunk, tuple(c[0] for c in changes), next_poll=now + 0.05, submitted=now)

    def _poll_until_one_done(self, tasks: list[_Task]) -> list[_Task]:
        """Poll the tasks (each on its own growing schedule) until at least one ends."""
        while True:
            now = self.clock()
            due = sorted(tasks, key=lambda t: t.next_poll)[0]
            if due.next_poll > now:
                self.sleep(due.next_poll - now)
            answer = self._call(lambda: self.client.get(self.client.path(f"bulk/queue/{due.task_id}"))) or {}
            due.requests += 1
            due.polls += 1
            due.answer = answer
            due.status = str(answer.get("status") or "RUNNING")
            if due.status in DONE:
                return [due]
            if self.clock() - due.submitted > self.poll_seconds:
                due.status = "TIMEOUT"
                return [due]
            due.next_poll = self.clock() + min(2.0, 0.05 * (2 ** due.polls))

    def _results(self, task: _Task) -> list[WriteResult]:
        failed: dict[str, list[str]] = {str(k): list(v) for k, v in
                                        (task.answer.get("failedAccessibleIssues") or {}).items()}
        processed = {str(i) for i in task.answer.get("processedAccessibleIssues") or ()}
        out: list[WriteResult] = []
        for n, item in enumerate(task.items):
            requests = task.requests if n == 0 else 0
            ref = item.id or item.key
            if task.status == "COMPLETE" and ref not in failed and (not processed or ref in processed
                                                                     or item.key in processed):
                out.append(WriteResult(item.key, task.fields, requests))
                continue
            if ref in failed:
                why = "; ".join(failed[ref]) or "failed"
            elif task.status == "TIMEOUT":
                why = f"bulk task {task.task_id} still {task.answer.get('status', 'RUNNING')} after {self.poll_seconds:.0f}s"
            elif task.status != "COMPLETE":
                why = f"bulk task {task.task_id} ended {task.status}"
            else:
                why = "not processed by the bulk task (invalid or inaccessible issue)"
            out.append(WriteResult(item.key, (), requests, error=f"jira: {why}"))
        return out
