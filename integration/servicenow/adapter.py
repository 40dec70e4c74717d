"""ServiceNowAdapter: the PlatformAdapter for ServiceNow (integration/base.py).

Keys: events and ``fetch`` use ``<table>:<sys_id>`` (what the business rule
sends); ``fetch`` also accepts a record number (``INC0010001``) for people
typing keys at the CLI. ``WorkItem.key`` is the number, ``WorkItem.id`` the
sys_id; ``WorkItem.project`` is the project number for a project (its own),
a project task (``top_task``) or a task whose parent is a pm_project, else the
record's class (table), e.g. ``incident``.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Iterable, Iterator, Mapping, Sequence

from itsm_align.integration.base import (
    ConfigurationError,
    Event,
    KeyValueStore,
    MemoryStore,
    NotFound,
    PlatformAdapter,
    PlatformError,
    SetupStep,
    WriteResult,
)
from itsm_align.scoring.types import Nature, Objective, OutputValues, SetBy, WorkItem

from . import events
from . import setup as setup_mod
from itsm_align.integration.ratelimit import PlatformGate

from .client import BatchItem, Record, SnClient
from .mapping import BASE_FIELDS, column_changes, to_work_item, value
from .settings import ServiceNowSettings

log = logging.getLogger(__name__)
_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,79}(\.[a-z][a-z0-9_]{0,79}){0,3}$")  # dot-walks allowed
_NUMBER = re.compile(r"^[A-Z]{2,8}[0-9]{4,12}$")
_ORDERBY = re.compile(r"\^?ORDERBY(DESC)?[a-z0-9_.]+", re.IGNORECASE)


class ServiceNowAdapter(PlatformAdapter):
    """Reads and writes task-family records through PySNC (see client.py)."""

    platform = "servicenow"

    #: a pm_project's rollup goes into its own u_ columns (see write_project_rollup),
    #: so the worker writes the rollup there instead of the project's own assessment
    rollup_in_item_fields = True

    def __init__(self, settings: ServiceNowSettings, state: KeyValueStore | None = None, *,
                 client: SnClient | None = None) -> None:
        self.settings = settings
        self.columns = settings.columns
        self.state: KeyValueStore = state if state is not None else MemoryStore()
        self.gate = client.gate if client is not None else PlatformGate("servicenow", self.state)
        self.client = client or SnClient(settings, gate=self.gate)
        self.objectives: tuple[Objective, ...] = ()
        self.fields_read: tuple[str, ...] = ()
        #: (key, error) of items the last ``write_many`` could not write
        self.last_failures: list[tuple[str, PlatformError]] = []

    # ------------------------------------------------------------ configuration
    def configure(self, *, objectives: Sequence[Objective] | None = None,
                  fields_read: Iterable[str] | None = None, public_url: str | None = None) -> None:
        """Objectives (for set-up and rollups) and the platform columns rules read
        (``fields.<column>``), so fetches ask for exactly those columns."""
        if objectives is not None:
            self.objectives = tuple(objectives)
        if fields_read is not None:
            # WorkItem attributes (summary, priority...) are always read; ``fields.<column>`` adds a column
            names = (f[len("fields."):] for f in fields_read if f.startswith("fields."))
            self.fields_read = tuple(n for n in names if _COLUMN.match(n))
        # public_url: the update set carries it (setup --update-set), REST set-up does not need it

    @property
    def requests_sent(self) -> int:
        """HTTP requests this adapter has sent so far."""
        return self.client.requests

    def verify_access(self) -> None:
        """One GET on the configured table (one record) with our credentials."""
        self.client.count(self.settings.table, "")

    def held_until(self, key: str | None = None) -> float:
        return self.gate.held_until(key)

    @property
    def recoveries(self) -> int:
        return self.gate.recoveries

    def close(self) -> None:
        self.client.session.close()

    def item_url(self, item: WorkItem) -> str | None:
        """The record's form: ``<instance>/<table>.do?sys_id=<sys_id>``."""
        if not item.id:
            return None
        table = str(item.raw.get("sys_class_name") or "task")
        return f"{str(self.settings.instance).rstrip('/')}/{table}.do?sys_id={item.id}"

    def failure(self, key: str) -> PlatformError | None:
        """The error behind the last ``write_many``'s failed result for ``key``."""
        return dict(self.last_failures).get(key)

    @property
    def own_user(self) -> str | None:
        return self.settings.own_user

    def fields(self) -> list[str]:
        """Columns one fetch asks for (ServiceNow ignores ones a table lacks)."""
        c = self.columns
        wanted = [*BASE_FIELDS, c.objective, c.score, c.rationale, c.nature, *self.fields_read]
        return list(dict.fromkeys(wanted))

    # ------------------------------------------------------------ events
    def parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> Event:
        return events.parse_event(payload, headers, own_user=self.own_user)

    def is_own_echo(self, event: Event) -> bool:
        """Our account only ever writes our output columns, and async rules cannot
        say what changed, so an update made by our account is our echo."""
        return event.action == "upsert" and event.actor_is_integration

    # ------------------------------------------------------------ reads
    def _locate(self, key: str) -> tuple[str, str]:
        if ":" in key:
            return events.split_key(key)
        if _NUMBER.match(key):
            rows = self.client.query("task", f"number={key}", ["sys_class_name"], limit=1)
            if not rows:
                raise NotFound("servicenow", f"no task record numbered {key}", status=404)
            return value(rows[0], "sys_class_name") or "task", value(rows[0], "sys_id")
        raise ValueError(f"ServiceNow key must be '<table>:<sys_id>' or a record number, got {key!r}")

    def fetch(self, key: str, subject: str = "ticket") -> WorkItem:
        table, sys_id = self._locate(key)
        record = self.client.get_record(table, sys_id, self.fields())
        return self._item(table, record, self._who_set_objective(table, sys_id, record))

    def _item(self, table: str, record: Record, set_by: SetBy) -> WorkItem:
        return to_work_item(table, record, self.columns, set_by)

    def _who_set_objective(self, table: str, sys_id: str, record: Record) -> SetBy:
        """Who last set the objective column. Empty: nobody. Holding exactly the
        value we last wrote there: us, with no request (a person who re-selects
        the value we wrote agrees with it anyway). Otherwise sys_audit says who
        (one GET); without audit access, a value we did not write is a person's."""
        objective = value(record, self.columns.objective)
        if not objective:
            return SetBy.NOBODY
        cls = value(record, "sys_class_name") or table
        if self.state.get(self._written_key(cls, sys_id)) == objective:
            return SetBy.INTEGRATION
        return self._who_set_objectives([record], table).get(sys_id, SetBy.NOBODY)

    def _from_memory(self, table: str, sys_id: str, objective: str) -> SetBy:
        written = self.state.get(self._written_key(table, sys_id))
        return SetBy.INTEGRATION if written == objective else SetBy.PERSON

    @staticmethod
    def _written_key(table: str, sys_id: str) -> str:
        return f"servicenow:objective-written:{table}:{sys_id}"

    # ------------------------------------------------------------ writes
    def _target(self, item: WorkItem) -> tuple[str, str]:
        table = str(item.raw.get("sys_class_name") or "task")
        if not item.id:
            raise ValueError(f"work item {item.key} has no sys_id; fetch it before writing")
        return table, item.id

    def changes(self, item: WorkItem, values: OutputValues) -> dict[str, str]:
        """Column -> new value for what ``write`` would send (empty: nothing)."""
        return column_changes(item.current, values, self.columns, self.settings.rationale_length)

    def plan_write(self, item: WorkItem, values: OutputValues) -> dict[str, tuple[str, str]]:
        """Column -> (current, proposed) for what ``write`` would send, as stored."""
        c, cur = self.columns, item.current
        current = {c.objective: cur.objective or "", c.score: "" if cur.score is None else f"{cur.score:g}",
                   c.rationale: cur.rationale or "", c.nature: cur.nature.value if cur.nature else ""}
        return {column: (current.get(column, ""), proposed) for column, proposed in self.changes(item, values).items()}

    def write(self, item: WorkItem, values: OutputValues) -> WriteResult:
        """One PATCH of the columns that differ; nothing when none does."""
        changes = self.changes(item, values)
        if not changes:
            return WriteResult(key=item.key, changed=(), requests=0)
        table, sys_id = self._target(item)
        try:
            self.client.patch(table, sys_id, changes)
        except PlatformError as exc:
            raise _explain(exc) from exc
        self._remember(table, sys_id, changes)
        return WriteResult(key=item.key, changed=tuple(changes), requests=1)

    def _remember(self, table: str, sys_id: str, changes: Mapping[str, str]) -> None:
        if self.columns.objective in changes:
            self.state.set(self._written_key(table, sys_id), changes[self.columns.objective])

    def write_many(self, writes: Sequence[tuple[WorkItem, OutputValues]]) -> list[WriteResult]:
        """Batch API: up to ``batch_size`` PATCHes per request, unserviced ones
        resent; items with nothing to change cost nothing. Items that failed
        come back with ``changed=()`` and ``error`` set, and are listed (with
        the exception, to tell retryable ones) in ``last_failures``.
        ``requests`` is counted on the first item of each batch, so the sum over
        the results is the number of HTTP requests used."""
        self.last_failures = []
        results: dict[int, WriteResult] = {}
        pending: list[tuple[int, WorkItem, str, str, dict[str, str]]] = []
        for index, (item, values) in enumerate(writes):
            changes = self.changes(item, values)
            if not changes:
                results[index] = WriteResult(key=item.key, changed=(), requests=0)
                continue
            table, sys_id = self._target(item)
            pending.append((index, item, table, sys_id, changes))
        size = self.settings.batch_size
        for start in range(0, len(pending), size):
            chunk = pending[start:start + size]
            before = self.client.requests
            outcomes = self.client.batch([
                BatchItem(str(index), "PATCH", self.client.table_path(table, sys_id), changes)
                for index, _, table, sys_id, changes in chunk])
            used = self.client.requests - before
            for n, ((index, item, table, sys_id, changes), outcome) in enumerate(zip(chunk, outcomes)):
                count = used if n == 0 else 0
                if outcome.error is not None:
                    error = _explain(outcome.error)
                    self.last_failures.append((item.key, error))
                    results[index] = WriteResult(key=item.key, changed=(), requests=count, error=str(error))
                else:
                    self._remember(table, sys_id, changes)
                    results[index] = WriteResult(key=item.key, changed=tuple(changes), requests=count)
        return [results[i] for i in range(len(writes))]

    # ------------------------------------------------------------ back-fill
    def backfill(self, query: str | None = None, *, resume: str | None = None,
                 page_size: int | None = None, table: str | None = None
                 ) -> Iterator[tuple[list[WorkItem], str | None]]:
        """Pages ordered by sys_id (keyset: ``sys_id>last``), so writes made
        between pages can never shift a page; the token is the page's last
        sys_id. One GET per page, plus one sys_audit GET for pages holding
        records whose objective is set."""
        table = table or self.settings.table
        base = _ORDERBY.sub("", query if query is not None else (self.settings.query or "")).strip("^")
        size = page_size or self.settings.page_size
        last = resume
        fields = self.fields()
        while True:
            encoded = "^".join(p for p in (base, f"sys_id>{last}" if last else "") if p)
            rows = self.client.query(table, encoded, fields, limit=size)
            set_by = self._who_set_objectives(rows, table)
            items = [self._item(table, r, set_by.get(value(r, "sys_id"), SetBy.NOBODY)) for r in rows]
            last = value(rows[-1], "sys_id") if len(rows) == size else None
            yield items, last
            if last is None:
                return

    def count(self, query: str | None = None, *, table: str | None = None, **_: Any) -> int | None:
        """Records ``backfill(query, table=table)`` returns (one aggregate request)."""
        encoded = query if query is not None else (self.settings.query or "")
        return int(self.client.count(table or self.settings.table, encoded))

    def _who_set_objectives(self, rows: Sequence[Record], table: str) -> dict[str, SetBy]:
        col = self.columns.objective
        tagged = {value(r, "sys_id"): r for r in rows if value(r, col)}
        if not tagged:
            return {}
        try:
            audit = self.client.query(
                "sys_audit", f"documentkeyIN{','.join(tagged)}^fieldname={col}",
                AUDIT_FIELDS, limit=10_000, order_by="-sys_created_on")
        except (NotFound, ConfigurationError) as exc:
            log.warning("cannot read sys_audit (%s); judging who set objectives from our own writes", exc)
            audit = []
        latest = latest_audit(audit)
        out: dict[str, SetBy] = {}
        for sys_id, record in tagged.items():
            if sys_id in latest:
                out[sys_id] = SetBy.INTEGRATION if latest[sys_id] == self.own_user else SetBy.PERSON
            else:
                cls = value(record, "sys_class_name") or table
                out[sys_id] = self._from_memory(cls, sys_id, value(record, col))
        return out

    # ------------------------------------------------------------ set-up
    def setup(self, objectives: Sequence[Objective], *, dry_run: bool = False) -> list[SetupStep]:
        """Columns on task and choices in step with ``objectives``. Idempotent."""
        plan = setup_mod.plan(self.client, objectives, self.columns,
                              rationale_length=self.settings.rationale_length, table="task")
        return setup_mod.apply(plan, dry_run=dry_run)

    # ------------------------------------------------------------ projects
    def rollup_project_of(self, item: WorkItem) -> str | None:
        """The pm_project a task belongs to (its number), if any: plain tasks
        carry their table name as ``project`` and belong to no project."""
        if item.kind != "ticket" or not item.project:
            return None
        return None if item.project == item.raw.get("sys_class_name") else item.project

    def write_project_rollup(self, project_key: str, rollup: Mapping[str, Any]) -> None:
        """The project's rollup into the pm_project record's own u_ columns
        (changed ones only; a person's objective stands): one GET (+ sys_audit
        when the objective is set) and at most one PATCH. ``rollup``: see
        ``rollup_values``. ``project_key``: ``pm_project:<sys_id>``, a sys_id,
        or the project number."""
        key = project_key if ":" in project_key or _NUMBER.match(project_key) else f"pm_project:{project_key}"
        item = self.fetch(key, subject="project")
        self.write(item, rollup_values(rollup))


