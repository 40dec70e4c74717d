"""Bulk field edit (``POST /rest/api/3/bulk/issues/fields``) and task polling
(``GET /rest/api/3/bulk/queue/{taskId}``).

A task is validated when submitted (one value set for all its issues), then run
by a worker thread: ENQUEUED -> RUNNING -> COMPLETE. At most ``max_running``
(5, as on Jira Cloud) run at once; later ones wait ENQUEUED. Each changed issue
sends ``jira:issue_updated`` with ``bulkOperationMetaData``. Tests can hold
running tasks with :meth:`BulkTasks.hold` to observe RUNNING.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from . import values
from .call import Call, Reply
from .errors import bulk_error
from .model import User
from .screens import settable
from .service import JiraService

MAX_ISSUES = 1000
MAX_FIELDS = 200


def _now() -> float:
    return time.time()


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Task:
    id: str
    user: User
    refs: list[str]
    edits: dict[str, Any]  # field id -> stored value, or ("labels", mode, [names])
    created: float
    status: str = "ENQUEUED"
    started: float | None = None
    updated: float | None = None
    processed: list[int] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)
    invalid: int = 0
    done_count: int = 0

    def json(self) -> dict[str, Any]:
        total = len(self.refs)
        data: dict[str, Any] = {
            "taskId": self.id,
            "status": self.status,
            "progressPercent": 100 if self.status == "COMPLETE" else int(100 * self.done_count / max(total, 1)),
            "submittedBy": {"accountId": self.user.account_id},
            "created": _iso(self.created),
            "totalIssueCount": total,
        }
        if self.started is not None:
            data["started"] = _iso(self.started)
        if self.updated is not None:
            data["updated"] = _iso(self.updated)
        if self.status == "COMPLETE":
            data["processedAccessibleIssues"] = list(self.processed)
            data["failedAccessibleIssues"] = dict(self.failed)
            data["invalidOrInaccessibleIssueCount"] = self.invalid
        return data


class BulkTasks:
    """Submitted tasks and the threads that run them."""

    def __init__(self, svc: JiraService, max_running: int = 5) -> None:
        self.svc = svc
        self.tasks: dict[str, Task] = {}
        self._slots = threading.BoundedSemaphore(max_running)
        self._gate = threading.Event()
        self._gate.set()
        self._cond = threading.Condition()
        self._ids = iter(range(10641, 10**9))

    def hold(self) -> None:
        """Running tasks stop at RUNNING (0 %) until :meth:`release`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def wait_until(self, predicate: "Callable[[dict[str, Task]], bool]", timeout: float = 5.0) -> bool:
        """Wait until ``predicate(tasks by id)`` holds (checked whenever a task changes state)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.tasks), timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: all(t.status in {"COMPLETE", "FAILED"} for t in self.tasks.values()), timeout)

    def clear(self) -> None:
        self.release()
        self.wait_idle()
        with self._cond:
            self.tasks.clear()

    # ---- submission --------------------------------------------------------
    def submit(self, call: Call) -> Reply:
        body = call.obj()
        refs = body.get("selectedIssueIdsOrKeys")
        actions = body.get("selectedActions")
        edited = body.get("editedFieldsInput")
        if not isinstance(refs, list) or not refs:
            raise bulk_error(400, "selectedIssueIdsOrKeys must list at least one issue.")
        if len(refs) > MAX_ISSUES:
            raise bulk_error(400, f"A bulk edit can include at most {MAX_ISSUES} issues; got {len(refs)}.")
        if not isinstance(actions, list) or not actions:
            raise bulk_error(400, "selectedActions must list at least one field id.")
        if len(actions) > MAX_FIELDS:
            raise bulk_error(400, f"A bulk edit can change at most {MAX_FIELDS} fields.")
        if not isinstance(edited, dict):
            raise bulk_error(400, "editedFieldsInput must be an object.")
        with self.svc.lock:
            edits = self._parse(edited)
            extra = [f for f in edits if f not in actions]
            if extra:
                raise bulk_error(400, "The following editedFieldInput values are not listed as selectedActions : "
                                 + ", ".join(extra))
            missing = [f for f in actions if f not in edits]
            if missing:
                raise bulk_error(400, "The following selectedActions are not present in editedFieldsInput : "
                                 + ", ".join(missing))
            task = Task(str(next(self._ids)), call.user, [str(r) for r in refs], edits, _now())
        with self._cond:
            self.tasks[task.id] = task
        threading.Thread(target=self._run, args=(task,), name=f"jira-sandbox-bulk-{task.id}", daemon=True).start()
        return Reply(201, {"taskId": task.id})

    def _field(self, fid: Any, kinds: set[str]) -> Any:
        field = self.svc.site.fields.get(str(fid))
        if field is None or field.kind not in kinds:
            raise bulk_error(400, f"The field '{fid}' does not exist or cannot be edited with this input type.")
        return field

    def _parse(self, edited: dict[str, Any]) -> dict[str, Any]:
        edits: dict[str, Any] = {}

        def check(field: Any, raw: Any) -> Any:
            try:
                return values.parse(field, raw, 3)
            except values.ValueProblem as exc:
                raise bulk_error(400, f"{field.id}: {exc}") from None

        def items(name: str) -> list[dict[str, Any]]:
            got = edited.get(name) or []
            if not isinstance(got, list) or not all(isinstance(x, dict) for x in got):
                raise bulk_error(400, f"{name} must be a list of objects.")
            return got

        for name in edited:
            if name not in {"clearableNumberFields", "singleSelectFields", "multipleSelectFields",
                            "richTextFields", "singleLineTextFields", "labelsFields"}:
                raise bulk_error(400, f"editedFieldsInput.{name} is not supported by this sandbox.")
        for item in items("clearableNumberFields"):
            field = self._field(item.get("fieldId"), {"float"})
            edits[field.id] = check(field, item.get("value"))
        for item in items("singleSelectFields"):
            field = self._field(item.get("fieldId"), {"select"})
            opt = (item.get("option") or {}).get("optionId")
            edits[field.id] = None if opt is None else check(field, {"id": str(opt)})
        for item in items("multipleSelectFields"):
            field = self._field(item.get("fieldId"), {"multiselect"})
            opts = [{"id": str(o.get("optionId"))} for o in item.get("options") or []]
            edits[field.id] = check(field, opts) if opts else None
        for item in items("richTextFields"):
            field = self._field(item.get("fieldId"), {"textarea"})
            adf_value = (item.get("richText") or {}).get("adfValue")
            edits[field.id] = check(field, adf_value) if adf_value else None
        for item in items("singleLineTextFields"):
            field = self._field(item.get("fieldId"), {"textfield"})
            edits[field.id] = check(field, item.get("text") or None) if field.id != "summary" else check(field, item.get("text"))
        for item in items("labelsFields"):
            field = self._field(item.get("fieldId"), {"labels"})
            mode = item.get("bulkEditMultiSelectFieldOption")
            if mode not in {"ADD", "REMOVE", "REPLACE", "REMOVE_ALL"}:
                raise bulk_error(400, "bulkEditMultiSelectFieldOption must be ADD, REMOVE, REPLACE or REMOVE_ALL.")
            names = [str(label.get("name")) for label in item.get("labels") or [] if isinstance(label, dict)]
            check(field, names)
            edits[field.id] = ("labels", mode, names)
        return edits

    # ---- execution -----------------------------------------------------------
    def _run(self, task: Task) -> None:
        with self._slots:
            with self._cond:
                task.status, task.started, task.updated = "RUNNING", _now(), _now()
                self._cond.notify_all()
            self._gate.wait()
            meta = {"taskId": task.id, "totalIssueCount": len(task.refs)}
            for ref in task.refs:
                self._one(task, ref, meta)
                with self._cond:
                    task.done_count += 1
                    task.updated = _now()
            with self._cond:
                task.status, task.updated = "COMPLETE", _now()
                self._cond.notify_all()

    def _one(self, task: Task, ref: str, meta: dict[str, Any]) -> None:
        svc = self.svc
        with svc.lock:
            issue = svc.site.issue(ref)
            if issue is None:
                task.invalid += 1
                return
            parsed: dict[str, Any] = {}
            for fid, value in task.edits.items():
                if not settable(svc.site, issue.project, issue.issuetype, fid):
                    task.failed[issue.id] = [values.CANNOT_SET.format(fid)]
                    return
                if isinstance(value, tuple) and value and value[0] == "labels":
                    _, mode, names = value
                    current = list(issue.values.get(fid) or ())
                    if mode == "REPLACE":
                        new = names
                    elif mode == "REMOVE_ALL":
                        new = []
                    elif mode == "ADD":
                        new = current + [n for n in names if n not in current]
                    else:
                        new = [c for c in current if c not in names]
                    parsed[fid] = tuple(new) or None
                else:
                    parsed[fid] = value
            svc.apply(task.user, issue, parsed, bulk=meta)
            task.processed.append(int(issue.id))

    def progress(self, call: Call) -> Reply:
        with self._cond:
            task = self.tasks.get(call.path["task_id"])
            if task is None:
                raise bulk_error(404, f"Task with id {call.path['task_id']} does not exist.")
            return Reply(200, task.json())
