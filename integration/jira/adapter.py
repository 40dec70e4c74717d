"""JiraAdapter: the PlatformAdapter for Jira Cloud and Data Center.

Composes the pieces of this package: client (HTTP + errors), fields (ids,
options), events (payload -> Event), mapping (issue -> WorkItem), changelog
(who set the objective), bulk (grouped bulk edit), fieldsetup (setup).
The worker calls it through ``integration.base.PlatformAdapter``; it gives
the adapter what rules read and the objectives with ``configure``.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
import enum
import json
import logging
import time
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import requests

from itsm_align.integration.base import (ConfigurationError, Event, KeyValueStore, MemoryStore, NotWritable,
                                         PlatformAdapter, PlatformError, SetupIncomplete, SetupStep, WriteResult)
from itsm_align.integration.retry import call_with_retry
from itsm_align.scoring.types import UNALIGNED, UNALIGNED_NAME, Objective, OutputValues, SetBy, WorkItem

from . import events as jira_events
from .bulk import BulkWriter, Change
from .changelog import bulk_last_authors, embedded_histories, last_change_author
from itsm_align.integration.ratelimit import PlatformGate

from .client import JiraClient, jira_error_text
from .fields import FieldRegistry, option_key
from .fieldsetup import FieldSetup
from .screens import EditScreen, locate_edit_screen
from .mapping import OutputFieldIds, fields_for, issue_to_item, output_values, project_to_item
from .settings import JiraSettings

log = logging.getLogger(__name__)

#: Jira's limit for a textarea value.
TEXTAREA_LIMIT = 32_767
ROLLUP_PROPERTY = "itsm-align.alignment"
#: groups up to this size are written with PUTs instead of a bulk edit (submit + poll)
SMALL_GROUP = 2
#: issues per changelog bulkfetch (Jira's limit)
CHANGELOG_BATCH = 1000
#: Jira's 400 for a field that is not on the issue's edit screen
NOT_ON_SCREEN = "appropriate screen"
SCREEN_FIX = ("Fix: run `itsm-align setup jira --config <file>`: it puts the four fields on every screen of the "
              "projects in scope and then re-queues the items parked for this")
#: state-store key marking a project we can never write as already reported
UNWRITABLE_KEY = "jira:unwritable-project:{}"


def trim_rationale(text: str) -> str:
    text = text.strip()
    return text if len(text) <= TEXTAREA_LIMIT else text[:TEXTAREA_LIMIT - 1].rstrip() + "…"


class JiraAdapter(PlatformAdapter):
    """Jira Cloud (e-mail + API token) or Data Center (personal access token).

    Beyond ``PlatformAdapter``: ``configure(objectives=, fields_read=, public_url=)``
    (the worker calls it once), ``plan_write`` (dry runs), ``account_id()``,
    ``requests_sent`` and ``close()``. ``sleep`` is only used between retries of
    batch operations (back-fill pages, bulk edits); single calls never sleep.
    """

    platform = "jira"

    def __init__(self, settings: JiraSettings, state: KeyValueStore | None = None, *,
                 session: requests.Session | None = None, fields_read: Iterable[str] | None = None,
                 objectives: Sequence[Objective] | None = None, public_url: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.state: KeyValueStore = state if state is not None else MemoryStore()
        self.gate = PlatformGate("jira", self.state)
        self.client = JiraClient(settings, session, gate=self.gate)
        self.fields = FieldRegistry(self.client, settings, self.state)
        self._sleep = sleep
        self._account_id: str | None = settings.account_id
        self._account_retry_at = 0.0
        self._offline = False  # serve_offline(): the ack path sends no request
        self._fields_read: frozenset[str] | None = None
        self._objectives: tuple[Objective, ...] = ()
        self._public_url = public_url
        self._option_map: dict[str, str] | None = None
        self._effort_id: str | None = None
        self.configure(objectives=objectives, fields_read=fields_read)

    # ------------------------------------------------------------ configuration
    def configure(self, *, objectives: Sequence[Objective] | None = None,
                  fields_read: Iterable[str] | None = None, public_url: str | None = None) -> None:
        """What the adapter needs from the rest of the service: the objectives
        (option value <-> objective id), the names rules read (``engine.fields_read``:
        WorkItem attributes and ``fields.<id>``; fetch/back-fill ask Jira only for
        these) and the service's public URL (for ``setup``). ``None`` keeps the
        current value."""
        if objectives is not None:
            self._objectives = tuple(objectives)
            self._option_map = None
        if fields_read is not None:
            self._fields_read = frozenset(fields_read)
        if public_url is not None:
            self._public_url = public_url

    @property
    def requests_sent(self) -> int:
        """HTTP requests this adapter has sent so far."""
        return self.client.requests_sent

    def held_until(self, key: str | None = None) -> float:
        return self.gate.held_until(key)

    @property
    def recoveries(self) -> int:
        return self.gate.recoveries

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------ identity
    def account_id(self) -> str:
        """Our integration account (accountId on Cloud, user name on Data Center);
        from the settings, else ``GET /myself`` once."""
        if self._account_id is None:
            me = self.client.get(self.client.path("myself")) or {}
            found = me.get("accountId") or me.get("name") or me.get("key")
            if not found:
                raise ConfigurationError("jira", "GET /myself answered without accountId; set jira.account_id")
            self._account_id = str(found)
        return self._account_id

    def serve_offline(self) -> None:
        self._offline = True

    def verify_access(self) -> None:
        """GET /myself with our credentials (also learns our account id)."""
        self._account_id = None
        self.account_id()

    def prepare(self) -> bool:
        """Our account id and our field ids, for telling our own echoes on the ack path."""
        try:
            self.account_id()
            self.fields.output_ids()
        except ConfigurationError as error:  # asking again will not help: /readyz and the worker say so
            log.warning("cannot learn our Jira account and field ids (%s): deliveries are stored and judged "
                        "by the worker", error.message)
            return True
        except PlatformError as error:
            log.warning("cannot learn our Jira account and field ids yet (%s): deliveries are stored and "
                        "judged by the worker until they are known", error.message)
            return False
        return True

    def _known_account_id(self) -> str | None:
        """Like ``account_id`` but never raises (ingest must not fail on it); after a
        failure it asks again at most once a minute. Offline (the ack path), it
        never asks: ``prepare`` learns it in the background."""
        if self._offline:
            return self._account_id
        if self._account_id is None and time.monotonic() >= self._account_retry_at:
            try:
                self.account_id()
            except PlatformError as error:
                self._account_retry_at = time.monotonic() + 60.0
                log.warning("cannot identify the integration account (%s); own changes will be "
                            "re-assessed instead of dropped until it is known", error.message)
        return self._account_id

    # ------------------------------------------------------------ events
    def _our_field_keys(self, *, resolve: bool) -> set[str]:
        names = self.settings.fields
        keys = {names.objective, names.score, names.rationale, names.nature}
        ids = self.fields.ids_known
        if ids is None and resolve and not self._offline:
            try:
                ids = self.fields.output_ids()
            except PlatformError as error:
                log.warning("cannot resolve our field ids (%s); comparing by field name", error.message)
        if ids is not None:
            keys.update(ids.all())
        return keys

    def parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Event:
        ids = self.fields.ids_known
        objective = (self.settings.fields.objective,) + ((ids.objective,) if ids else ())
        return jira_events.parse_event(payload, headers or {}, name_to_id=self.fields.name_to_id(),
                                       objective_field=objective, account_id=self._known_account_id())

    def is_own_echo(self, event: Event) -> bool:
        if event.platform != self.platform or event.action != "upsert" or event.subject != "ticket":
            return False
        if event.changed_fields is None:
            return False
        ours = event.actor_is_integration or (event.actor is not None and event.actor == self._known_account_id())
        if not ours:
            return False
        keys = self._our_field_keys(resolve=True)
        return all(f in keys for f in event.changed_fields)

    # ------------------------------------------------------------ objective <-> option
    def _options_to_objectives(self) -> dict[str, str]:
        if self._option_map is None:
            mapping: dict[str, str] = {}
            ids = self.fields.ids_known
            if ids is not None:
                for objective in self._objectives:
                    option = self.state.get(option_key(ids.objective, objective.id))
                    if option:
                        mapping[option] = objective.id
                option = self.state.get(option_key(ids.objective, UNALIGNED))
                if option:
                    mapping[option] = UNALIGNED
            self._option_map = mapping
        return self._option_map

    def objective_id(self, selected: Mapping[str, Any]) -> str | None:
        """Objective id of a select value ``{"id", "value"}``: by the option id we
        created for it, else by name; unknown names come back unchanged."""
        option = selected.get("id")
        if option is not None and str(option) in self._options_to_objectives():
            return self._options_to_objectives()[str(option)]
        value = selected.get("value")
        if value is None:
            return None
        if value == UNALIGNED_NAME:
            return UNALIGNED
        for objective in self._objectives:
            if objective.name == value:
                return objective.id
        return str(value)

    def option_value(self, objective_id: str) -> str:
        """The option an objective is written as."""
        if objective_id == UNALIGNED:
            return UNALIGNED_NAME
        for objective in self._objectives:
            if objective.id == objective_id:
                return objective.name
        known = ", ".join(o.id for o in self._objectives) or "none: call adapter.configure(objectives=...)"
        raise ConfigurationError("jira", f"unknown objective id {objective_id!r} (known: {known})")

    # ------------------------------------------------------------ reading
    def _effort(self) -> str:
        if self._effort_id is None:
            self._effort_id = self.fields.resolve(self.settings.effort_field)
        return self._effort_id

    def _wanted(self, ids: OutputFieldIds) -> list[str]:
        wanted = fields_for(self._fields_read, effort_field=self._effort(),
                            epic_link_field=self.settings.epic_link_field)
        return sorted(wanted | set(ids.all()))

    def _set_by(self, author: str | None) -> SetBy:
        if author is not None and author == self.account_id():
            return SetBy.INTEGRATION
        return SetBy.PERSON  # another account, or set when the issue was created (no history)

    def _item(self, issue: Mapping[str, Any], ids: OutputFieldIds, set_by: SetBy) -> WorkItem:
        current = output_values(issue.get("fields") or {}, ids, self.objective_id, set_by)
        return issue_to_item(issue, current=current, effort_field=self._effort(),
                             epic_link_field=self.settings.epic_link_field)

    def fetch(self, key: str, subject: str = "ticket") -> WorkItem:
        if subject == "project":
            project = self.client.get(self.client.path(f"project/{key}"))
            return project_to_item(project or {"key": key})
        ids = self.fields.output_ids()
        issue = self.client.get(self.client.path(f"issue/{key}", 2),
                                params={"fields": ",".join(self._wanted(ids)), "expand": "changelog"}) or {}
        set_by = SetBy.NOBODY
        if (issue.get("fields") or {}).get(ids.objective) is not None:
            keys = (ids.objective, self.settings.fields.objective)
            histories, complete = embedded_histories(issue)
            author = last_change_author(histories, keys)
            if author is None and not complete and self.client.cloud:
                author = bulk_last_authors(self.client, [str(issue.get("id") or key)], keys).get(
                    str(issue.get("id")))
            set_by = self._set_by(author)
        return self._item(issue, ids, set_by)

    # ------------------------------------------------------------ writing
    def _diff(self, item: WorkItem, values: OutputValues) -> dict[str, Any]:
        """role -> new value (objective option name, float, text, nature label)
        for the fields whose value differs. A person's objective is never replaced."""
        current = item.current
        out: dict[str, Any] = {}
        protected = SetBy.PERSON in (values.objective_set_by, current.objective_set_by)
        if values.objective is not None and not protected and values.objective != current.objective:
            out["objective"] = self.option_value(values.objective)
        if values.score is not None and (current.score is None or float(current.score) != float(values.score)):
            out["score"] = float(values.score)
        if values.rationale is not None:
            text = trim_rationale(values.rationale)
            if text != (current.rationale or "").strip():
                out["rationale"] = text
        if values.nature is not None and values.nature != current.nature:
            out["nature"] = values.nature.label
        return out

    def plan_write(self, item: WorkItem, values: OutputValues) -> dict[str, tuple[str, str]]:
        """What ``write`` would change: field name -> (current, proposed), as shown in Jira."""
        current = item.current

        def show(role: str, value: Any) -> str:
            if value is None:
                return ""
            if role == "objective":
                try:
                    return self.option_value(value)
                except ConfigurationError:
                    return str(value)
            if role == "score":
                return f"{float(value):g}"
            if role == "nature":
                return value.label if hasattr(value, "label") else str(value)
            return str(value)

        return {getattr(self.settings.fields, role): (show(role, getattr(current, role)), show(role, new))
                for role, new in self._diff(item, values).items()}

    def write(self, item: WorkItem, values: OutputValues) -> WriteResult:
        if item.kind != "ticket":
            return WriteResult(item.key)  # projects keep their result in a property (write_project_rollup)
        diff = self._diff(item, values)
        if not diff:
            return WriteResult(item.key)
        ids = self.fields.output_ids()
        body: dict[str, Any] = {}
        for role, value in diff.items():
            field_id = getattr(ids, role)
            body[field_id] = {"value": value} if role in ("objective", "nature") else value
        before = self.client.sent_by_this_thread()
        try:
            self.client.run(lambda: self.client.api.update_issue_field(item.key, body, notify_users=False))
        except ConfigurationError as error:
            if NOT_ON_SCREEN not in error.message:
                raise
            return self._refused(item, error)
        return WriteResult(item.key, tuple(body), self.client.sent_by_this_thread() - before)

    # ------------------------------------------------------------ refused writes
    def _where(self, item: WorkItem) -> EditScreen:
        project = item.project or item.key.rsplit("-", 1)[0]
        return locate_edit_screen(self.client, project, item.type)

    def _refused(self, item: WorkItem, error: PlatformError) -> WriteResult:
        """A write Jira refused for "not on the appropriate screen": a set-up
        problem naming project, issue type and screen (SetupIncomplete), or, in a
        team-managed project, NotWritable once per project and a skip after that."""
        where = self._where(item)
        if where.team_managed:
            return self._not_writable(item, where)
        jira_text = jira_error_text(error.body, error.message)
        raise SetupIncomplete("jira", f"{jira_text} -- {where.describe()}. {SCREEN_FIX}", status=error.status,
                              method=error.method, url=error.url, body=error.body)

    def _not_writable(self, item: WorkItem, where: EditScreen) -> WriteResult:
        marker = UNWRITABLE_KEY.format(where.project)
        text = where.describe()
        if self.state.get(marker) is None:  # reported once per project, wherever it happens first
            self.state.set(marker, "reported")
            log.error("%s", text)
            raise NotWritable("jira", text)
        return WriteResult(item.key, skipped=text)

    def _explain_refusals(self, writes: Sequence[tuple[WorkItem, OutputValues]],
                          results: dict[int, WriteResult]) -> None:
        """Bulk results refused for "not on the appropriate screen": one look-up per
        (project, issue type), then a set-up message or a skip (team-managed)."""
        seen: dict[tuple[str | None, str | None], EditScreen] = {}
        for n, result in list(results.items()):
            if result.error is None or NOT_ON_SCREEN not in result.error:
                continue
            item = writes[n][0]
            where = seen.get((item.project, item.type))
            if where is None:
                where = seen[(item.project, item.type)] = self._where(item)
            if where.team_managed:
                try:
                    results[n] = self._not_writable(item, where)
                except NotWritable as error:
                    results[n] = WriteResult(item.key, skipped=error.message)
            else:
                results[n] = WriteResult(item.key, requests=result.requests,
                                         error=f"jira: {where.describe()}. {SCREEN_FIX}")

    def write_many(self, writes: Sequence[tuple[WorkItem, OutputValues]]) -> list[WriteResult]:
        """Cloud: bulk edit grouped by identical changes (≤ 1,000 issues per
        request). A group of one or two issues is cheaper as PUTs (a bulk edit
        costs a submit and at least one poll), and Data Center has no bulk edit
        API: those go one PUT per changed issue, retried on 429/5xx."""
        results: dict[int, WriteResult] = {}
        groups: dict[tuple[Change, ...], list[tuple[int, WorkItem, OutputValues]]] = defaultdict(list)
        ids = self.fields.output_ids() if writes else None
        for n, (item, values) in enumerate(writes):
            diff = self._diff(item, values) if item.kind == "ticket" else {}
            if not diff:
                results[n] = WriteResult(item.key)
                continue
            assert ids is not None
            changes: list[Change] = []
            for role, value in sorted(diff.items()):
                field_id = getattr(ids, role)
                if role in ("objective", "nature"):
                    option = self.fields.option_id(field_id, value) if self.client.cloud else value
                    changes.append((field_id, "select", option))
                elif role == "score":
                    changes.append((field_id, "number", value))
                else:
                    changes.append((field_id, "text", value))
            groups[tuple(changes)].append((n, item, values))
        bulk: dict[tuple[Change, ...], list[WorkItem]] = {}
        order: dict[str, list[int]] = defaultdict(list)
        singles: list[tuple[int, WorkItem, OutputValues]] = []
        for changes, members in groups.items():
            if self.client.cloud and len(members) > SMALL_GROUP:
                bulk[changes] = [item for _, item, _ in members]
                for n, item, _ in members:
                    order[item.key].append(n)
                continue
            singles.extend(members)

        def put(item: WorkItem, values: OutputValues) -> WriteResult:
            try:
                return self._retrying(lambda: self.write(item, values))
            except NotWritable as error:
                return WriteResult(item.key, skipped=error.message)
            except PlatformError as error:
                return WriteResult(item.key, error=str(error))

        # one PUT per issue (Data Center has no bulk edit): a few in flight at once,
        # all through the one gate, so a 429 holds every one of them
        workers = max(1, min(self.settings.write_concurrency, len(singles)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="itsm-align-jira-put") as pool:
            for (n, _, _), result in zip(singles, pool.map(lambda m: put(m[1], m[2]), singles)):
                results[n] = result
        if bulk:
            writer = BulkWriter(self.client, poll_seconds=self.settings.bulk_poll_seconds, sleep=self._sleep)
            for result in writer.run(bulk):
                results[order[result.key].pop(0)] = result
            self._explain_refusals(writes, results)
        return [results[n] for n in range(len(writes))]

    def item_url(self, item: WorkItem) -> str | None:
        """The issue's page: ``<jira.url>/browse/<key>`` (projects: the project's page)."""
        base = str(self.settings.url).rstrip("/")
        return f"{base}/browse/{item.key}" if item.kind == "ticket" else f"{base}/projects/{item.key}"

    def rollup_project_of(self, item: WorkItem) -> str | None:
        """The project whose rollup a change of ``item`` refreshes (its Jira project)."""
        return item.project if item.kind == "ticket" else None

    def write_project_rollup(self, project_key: str, rollup: Mapping[str, Any]) -> None:
        value = json.loads(json.dumps(rollup, default=_jsonable))
        self.client.put(self.client.path(f"project/{project_key}/properties/{ROLLUP_PROPERTY}"), value)

    # ------------------------------------------------------------ back-fill
    def backfill(self, query: str | None = None, *, resume: str | None = None,
                 page_size: int | None = None) -> Iterator[tuple[list[WorkItem], str | None]]:
        """Pages of issues matching ``query`` (default ``jira.jql``), asking only
        for the fields rules read. The token after each page resumes after it."""
        jql = query or self.settings.jql
        if not jql:
            raise ConfigurationError("jira", "no JQL to back-fill: pass --jql or set jira.jql "
                                             "(Jira needs a bounded query, e.g. 'project in (SHOP, OPS)')")
        size = page_size or self.settings.page_size
        ids = self.fields.output_ids()
        wanted = self._wanted(ids)
        call = self._retrying
        if self.client.cloud:
            # Pages are held back until up to 1,000 of their issues need "who set the
            # objective": one changelog bulkfetch then serves them all.
            token = resume
            held: list[tuple[list[Mapping[str, Any]], str | None]] = []
            while True:
                body: dict[str, Any] = {"jql": jql, "fields": wanted, "maxResults": size}
                if token:
                    body["nextPageToken"] = token
                answer = call(lambda: self.client.post(self.client.path("search/jql"), body)) or {}
                issues = answer.get("issues") or []
                token = (answer.get("nextPageToken") if not answer.get("isLast", True) else None) or None
                held.append((issues, token))
                with_value = [i for page, _ in held for i in page if self._has_objective(i, ids)]
                if token is None or not with_value or len(with_value) + size > CHANGELOG_BATCH:
                    authors = self._authors(with_value, ids)
                    for page, page_token in held:
                        yield self._page(page, ids, authors), page_token
                    held.clear()
                if token is None:
                    return
        start = int(resume or 0)
        while True:
            params = {"jql": jql, "startAt": start, "maxResults": size, "fields": ",".join(wanted),
                      "expand": "changelog"}
            answer = call(lambda: self.client.get(self.client.path("search", 2), params=params)) or {}
            issues = answer.get("issues") or []
            start += len(issues)
            more = bool(issues) and start < int(answer.get("total") or 0)
            yield self._page(issues, ids), (str(start) if more else None)
            if not more:
                return

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        return call_with_retry(fn, attempts=5, sleep=self._sleep)

    @staticmethod
    def _has_objective(issue: Mapping[str, Any], ids: OutputFieldIds) -> bool:
        return (issue.get("fields") or {}).get(ids.objective) is not None

    def _authors(self, issues: list[Mapping[str, Any]], ids: OutputFieldIds) -> dict[str, str | None]:
        """issue id -> who last set the objective, for issues that hold one."""
        if not issues:
            return {}
        keys = (ids.objective, self.settings.fields.objective)
        if self.client.cloud:
            return bulk_last_authors(self.client, [str(i.get("id") or i.get("key")) for i in issues], keys,
                                     self._retrying)
        return {str(i.get("id")): last_change_author(embedded_histories(i)[0], keys) for i in issues}

    def _page(self, issues: list[Mapping[str, Any]], ids: OutputFieldIds,
              authors: dict[str, str | None] | None = None) -> list[WorkItem]:
        if authors is None:
            authors = self._authors([i for i in issues if self._has_objective(i, ids)], ids)
        items = []
        for issue in issues:
            set_by = self._set_by(authors.get(str(issue.get("id")))) if self._has_objective(issue, ids) \
                else SetBy.NOBODY
            items.append(self._item(issue, ids, set_by))
        return items

    # ------------------------------------------------------------ setup
    def setup(self, objectives: Sequence[Objective], *, dry_run: bool = False) -> list[SetupStep]:
        self.configure(objectives=objectives)
        steps = FieldSetup(self.client, self.fields, self.settings, self.state, sleep=self._sleep).run(
            objectives, public_url=self._public_url, dry_run=dry_run)
        self._option_map = None
        return steps


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a Jira project property")