AUDIT_FIELDS = ["user", "documentkey", "sys_created_on", "record_checkpoint"]


def latest_audit(rows: Sequence[Record]) -> dict[str, str]:
    """documentkey -> user of its latest audit row. Latest by time, then by
    ``record_checkpoint`` (the record's sys_mod_count), since several updates
    can fall in the same second."""
    best: dict[str, tuple[str, int, str]] = {}
    for row in rows:
        doc = value(row, "documentkey")
        try:
            checkpoint = int(value(row, "record_checkpoint") or 0)
        except ValueError:
            checkpoint = 0
        rank = (value(row, "sys_created_on"), checkpoint, value(row, "user"))
        if doc not in best or rank[:2] > best[doc][:2]:
            best[doc] = rank
    return {doc: rank[2] for doc, rank in best.items()}


def rollup_values(rollup: Any) -> OutputValues:
    """What a project's columns should hold, from either a mapping/object with
    ``objective``/``score``/``rationale``/``nature``, or a scoring.rollup
    ``ProjectRollup`` (``score``, ``effort_share``, ``reactive_share``,
    ``item_count``): the objective is the one with the largest effort share,
    the nature reactive when most effort is reactive."""
    def get(name: str) -> Any:
        return rollup.get(name) if isinstance(rollup, Mapping) else getattr(rollup, name, None)

    objective, nature, rationale = get("objective"), get("nature"), get("rationale")
    score = get("score")
    shares = get("effort_share")
    if objective is None and shares:
        objective = max(shares.items(), key=lambda kv: kv[1])[0]
    reactive = get("reactive_share")
    if nature is None and reactive is not None:
        nature = Nature.REACTIVE if float(reactive) > 0.5 else Nature.PROACTIVE
    if rationale is None and shares:
        parts = ", ".join(f"{oid} {share:.0%}" for oid, share in list(shares.items())[:3])
        count = get("item_count")
        rationale = f"Rollup of {count} items by effort: {parts}" if count else f"Rollup by effort: {parts}"
        if reactive is not None:
            rationale += f"; {float(reactive):.0%} reactive"
    return OutputValues(
        objective=objective,
        score=float(score) if score is not None else None,
        rationale=rationale,
        nature=Nature(nature) if nature is not None else None,
    )


def _explain(error: PlatformError) -> PlatformError:
    """A 400 on our columns usually means set-up has not run (unknown choice)."""
    if type(error) is PlatformError and error.status == 400:
        return ConfigurationError(
            error.platform, f"{error.message} (if a column or choice is missing, run "
                            "`itsm-align setup servicenow --config FILE`)",
            status=error.status, method=error.method, url=error.url, body=error.body)
    return error
